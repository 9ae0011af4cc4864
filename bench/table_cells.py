"""Table-cell accuracy of the PDF pipeline on generated PDFs whose table cells are known.

Each case is a reportlab PDF with one table (ruled, unruled, wrapping cells, a bold header row,
spanning header cells, empty cells, a table continued on the next page with its header repeated).
The pipeline runs in-process; every `Table` segment's `html` is read into a grid (colspan and
rowspan expanded) and scored against the known grid with a cell-match F1:

1. a cell is its text (spaces collapsed, casefolded) with its row and column span; empty cells
   are not cells (but the cells after them must still be at their own column);
2. the document's Table segments are read in order into one grid; a row equal to the first row
   (a header repeated on a continuation page) is dropped after the first;
3. rows are aligned (in order, each true row to at most one found row) to match the most cells,
   then columns the same way, so an extra empty row or column costs nothing;
4. a true cell is found when the aligned position holds the same text and the same spans;
   precision = found / cells in the output, recall = found / true cells, F1 their harmonic mean.

No table found scores 0. Run from the project root: `.venv/bin/python -m bench.table_cells [--keep DIR]`
"""
from __future__ import annotations

import argparse
import io
import os
from dataclasses import dataclass

from bs4 import BeautifulSoup

Cell = tuple[str, int, int]  # text, rowspan, colspan
Grid = list[list[Cell | None]]  # None: a position covered by a spanning cell


def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def grid_from_rows(rows: list[list[str | Cell]]) -> Grid:
    """A grid from rows of texts or (text, rowspan, colspan) cells, spans laid out as in HTML: a cell takes the first
    position of its row not covered by a cell above it."""
    placed: dict[tuple[int, int], Cell | None] = {}
    for r, row in enumerate(rows):
        column = 0
        for item in row:
            text, rowspan, colspan = (item, 1, 1) if isinstance(item, str) else item
            while (r, column) in placed:
                column += 1
            for dr in range(max(rowspan, 1)):
                for dc in range(max(colspan, 1)):
                    placed[(r + dr, column + dc)] = (norm(text), rowspan, colspan) if (dr, dc) == (0, 0) else None
            column += max(colspan, 1)
    height = max((r for r, _ in placed), default=-1) + 1
    width = max((c for _, c in placed), default=-1) + 1
    return [[placed[(r, c)] if (r, c) in placed else ("", 1, 1) for c in range(width)] for r in range(height)]


def grid_from_html(html: str) -> Grid:
    """A table's HTML (<tr> of <td>/<th>, colspan and rowspan) as a grid."""
    soup = BeautifulSoup(html, "html.parser")
    rows = []
    for tr in soup.find_all("tr"):
        rows.append([(cell.get_text(" "), int(cell.get("rowspan", 1) or 1), int(cell.get("colspan", 1) or 1))
                     for cell in tr.find_all(["td", "th"])])
    return grid_from_rows(rows)


def cells(grid: Grid) -> int:
    return sum(1 for row in grid for cell in row if cell and cell[0])


def align(size_a: int, size_b: int, gain) -> list[tuple[int, int]]:
    """The in-order pairing of indices of a and b with the largest total gain(i, j) (each index used once at most)."""
    best = [[0] * (size_b + 1) for _ in range(size_a + 1)]
    for i in range(size_a - 1, -1, -1):
        for j in range(size_b - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + gain(i, j))
    pairs, i, j = [], 0, 0
    while i < size_a and j < size_b:
        if best[i][j] == best[i + 1][j + 1] + gain(i, j) and gain(i, j) > 0:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def matched_cells(truth: Grid, found: Grid) -> int:
    """True cells found at their aligned row and column with the same text and spans."""
    if not truth or not found:
        return 0
    def bag(row):
        return [cell for cell in row if cell and cell[0]]
    rows = align(len(truth), len(found), lambda i, j: sum(1 for cell in bag(truth[i]) if cell in bag(found[j])))
    width_t, width_f = max(map(len, truth)), max(map(len, found))
    at = lambda grid, r, c: grid[r][c] if c < len(grid[r]) else None
    same = lambda i, j, c, d: bool(at(truth, i, c)) and bool(at(truth, i, c)[0]) and at(truth, i, c) == at(found, j, d)
    columns = align(width_t, width_f, lambda c, d: sum(same(i, j, c, d) for i, j in rows))
    return sum(same(i, j, c, d) for i, j in rows for c, d in columns)


