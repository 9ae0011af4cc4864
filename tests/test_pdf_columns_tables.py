"""Columns found before tables, and tables whole: header rows, wrapped cells, spanning and empty
cells, a table continued on the next page. On PDFs made with reportlab (column_fixtures.py)."""
from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from column_fixtures import (
    ARCHIVES_TABLE,
    ARTICLE_LEFTS,
    ARTICLE_TABLE,
    ARTICLE_WIDTH,
    CARD_LEFTS,
    CARD_WIDTH,
    CODE_ROW,
    COMMANDS_TABLE,
    FILES_TABLE,
    LEFT_PARAGRAPHS,
    LONG_HEADER,
    RIGHT_PARAGRAPHS,
    ROUTES_TABLE,
    SHELLS_TABLE,
    UNITS_TABLE,
    article_pdf,
    card_entries,
    centred_archives_pdf,
    centred_commands_pdf,
    inner_rules_table_pdf,
    long_table_pdf,
    long_table_rows,
    reference_card_pdf,
    spaced_code_row_pdf,
    tables_pdf,
    units_pdf,
)

from pipeline.pdf import parse as pdf_pipeline
from pipeline.pdf.columns import is_gutter
from pipeline.pdf.layout import Line, group_lines
from pipeline.pdf.text import Word
from pipeline.pdf.unruled import overprinted

SCALE = 1.5  # page images are 108 DPI with high_resolution: 1.5 pixels a point
TOLERANCE = 6.0  # pixels


def parse(document: bytes):
    configuration = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
                     "error_handling": "Fail", "segment_processing": {}}
    return pdf_pipeline.parse_pdf(document, configuration, lambda message: None).segments


def grid(segment: dict) -> list[list[tuple]]:
    """A Table segment's rows as (tag, text) cells, with ("colspan", n) / ("rowspan", n) added when spanning."""
    rows = []
    for tr in BeautifulSoup(segment["html"], "html.parser").find_all("tr"):
        cells = []
        for cell in tr.find_all(["th", "td"]):
            spans = tuple((name, int(cell[name])) for name in ("colspan", "rowspan") if cell.get(name))
            cells.append((cell.name, cell.get_text()) + spans)
        rows.append(cells)
    return rows


def header_and_body(rows: list[list[str]], header: int = 1) -> list[list[tuple]]:
    return [[("th" if index < header else "td", text) for text in row] for index, row in enumerate(rows)]


