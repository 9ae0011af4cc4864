"""Table finding on words and rules given directly: grids, spanning cells, aligned columns."""
from __future__ import annotations

from pipeline.pdf.layout import group_lines
from pipeline.pdf.tables import ruled_tables
from pipeline.pdf.text import Word
from pipeline.pdf.unruled import unruled_tables


def word(text: str, left: float, top: float, size: float = 10.0) -> Word:
    return Word(text, left, top, left + 6 * len(text), top + size, size)


def test_grid_with_a_cell_spanning_two_columns():
    horizontal = [(0, 0, 300, ), (20, 0, 300), (40, 0, 300)]
    horizontal = [(y, 0.0, 300.0) for y, *_ in horizontal]
    # The first row has no rule between its second and third columns: one spanning cell.
    vertical = [(0.0, 0.0, 40.0), (100.0, 0.0, 40.0), (200.0, 20.0, 40.0), (300.0, 0.0, 40.0)]
    words = [word("Name", 5, 5), word("Totals", 120, 5), word("Bolt", 5, 25), word("12", 105, 25), word("3.5", 205, 25)]
    [region] = ruled_tables(horizontal, vertical, words)
    table = region.payload
    assert [[(cell.text, cell.colspan) for cell in row] for row in table.rows] == [
        [("Name", 1), ("Totals", 2)], [("Bolt", 1), ("12", 1), ("3.5", 1)]]
    assert table.header_rows == 1  # a spanning cell over rows without one: the header
    assert table.html() == ('<table><tr><th>Name</th><th colspan="2">Totals</th></tr>'
                            "<tr><td>Bolt</td><td>12</td><td>3.5</td></tr></table>")
    assert table.markdown().splitlines() == ["| Name | Totals |  |", "|---|---|---|", "| Bolt | 12 | 3.5 |"]


def test_a_single_box_is_no_table():
    horizontal = [(0.0, 0.0, 100.0), (50.0, 0.0, 100.0)]
    vertical = [(0.0, 0.0, 50.0), (100.0, 0.0, 50.0)]
    assert ruled_tables(horizontal, vertical, [word("Boxed", 10, 10)]) == []


def test_aligned_short_cells_are_a_table_and_prose_columns_are_not():
    rows = [("City", "Population", "Area"), ("Oslo", "709000", "454"), ("Bergen", "286000", "465"),
            ("Trondheim", "212000", "342")]
    words = [word(text, 50 + 150 * column, 100 + 16 * index) for index, row in enumerate(rows)
             for column, text in enumerate(row)]
    [region] = unruled_tables(group_lines(words), page_width=600, body=10)
    assert [[cell.text for cell in row] for row in region.payload.rows] == [list(row) for row in rows]
    prose = []
    for index in range(6):
        for start in (20, 320):
            left = start
            for text in "the quick brown fox jumps over the lazy dog".split():
                prose.append(word(text, left, 100 + 14 * index))
                left += 6 * len(text) + 4
    assert unruled_tables(group_lines(prose), page_width=600, body=10) == []


