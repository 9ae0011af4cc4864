"""Running heads and foots: text repeated in the top or bottom margin of pages is PageHeader or
PageFooter, whether it comes in pieces on one row, changes with the chapter or sits lower than
most (a Letter page printed on A4); a heading or a first line of text at the top of a page is not."""
from __future__ import annotations

import io

import pytest
from pdf_fixtures import wrap
from reportlab.lib.pagesizes import A4, letter
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from pipeline.pdf import parse as pdf_pipeline
from pipeline.pdf.running_heads import head_key, mark_running_headers

SENTENCES = [
    "The shell reads its input from a file and divides it into words and operators.",
    "Quoting removes the special meaning of characters and words to the shell.",
    "Each command in a pipeline runs in its own process with its own environment.",
    "Parameters are set by assignments and hold values that commands may expand.",
    "Arithmetic is evaluated in fixed-width integers and overflow is not checked.",
    "A function stores a series of commands for later execution under one name.",
    "Redirection lets a command's files be duplicated, opened, closed or moved.",
    "Aliases replace the first word of a simple command with a string of text.",
    "History expansion makes earlier words of earlier lines easy to use again.",
    "Completion finds the possible endings of a partly typed word on the line.",
    "Job control stops a process for a while and resumes it later on request.",
    "Prompts show the state of the shell before each command is read from input.",
]


def config() -> dict:
    return {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
            "error_handling": "Fail", "segment_processing": {}}


def parse(document: bytes) -> list[dict]:
    return pdf_pipeline.parse_pdf(document, config(), lambda message: None).segments


def on_page(segments: list[dict], number: int) -> list[dict]:
    return [segment for segment in segments if segment["page_number"] == number]


def body(pdf: canvas.Canvas, page: int, top: float, bottom: float, left: float, right: float) -> None:
    """Paragraphs of text different on every page (no line repeats) from `top` down to `bottom`."""
    y, index = top, page * 5
    while True:
        text = " ".join(SENTENCES[(index + step) % len(SENTENCES)] for step in range(3)) + f" Page {page} part {index}."
        lines = wrap(text, right - left, "Times-Roman", 10)
        if y - 12 * len(lines) < bottom:
            return
        pdf.setFont("Times-Roman", 10)
        for line in lines:
            pdf.drawString(left, y, line)
            y -= 12
        y -= 8
        index += 1


# A manual page: head and foot each in three pieces (left, centred, right)

def manual_pdf(pages: int, size: tuple[float, float] = letter, foot_y: float = 36, body_bottom: float = 72) -> bytes:
    width, height = size
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=size, invariant=1)
    for page in range(1, pages + 1):
        pdf.setFont("Times-Roman", 10)
        pdf.drawString(72, height - 44, "WIDGET(1)")
        pdf.drawCentredString(width / 2, height - 44, "General Commands Manual")
        pdf.drawRightString(width - 72, height - 44, "WIDGET(1)")
        pdf.drawString(72, foot_y, "GNU Widget 5.2")
        pdf.drawCentredString(width / 2, foot_y, "2022 September 19")
        pdf.drawRightString(width - 72, foot_y, str(page))
        if page == 1:
            pdf.setFont("Times-Bold", 10)
            pdf.drawString(72, height - 84, "NAME")
        body(pdf, page, height - 100, body_bottom, 108, width - 72)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


FOOT = ["GNU Widget 5.2", "2022 September 19"]
HEAD = ["WIDGET(1)", "General Commands Manual", "WIDGET(1)"]


