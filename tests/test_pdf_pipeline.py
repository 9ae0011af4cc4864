"""The PDF pipeline on a report the tests make: segment types, texts, order, tables, images."""
from __future__ import annotations

import io

import pytest
from PIL import Image

import pdf_pipeline
from document import DocumentError
import ctypes
import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from pdf_fixtures import BULLETS, FORMULA, INTRO, report_pdf, rotated_pdf

PAGE_SCALE = 1.5  # page images are 108 DPI with high_resolution


def config(**overrides) -> dict:
    """A configuration with the defaults of SPEC.md §8 that the parser reads."""
    base = {
        "high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
        "error_handling": "Fail",
        "segment_processing": {"Picture": {"crop_image": "All"}, "Table": {"crop_image": "Auto"}},
    }
    return {**base, **overrides}


@pytest.fixture(scope="module")
def report() -> bytes:
    return report_pdf()


@pytest.fixture(scope="module")
def parsed(report):
    return pdf_pipeline.parse_pdf(report, config(), lambda message: None)


def by_type(parsed, segment_type: str, page: int | None = None) -> list[dict]:
    return [s for s in parsed.segments if s["segment_type"] == segment_type and page in (None, s["page_number"])]


def test_title_headings_text_and_list_items(parsed):
    titles = by_type(parsed, "Title")
    assert [s["text"] for s in titles] == ["Quarterly Widget Report"]
    assert titles[0]["markdown"] == "# Quarterly Widget Report"
    assert [s["text"] for s in by_type(parsed, "SectionHeader")] == ["1 Introduction", "2 Parts list"]
    texts = [s["text"] for s in by_type(parsed, "Text", page=1)]
    assert texts == [INTRO]
    items = by_type(parsed, "ListItem")
    assert [s["text"] for s in items] == [f"\u2022 {item}" for item in BULLETS]
    assert items[0]["html"] == f"<ul><li>{BULLETS[0]}</li></ul>"


def test_reading_order_of_page_one(parsed):
    order = [s["segment_type"] for s in parsed.segments if s["page_number"] == 1]
    assert order == ["PageHeader", "Title", "SectionHeader", "Text", "ListItem", "ListItem", "ListItem",
                     "SectionHeader", "Table", "Footnote", "PageFooter"]


def test_two_columns_read_left_column_first(parsed):
    texts = [s["text"] for s in by_type(parsed, "Text", page=2)]
    assert len(texts) == 2
    assert texts[0].startswith("Alpha column begins") and texts[0].endswith("lighthouses.")
    assert texts[1].startswith("Beta column starts") and texts[1].endswith("glaciers.")


def test_ruled_table_becomes_html_and_markdown(parsed):
    table = by_type(parsed, "Table", page=1)[0]
    assert table["html"] == (
        "<table><tr><td>Name</td><td>Qty</td><td>Price</td></tr><tr><td>Bolt</td><td>120</td>"
        "<td>0.25</td></tr><tr><td>Nut</td><td>300</td><td>0.10</td></tr><tr><td>Gear</td><td>45</td>"
        "<td>3.80</td></tr></table>"
    )
    assert table["markdown"].splitlines()[:3] == ["| Name | Qty | Price |", "|---|---|---|", "| Bolt | 120 | 0.25 |"]


def test_unruled_table_is_found_from_aligned_columns(parsed):
    table = by_type(parsed, "Table", page=2)[0]
    assert "<tr><td>North</td><td>1200</td><td>4%</td></tr>" in table["html"]
    assert table["markdown"].splitlines()[0] == "| Region | Sales | Growth |"


def test_picture_with_caption_and_cropped_images(parsed):
    picture = by_type(parsed, "Picture", page=2)[0]
    caption = by_type(parsed, "Caption", page=2)[0]
    assert caption["text"] == "Figure 1: Shapes drawn for the test."
    assert parsed.segments.index(caption) == parsed.segments.index(picture) + 1
    box = picture["bbox"]
    assert box["left"] == pytest.approx(72 * PAGE_SCALE, abs=3)
    assert box["width"] == pytest.approx(240 * PAGE_SCALE, abs=4)
    assert box["height"] == pytest.approx(160 * PAGE_SCALE, abs=4)
    for segment in (picture, *by_type(parsed, "Table")):
        mime, data = parsed.files[segment["image"].removeprefix("file:")]
        assert mime == "image/jpeg"
        assert Image.open(io.BytesIO(data)).width > 0
    assert all(s["image"] is None for s in parsed.segments if s["segment_type"] not in ("Picture", "Table"))


def test_running_header_page_numbers_and_footnote(parsed):
    assert [s["text"] for s in by_type(parsed, "PageHeader")] == ["ACME Widgets Quarterly Review"] * 2
    assert [s["text"] for s in by_type(parsed, "PageFooter")] == ["Page 1", "Page 2"]
    assert [s["text"] for s in by_type(parsed, "Footnote")] == ["1 Prices are in euros and exclude shipping."]