def test_small_pages_printed_side_by_side_are_no_table_but_a_table_with_one_prose_column_is():
    """Two small pages of an exam printed in a row, in small type: their lines line up like a
    table's rows (and each prose line is narrow on the page), but sentences side by side in two
    fragments of most rows are two runs of text. A table with a column of descriptions stays one."""
    size = 4.0

    def small(text, left, top):
        return Word(text, left, top, left + 2.4 * len(text), top + size, size)

    def line_of(text, left, top):
        words, x = [], left
        for part in text.split():
            words.append(small(part, x, top))
            x += 2.4 * len(part) + 1.6
        return words

    sheet = ["AMC SAMPLE TEST", "For this test, the package is used without any option today.",
             "Page markers are printed in view of an automated marking later.",
             "Question 1 Which of these events took place in the year 1971?", "Cairo Conakry",
             "The Soviet Union launches its first space station into orbit.", "Dhaka Dublin"]
    words = []
    for index, text in enumerate(sheet):
        for start in (20, 200):
            if text in ("Cairo Conakry", "Dhaka Dublin"):
                for offset, name in enumerate(text.split()):
                    words += line_of(name, start + 10 + 40 * offset, 100 + 7 * index)
            else:
                words += line_of(text, start, 100 + 7 * index)
    assert unruled_tables(group_lines(words), page_width=600, body=10) == []
    rows = [("-v", "off", "Print every file name as it is copied to the new place"),
            ("-q", "on", "Say nothing at all unless something has gone wrong here"),
            ("-n", "off", "Show what would be copied without copying any of it now")]
    described = [w for index, row in enumerate(rows) for column, text in enumerate(row)
                 for w in line_of(text, 20 + 40 * column, 100 + 7 * index)]
    [region] = unruled_tables(group_lines(described), page_width=600, body=10)
    assert [[cell.text for cell in row] for row in region.payload.rows] == [list(row) for row in rows]


def test_lines_over_a_table_box_that_the_table_did_not_take_are_kept():
    from pipeline.pdf.layout import Line, Region, free_lines

    cell, beside = Word("01", 20, 20, 40, 30, 10.0), Word("note", 120, 20, 160, 30, 10.0)
    below = [Word("By", 0, 85, 20, 97, 10.0), Word("default", 25, 85, 200, 97, 10.0)]
    table = Region("Table", 10, 10, 150, 95, words=[cell])
    free = free_lines([Line([cell, beside]), Line(below)], [table])
    assert [[word.text for word in line.words] for line in free] == [["note"], ["By", "default"]]
    picture = Region("Picture", 0, 0, 300, 300)
    assert free_lines([Line(below)], [picture]) == []


def test_header_rows_are_told_from_data_rows():
    from pipeline.pdf.tables import Cell, Table, header_rows

    def rows(*texts, bold_first=False):
        return [[Cell(text, bold=bold_first and index == 0) for text in row] for index, row in enumerate(texts)]

    assert header_rows(rows(("City", "Population"), ("Oslo", "709000"), ("Bergen", "286000"))) == 1  # labels over numbers
    assert header_rows(rows(("Oslo", "709000"), ("Bergen", "286000"), ("Tromso", "77000"))) == 0  # data from the start
    assert header_rows(rows(("Option", "Meaning"), ("-v", "print every file name as it is copied"),
                            ("-q", "say nothing unless something has gone wrong"))) == 1  # labels over longer text
    assert header_rows(rows(("alpha", "beta"), ("gamma", "delta"), ("eta", "theta"), bold_first=True)) == 1  # bold
    assert header_rows(rows(("alpha", "beta"), ("gamma", "delta"), ("eta", "theta"))) == 0
    table = Table(rows(("Oslo", "709000"), ("Bergen", "286000")))
    assert "<th>" not in table.html()
    assert table.markdown().splitlines() == ["|  |  |", "|---|---|", "| Oslo | 709000 |", "| Bergen | 286000 |"]


def test_a_line_running_across_an_unruled_tables_columns_just_below_it_is_left_out():
    rows = [("no", "SEXPTYPE", "Description"), ("0", "NILSXP", "NULL"), ("1", "SYMSXP", "symbols"),
            ("2", "LISTSXP", "pairlists")]
    words = [word(text, 50 + 100 * column, 100 + 14 * index) for index, row in enumerate(rows)
             for column, text in enumerate(row)]
    note, left = [], 40  # a footnote close below, one line from the first column to the last
    for part in "1 strictly, a node of its own kind here, as the manual says".split():
        note.append(word(part, left, 156))
        left += 6 * len(part) + 4
    [region] = unruled_tables(group_lines(words + note), page_width=600, body=10)
    assert [[cell.text for cell in row] for row in region.payload.rows] == [list(row) for row in rows]
    assert region.payload.header_rows == 1 and all(w.text not in ("strictly,", "kind") for w in region.words)
