"""Reading documents as people do: contents pages as one entry per ListItem, monospace code as
blocks of their own, and boxes that stay on their page."""
from __future__ import annotations

import io

import pytest
from pdf_fixtures import BODY, MARGIN, PAGE_WIDTH, paragraph, with_rotation
from reportlab.lib.pagesizes import letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from pipeline.pdf import parse as pdf_pipeline
from pipeline.segment_processing import finish_segment


def config(**overrides) -> dict:
    """The parser's settings as the service stores them by default."""
    base = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
            "error_handling": "Fail", "segment_processing": {}}
    return {**base, **overrides}


def parse(document: bytes, **overrides) -> list[dict]:
    return pdf_pipeline.parse_pdf(document, config(**overrides), lambda message: None).segments


def on_page(segments: list[dict], number: int) -> list[dict]:
    return [segment for segment in segments if segment["page_number"] == number]


# Contents pages

RIGHT = PAGE_WIDTH - MARGIN
WRAPPED = ("2.2 Configuring the build system when several compilers and linkers are",
           "installed side by side")
# A first line that runs on past where the page numbers start.
WRAPPED_WIDE = ("2.4 Why are there unwanted borders, lines or grid-like artifacts when viewing a plot saved as PDF or",
                "PostScript")
CONTENTS = [  # (indent, title lines, page, leaders, bold)
    (0, ["Preface"], "vii", True, False),
    (0, ["1 Getting started"], "1", False, True),
    (16, ["1.1 Installing R"], "2", True, False),
    (16, ["1.2 Running R, etc."], "4", True, False),
    (16, ["1.3 Where to find help"], "7", True, False),
    (0, ["2 Building from source"], "9", False, True),
    (16, ["2.1 Requirements"], "9", True, False),
    (16, list(WRAPPED), "11", True, False),
    (16, ["2.3 Testing the build"], "14", True, False),
    (16, list(WRAPPED_WIDE), "15", True, False),
    (0, ["Index"], "120", False, True),
]
EXPECTED_ENTRIES = [" ".join(lines) + " " + page for _, lines, page, _, _ in CONTENTS]
# Prose whose lines happen to end with numbers, set as a paragraph: no contents entries.
NUMBERED_PROSE = [
    "The first public release of the widget toolkit came out in the spring of 1997",
    "and a second one, with support for larger screens, followed in the year 2000",
    "after which the team moved to a yearly schedule that has held since version 12",
    "and is described at length in the notes for release 14.",
]


def leader_entry(pdf: canvas.Canvas, x: float, y: float, title: str, page: str, font: str) -> None:
    """A contents line: the title, dot leaders on a 6-point grid, the page number set flush right."""
    pdf.setFont(font, BODY)
    pdf.drawString(x, y, title)
    pdf.setFont("Helvetica", BODY)
    pdf.drawRightString(RIGHT, y, page)
    dot = int((x + stringWidth(title, font, BODY) + 8) / 6 + 1) * 6
    while dot < RIGHT - stringWidth(page, "Helvetica", BODY) - 8:
        pdf.drawString(dot, y, ".")
        dot += 6


