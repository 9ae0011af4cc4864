"""The PDF pipeline on a report the tests make: segment types, texts, order, tables, images."""
from __future__ import annotations

import ctypes
import io
import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from pdf_fixtures import BULLETS, FORMULA, INTRO, report_pdf, rotated_pdf
from PIL import Image

from pipeline.document import DocumentError
from pipeline.pdf import page_images
from pipeline.pdf import parse as pdf_pipeline

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
        "<table><tr><th>Name</th><th>Qty</th><th>Price</th></tr><tr><td>Bolt</td><td>120</td>"
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
        assert page == {"image": f"file:page-{number}-918x1188.jpg", "page_number": number,
                        "page_width": 918, "page_height": 1188, "dpi": 108.0}
        # Not rendered by the pipeline: the service renders it from the PDF when it is asked for.
        assert f"page-{number}-918x1188.jpg" not in parsed.files
        image = Image.open(io.BytesIO(page_images.render_page_image(report, f"page-{number}-918x1188.jpg")))
        assert image.size == (918, 1188)
        assert image.convert("L").getextrema()[0] < 64  # the page's text is drawn on it
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
    assert messages == ["Reading page 1/2", "Reading page 2/2", "Running analysis (page 1/2)", "Running analysis (page 2/2)"]


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
    name = parsed.pages[0]["image"].removeprefix("file:")
    assert name == f"page-1-{width}x{height}.jpg"
    assert Image.open(io.BytesIO(page_images.render_page_image(document, name))).size == (width, height)


def test_a_failing_page_is_skipped_alone_with_continue(report, monkeypatch):
    real = pdf_pipeline.text_layer_words
    calls = []

    def second_page_breaks(textpage, transform):
        calls.append(transform)
        if len(calls) == 2:
            raise pdfium.PdfiumError("text broke")
        return real(textpage, transform)

    monkeypatch.setattr(pdf_pipeline, "text_layer_words", second_page_breaks)
    parsed = pdf_pipeline.parse_pdf(report, config(error_handling="Continue"), lambda message: None)
    assert [page["page_number"] for page in parsed.pages] == [1]
    assert {segment["page_number"] for segment in parsed.segments} == {1}
    assert parsed.skipped == ["page 2: the page is damaged (text broke)"]
    with pytest.raises(DocumentError, match="Failed to process page 2: the page is damaged"):
        calls.clear()
        pdf_pipeline.parse_pdf(report, config(), lambda message: None)


def test_page_images_render_from_the_pdf_by_their_names(report):
    rendered = page_images.render_page_image(report, "page-1-612x792.jpg")
    assert Image.open(io.BytesIO(rendered)).size == (612, 792)
    assert page_images.render_page_image(report, "page-3-918x1188.jpg") is None  # the report has two pages
    assert page_images.render_page_image(report, "page-1-99999x99999.jpg") is None  # over the pixel cap
    with pytest.raises(DocumentError, match="the page is damaged"):
        page_images.render_page_image(b"%PDF-1.4 no objects at all", "page-1-612x792.jpg")


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


def test_numbered_listing_with_blank_lines_reads_each_number_with_its_line():
    from pipeline.pdf.layout import group_lines, layout_page
    from pipeline.pdf.text import Word

    words = []
    for row in range(8):
        top = 100 + row * 20
        words.append(Word(str(57 + row), 60, top + 4, 70, top + 12, 8.0))
        if row % 2:
            words += [Word("code", 85, top, 125, top + 14, 12.0), Word(f"line{row}", 135, top, 185, top + 14, 12.0)]
    blocks = layout_page(group_lines(words), [], 12.0)
    text = " ".join(block.text for block in blocks)
    assert text == "57 58 code line1 59 60 code line3 61 62 code line5 63 64 code line7"


@pytest.mark.parametrize("rotation", [0, 90])
def test_page_image_render_matches_pypdfium2s_render(rotation):
    from PIL import ImageChops

    from pipeline.pdf.render import page_pixels, render_page, render_whole_page

    pdf = pdfium.PdfDocument(rotated_pdf(rotation))
    try:
        page = pdf[0]
        width, height = page.get_size()
        ours, theirs = render_whole_page(page, page_pixels(width, height, 1.5)), render_page(page, 1.5)
        page.close()
    finally:
        pdf.close()
    assert ours.size == theirs.size
    assert ImageChops.difference(ours.convert("RGB"), theirs.convert("RGB")).getbbox() is None