def words_of(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def card():
    return parse(reference_card_pdf())


@pytest.fixture(scope="module")
def tables():
    return parse(tables_pdf())


def test_a_reference_card_reads_column_after_column_each_key_with_its_description(card):
    """Three columns of key/description entries on one baseline grid: read column by column,
    each entry whole, and no segment reaches across a gutter."""
    expected = []
    for sections in card_entries():
        for heading, entries in sections:
            expected.append(heading)
            expected += [f"{key} {description}" for key, description in entries]
    body = [segment for segment in card if segment["segment_type"] != "Title"]
    assert words_of(" ".join(segment["text"] for segment in body)) == words_of(" ".join(expected))
    keys = re.findall(r"K\d\d", " ".join(segment["text"] for segment in card))
    assert keys == sorted(keys) and len(keys) == sum(len(entries) for column in card_entries() for _, entries in column)
    for segment in body:
        box = segment["bbox"]
        assert box["width"] <= CARD_WIDTH * SCALE + TOLERANCE, segment["text"][:60]
        column = [left for left in CARD_LEFTS if left * SCALE - TOLERANCE <= box["left"]]
        assert box["left"] + box["width"] <= (column[-1] + CARD_WIDTH) * SCALE + TOLERANCE
    tables = [segment for segment in body if segment["segment_type"] == "Table"]
    for table in tables:  # each entry one row: its key, its whole description
        for row in grid(table):
            assert len(row) == 2 and re.fullmatch(r"K\d\d", row[0][1])


def test_a_scanned_reference_card_reads_column_after_column_too():
    """The same card as an image, read by OCR, whose line boxes and sizes are rougher."""
    from pdf_fixtures import page_png

    configuration = {"high_resolution": True, "ocr_strategy": "Auto", "segmentation_strategy": "LayoutAnalysis",
                     "error_handling": "Fail", "segment_processing": {}}
    segments = pdf_pipeline.parse_image(page_png(reference_card_pdf(), 0, dpi=150), "image/png", configuration,
                                        lambda message: None).segments
    keys = re.findall(r"K\d\d", " ".join(segment["text"] for segment in segments))
    assert keys == [f"K{number:02d}" for number in range(1, 55)]
    scale = segments[0]["page_width"] / 612
    for segment in segments:
        if segment["segment_type"] != "Title":
            box = segment["bbox"]
            column = [left for left in CARD_LEFTS if left * scale - 3 * TOLERANCE <= box["left"]][-1]
            assert box["left"] + box["width"] <= (column + CARD_WIDTH) * scale + 3 * TOLERANCE, segment["text"][:60]


def test_a_two_column_article_reads_the_left_column_first_and_its_table_stays_in_it():
    segments = parse(article_pdf())
    left_edge, right_edge = ARTICLE_LEFTS[0] * SCALE, (ARTICLE_LEFTS[0] + ARTICLE_WIDTH) * SCALE
    second = ARTICLE_LEFTS[1] * SCALE
    for segment in segments:  # none spans both columns
        box = segment["bbox"]
        within_left = box["left"] >= left_edge - TOLERANCE and box["left"] + box["width"] <= right_edge + TOLERANCE
        assert within_left or box["left"] >= second - TOLERANCE, segment["text"][:60]
    texts = [segment["text"] for segment in segments if segment["segment_type"] == "Text"]
    assert texts == LEFT_PARAGRAPHS + RIGHT_PARAGRAPHS
    kinds = [segment["segment_type"] for segment in segments]
    assert kinds == ["Title", "Text", "Table", "Text", "Text", "Text", "Text"]
    table = segments[2]
    assert grid(table) == header_and_body(ARTICLE_TABLE)
    assert table["markdown"].splitlines()[:2] == ["| Port | Ships | Tons |", "|---|---|---|"]


def test_an_unruled_table_keeps_its_header_row_wrapped_descriptions_and_empty_cell(tables):
    page = [segment for segment in tables if segment["page_number"] == 1]
    assert [segment["segment_type"] for segment in page] == ["Text", "Table", "Text"]
    assert grid(page[1]) == header_and_body(FILES_TABLE)
    assert page[1]["markdown"].splitlines() == [
        "| File | Lines | Description |", "|---|---|---|", "| page.py | 198 | One page into segments |",
        f"| reading_order.py | 126 | {FILES_TABLE[2][2]} |", "| tables.py |  | Ruled and unruled tables |",
        f"| layout.py | 300 | {FILES_TABLE[4][2]} |"]
    assert page[2]["text"] == "The paragraph after the table is read after it, as its own segment."


def test_an_unruled_header_cell_centred_over_two_columns_spans_them(tables):
    [table] = [segment for segment in tables if segment["page_number"] == 2 and segment["segment_type"] == "Table"]
    assert grid(table) == [
        [("th", "Region"), ("th", "Sales", ("colspan", 2)), ("th", "Notes")],
        [("th", ""), ("th", "2023"), ("th", "2024"), ("th", "")],
        [("td", "North"), ("td", "1200"), ("td", "1350"), ("td", "new depot")],
        [("td", "South"), ("td", "950"), ("td", ""), ("td", "closed in May")],
        [("td", "East"), ("td", "1430"), ("td", "1500"), ("td", "")],
    ]
    assert table["markdown"].splitlines()[:3] == ["| Region | Sales |  | Notes |", "|---|---|---|---|", "|  | 2023 | 2024 |  |"]
    assert not any(segment["segment_type"] == "SectionHeader" for segment in tables)


def test_a_ruled_table_with_cells_spanning_columns_and_rows_a_wrapped_cell_and_empty_cells(tables):
    [table] = [segment for segment in tables if segment["page_number"] == 3 and segment["segment_type"] == "Table"]
    assert grid(table) == [
        [("th", "Part", ("rowspan", 2)), ("th", "Size", ("colspan", 2)), ("th", "Use", ("rowspan", 2))],
        [("th", "Width"), ("th", "Height")],
        [("td", "Bolt"), ("td", "12"), ("td", "40"), ("td", "Holds the frame to the wall bracket in every model we sell")],
        [("td", "Nut"), ("td", "12"), ("td", ""), ("td", "Locks the bolt")],
        [("td", "Washer"), ("td", ""), ("td", ""), ("td", "")],
    ]
    assert table["markdown"].splitlines()[:3] == ["| Part | Size |  | Use |", "|---|---|---|---|", "|  | Width | Height |  |"]


def test_an_unruled_table_with_rows_set_far_apart_empty_cells_and_a_wrapped_last_cell(tables):
    page = [segment for segment in tables if segment["page_number"] == 4]
    assert [segment["segment_type"] for segment in page] == ["Text", "Table", "Text"]
    assert grid(page[1]) == header_and_body(ROUTES_TABLE)


@pytest.mark.parametrize("repeat_header", [True, False])
def test_a_table_continued_on_the_next_page_is_one_table_per_page_each_with_its_header(repeat_header):
    segments = parse(long_table_pdf(repeat_header))
    tables = [segment for segment in segments if segment["segment_type"] == "Table"]
    assert [table["page_number"] for table in tables] == [1, 2]
    grids = [grid(table) for table in tables]
    for rows in grids:
        assert rows[0] == [("th", text) for text in LONG_HEADER]
        assert all(cell[0] == "td" for row in rows[1:] for cell in row)
    body = [[cell[1] for cell in row] for rows in grids for row in rows[1:]]
    assert body == long_table_rows()
    assert tables[1]["markdown"].splitlines()[0] == "| Code | Name | Meaning |"
    assert [segment["text"] for segment in segments if segment["segment_type"] != "Table"] == [
        "The codes and their meanings are listed in the table below.", "The table ends here and the text goes on below it."]


def words_in_rows(rows: list[tuple[str, ...]], left: float, top: float = 100.0, gap: float = 60.0) -> list[Word]:
    """Words laid out in a grid: rows 12 pixels apart, columns `gap` pixels apart."""
    words = []
    for index, row in enumerate(rows):
        for column, text in enumerate(row):
            x = left + gap * column
            for part in text.split():
                words.append(Word(part, x, top + 12 * index, x + 5 * len(part), top + 12 * index + 10, 10.0))
                x += 5 * len(part) + 3
    return words


def test_a_gap_between_a_tables_cells_is_no_gutter_but_one_beside_a_heading_is():
    keys = group_lines(words_in_rows([("alpha",), ("beta",), ("gamma",)], left=20))
    values = group_lines(words_in_rows([("1.5",), ("2.25",), ("7",)], left=120))
    assert not is_gutter(keys, values)
    heading = [Word("Summary", 120, 98, 190, 114, 16.0)] + [w for line in values[1:] for w in line.words]
    assert is_gutter(keys, group_lines(heading))


def test_an_unruled_table_whose_commands_sit_centred_beside_their_wrapped_descriptions():
    """Each command set level with the middle of its description's two or three lines, some just
    below a description whose last line is full (which the next line could have carried on): one
    table, one row per command with its whole description, nothing read across the rows."""
    segments = parse(centred_commands_pdf())
    assert [segment["segment_type"] for segment in segments] == ["Text", "Table", "Text"]
    rows = [[cell[1] for cell in row] for row in grid(segments[1])]
    assert rows == COMMANDS_TABLE
    assert segments[2]["text"] == "The paragraph after the table is read after it, as its own segment."


def test_a_last_value_set_apart_on_a_row_of_several_is_read_along_that_row():
    """A code line's values set far apart, the last beyond the short lines of text close below:
    the lone value is one more fragment of its row, not a column read after the text."""
    segments = parse(spaced_code_row_pdf())
    text = " ".join(" ".join(segment["text"].split()) for segment in segments)
    assert " ".join(CODE_ROW) + " where .GlobalEnv is the workspace" in text


def test_a_table_ruled_between_its_columns_only_keeps_its_first_and_last_columns():
    """No vertical rule at the table's sides, its row rules running on to them: the columns
    outside the outermost column rules are the table's too."""
    segments = parse(inner_rules_table_pdf())
    assert [segment["segment_type"] for segment in segments] == ["Text", "Table", "Text"]
    assert [[cell[1] for cell in row] for row in grid(segments[1])] == SHELLS_TABLE


@pytest.fixture(scope="module")
def archives():
    return parse(centred_archives_pdf())


def archives_rows(segments: list[dict]) -> list[list[str]]:
    assert [segment["segment_type"] for segment in segments] == ["Text", "Table", "Text"]
    return [[" ".join(cell[1].split()) for cell in row] for row in grid(segments[1])]


def test_a_url_column_beside_centred_cells_is_no_gutter(archives):
    """The archives sit level with the middle of the two-line cells beside them, and a cell of
    the first column wraps beside cells that wrap too: a table's first column, not a column of
    entries read after the rest (which "a wrapped line beside a new entry" would have made it)."""
    rows = archives_rows(archives)
    assert [row[0] for row in rows] == [row[0] for row in ARCHIVES_TABLE]


def test_cells_wrapped_in_several_columns_beside_a_centred_cell_make_one_row(archives):
    """Two cells of a row wrapped onto two lines, top-aligned with each other, a one-line cell
    centred beside them: one row, each cell whole."""
    rows = archives_rows(archives)
    assert rows[3] == ARCHIVES_TABLE[3]
    assert rows[5] == ARCHIVES_TABLE[5]


def test_cells_of_two_lines_and_of_one_centred_beside_a_cell_of_three_make_one_row(archives):
    """A cell of three lines (its middle line one word that fills its column), a cell of two and
    a cell of one centred beside it, each level with its middle: one row."""
    rows = archives_rows(archives)
    assert rows[-2] == ARCHIVES_TABLE[-2] == ["http://deb.example.org/debian/", "top of each area/architecture combination",
                                             "archive description used for the rule of apt_preferences(5)"]


def test_a_word_overflowing_its_column_stays_in_its_cell(archives):
    """A word too long for its column runs on into the next one, on a line of its own or under
    that column's line (printed over by it): the columns stay apart, the word in its cell."""
    rows = archives_rows(archives)
    assert rows[4] == ARCHIVES_TABLE[4]
    assert rows[5][1] == "backports (stable-backports-overflowing)"
    assert len(rows[0]) == 3 and all(len(row) == 3 for row in rows)


def test_every_cell_of_a_row_wrapped_at_once_the_first_included_is_one_row(archives):
    """In a table whose rows run onto more lines, a row whose every cell (the first column's
    too) carries on the cell above it, each first word too long for the line above: one row."""
    rows = archives_rows(archives)
    assert rows == ARCHIVES_TABLE


def test_labels_in_sentence_case_each_start_a_row_though_they_would_not_have_fitted_above():
    """A label's first word would not have fitted after the longest label above it, nor its
    command after the longest command, but a label that starts with a capital under one that does
    starts a row of its own."""
    segments = parse(units_pdf())
    assert [segment["segment_type"] for segment in segments] == ["Text", "Table", "Text"]
    assert [[" ".join(cell[1].split()) for cell in row] for row in grid(segments[1])] == UNITS_TABLE


def test_a_line_whose_words_overlap_is_split_where_the_overlap_starts():
    """Text overflowing its cell and printed over by the next cell's: two fragments. Words merely
    touching, or a word struck over itself (faked bold), stay one line."""
    def word(text: str, left: float, right: float) -> Word:
        return Word(text, left, 100, right, 112, 10.0)
    overflowing = Line([word("(bullseye-proposed-updates)", 20, 162), word("release", 155, 190),
                        word("(optional)", 193, 240)])
    assert [line.text for line in overprinted([overflowing])] == ["(bullseye-proposed-updates)", "release (optional)"]
    plain = Line([word("stable", 20, 50), word("release", 52, 90)])
    struck = Line([word("bold", 20, 45), word("bold", 20.5, 45.5)])
    assert [line.text for line in overprinted([plain, struck])] == ["stable release", "bold bold"]