def contents_pdf() -> bytes:
    """Page 1: a table of contents (leaders for sections, a wide gap for chapters, a title that
    wraps, a roman page number). Page 2: a chapter whose paragraph lines end with numbers."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(MARGIN, 700, "Contents")
    y = 660
    for indent, lines, page, leaders, bold in CONTENTS:
        font = "Helvetica-Bold" if bold else "Helvetica"
        if bold:
            y -= 6
        for line in lines[:-1]:
            pdf.setFont(font, BODY)
            pdf.drawString(MARGIN + indent, y, line)
            y -= BODY * 1.25
        x = MARGIN + indent + (10 if len(lines) > 1 else 0)  # a wrapped title hangs under its first line
        if leaders:
            leader_entry(pdf, x, y, lines[-1], page, font)
        else:
            pdf.setFont(font, BODY)
            pdf.drawString(x, y, lines[-1])
            pdf.drawRightString(RIGHT, y, page)
        y -= BODY * 1.6
    pdf.showPage()
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(MARGIN, 700, "1 Getting started")
    pdf.setFont("Helvetica", BODY)
    y = 670
    for line in NUMBERED_PROSE:
        pdf.drawString(MARGIN, y, line)
        y -= BODY * 1.3
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def contents_segments() -> list[dict]:
    return parse(contents_pdf())


def test_each_contents_entry_is_a_list_item_in_order(contents_segments):
    items = [segment for segment in on_page(contents_segments, 1) if segment["segment_type"] == "ListItem"]
    assert [segment["text"] for segment in items] == EXPECTED_ENTRIES
    # The listing's heading stays a heading, and nothing of the listing is left outside its entries.
    others = [segment for segment in on_page(contents_segments, 1) if segment["segment_type"] != "ListItem"]
    assert [segment["text"] for segment in others] == ["Contents"]


def test_contents_entries_drop_their_leaders_and_keep_their_page_numbers(contents_segments):
    items = [segment for segment in contents_segments if segment["segment_type"] == "ListItem"]
    for segment in items:
        assert ". ." not in segment["text"] and ".." not in segment["text"]
        assert ". ." not in segment["markdown"] and ". ." not in segment["html"]
    assert items[0]["text"].endswith(" vii")  # a roman numeral is a page number too
    assert items[3]["text"] == "1.2 Running R, etc. 4"  # an abbreviation keeps its own dot
    assert items[0]["markdown"] == "- Preface vii"


@pytest.mark.parametrize(("lines", "page"), [(WRAPPED, "11"), (WRAPPED_WIDE, "15")])
def test_a_wrapped_contents_title_stays_one_entry(contents_segments, lines, page):
    wrapped = [segment for segment in contents_segments if segment["text"].startswith(lines[0][:4])]
    assert len(wrapped) == 1
    assert wrapped[0]["segment_type"] == "ListItem"
    assert wrapped[0]["text"] == " ".join(lines) + " " + page
    assert not any(segment["text"].startswith(lines[1]) for segment in contents_segments)


def test_an_index_in_two_columns_lists_each_entry_with_all_its_pages():
    left = [("abline", "72"), ("apply", "8, 11, 27, 30"), ("array", "20-22"), ("attach", "31")]
    right = [("bitwAnd", "12"), ("boxplot", "38, 69"), ("break", "43"), ("browser", "57")]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(MARGIN, 700, "Index")
    column = (PAGE_WIDTH - 2 * MARGIN - 30) / 2
    for x, entries in ((MARGIN, left), (MARGIN + column + 30, right)):
        pdf.setFont("Helvetica-Bold", 12)
        pdf.drawString(x, 670, entries[0][0][0].upper())
        y = 650
        for title, pages in entries:
            pdf.setFont("Helvetica", BODY)
            pdf.drawString(x, y, title)
            pdf.drawRightString(x + column, y, pages)
            dot = int((x + stringWidth(title, "Helvetica", BODY) + 8) / 6 + 1) * 6
            while dot < x + column - stringWidth(pages, "Helvetica", BODY) - 6:
                pdf.drawString(dot, y, ".")
                dot += 6
            y -= BODY * 1.3
    pdf.showPage()
    pdf.save()
    items = [segment["text"] for segment in parse(buffer.getvalue()) if segment["segment_type"] == "ListItem"]
    assert sorted(items) == sorted(f"{title} {pages}" for title, pages in left + right)
    for column in (left, right):  # each column in its order (whether columns are read down or across)
        expected = [f"{title} {pages}" for title, pages in column]
        assert [item for item in items if item in expected] == expected


def test_prose_lines_ending_with_numbers_are_no_contents(contents_segments):
    page = on_page(contents_segments, 2)
    assert [segment["segment_type"] for segment in page] == ["SectionHeader", "Text"]
    assert page[1]["text"] == " ".join(NUMBERED_PROSE)


def two_column_rows_pdf(heading: str, rows: list[tuple[str, str]]) -> bytes:
    """A heading, then rows of a text set left and a number set flush right, nothing between."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(MARGIN, 700, heading)
    y = 660
    for title, number in rows:
        pdf.setFont("Helvetica", 11)
        pdf.drawString(MARGIN, y, title)
        pdf.drawRightString(RIGHT, y, number)
        y -= 20
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_contents_page_without_leaders_is_a_listing_not_a_table():
    rows = [("Introduction", "1"), ("Background and related work", "5"), ("Method", "12"), ("Results", "20"),
            ("Discussion", "31"), ("References", "45")]
    segments = parse(two_column_rows_pdf("Table of Contents", rows))
    assert [segment["segment_type"] for segment in segments[1:]] == ["ListItem"] * len(rows)
    assert [segment["text"] for segment in segments[1:]] == [f"{title} {page}" for title, page in rows]