def test_boxes_pages_and_pdf_in_page_image_pixels(parsed, report):
    assert parsed.page_count == 2
    assert parsed.pdf == "file:document.pdf" and parsed.files["document.pdf"] == ("application/pdf", report)
    for number, page in enumerate(parsed.pages, start=1):
        assert page == {"image": f"file:page-{number}.jpg", "page_number": number,
                        "page_width": 918, "page_height": 1188, "dpi": 108.0}
        image = Image.open(io.BytesIO(parsed.files[f"page-{number}.jpg"][1]))
        assert image.size == (918, 1188)
    title = by_type(parsed, "Title")[0]
    assert title["bbox"]["left"] == pytest.approx(72 * PAGE_SCALE, abs=2)
    assert title["bbox"]["top"] == pytest.approx((792 - 700 - 24) * PAGE_SCALE, abs=12)
    for segment in parsed.segments:
        assert (segment["page_width"], segment["page_height"]) == (918, 1188)
        assert set(segment) == {"segment_id", "segment_type", "bbox", "page_number", "page_width",
                                "page_height", "confidence", "text", "html", "markdown", "image", "ocr"}


def test_low_resolution_pages_are_72_dpi(report):
    parsed = pdf_pipeline.parse_pdf(report, config(high_resolution=False), lambda message: None)
    assert [(p["page_width"], p["page_height"], p["dpi"]) for p in parsed.pages] == [(612, 792, 72.0)] * 2


def test_ocr_all_fills_ocr_from_the_text_layer_auto_leaves_it_empty(report, parsed):
    assert all(s["ocr"] == [] for s in parsed.segments)
    every = pdf_pipeline.parse_pdf(report, config(ocr_strategy="All"), lambda message: None)
    title = [s for s in every.segments if s["segment_type"] == "Title"][0]
    assert [entry["text"] for entry in title["ocr"]] == ["Quarterly", "Widget", "Report"]
    assert set(title["ocr"][0]) == {"bbox", "text", "confidence"}


def test_page_strategy_gives_one_page_segment_per_page(report):
    parsed = pdf_pipeline.parse_pdf(report, config(segmentation_strategy="Page"), lambda message: None)
    assert [(s["segment_type"], s["page_number"]) for s in parsed.segments] == [("Page", 1), ("Page", 2)]
    first = parsed.segments[0]
    assert first["bbox"] == {"left": 0, "top": 0, "width": 918, "height": 1188}
    assert "Quarterly Widget Report" in first["text"] and "# Quarterly Widget Report" in first["markdown"]
    assert "<table>" in first["html"]


def test_progress_is_reported_per_page(report):
    messages = []
    pdf_pipeline.parse_pdf(report, config(), messages.append)
    assert messages == ["Running analysis (page 1/2)", "Running analysis (page 2/2)"]


def test_crop_image_all_crops_every_segment(report):
    settings = {kind: {"crop_image": "All"} for kind in ("Text", "Title", "ListItem", "Table", "Picture")}
    parsed = pdf_pipeline.parse_pdf(report, config(segment_processing=settings), lambda message: None)
    for segment in parsed.segments:
        cropped = segment["segment_type"] in settings
        assert (segment["image"] is not None) == cropped, segment["segment_type"]


def test_failing_page_is_skipped_with_continue_and_fails_the_task_otherwise(report, monkeypatch):
    real = pdf_pipeline.text_layer_words
    calls = []

    def second_page_breaks(textpage, transform):
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("broken glyphs")
        return real(textpage, transform)

    monkeypatch.setattr(pdf_pipeline, "text_layer_words", second_page_breaks)
    parsed = pdf_pipeline.parse_pdf(report, config(error_handling="Continue"), lambda message: None)
    assert parsed.skipped == ["page 2: ValueError: broken glyphs"]
    assert {s["page_number"] for s in parsed.segments} == {1}
    calls.clear()
    with pytest.raises(DocumentError, match="Failed to process page 2: ValueError: broken glyphs"):
        pdf_pipeline.parse_pdf(report, config(), lambda message: None)


def test_formula_line_is_a_formula(parsed):
    formulas = by_type(parsed, "Formula")
    assert [s["text"] for s in formulas] == [FORMULA]
    assert formulas[0]["markdown"] == f"$${FORMULA}$$"


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_boxes_follow_page_rotation(rotation):
    document = rotated_pdf(rotation)
    parsed = pdf_pipeline.parse_pdf(document, config(), lambda message: None)
    segment = parsed.segments[0]
    assert segment["text"] == "Turned heading"
    pdf = pdfium.PdfDocument(document)
    try:
        page = pdf[0]
        textpage = page.get_textpage()
        left, bottom, right, top = textpage.get_charbox(0, loose=True)
        textpage.close()
        width, height = parsed.pages[0]["page_width"], parsed.pages[0]["page_height"]
        x, y = ctypes.c_int(), ctypes.c_int()
        corners = []
        for px, py in ((left, bottom), (left, top)):
            pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, px, py, x, y)
            corners.append((x.value, y.value))
        page.close()
    finally:
        pdf.close()
    box = segment["bbox"]
    # The first character's left edge, as PDFium itself maps it to the rendered image.
    assert any(abs(cx - box["left"]) <= 2 or abs(cx - box["left"] - box["width"]) <= 2 for cx, _ in corners)
    assert any(abs(cy - box["top"]) <= 2 or abs(cy - box["top"] - box["height"]) <= 2 for _, cy in corners)
    assert (width > height) == (rotation in (0, 180))


def test_parsing_in_two_threads_at_once_gives_the_same_result(report):
    def texts(parsed):
        return [(s["segment_type"], s["text"]) for s in parsed.segments]

    expected = texts(pdf_pipeline.parse_pdf(report, config(), lambda message: None))
    results, errors = [], []

    def work():
        try:
            for _ in range(3):
                results.append(texts(pdf_pipeline.parse_pdf(report, config(), lambda message: None)))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and results == [expected] * 6
