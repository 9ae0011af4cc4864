"""OCR of images and scanned pages, offline with the models inside the rapidocr wheel."""
from __future__ import annotations

import io
import re
import socket

import pypdfium2 as pdfium
import pytest
from pdf_fixtures import BULLETS, INTRO, page_png, report_pdf
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from pipeline.pdf import ocr
from pipeline.pdf import parse as pdf_pipeline

CONFIG = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
          "error_handling": "Fail", "segment_processing": {}}
WORD = re.compile(r"[A-Za-z0-9]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def recall(expected: str, found: str) -> float:
    """Share of the expected words that were found."""
    wanted, seen = words(expected), set(words(found))
    return sum(1 for word in wanted if word in seen) / len(wanted)


@pytest.fixture(scope="module")
def report() -> bytes:
    return report_pdf()


@pytest.fixture(scope="module")
def scanned_page_one(report):
    return pdf_pipeline.parse_image(page_png(report, 0, dpi=150), "image/png", CONFIG, lambda message: None)


def test_ocr_reads_a_rendered_page(scanned_page_one):
    text = " ".join(s["text"] for s in scanned_page_one.segments)
    expected = " ".join(["Quarterly Widget Report 1 Introduction", INTRO, *BULLETS, "Name Qty Price Bolt 120 0.25"])
    assert recall(expected, text) >= 0.95


def test_ocr_page_is_segmented_like_any_page(scanned_page_one):
    kinds = {s["segment_type"]: s for s in scanned_page_one.segments}
    assert kinds["Title"]["text"] == "Quarterly Widget Report"
    assert "| Bolt | 120 | 0.25 |" in kinds["Table"]["markdown"]
    assert [s["text"] for s in scanned_page_one.segments if s["segment_type"] == "ListItem"][0].endswith(BULLETS[0])
    title = kinds["Title"]
    assert [entry["text"] for entry in title["ocr"]] == ["Quarterly", "Widget", "Report"]
    assert all(0.5 <= entry["confidence"] <= 1 for entry in title["ocr"])
    assert 0.5 <= title["confidence"] <= 1


def test_image_becomes_a_pdf_and_a_page_image(scanned_page_one):
    page = scanned_page_one.pages[0]
    assert (page["page_width"], page["page_height"], page["dpi"]) == (1275, 1651, 150.0)
    mime, pdf_bytes = scanned_page_one.files["document.pdf"]
    assert mime == "application/pdf" and scanned_page_one.pdf == "file:document.pdf"
    document = pdfium.PdfDocument(pdf_bytes)
    try:
        assert len(document) == 1
        assert document[0].get_size() == pytest.approx((612, 792), abs=1)
    finally:
        document.close()


def test_scanned_pdf_page_is_read_by_ocr_only_where_text_is_missing(report):
    scan = Image.open(io.BytesIO(page_png(report, 1, dpi=150))).convert("RGB")
    mixed = pdfium.PdfDocument(report)
    scanned = pdfium.PdfDocument(stamped_scan(scan))
    try:
        mixed.del_page(1)
        mixed.import_pages(scanned)
        buffer = io.BytesIO()
        mixed.save(buffer)
    finally:
        scanned.close()
        mixed.close()
    parsed = pdf_pipeline.parse_pdf(buffer.getvalue(), CONFIG, lambda message: None)
    first = [s for s in parsed.segments if s["page_number"] == 1]
    second = [s for s in parsed.segments if s["page_number"] == 2]
    assert all(s["ocr"] == [] and s["confidence"] is None for s in first)
    assert all(s["ocr"] and s["confidence"] is not None for s in second)
    texts = [s["text"] for s in second if s["segment_type"] == "Text"]
    assert texts[0].startswith("Alpha column begins") and texts[1].startswith("Beta column starts")
    assert [s["text"] for s in second if s["segment_type"] == "Caption"] == ["Figure 1: Shapes drawn for the test."]


def stamped_scan(scan: Image.Image) -> bytes:
    """A scanned page with a little real text on it: a stamp is no usable text layer."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.drawImage(ImageReader(scan), 0, 0, width=letter[0], height=letter[1])
    pdf.setFont("Helvetica", 6)
    pdf.drawString(500, 10, "Scanned copy")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_multi_page_tiff_gives_one_page_per_frame():
    font = _font(28)
    frames = []
    for text in ("First frame says hello", "Second frame says goodbye"):
        frame = Image.new("RGB", (700, 120), "white")
        ImageDraw.Draw(frame).text((20, 40), text, fill="black", font=font)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    messages = []
    parsed = pdf_pipeline.parse_image(buffer.getvalue(), "image/tiff", CONFIG, messages.append)
    assert messages == ["Reading page 1/2", "Reading page 2/2", "Running analysis (page 1/2)", "Running analysis (page 2/2)"]
    assert parsed.page_count == 2 and [p["page_number"] for p in parsed.pages] == [1, 2]
    assert [s["text"] for s in parsed.segments] == ["First frame says hello", "Second frame says goodbye"]


def test_jpeg_is_read_offline_and_embedded_as_is(monkeypatch):
    """The OCR models load from the installed package: no socket is opened, even on first use."""
    def no_network(*args, **kwargs):
        raise AssertionError("the OCR engine tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    ocr.ocr_engine.cache_clear()
    image = Image.new("RGB", (900, 160), "white")
    ImageDraw.Draw(image).text((30, 50), "Offline models read this line", fill="black", font=_font(36))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    parsed = pdf_pipeline.parse_image(buffer.getvalue(), "image/jpeg", CONFIG, lambda message: None)
    assert [s["text"] for s in parsed.segments] == ["Offline models read this line"]
    document = pdfium.PdfDocument(parsed.files["document.pdf"][1])
    try:
        [picture] = list(document[0].get_objects())
        assert picture.get_filters() == ["DCTDecode"]
    finally:
        document.close()


def _font(size: int):
    return ImageFont.truetype("DejaVuSans.ttf", size) if _has_dejavu() else ImageFont.load_default(size)


def _has_dejavu() -> bool:
    try:
        ImageFont.truetype("DejaVuSans.ttf", 10)
    except OSError:
        return False
    return True