def test_numbers_under_a_header_row_are_a_table_not_a_listing():
    rows = [("Quarter", "Units"), ("First quarter", "120"), ("Second quarter", "135"), ("Third quarter", "150"),
            ("Fourth quarter", "170")]
    segments = parse(two_column_rows_pdf("Sales", rows))
    assert "ListItem" not in [segment["segment_type"] for segment in segments]
    assert "First quarter" in " ".join(segment["text"] for segment in segments)


def test_a_page_label_over_the_numbers_is_no_table_header():
    rows = [("Chapter", "Page"), ("Getting started", "1"), ("Working with data", "7"), ("Drawing graphs", "19")]
    segments = parse(two_column_rows_pdf("Contents", rows))
    items = [segment["text"] for segment in segments if segment["segment_type"] == "ListItem"]
    assert items == [f"{title} {page}" for title, page in rows[1:]]


# Code

BEFORE = ("The parser reads a module of type definitions. Each definition names a type and says how "
          "it is built from other types. An example of such a module follows:")
CODE = [
    "Example DEFINITIONS ::=",
    "BEGIN",
    "Group ::= SEQUENCE {",
    "    id     OBJECT IDENTIFIER,",
    "    value  Value",
    "}",
    "",
    "END",
]
AFTER = ("The notation to access the Group type of the Example definition above is Example.Group, "
         "which the functions described below accept.")
INLINE = ("Call", "asn1_create_element", "to make a new element of a type, then fill in its fields one by one.")
CODE_SIZE = 9