@pytest.mark.parametrize("size, foot_y, body_bottom", [
    (letter, 36, 72),  # the foot half an inch from the bottom
    (A4, 76, 110),     # a Letter page printed on A4: the foot 10% of the page up, past the usual margin
], ids=["letter", "letter-on-A4"])
def test_a_foot_in_three_pieces_is_a_page_footer(size, foot_y, body_bottom):
    pages = 4
    segments = parse(manual_pdf(pages, size, foot_y, body_bottom))
    for number in range(1, pages + 1):
        page = on_page(segments, number)
        assert [s["text"] for s in page if s["segment_type"] == "PageFooter"] == [*FOOT, str(number)]
        assert [s["text"] for s in page if s["segment_type"] == "PageHeader"] == HEAD
        typed = {s["segment_type"] for s in page if s["text"] not in (*FOOT, *HEAD, str(number))}
        assert typed <= {"Text", "SectionHeader", "Title"}, typed  # the body's last lines stay body


# Unit rules on segments: a head read whole on one page and in pieces on the others

def segment(page: int, text: str, left: float, top: float, width: float, kind: str = "Text") -> dict:
    return {"segment_type": kind, "text": text, "page_number": page, "page_width": 612, "page_height": 792,
            "bbox": {"left": left, "top": top, "width": width, "height": 10}}


def test_a_row_read_whole_on_one_page_matches_its_pieces_on_the_others():
    pages = []
    for page in range(1, 4):
        pieces = [segment(page, "WIDGET(1)", 72, 40, 50), segment(page, "General Commands Manual", 250, 40, 110),
                  segment(page, "WIDGET(1)", 490, 40, 50)]
        pages.append(pieces + [segment(page, f"Body text of page {page}.", 72, 300, 400)])
    pages.append([segment(4, "WIDGET(1) General Commands Manual WIDGET(1)", 72, 40, 468),
                  segment(4, "Body text of page 4.", 72, 300, 400)])
    mark_running_headers(pages)
    assert [s["segment_type"] for page in pages for s in page if s["text"].startswith("WIDGET")] == ["PageHeader"] * 7
    assert {s["segment_type"] for page in pages for s in page if s["text"].startswith("Body")} == {"Text"}


def test_head_keys_set_page_numbers_digits_and_spacing_aside():
    assert head_key("Chapter 7: Reading data from files 34") == head_key("Chapter 7: Reading data from files")
    assert head_key("xii   Preface") == head_key("Preface") == head_key("Preface  XIV")
    assert head_key("GNU Widget 5.2   2022 September 19   7") == head_key("GNU Widget 5.2 2022 September 19 8")
    assert head_key("Page 3 of 10") == head_key("- 4 -") == ""
    assert head_key("Chapter 1: Widgets") != head_key("Chapter 1: Gadgets")


# A book whose head names the chapter; each chapter opens on a page of its own without a head

CHAPTERS = [("Getting started", 3), ("A short chapter", 2), ("Drawing graphs", 3)]


def book_pdf(numbers_in_head: bool) -> bytes:
    width, height = letter
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    page = 0
    for chapter, (title, length) in enumerate(CHAPTERS, 1):
        for index in range(length):
            page += 1
            if index == 0:  # the chapter's title where the head sits on other pages, larger
                pdf.setFont("Helvetica-Bold", 18)
                pdf.drawString(72, height - 60, f"{chapter} {title}")
                top = height - 100
            else:
                pdf.setFont("Helvetica", 10)
                pdf.drawString(72, height - 50, f"Chapter {chapter}: {title}")
                if numbers_in_head:
                    pdf.drawRightString(width - 72, height - 50, str(page))
                top = height - 80
            if not numbers_in_head:
                pdf.setFont("Helvetica", 10)
                pdf.drawCentredString(width / 2, 40, str(page))
            body(pdf, page, top, 72, 72, width - 72)
            pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.mark.parametrize("numbers_in_head", [True, False], ids=["number-beside", "number-in-foot"])
def test_a_chapter_name_head_is_a_page_header_even_on_one_page(numbers_in_head):
    segments = parse(book_pdf(numbers_in_head))
    heads = [(s["page_number"], s["text"]) for s in segments
             if s["segment_type"] == "PageHeader" and s["text"].startswith("Chapter")]
    expected, page = [], 0
    for chapter, (title, length) in enumerate(CHAPTERS, 1):
        expected += [(page + index + 1, f"Chapter {chapter}: {title}") for index in range(1, length)]
        page += length
    assert heads == expected  # "Chapter 2: A short chapter" is printed on one page only


