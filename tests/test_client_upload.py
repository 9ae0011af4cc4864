"""The unmodified chunkr-ai client against a live server with workers: upload and update."""
from __future__ import annotations

import pytest
from chunkr_ai.models import ChunkProcessing, Configuration
from test_worker import LONG_MARKDOWN

# chunkr-ai 0.3.7 (via nest_asyncio) opens event loops it never closes; they are collected in
# the fixture's teardown, and only their ResourceWarnings are ignored here.
pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


def test_upload_markdown_then_update_with_smaller_chunks(chunkr, tmp_path):
    """upload returns Succeeded with chunks; update with a smaller target_length gives more chunks."""
    path = tmp_path / "report.md"
    path.write_bytes(LONG_MARKDOWN)
    task = chunkr.upload(str(path))
    assert task.status == "Succeeded"
    assert task.output.file_name == "report.md"
    first = len(task.output.chunks)
    assert first >= 1 and "Words of part 3." in task.markdown()
    updated = chunkr.update(task.task_id, Configuration(chunk_processing=ChunkProcessing(target_length=40)))
    assert updated.status == "Succeeded"
    assert len(updated.output.chunks) > first
    assert updated.configuration.chunk_processing.target_length == 40