def code_pdf() -> bytes:
    """A paragraph, Courier lines (indented, one of them blank), a paragraph straight after them,
    and a paragraph with one Courier word in a line of Helvetica."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    width = PAGE_WIDTH - 2 * MARGIN
    y = paragraph(pdf, BEFORE, MARGIN, 700, width) - 4
    pdf.setFont("Courier", CODE_SIZE)
    for line in CODE:
        if line:
            pdf.drawString(MARGIN + 24, y, line)
        y -= CODE_SIZE * 1.25
    y = paragraph(pdf, AFTER, MARGIN, y - 2, width) - 8
    x = MARGIN
    for text, font in zip(INLINE, ("Helvetica", "Courier", "Helvetica")):
        pdf.setFont(font, BODY)
        pdf.drawString(x, y, text)
        x += stringWidth(text + " ", font, BODY)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def code_segments() -> list[dict]:
    return parse(code_pdf())


def test_code_lines_are_a_block_of_their_own_between_paragraphs(code_segments):
    assert [segment["segment_type"] for segment in code_segments] == ["Text", "Text", "Text", "Text"]
    before, code, after, inline = code_segments
    assert before["text"] == BEFORE
    assert after["text"] == AFTER
    assert code["text"] == "\n".join(CODE)
    for prose in (before, after, inline):
        assert "BEGIN" not in prose["text"] and "END" not in prose["text"]
        assert prose["html"].startswith("<p>")


def test_code_keeps_its_line_breaks_and_indentation_in_markdown_and_html(code_segments):
    code = code_segments[1]
    assert code["markdown"] == "```\n" + "\n".join(CODE) + "\n```"
    assert code["html"] == "<pre><code>" + "\n".join(CODE) + "</code></pre>"
    markdown = finish_segment(code, {"format": "Markdown", "embed_sources": ["Markdown"]})
    assert markdown["content"] == code["markdown"]
    html = finish_segment(code, {"format": "Html", "embed_sources": ["HTML"]})
    assert html["content"] == code["html"]  # pre and code survive the sanitiser, indentation too


def test_code_html_is_escaped():
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = paragraph(pdf, BEFORE, MARGIN, 700, PAGE_WIDTH - 2 * MARGIN) - 4
    pdf.setFont("Courier", CODE_SIZE)
    for line in ("if (a < b && c > d) {", "    puts(\"<script>\");", "}"):
        pdf.drawString(MARGIN + 24, y, line)
        y -= CODE_SIZE * 1.25
    paragraph(pdf, AFTER, MARGIN, y - 2, PAGE_WIDTH - 2 * MARGIN)
    pdf.showPage()
    pdf.save()
    code = parse(buffer.getvalue())[1]
    assert code["text"] == 'if (a < b && c > d) {\n    puts("<script>");\n}'
    assert code["html"] == ("<pre><code>if (a &lt; b &amp;&amp; c &gt; d) {\n    puts(&quot;&lt;script&gt;&quot;);\n}"
                            "</code></pre>")
    assert finish_segment(code, {"format": "Html"})["content"].count("<script>") == 0


def test_comments_set_in_a_column_of_their_own_stay_on_their_code_lines():
    lines = ['plot "foo", "bar"              # two files, two line types',
             "plot sin(x) linetype 4",
             "plot cos(x) linetype 5         # colour 5"]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = paragraph(pdf, BEFORE, MARGIN, 700, PAGE_WIDTH - 2 * MARGIN) - 4
    pdf.setFont("Courier", CODE_SIZE)
    for line in lines:
        pdf.drawString(MARGIN + 24, y, line)
        y -= CODE_SIZE * 1.25
    paragraph(pdf, AFTER, MARGIN, y - 6, PAGE_WIDTH - 2 * MARGIN)
    pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    assert [segment["text"] for segment in segments] == [BEFORE, "\n".join(lines), AFTER]


def test_one_monospace_word_in_a_prose_line_is_no_code(code_segments):
    inline = code_segments[3]
    assert inline["text"] == " ".join(INLINE)
    assert inline["markdown"] == " ".join(INLINE).replace("_", "\\_")


def test_a_paragraph_whose_last_line_is_one_monospace_word_keeps_it():
    first = "Some functions need a buffer for the error description of at least"
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = paragraph(pdf, BEFORE, MARGIN, 700, PAGE_WIDTH - 2 * MARGIN) - 8
    pdf.setFont("Helvetica", BODY)
    pdf.drawString(MARGIN, y, first)
    pdf.setFont("Courier", BODY)
    pdf.drawString(MARGIN, y - BODY * 1.3, "ASN1_MAX_ERROR_DESCRIPTION_SIZE.")
    pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    assert [segment["text"] for segment in segments] == [BEFORE, first + " ASN1_MAX_ERROR_DESCRIPTION_SIZE."]
    assert segments[1]["html"].startswith("<p>")


def test_a_document_typed_in_a_monospace_font_is_prose():
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    pdf.setFont("Courier", BODY)
    y = 700
    for text in (BEFORE, AFTER):
        for line in [text[index:index + 70] for index in range(0, len(text), 70)]:
            pdf.drawString(MARGIN, y, line.strip())
            y -= BODY * 1.3
        y -= BODY
    pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    assert [segment["segment_type"] for segment in segments] == ["Text", "Text"]
    assert all(segment["html"].startswith("<p>") and "\n" not in segment["text"] for segment in segments)


# Boxes

def off_page_pdf(rotation: int = 0) -> bytes:
    """Text that runs off the page on the left, the right and the bottom, and a line wholly off it."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    paragraph(pdf, BEFORE, MARGIN, 700, PAGE_WIDTH - 2 * MARGIN)
    pdf.setFont("Helvetica", BODY)
    pdf.drawString(-14, 600, "Leftward words spill over the edge of the sheet")
    pdf.drawString(PAGE_WIDTH - 160, 500, "Rightward words spill over the edge of the sheet too")
    pdf.drawString(MARGIN, -3, "Bottom line sinks below the sheet")
    pdf.drawString(PAGE_WIDTH + 40, 400, "Nowhere to be seen")
    pdf.setFont("Helvetica-Bold", 30)
    pdf.drawString(PAGE_WIDTH - 110, 300, "Overhanging")  # a large word, more of it on the page than off
    pdf.showPage()
    pdf.save()
    return with_rotation(buffer.getvalue(), rotation)


def inside(box: dict, width: float, height: float) -> bool:
    return (box["left"] >= 0 and box["top"] >= 0 and box["width"] > 0 and box["height"] > 0
            and box["left"] + box["width"] <= width and box["top"] + box["height"] <= height)