def test_a_heading_at_the_top_of_a_page_stays_a_heading():
    segments = parse(book_pdf(True))
    page = 1
    for chapter, (title, length) in enumerate(CHAPTERS, 1):
        first = on_page(segments, page)
        assert first[0]["text"] == f"{chapter} {title}"
        assert first[0]["segment_type"] in ("SectionHeader", "Title")
        assert "PageHeader" not in {s["segment_type"] for s in first}
        page += length


def test_first_lines_of_pages_without_heads_stay_body():
    """Pages without any head: each page's first line, at the top, is text of its own."""
    width, height = letter
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    for page in range(1, 5):
        body(pdf, page, height - 50, 50, 72, width - 72)
        pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    assert {s["segment_type"] for s in segments} == {"Text"}


# Contents pages: a head in pieces just above the listing is no entry, nor a wrapped title's first line

TOPICS = ["Installing", "Plotting data", "Axes and ticks", "Colours", "Fonts", "Terminals", "Surfaces", "Contours",
          "Histograms", "Fitting", "Animation", "Scripts", "Variables", "Functions", "Strings", "Loops"]


def contents_pdf(roman_in_head: bool) -> tuple[bytes, list[tuple[str, str]]]:
    """Three contents pages, each head ("CONTENTS", the title, maybe the page's roman number) set in
    pieces one line above the listing, then three pages of text under a head of the same kind."""
    width, height = letter
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    entries = [(f"{chapter}.{section} {TOPICS[(chapter * 5 + section) % len(TOPICS)]} of part {chapter}",
                str(chapter * 9 + section)) for chapter in range(1, 7) for section in range(1, 7)]
    for page, roman in enumerate(["iii", "iv", "v"]):
        pdf.setFont("Times-Roman", 10)
        pdf.drawString(72, height - 50, "CONTENTS")
        if roman_in_head:
            pdf.drawCentredString(width / 2, height - 50, "Widget 5.4")
            pdf.drawRightString(width - 72, height - 50, roman)
        else:
            pdf.drawRightString(width - 72, height - 50, "Widget 5.4")
            pdf.drawCentredString(width / 2, 40, roman)
        y = height - 64
        for title, number in entries[page * 12:(page + 1) * 12]:
            pdf.drawString(72, y, title)
            pdf.drawRightString(width - 72, y, number)
            dot = 72 + stringWidth(title, "Times-Roman", 10) + 6
            while dot < width - 72 - stringWidth(number, "Times-Roman", 10) - 6:
                pdf.drawString(dot, y, ".")
                dot += 5
            y -= 14
        pdf.showPage()
    for page in range(1, 4):
        pdf.setFont("Times-Roman", 10)
        pdf.drawString(72, height - 50, "CHAPTER 1. INSTALLING")
        pdf.drawRightString(width - 72, height - 50, "Widget 5.4")
        pdf.drawCentredString(width / 2, 40, str(page))
        body(pdf, page, height - 80, 72, 72, width - 72)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue(), entries


@pytest.mark.parametrize("roman_in_head", [True, False], ids=["number-in-head", "number-in-foot"])
def test_a_contents_page_head_stays_out_of_its_listing(roman_in_head):
    document, entries = contents_pdf(roman_in_head)
    segments = parse(document)
    for number in (1, 2, 3):
        page = on_page(segments, number)
        items = [s["text"] for s in page if s["segment_type"] == "ListItem"]
        assert items == [f"{title} {page_number}" for title, page_number in entries[(number - 1) * 12:number * 12]]
        heads = " ".join(s["text"] for s in page if s["segment_type"] == "PageHeader")
        assert "CONTENTS" in heads and "Widget 5.4" in heads
        assert not [s["text"] for s in page if "CONTENTS" in s["text"] and s["segment_type"] != "PageHeader"]