def test_two_column_index_reads_column_heads_and_long_column_tails_in_their_column():
    from pipeline.pdf.layout import group_lines, layout_page
    from pipeline.pdf.text import Word

    def line(text, left, top, size=12.0):
        return Word(text, left, top, left + 10 * len(text), top + size, size)

    words = [line("Index_of_functions_and_variables", 100, 40, 24.0), line("A", 100, 100, 16.0),
             line("N", 400, 100, 16.0)]
    words += [line(f"alpha{row}", 100, 125 + 16 * row) for row in range(6)]  # left column, longer
    words += [line(f"nu{row}", 400, 125 + 16 * row) for row in range(3)]
    words += [line("M", 100, 125 + 16 * 6 + 1, 16.0), line("mu", 100, 125 + 16 * 6 + 26)]  # runs on below
    blocks = layout_page(group_lines(words), [], 12.0)
    order = " ".join(block.text for block in blocks).split()
    assert order == (["Index_of_functions_and_variables", "A"] + [f"alpha{row}" for row in range(6)] + ["M", "mu", "N"]
                     + [f"nu{row}" for row in range(3)])


def test_words_broken_over_lines_by_a_hyphen_are_rejoined_in_the_text():
    from reportlab.pdfgen import canvas as pdf_canvas

    buffer = io.BytesIO()
    pdf = pdf_canvas.Canvas(buffer, pagesize=(612, 792))
    pdf.setFont("Helvetica", 11)
    lines = ["The value by de-", "fault comes from the Unix-", "alikes and from the set-", "up of Unix-alikes here."]
    for number, text in enumerate(lines):
        pdf.drawString(72, 700 - 14 * number, text)
    pdf.showPage()
    pdf.save()
    parsed = pdf_pipeline.parse_pdf(buffer.getvalue(), config(), lambda message: None)
    assert [s["text"] for s in parsed.segments] == [
        "The value by default comes from the Unix-alikes and from the setup of Unix-alikes here."
    ]
    ocr = pdf_pipeline.parse_pdf(buffer.getvalue(), config(ocr_strategy="All"), lambda message: None).segments[0]["ocr"]
    assert [entry["text"] for entry in ocr][3:5] == ["de-", "fault"]  # each part keeps its own box


def test_small_line_numbers_low_on_a_page_are_not_footnotes():
    """A listing's line numbers (small digits alone, low on the page) are no footnotes; a
    small line starting with a mark and going on in words still is."""
    from reportlab.pdfgen import canvas as pdf_canvas

    buffer = io.BytesIO()
    pdf = pdf_canvas.Canvas(buffer, pagesize=(612, 792))
    pdf.setFont("Helvetica", 11)
    for row in range(12):  # body text, so that the page's body size is 11 points
        pdf.drawString(72, 740 - 14 * row, "The listing below counts its lines in the margin, as listings do.")
    for row in range(4):
        y = 330 - 30 * row  # in the lower part of the page, where footnotes sit
        pdf.setFont("Helvetica", 7)
        pdf.drawString(60, y, str(46 + row))
        pdf.setFont("Courier", 10)
        pdf.drawString(120, y - 14, f"\\element{{group{row}}}{{")
    pdf.setFont("Helvetica", 8)
    pdf.drawString(72, 120, "1 Prices are in euros and exclude shipping.")
    pdf.showPage()
    pdf.save()
    parsed = pdf_pipeline.parse_pdf(buffer.getvalue(), config(), lambda message: None)
    assert [s["text"] for s in by_type(parsed, "Footnote")] == ["1 Prices are in euros and exclude shipping."]
    numbers = [s for s in parsed.segments if s["text"].strip() in {"46", "47", "48", "49"}]
    assert numbers and all(s["segment_type"] == "Text" for s in numbers)


def watermarked_pdf() -> bytes:
    """Two paragraphs and a list, a large diagonal DRAFT across them, and a stamp up the margin."""
    from pdf_fixtures import paragraph
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = paragraph(pdf, INTRO, 72, 700, 468)
    pdf.setFont("Helvetica", 10)
    for item in BULLETS:
        y -= 16
        pdf.drawString(84, y, f"\u2022 {item}")
    paragraph(pdf, INTRO, 72, y - 30, 468)
    pdf.saveState()
    pdf.setFont("Helvetica-Bold", 110)
    pdf.setFillGray(0.85)
    pdf.translate(150, 300)
    pdf.rotate(45)
    pdf.drawString(0, 0, "DRAFT")
    pdf.restoreState()
    pdf.saveState()
    pdf.setFont("Helvetica", 8)
    pdf.translate(30, 200)
    pdf.rotate(90)
    pdf.drawString(0, 0, "Internal copy 2026-11-29")
    pdf.restoreState()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_turned_text_is_read_after_the_page_and_cuts_none_of_its_lines():
    parsed = pdf_pipeline.parse_pdf(watermarked_pdf(), config(), lambda message: None)
    texts = [(segment["segment_type"], segment["text"]) for segment in parsed.segments]
    assert texts[0] == ("Text", INTRO)
    assert texts[1:4] == [("ListItem", f"\u2022 {item}") for item in BULLETS]
    assert texts[4] == ("Text", INTRO)
    assert texts[5:] == [("Text", "DRAFT"), ("Text", "Internal copy 2026-11-29")]  # never a heading for its size


