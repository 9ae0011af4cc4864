"""The official client chunkr-ai 0.3.7, unmodified, against a live server at both prefixes (SPEC.md §11)."""
from __future__ import annotations

import gc

import httpx
import pytest
from chunkr_ai import Chunkr
from chunkr_ai.api import decorators
from chunkr_ai.models import (
    ChunkProcessing,
    Configuration,
    CroppingStrategy,
    ErrorHandlingStrategy,
    GenerationConfig,
    GenerationStrategy,
    LlmProcessing,
    OcrStrategy,
    Pipeline,
    SegmentationStrategy,
    SegmentFormat,
    SegmentProcessing,
    Status,
    Tokenizer,
)
from conftest import KEY
from helpers import MARKDOWN, finish

# The client's sync wrapper (nest_asyncio.apply, then set_event_loop(None)) drops a new event
# loop, with its self-pipe socket pair, on every call, and keeps one more in a module global.
# Each test ignores exactly those warnings and collects the loops before it ends (see `close`).
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


def close(client: Chunkr) -> None:
    """Close a client, its kept event loop and the loops it dropped, while this test's filters apply."""
    client.close()
    if decorators._sync_loop is not None:
        decorators._sync_loop.close()
        decorators._sync_loop = None
    gc.collect()


@pytest.fixture(params=["", "/api/v1"], ids=["root", "api-v1"])
def chunkr_url(request, live_server) -> str:
    """The CHUNKR_URL the client is given: the server's root or its /api/v1 prefix."""
    return live_server + request.param


@pytest.fixture
def chunkr(chunkr_url, tmp_path, monkeypatch):
    """A client of the live server, run from an empty directory (it loads a .env file)."""
    workdir = tmp_path / "client"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("CHUNKR_URL", raising=False)
    monkeypatch.delenv("CHUNKR_API_KEY", raising=False)
    client = Chunkr(url=chunkr_url, api_key=KEY)
    yield client
    close(client)


@pytest.fixture
def document(tmp_path) -> str:
    """The path of a small Markdown document (a path, so the client base64-encodes it)."""
    path = tmp_path / "doc.md"
    path.write_bytes(MARKDOWN)
    return str(path)


def raised_status(call, *args) -> httpx.Response:
    """The response of a client call that must raise httpx.HTTPStatusError."""
    with pytest.raises(httpx.HTTPStatusError) as raised:
        call(*args)
    return raised.value.response


def test_create_task_answers_a_queued_task(chunkr, chunkr_url, document):
    """create_task returns a Starting TaskResponse whose task_url is under the CHUNKR_URL used."""
    task = chunkr.create_task(document)
    assert task.status == Status.STARTING
    assert task.message == "Task queued"
    assert task.output is None
    assert task.task_url == f"{chunkr_url}/task/{task.task_id}"
    assert task.created_at.tzinfo is not None
    assert task.configuration.input_file_url.startswith("http")


def test_get_task_returns_the_created_task(chunkr, document):
    """get_task returns the task create_task made, configuration included."""
    created = chunkr.create_task(document)
    fetched = chunkr.get_task(created.task_id)
    assert (fetched.task_id, fetched.status) == (created.task_id, Status.STARTING)
    assert fetched.message == "Task queued"
    assert fetched.configuration.chunk_processing == created.configuration.chunk_processing
    assert fetched.task_url == created.task_url


def test_cancel_then_delete(chunkr, document):
    """A cancelled task can be deleted, after which get_task raises a 404."""
    task = chunkr.create_task(document)
    chunkr.cancel_task(task.task_id)
    cancelled = chunkr.get_task(task.task_id)
    assert (cancelled.status, cancelled.message) == (Status.CANCELLED, "Task cancelled")
    chunkr.delete_task(task.task_id)
    response = raised_status(chunkr.get_task, task.task_id)
    assert (response.status_code, response.text) == (404, "Task not found")


def test_cancel_twice_is_a_400(chunkr, document):
    """The second cancel raises a 400 naming the status."""
    task = chunkr.create_task(document)
    chunkr.cancel_task(task.task_id)
    response = raised_status(chunkr.cancel_task, task.task_id)
    assert (response.status_code, response.text) == (400, "Task cannot be cancelled: status is Cancelled")


def test_delete_of_an_unfinished_task_is_a_400(chunkr, document):
    """Deleting a Starting task raises a 400, and the task is still there."""
    task = chunkr.create_task(document)
    response = raised_status(chunkr.delete_task, task.task_id)
    assert (response.status_code, response.text) == (400, "Task cannot be deleted: status is Starting")
    assert chunkr.get_task(task.task_id).status == Status.STARTING