@dataclass
class CellScore:
    found: int
    true_cells: int
    output_cells: int
    tables: int

    def f1(self) -> float:
        precision = self.found / self.output_cells if self.output_cells else 0.0
        recall = self.found / self.true_cells if self.true_cells else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_tables(truth_rows: list[list[str | Cell]], tables_html: list[str]) -> CellScore:
    """Score a document's Table segments (their html, in order) against the true table."""
    truth = grid_from_rows(truth_rows)
    found: Grid = []
    for html in tables_html:
        grid = grid_from_html(html)
        if found and grid and grid[0] == found[0]:
            grid = grid[1:]  # the header repeated on the next page
        found += grid
    return CellScore(matched_cells(truth, found), cells(truth), cells(found), len(tables_html))


# The cases: (name, what, rows with their header first, options)
WORDS = "amber basalt cobalt dune ember fjord garnet harbor indigo juniper kestrel lagoon meadow nickel".split()


def long_text(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + k * 3) % len(WORDS)] for k in range(words)).capitalize() + "."


CASES = [
    ("ruled", "grid lines, bold header", [["Item", "Quantity", "Unit price", "Total"]]
     + [[name, str(12 * k + 3), f"{0.25 * k + 0.1:.2f}", f"{(12 * k + 3) * (0.25 * k + 0.1):.2f}"]
        for k, name in enumerate(["Bolts", "Washers", "Hinges", "Brackets", "Rivets", "Springs"], start=1)], {"grid": True}),
    ("unruled", "aligned columns, no lines, bold header", [["Country", "Capital", "Population", "Area km2"],
     ["Norway", "Oslo", "5 488 984", "385 207"], ["Chile", "Santiago", "19 629 590", "756 102"],
     ["Kenya", "Nairobi", "55 100 586", "580 367"], ["Nepal", "Kathmandu", "30 547 580", "147 516"],
     ["Peru", "Lima", "34 352 719", "1 285 216"], ["Ghana", "Accra", "33 475 870", "238 533"]], {"grid": False}),
    ("wrapping", "cells wrapping onto 2-3 lines, ruled", [["Term", "Definition", "Example"]]
     + [[WORDS[k].capitalize(), long_text(k, 14 + 3 * k), long_text(k + 5, 6 + 2 * k)] for k in range(4)],
     {"grid": True, "widths": [70, 200, 130], "paragraphs": True}),
    ("spanning header", "header cells spanning two columns and two rows, ruled",
     [[("Station", 2, 1), ("Temperature", 1, 2), ("Rain mm", 1, 2)], ["Min", "Max", "Day", "Night"]]
     + [[city, str(-3 + k), str(11 + 2 * k), str(4 * k), str(k + 1)]
        for k, city in enumerate(["Bergen", "Tromso", "Bodo", "Alta"])], {"grid": True, "header_rows": 2}),
    ("empty cells", "ruled, some cells empty", [["Name", "Mon", "Tue", "Wed", "Thu"],
     ["Anna", "8", "", "7", ""], ["Bruno", "", "6", "", "9"], ["Chiara", "5", "5", "", "4"],
     ["Dmitri", "", "", "8", "3"], ["Elena", "7", "", "", ""]], {"grid": True}),
    ("unruled empty cells", "no lines, some cells empty", [["Route", "Depart", "Arrive", "Note"],
     ["Oslo-Bergen", "07:25", "14:10", ""], ["Bergen-Voss", "", "10:55", "Bus"], ["Voss-Flam", "11:40", "", ""],
     ["Flam-Myrdal", "13:05", "14:00", "Scenic"]], {"grid": False}),
    ("unruled wrapping", "no lines, cells wrapping onto 2-3 lines", [["Term", "Definition", "Example"]]
     + [[WORDS[k + 4].capitalize(), long_text(k + 2, 13 + 3 * k), long_text(k + 9, 5 + 2 * k)] for k in range(4)],
     {"grid": False, "widths": [70, 200, 130], "paragraphs": True}),
    ("booktabs", "horizontal rules only (above, below the header, at the end), a spanning header",
     [["Region", ("Sales 2023", 1, 2), ("Sales 2024", 1, 2)], ["", "Units", "Revenue", "Units", "Revenue"]]
     + [[region, str(310 + 17 * k), f"{4.2 + k:.1f}M", str(298 + 23 * k), f"{4.5 + 1.1 * k:.1f}M"]
        for k, region in enumerate(["North", "South", "East", "West", "Central"])], {"grid": "booktabs", "header_rows": 2}),
    ("continued", "60 rows over two pages, header repeated", [["Part", "Material", "Mass kg", "Supplier"]]
     + [[f"P-{k:03d}", WORDS[k % len(WORDS)].capitalize(), f"{k * 0.37:.2f}", f"Works {chr(65 + k % 26)}{k // 26}"]
        for k in range(1, 61)], {"grid": True, "repeat": True}),
]