def test_a_heading_beside_the_page_number_stays_a_heading():
    """Slides or reports with each page's own title at the top left and its number at the top
    right, on one row in the margin: the number is a head, the title is not."""
    width, height = letter
    titles = ["Quarterly results", "Regional sales", "Factory output", "Next year's plan"]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    for page, title in enumerate(titles, 1):
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(72, height - 45, title)
        pdf.setFont("Helvetica", 10)
        pdf.drawRightString(width - 72, height - 45, str(page))
        body(pdf, page, height - 90, 72, 72, width - 72)
        pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    for page, title in enumerate(titles, 1):
        kinds = {s["text"]: s["segment_type"] for s in on_page(segments, page)}
        assert kinds[title] in ("SectionHeader", "Title")
        assert kinds[str(page)] == "PageHeader"


def test_a_label_over_each_chapter_title_below_the_heads_stays_body():
    """Chapter pages without a head open with a "CHAPTER" label a little lower than the other
    pages' heads (past the usual margin, yet the page's first row): the body's, not a head."""
    width, height = letter
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=letter, invariant=1)
    page = 0
    for chapter in ("ONE", "TWO", "THREE"):
        for index in range(3):
            page += 1
            pdf.setFont("Helvetica", 10)
            pdf.drawCentredString(width / 2, 40, str(page))
            if index == 0:
                pdf.setFont("Helvetica", 12)
                pdf.drawRightString(width - 72, height - 95, "CHAPTER")
                pdf.setFont("Helvetica-Bold", 16)
                pdf.drawRightString(width - 72, height - 118, chapter)
                top = height - 160
            else:
                pdf.setFont("Helvetica", 9)
                pdf.drawRightString(width - 72, height - 40, "Widget Guide, Release 1.0")
                top = height - 80
            body(pdf, page, top, 72, 72, width - 72)
            pdf.showPage()
    pdf.save()
    segments = parse(buffer.getvalue())
    labels = [s for s in segments if s["text"] == "CHAPTER"]
    assert len(labels) == 3 and all(s["segment_type"] not in ("PageHeader", "PageFooter") for s in labels)
    assert [s["page_number"] for s in segments if s["text"] == "Widget Guide, Release 1.0"
            and s["segment_type"] == "PageHeader"] == [2, 3, 5, 6, 8, 9]


# A book set flush bottom: every page's last line of text sits at the same height, in the bottom
# margin, and a short line such as "Syntax:" (that announces code on the next page) ends a few pages

def flush_bottom_pages(last_lines: list[str], syntax_in_body: bool) -> list[list[dict]]:
    pages = []
    for page, last in enumerate(last_lines, 1):
        segments = [segment(page, f"Manual 5.4 {page}", 72, 40, 100)]
        segments += [segment(page, f"Body text of page {page}, paragraph {index}.", 72, 100 + 60 * index, 400)
                     for index in range(10)]
        if syntax_in_body:
            segments.append(segment(page, "Syntax:", 72, 690, 40))
        segments.append(segment(page, last, 72, 730, 40 if last == "Syntax:" else 400))
        pages.append(segments)
    return pages


@pytest.mark.parametrize("last_lines, syntax_in_body", [
    (["Syntax:"] * 3 + SENTENCES[:5], False),
    (["Syntax:"] * 3 + SENTENCES[:2], True),
], ids=["more-lines-that-repeat-nowhere", "syntax-common-in-the-body"])
def test_the_body_s_last_line_is_no_head_where_a_short_line_repeats_by_chance(last_lines, syntax_in_body):
    pages = flush_bottom_pages(last_lines, syntax_in_body)
    mark_running_headers(pages)
    assert [s["segment_type"] for page in pages for s in page if s["text"].startswith("Manual")] == ["PageHeader"] * len(pages)
    assert {s["segment_type"] for page in pages for s in page if s["text"] in SENTENCES} == {"Text"}
