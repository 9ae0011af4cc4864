"""Tables: cells, header rows, HTML and Markdown; ruled grids from drawn lines (unruled ones
from aligned columns are in unruled.py)."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from pipeline.pdf.layout import Line, Region, group_lines, inside, visual_rows

TOLERANCE = 3.0  # pixels within which two rules count as the same line
NUMBER = re.compile(r"^[-+\u2212(]?[$\u20ac\u00a3]?\d[\d.,:/\u2009 ]*[%)]?$")


@dataclass
class Cell:
    """One table cell: its text, how many grid columns it spans, whether it is set in bold."""

    text: str
    colspan: int = 1
    bold: bool = False


@dataclass
class Table:
    """Rows of cells, the first `header_rows` of them the header (`<th>`, Markdown's header row)."""

    rows: list[list[Cell]]
    header_rows: int = 0

    def text(self) -> str:
        """Cells separated by tabs, rows by newlines."""
        return "\n".join("\t".join(cell.text for cell in row) for row in self.rows)

    def html(self) -> str:
        """A real `<table>`: one `<tr>` per row, a `<th>` per header cell and a `<td>` per other cell."""
        parts = ["<table>"]
        for index, row in enumerate(self.rows):
            tag = "th" if index < self.header_rows else "td"
            parts.append("<tr>")
            for cell in row:
                span = f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
                parts.append(f"<{tag}{span}>{html.escape(cell.text)}</{tag}>")
            parts.append("</tr>")
        parts.append("</table>")
        return "".join(parts)

    def width(self) -> int:
        """The number of grid columns."""
        return max(sum(cell.colspan for cell in row) for row in self.rows)

    def markdown(self) -> str:
        """A pipe table: the first header row as its header (an empty one when the table has
        none); spanned columns are left empty."""
        width = self.width()
        lines = []
        rows = self.rows if self.header_rows else [[Cell("")] * width] + self.rows
        for index, row in enumerate(rows):
            cells = []
            for cell in row:
                cells.append(markdown_cell(cell.text))
                cells.extend([""] * (cell.colspan - 1))
            cells.extend([""] * (width - len(cells)))
            lines.append("| " + " | ".join(cells) + " |")
            if index == 0:
                lines.append("|" + "|".join(["---"] * width) + "|")
        return "\n".join(lines)


def grid(row: list[Cell]) -> list[tuple[int, Cell]]:
    """The cells of a row with the grid column each starts at."""
    placed, column = [], 0
    for cell in row:
        placed.append((column, cell))
        column += cell.colspan
    return placed


def is_number(text: str) -> bool:
    """Whether a cell holds a number (an amount, a percentage, a date or time in digits)."""
    return NUMBER.match(text) is not None


def header_rows(rows: list[list[Cell]], ruled_under_first: bool = False) -> int:
    """How many of the first rows are a header (0, 1 or 2): set in bold over rows that are not,
    labels over a column of numbers or of longer text, a cell spanning columns over rows that
    have none, or a rule drawn under the first row alone."""
    if len(rows) < 2:
        return 0
    count = 0
    while count < min(2, len(rows) - 1) and is_header(rows[count], rows[count + 1:], count == 0 and ruled_under_first):
        count += 1
        if not any(cell.colspan > 1 for cell in rows[count - 1]):
            break  # a second header row only under a first one whose cells span its columns
    return count


def is_header(row: list[Cell], body: list[list[Cell]], ruled_under: bool) -> bool:
    """Whether one row reads as the header of the rows below it."""
    filled = [cell for cell in row if cell.text]
    if not filled:
        return False
    if ruled_under:
        return True
    spanning = sum(1 for other in body if any(cell.colspan > 1 for cell in other))
    if any(cell.colspan > 1 for cell in row) and spanning <= 0.2 * len(body):
        return True
    if all(cell.bold for cell in filled) and sum(1 for other in body if all(
            cell.bold for cell in other if cell.text)) < 0.5 * len(body):
        return True
    columns: dict[int, list[str]] = {}
    for other in body:
        for column, cell in grid(other):
            if cell.text:
                columns.setdefault(column, []).append(cell.text)
    labels = all(len(cell.text.split()) <= 3 and cell.text[0].isupper() and not any(char.isdigit() for char in cell.text)
                 for cell in filled) and len(filled) >= 2
    for column, cell in grid(row):
        below = columns.get(column, [])
        if not cell.text or not below or not any(char.isalpha() for char in cell.text) or is_number(cell.text):
            continue
        if len(below) >= 2 and sum(map(is_number, below)) >= 2 / 3 * len(below):
            return True  # a label over a column of numbers
        words = sum(len(text.split()) for text in below) / len(below)
        if labels and words >= max(3.0, 2 * len(cell.text.split())):
            return True  # short labels over a column of longer text
    return False


def markdown_cell(text: str) -> str:
    """Cell text safe inside a pipe table."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def merge_rules(rules: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
    """Collinear rules (position, start, end) that touch or overlap joined into one."""
    merged: list[list[float]] = []
    for position, start, end in sorted(rules):
        for rule in merged:
            if abs(rule[0] - position) <= TOLERANCE and start <= rule[2] + TOLERANCE and end >= rule[1] - TOLERANCE:
                rule[1], rule[2] = min(rule[1], start), max(rule[2], end)
                break
        else:
            merged.append([position, start, end])
    return [tuple(rule) for rule in merged]


def cluster_positions(values: list[float]) -> list[float]:
    """Positions closer than the tolerance merged into their mean."""
    clusters: list[list[float]] = []
    for value in sorted(values):
        if clusters and value - clusters[-1][-1] <= TOLERANCE:
            clusters[-1].append(value)
        else:
            clusters.append([value])
    return [sum(cluster) / len(cluster) for cluster in clusters]


def ruled_tables(horizontal: list[tuple], vertical: list[tuple], words: list) -> list[Region]:
    """Grids of crossing horizontal (y, x0, x1) and vertical (x, y0, y1) rules as table regions."""
    horizontal, vertical = merge_rules(horizontal), merge_rules(vertical)
    if len(horizontal) < 3 or len(vertical) < 3 or len(horizontal) * len(vertical) > 40000:
        return []
    parent = list(range(len(horizontal) + len(vertical)))

    def find(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for h_index, (y, x0, x1) in enumerate(horizontal):
        for v_index, (x, y0, y1) in enumerate(vertical):
            if x0 - TOLERANCE <= x <= x1 + TOLERANCE and y0 - TOLERANCE <= y <= y1 + TOLERANCE:
                parent[find(h_index)] = find(len(horizontal) + v_index)
    groups: dict[int, tuple[list, list]] = {}
    for index, rule in enumerate(horizontal):
        groups.setdefault(find(index), ([], []))[0].append(rule)
    for index, rule in enumerate(vertical):
        groups.setdefault(find(len(horizontal) + index), ([], []))[1].append(rule)
    regions = []
    for h_rules, v_rules in groups.values():
        region = grid_region(h_rules, v_rules, words)
        if region is not None:
            regions.append(region)
    return regions


def grid_region(h_rules: list[tuple], v_rules: list[tuple], words: list) -> Region | None:
    """One grid's table, cells filled with the words inside them; None if it is no grid."""
    ys = cluster_positions([rule[0] for rule in h_rules])
    xs = cluster_positions([rule[0] for rule in v_rules])
    if len(ys) < 3 or len(xs) < 3:
        return None
    region = Region("Table", xs[0], ys[0], xs[-1], ys[-1])
    region.words = [word for word in words if inside(word, region)]
    rows = []
    for top, bottom in zip(ys, ys[1:]):
        middle = (top + bottom) / 2
        row: list[Cell] = []
        for column, (left, right) in enumerate(zip(xs, xs[1:])):
            words = [w for w in region.words if left <= (w.left + w.right) / 2 < right
                     and top <= (w.top + w.bottom) / 2 < bottom]
            text, bold = cell_text(words), bool(words) and all(word.bold for word in words)
            ruled_left = column == 0 or any(
                abs(x - left) <= TOLERANCE and y0 - TOLERANCE <= middle <= y1 + TOLERANCE for x, y0, y1 in v_rules
            )
            if row and not ruled_left:
                row[-1].colspan += 1
                row[-1].text = " ".join(part for part in (row[-1].text, text) if part)
                row[-1].bold = row[-1].bold and (bold or not text)
            else:
                row.append(Cell(text, bold=bold))
        rows.append(row)
    rows = [row for row in rows if any(cell.text for cell in row)] or rows
    region.payload = Table(rows, header_rows(rows))
    return region


def cell_text(words: list) -> str:
    """The words of one cell in reading order."""
    if not words:
        return ""
    return lines_text([row[0] if len(row) == 1 else Line([w for line in row for w in line.words])
                       for row in visual_rows(group_lines(words))])


def lines_text(lines: list[Line]) -> str:
    """The text of a cell's lines, top down: a word broken over two lines by a hyphen rejoined."""
    parts: list[str] = []
    broken = None
    for line in lines:
        if broken is not None and broken.continued_by is line.words[0]:
            parts[-1] = parts[-1][:-1] + broken.joins_next + line.text
        else:
            parts.append(line.text)
        broken = line.words[-1] if line.words[-1].joins_next is not None else None
    return " ".join(parts)