def case_pdf(rows: list[list[str | Cell]], options: dict) -> bytes:
    """A letter-size PDF: a sentence, then the table."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    styles = getSampleStyleSheet()
    header_rows = options.get("header_rows", 1)
    data, spans = [], []
    for r, row in enumerate(rows):
        line, column = [], 0
        for item in row:
            text, rowspan, colspan = (item, 1, 1) if isinstance(item, str) else item
            while any(sr < r <= er and sc <= column <= ec for (sc, sr), (ec, er) in spans):
                line.append("")
                column += 1
            if rowspan > 1 or colspan > 1:
                spans.append(((column, r), (column + colspan - 1, r + rowspan - 1)))
            line += [Paragraph(text, styles["BodyText"]) if options.get("paragraphs") and r >= header_rows else text]
            line += [""] * (colspan - 1)
            column += colspan
        data.append(line)
    width = max(len(line) for line in data)
    data = [line + [""] * (width - len(line)) for line in data]
    style = [("FONTNAME", (0, 0), (-1, header_rows - 1), "Helvetica-Bold"), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("ALIGN", (0, 0), (-1, header_rows - 1), "CENTER")]
    style += [("SPAN", start, end) for start, end in spans]
    if options.get("grid") == "booktabs":
        style += [("LINEABOVE", (0, 0), (-1, 0), 1, colors.black), ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.5,
                   colors.black), ("LINEBELOW", (0, -1), (-1, -1), 1, colors.black)]
    elif options.get("grid"):
        style.append(("GRID", (0, 0), (-1, -1), 0.5, colors.black))
    table = Table(data, colWidths=options.get("widths"), repeatRows=header_rows if options.get("repeat") else 0, style=style)
    buffer = io.BytesIO()
    story = [Paragraph("The table below lists the figures this report refers to.", styles["BodyText"]), Spacer(1, 12), table]
    SimpleDocTemplate(buffer, pagesize=letter).build(story)
    return buffer.getvalue()


def service_tables(pdf: bytes) -> list[str]:
    """The html of every Table segment the pipeline finds, in output order."""
    from pipeline.run import run_pipeline
    from schemas import default_configuration

    configuration = default_configuration(None)
    configuration["ocr_strategy"] = "Auto"
    result = run_pipeline(pdf, "application/pdf", "table.pdf", configuration)
    return [segment["html"] or "" for chunk in result.output["chunks"] for segment in chunk["segments"]
            if segment["segment_type"] == "Table"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="also write each case's PDF into DIR")
    arguments = parser.parse_args()
    print("| Case | what | true cells | output cells | found | Table segments | precision | recall | F1 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    total = CellScore(0, 0, 0, 0)
    for name, what, rows, options in CASES:
        pdf = case_pdf(rows, options)
        if arguments.keep:
            os.makedirs(arguments.keep, exist_ok=True)
            with open(os.path.join(arguments.keep, name.replace(" ", "-") + ".pdf"), "wb") as handle:
                handle.write(pdf)
        result = score_tables(rows, service_tables(pdf))
        total = CellScore(*(a + b for a, b in zip(vars(total).values(), vars(result).values())))
        print(row_line(name, what, result), flush=True)
    print(row_line("**all**", "cells of every case together", total))


def row_line(name: str, what: str, result: CellScore) -> str:
    precision = result.found / result.output_cells if result.output_cells else 0.0
    recall = result.found / result.true_cells if result.true_cells else 0.0
    return (f"| {name} | {what} | {result.true_cells} | {result.output_cells} | {result.found} | {result.tables} | "
            f"{precision:.3f} | {recall:.3f} | {result.f1():.3f} |")


if __name__ == "__main__":
    main()
