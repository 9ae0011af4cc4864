"""The chunkr-ai client uploads a PDF and a scanned page and gets readable chunks back."""
from __future__ import annotations

import httpx
import pytest
from pdf_fixtures import INTRO, page_png, report_pdf

pytestmark = [pytest.mark.filterwarnings("ignore::ResourceWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")]


def test_upload_pdf_reads_as_the_document(chunkr, tmp_path):
    """A PDF comes back Succeeded, its markdown in reading order, with a PDF and page images to fetch."""
    path = tmp_path / "report.pdf"
    path.write_bytes(report_pdf())
    task = chunkr.upload(str(path))
    assert task.status == "Succeeded", task.message
    markdown = task.markdown()
    for phrase in ("Quarterly Widget Report", "Introduction", INTRO.split(". ")[0], "Parts list", "Figure 1"):
        assert phrase in markdown, phrase
    assert markdown.index("Quarterly Widget Report") < markdown.index("Parts list") < markdown.index("Figure 1")
    assert task.output.page_count == 2 and len(task.output.pages) == 2
    types = {segment.segment_type.value for chunk in task.output.chunks for segment in chunk.segments}
    assert {"Title", "SectionHeader", "Text", "Table"} <= types
    pdf = httpx.get(task.output.pdf_url)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    image = httpx.get(task.output.pages[0].image)
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/")


def test_upload_scanned_page_is_read_by_ocr(chunkr, tmp_path):
    """A PNG of a page is OCR'd: its words come back in the chunks, with OCR boxes."""
    path = tmp_path / "scan.png"
    path.write_bytes(page_png(report_pdf(), 0))
    task = chunkr.upload(str(path))
    assert task.status == "Succeeded", task.message
    markdown = task.markdown()
    assert "Quarterly Widget Report" in markdown
    assert "Widgets were shipped" in markdown
    segments = [segment for chunk in task.output.chunks for segment in chunk.segments]
    assert any(segment.ocr for segment in segments)