@pytest.mark.parametrize("rotation", [0, 90])
@pytest.mark.parametrize("strategy", ["LayoutAnalysis", "Page"])
def test_boxes_stay_on_the_page_when_text_runs_off_it(rotation, strategy):
    segments = parse(off_page_pdf(rotation), ocr_strategy="All", segmentation_strategy=strategy)
    text = " ".join(segment["text"] for segment in segments)
    assert "Leftward" not in text or "words spill" in text
    for kept in ("spill over the edge", "Rightward", "Bottom line", "Overhanging"):
        assert kept in text
    assert "Nowhere" not in text
    words = 0
    for segment in segments:
        width, height = segment["page_width"], segment["page_height"]
        assert (width > height) == (rotation == 90)
        assert inside(segment["bbox"], width, height), (segment["text"], segment["bbox"])
        for entry in segment["ocr"]:
            assert inside(entry["bbox"], width, height), (entry["text"], entry["bbox"])
            words += 1
    assert words > 20


def off_page_grid_pdf() -> bytes:
    """A paragraph, and a ruled grid of three rows and columns with text in it, drawn wholly
    beyond the page's right edge."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    paragraph(pdf, BEFORE, MARGIN, 700, PAGE_WIDTH - 2 * MARGIN)
    xs, ys = [PAGE_WIDTH + 20 + 60 * index for index in range(4)], [600 - 20 * index for index in range(4)]
    for x in xs:
        pdf.line(x, ys[0], x, ys[-1])
    for y in ys:
        pdf.line(xs[0], y, xs[-1], y)
    pdf.setFont("Helvetica", BODY)
    for top in ys[:-1]:
        for left in xs[:-1]:
            pdf.drawString(left + 4, top - 14, "cell")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.mark.parametrize("strategy", ["LayoutAnalysis", "Page"])
def test_a_ruled_grid_wholly_off_the_pages_right_edge_is_no_segment(strategy):
    segments = parse(off_page_grid_pdf(), segmentation_strategy=strategy)
    assert [segment["segment_type"] for segment in segments] == ["Page" if strategy == "Page" else "Text"]
    for segment in segments:
        assert inside(segment["bbox"], segment["page_width"], segment["page_height"]), segment["bbox"]
        assert "cell" not in segment["text"]


# Definitions: a category label set flush right of a signature (texinfo's @deftypefun)

DEFINITIONS = [  # (signature lines, description)
    (["double gammafn (double x)", "double lgammafn (double x)", "double digamma (double x)",
      "double trigamma (double x)"], "The Gamma function, the natural logarithm of its absolute value and its "
                                     "first two derivatives."),
    (["void dpsifn (double x, int n, int kode, int m, double* ans,", "int* ierr)"],
     "The underlying workhorse, useful when several derivatives of the log Gamma function are desired."),
    (["double log1p (double x)"], "Computes log(1 + x) accurately even for small x."),
]


def definitions_pdf() -> bytes:
    """A paragraph, then definitions: each signature line in Courier with "[Function]" set flush
    right on its first line, the description indented below."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    y = paragraph(pdf, BEFORE, MARGIN, 720, PAGE_WIDTH - 2 * MARGIN) - 16
    for signatures, description in DEFINITIONS:
        for index, signature in enumerate(signatures):
            pdf.setFont("Courier", BODY)
            pdf.drawString(MARGIN + (30 if index and signature.startswith("int*") else 0), y, signature)
            if not (index and signature.startswith("int*")):
                pdf.setFont("Times-Roman", BODY)
                pdf.drawRightString(RIGHT, y, "[Function]")
            y -= 12
        y = paragraph(pdf, description, MARGIN + 30, y, PAGE_WIDTH - 2 * MARGIN - 30) - 12
    paragraph(pdf, AFTER, MARGIN, y - 4, PAGE_WIDTH - 2 * MARGIN)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_category_label_flush_right_of_a_signature_is_read_before_it():
    segments = parse(definitions_pdf())
    assert "Table" not in {segment["segment_type"] for segment in segments}
    text = " ".join(" ".join(segment["text"].split()) for segment in segments)
    for signatures, _ in DEFINITIONS:
        assert f"[Function] {signatures[0]}" in text, text
    assert "[Function] void dpsifn (double x, int n, int kode, int m, double* ans, int* ierr)" in text
    assert text.count("[Function]") == 6
