"""Tables: cells, header rows, HTML and Markdown; ruled grids from drawn lines (unruled ones
from aligned columns are in unruled.py)."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from pipeline.pdf.layout import Line, Region, group_lines, inside, lines_text, visual_rows

TOLERANCE = 3.0  # pixels within which two rules count as the same line
NUMBER = re.compile(r"^[-+\u2212(]?[$\u20ac\u00a3]?\d[\d.,:/\u2009 ]*[%)]?$")


@dataclass
class Cell:
    """One table cell: its text, how many grid columns and rows it spans, whether it is bold."""

    text: str
    colspan: int = 1
    bold: bool = False
    rowspan: int = 1


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
                span += f' rowspan="{cell.rowspan}"' if cell.rowspan > 1 else ""
                parts.append(f"<{tag}{span}>{html.escape(cell.text)}</{tag}>")
            parts.append("</tr>")
        parts.append("</table>")
        return "".join(parts)

    def width(self) -> int:
        """The number of grid columns."""
        return max((column + cell.colspan for row in positions(self.rows) for column, cell in row), default=0)

    def markdown(self) -> str:
        """A pipe table: the first header row as its header (an empty one when the table has
        none); positions a spanning cell covers are left empty."""
        width = self.width()
        lines = []
        placed = positions(self.rows)
        if not self.header_rows:
            placed = [[]] + placed
        for index, row in enumerate(placed):
            cells = [""] * width
            for column, cell in row:
                cells[column] = markdown_cell(cell.text)
            lines.append("| " + " | ".join(cells) + " |")
            if index == 0:
                lines.append("|" + "|".join(["---"] * width) + "|")
        return "\n".join(lines)


def positions(rows: list[list[Cell]]) -> list[list[tuple[int, Cell]]]:
    """The cells of each row with the grid column each starts at, as HTML lays them out: a cell
    takes the first column of its row that no cell spanning rows from above covers."""
    covered: dict[int, int] = {}  # column -> rows it is still covered for
    placed = []
    for row in rows:
        column, out = 0, []
        for cell in row:
            while covered.get(column, 0) > 0:
                column += 1
            out.append((column, cell))
            for spanned in range(column, column + cell.colspan):
                if cell.rowspan > 1:
                    covered[spanned] = cell.rowspan
            column += cell.colspan
        placed.append(out)
        covered = {column: rows_left - 1 for column, rows_left in covered.items() if rows_left > 1}
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
    placed = positions(rows)
    count = 0
    while count < min(2, len(rows) - 1) and is_header(placed[count], placed[count + 1:], count == 0 and ruled_under_first):
        count += 1
        if not any(cell.colspan > 1 for cell in rows[count - 1]):
            break  # a second header row only under a first one whose cells span its columns
    if count:  # a header cell spanning rows takes them into the header
        count = max(count, min(max(cell.rowspan for cell in rows[0]), 2, len(rows) - 1))
    return count


def is_header(row: list[tuple[int, Cell]], body: list[list[tuple[int, Cell]]], ruled_under: bool) -> bool:
    """Whether one row (its cells by start column) reads as the header of the rows below it."""
    filled = [cell for _, cell in row if cell.text]
    if not filled:
        return False
    if ruled_under:
        return True
    spanning = sum(1 for other in body if any(cell.colspan > 1 for _, cell in other))
    if any(cell.colspan > 1 for cell in filled) and spanning <= 0.2 * len(body):
        return True
    if all(cell.bold for cell in filled) and sum(1 for other in body if all(
            cell.bold for _, cell in other if cell.text)) < 0.5 * len(body):
        return True
    columns: dict[int, list[str]] = {}
    for other in body:
        for column, cell in other:
            if cell.text:
                columns.setdefault(column, []).append(cell.text)
    labels = all(len(cell.text.split()) <= 3 and cell.text[0].isupper() and not any(char.isdigit() for char in cell.text)
                 for cell in filled) and len(filled) >= 2
    for column, cell in row:
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
    # Rules between the columns only, none framing the table: its row rules run on to its edges,
    # and the first and last columns lie between those ends and the outer column rules.
    starts, ends = sorted(rule[1] for rule in h_rules), sorted(rule[2] for rule in h_rules)
    if starts[len(starts) // 2] < xs[0] - 2 * TOLERANCE:
        xs.insert(0, starts[len(starts) // 2])
    if ends[len(ends) // 2] > xs[-1] + 2 * TOLERANCE:
        xs.append(ends[len(ends) // 2])
    region = Region("Table", xs[0], ys[0], xs[-1], ys[-1])
    region.words = [word for word in words if inside(word, region)]
    rows: list[tuple[float, list[tuple[int, Cell]]]] = []  # each row's top and its cells by start column
    for top, bottom in zip(ys, ys[1:]):
        middle = (top + bottom) / 2
        row: list[tuple[int, Cell]] = []
        for column, (left, right) in enumerate(zip(xs, xs[1:])):
            words = [w for w in region.words if left <= (w.left + w.right) / 2 < right
                     and top <= (w.top + w.bottom) / 2 < bottom]
            text, bold = cell_text(words), bool(words) and all(word.bold for word in words)
            ruled_left = column == 0 or any(
                abs(x - left) <= TOLERANCE and y0 - TOLERANCE <= middle <= y1 + TOLERANCE for x, y0, y1 in v_rules
            )
            if row and not ruled_left:
                cell = row[-1][1]
                cell.colspan += 1
                cell.text = " ".join(part for part in (cell.text, text) if part)
                cell.bold = cell.bold and (bold or not text)
            else:
                row.append((column, Cell(text, bold=bold)))
        rows.append((top, row))
    rows = [row for row in rows if any(cell.text for _, cell in row[1])] or rows
    table_rows = row_spans(rows, xs, h_rules)
    region.payload = Table(table_rows, header_rows(table_rows))
    return region


def row_spans(rows: list[tuple[float, list[tuple[int, Cell]]]], xs: list[float], h_rules: list[tuple]) -> list[list[Cell]]:
    """The grid's rows, a cell whose top edge is not ruled joined to the cell above it (a cell
    spanning rows)."""
    above: dict[int, Cell] = {}  # the cell above each start column
    table_rows = []
    for index, (top, row) in enumerate(rows):
        kept = []
        for column, cell in row:
            upper = above.get(column)
            middle = (xs[column] + xs[column + cell.colspan]) / 2
            if index and upper is not None and upper.colspan == cell.colspan and not any(
                    abs(y - top) <= TOLERANCE and x0 - TOLERANCE <= middle <= x1 + TOLERANCE for y, x0, x1 in h_rules):
                upper.rowspan += 1
                upper.text = " ".join(part for part in (upper.text, cell.text) if part)
                continue
            kept.append(cell)
            above[column] = cell
            for covered in range(column + 1, column + cell.colspan):
                above.pop(covered, None)
        table_rows.append(kept)
    return table_rows


def cell_text(words: list) -> str:
    """The words of one cell in reading order."""
    if not words:
        return ""
    return lines_text([row[0] if len(row) == 1 else Line([w for line in row for w in line.words])
                       for row in visual_rows(group_lines(words))])