def test_task_url_serves_the_task_methods(chunkr, document):
    """TaskResponse.delete() goes to the task_url the server gave, and works."""
    task = chunkr.create_task(document)
    chunkr.cancel_task(task.task_id)
    task.delete()
    assert raised_status(chunkr.get_task, task.task_id).status_code == 404


def test_configuration_round_trips(chunkr, chunkr_url, document):
    """A Configuration sent with snake_case segment keys comes back with its values and defaults."""
    config = Configuration(
        chunk_processing=ChunkProcessing(target_length=512, tokenizer=Tokenizer.WORD,
                                         ignore_headers_and_footers=False),
        segment_processing=SegmentProcessing(
            table=GenerationConfig(format=SegmentFormat.MARKDOWN, strategy=GenerationStrategy.AUTO),
            list_item=GenerationConfig(crop_image=CroppingStrategy.ALL, extended_context=True)),
        expires_in=3600, high_resolution=False, ocr_strategy=OcrStrategy.AUTO,
        segmentation_strategy=SegmentationStrategy.PAGE, error_handling=ErrorHandlingStrategy.CONTINUE,
        pipeline=Pipeline.CHUNKR, llm_processing=LlmProcessing(temperature=0.5, max_completion_tokens=100))
    created = chunkr.create_task(document, config)
    for task in (created, chunkr.get_task(created.task_id)):
        echoed = task.configuration
        assert echoed.chunk_processing.target_length == 512
        assert echoed.chunk_processing.tokenizer.enum_value == Tokenizer.WORD
        assert echoed.chunk_processing.ignore_headers_and_footers is False
        table, list_item = echoed.segment_processing.table, echoed.segment_processing.list_item
        assert (table.format, table.strategy, table.crop_image) == (
            SegmentFormat.MARKDOWN, GenerationStrategy.AUTO, CroppingStrategy.AUTO)
        assert (list_item.crop_image, list_item.extended_context, list_item.format) == (
            CroppingStrategy.ALL, True, SegmentFormat.MARKDOWN)
        assert echoed.segment_processing.picture.strategy == GenerationStrategy.LLM
        assert (echoed.expires_in, echoed.high_resolution) == (3600, False)
        assert echoed.ocr_strategy == OcrStrategy.AUTO
        assert echoed.segmentation_strategy == SegmentationStrategy.PAGE
        assert (echoed.error_handling, echoed.pipeline) == (ErrorHandlingStrategy.CONTINUE, Pipeline.CHUNKR)
        assert (echoed.llm_processing.temperature, echoed.llm_processing.max_completion_tokens) == (0.5, 100)
    raw = httpx.get(created.task_url, headers={"Authorization": KEY}).json()["configuration"]
    assert raw["chunk_processing"]["tokenizer"] == {"Enum": "Word"}
    assert raw["segment_processing"]["Table"]["format"] == "Markdown"
    assert raw["segment_processing"]["ListItem"]["crop_image"] == "All"
    assert not {"table", "list_item"} & set(raw["segment_processing"])


def test_finished_task_parses_and_updates(app, chunkr, document):
    """A Succeeded task's output parses in the client; update_task re-queues it, cancel reverts it."""
    task = chunkr.create_task(document)
    finish(app, task.task_id)
    done = chunkr.get_task(task.task_id)
    assert done.status == Status.SUCCEEDED
    assert done.markdown() == "Some text."
    assert done.output.chunks[0].segments[0].confidence is None
    updated = chunkr.update_task(task.task_id, Configuration(high_resolution=False))
    assert (updated.status, updated.message) == (Status.STARTING, "Task queued for update")
    assert updated.configuration.high_resolution is False
    chunkr.cancel_task(task.task_id)
    reverted = chunkr.get_task(task.task_id)
    assert reverted.status == Status.SUCCEEDED
    assert reverted.configuration.high_resolution is True


def test_wrong_api_key_is_a_401(chunkr_url, document, tmp_path, monkeypatch):
    """A client with an unknown key gets the 401 of SPEC.md §3."""
    monkeypatch.chdir(tmp_path)
    client = Chunkr(url=chunkr_url, api_key="wrong-key")
    try:
        response = raised_status(client.create_task, document)
    finally:
        close(client)
    assert (response.status_code, response.text) == (401, "Invalid or inactive API key")