def test_a_page_printed_sideways_reads_in_its_own_order_after_its_upright_lines():
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=1)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 40, "Printed on 2026-11-29")  # upright, at the foot of the page
    pdf.saveState()
    pdf.rotate(90)  # the rest printed sideways, which the layout (reading upright lines) would scramble
    for row, text in enumerate(["Sideways table heading", "first row of the sideways table", "second row"]):
        pdf.drawString(300, -100 - 20 * row, text)
    pdf.restoreState()
    pdf.showPage()
    pdf.save()
    parsed = pdf_pipeline.parse_pdf(buffer.getvalue(), config(), lambda message: None)
    assert [segment["text"] for segment in parsed.segments] == [
        "Printed on 2026-11-29", "Sideways table heading first row of the sideways table second row"]


def skewed_and_slanted_pdf() -> bytes:
    """A paragraph with a phrase in a slanted (sheared) font, and a line tilted by 5 degrees."""
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=1)
    text = pdf.beginText(72, 700)
    text.setFont("Helvetica", 12)
    text.textOut("The quick brown fox jumps ")
    text.setTextTransform(1, 0, 0.25, 1, text.getX(), 700)  # slanted: sheared, not turned
    text.textOut("over the")
    text.setTextTransform(1, 0, 0, 1, text.getX(), 700)
    text.textOut(" lazy dog.")
    pdf.drawText(text)
    pdf.saveState()
    pdf.translate(72, 600)
    pdf.rotate(5)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(0, 0, "A line scanned a little askew stays in its place")
    pdf.restoreState()
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 500, "The last line of the page.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_slanted_or_slightly_skewed_text_is_not_turned():
    parsed = pdf_pipeline.parse_pdf(skewed_and_slanted_pdf(), config(), lambda message: None)
    assert [segment["text"] for segment in parsed.segments] == [
        "The quick brown fox jumps over the lazy dog.", "A line scanned a little askew stays in its place",
        "The last line of the page."]


def test_a_ruled_table_keeps_its_headings_printed_sideways():
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, invariant=1)
    pdf.setFont("Helvetica", 10)
    pdf.drawString(72, 760, INTRO[:90])
    pdf.drawString(72, 746, INTRO[90:180])
    heads, rows = ["Region", "Revenue", "Growth"], [["North", "1200", "4%"], ["South", "950", "7%"], ["East", "1430", "2%"],
                                                    ["West", "880", "1%"], ["Central", "1010", "3%"], ["Islands", "300", "9%"]]
    top, head_height, row_height = 700, 60, 18
    xs = [72, 192, 292, 392]
    bottom = top - head_height - row_height * len(rows)
    for x in xs:
        pdf.line(x, top, x, bottom)
    for y in [top, top - head_height] + [top - head_height - row_height * (n + 1) for n in range(len(rows))]:
        pdf.line(xs[0], y, xs[-1], y)
    for x, head in zip(xs, heads):
        pdf.saveState()
        pdf.translate(x + 14, top - head_height + 6)
        pdf.rotate(90)
        pdf.drawString(0, 0, head)
        pdf.restoreState()
    for number, row in enumerate(rows):
        for x, cell in zip(xs, row):
            pdf.drawString(x + 4, top - head_height - row_height * (number + 1) + 5, cell)
    pdf.showPage()
    pdf.save()
    parsed = pdf_pipeline.parse_pdf(buffer.getvalue(), config(), lambda message: None)
    tables = by_type(parsed, "Table")
    assert len(tables) == 1 and all(f"<td>{head}</td>" in tables[0]["html"] or f"<th>{head}</th>" in tables[0]["html"]
                                     for head in heads)
    assert not any(segment["text"] in heads or "Region" in segment["text"]
                   for segment in parsed.segments if segment["segment_type"] != "Table")


def test_a_page_segment_lists_turned_words_in_its_ocr():
    parsed = pdf_pipeline.parse_pdf(watermarked_pdf(), config(segmentation_strategy="Page", ocr_strategy="All"),
                                    lambda message: None)
    (page,) = parsed.segments
    assert page["text"].endswith("DRAFT\n\nInternal copy 2026-11-29")
    assert {"DRAFT", "Internal", "2026-11-29"} <= {entry["text"] for entry in page["ocr"]}
