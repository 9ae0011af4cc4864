"""Tables: ruled grids from drawn lines, unruled ones from aligned columns; HTML and Markdown."""
from __future__ import annotations

import html
from dataclasses import dataclass

from pipeline.pdf.layout import Line, Region, group_lines, inside, visual_rows
from pipeline.pdf.reading_order import split_on_gaps

TOLERANCE = 3.0  # pixels within which two rules count as the same line


@dataclass
class Cell:
    """One table cell: its text and how many grid columns it spans."""

    text: str
    colspan: int = 1


@dataclass
class Table:
    """Rows of cells, the first row taken as the header in Markdown."""

    rows: list[list[Cell]]

    def text(self) -> str:
        """Cells separated by tabs, rows by newlines."""
        return "\n".join("\t".join(cell.text for cell in row) for row in self.rows)

    def html(self) -> str:
        """A real `<table>` with one `<tr>` per row and a `<td>` per cell."""
        parts = ["<table>"]
        for row in self.rows:
            parts.append("<tr>")
            for cell in row:
                span = f' colspan="{cell.colspan}"' if cell.colspan > 1 else ""
                parts.append(f"<td{span}>{html.escape(cell.text)}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        return "".join(parts)

    def markdown(self) -> str:
        """A pipe table; spanned columns are left empty."""
        width = max(sum(cell.colspan for cell in row) for row in self.rows)
        lines = []
        for index, row in enumerate(self.rows):
            cells = []
            for cell in row:
                cells.append(markdown_cell(cell.text))
                cells.extend([""] * (cell.colspan - 1))
            cells.extend([""] * (width - len(cells)))
            lines.append("| " + " | ".join(cells) + " |")
            if index == 0:
                lines.append("|" + "|".join(["---"] * width) + "|")
        return "\n".join(lines)


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
            text = cell_text([w for w in region.words if left <= (w.left + w.right) / 2 < right
                              and top <= (w.top + w.bottom) / 2 < bottom])
            ruled_left = column == 0 or any(
                abs(x - left) <= TOLERANCE and y0 - TOLERANCE <= middle <= y1 + TOLERANCE for x, y0, y1 in v_rules
            )
            if row and not ruled_left:
                row[-1].colspan += 1
                row[-1].text = " ".join(part for part in (row[-1].text, text) if part)
            else:
                row.append(Cell(text))
        rows.append(row)
    rows = [row for row in rows if any(cell.text for cell in row)] or rows
    region.payload = Table(rows)
    return region


def cell_text(words: list) -> str:
    """The words of one cell in reading order."""
    if not words:
        return ""
    return " ".join(row_text(row) for row in visual_rows(group_lines(words)))


def row_text(row: list[Line]) -> str:
    """The text of one visual row of fragments."""
    return " ".join(line.text for line in row)


def unruled_tables(lines: list[Line], page_width: float, body: float) -> list[Region]:
    """Runs of three or more rows whose fragments line up in columns, as table regions."""
    rows = visual_rows(lines)
    regions: list[Region] = []
    run: list[list[Line]] = []
    for row in rows + [[]]:
        continues = len(row) >= 2 and (not run or row_gap(run[-1], row) <= 1.6 * row_height(row))
        if continues:
            run.append(row)
            continue
        if len(run) >= 3:
            region = aligned_region(run, page_width, body)
            if region is not None:
                regions.append(region)
        run = [row] if len(row) >= 2 else []
    return regions


def is_prose(line: Line) -> bool:
    """Whether a fragment reads like a line of running text: six words or more of three letters or more."""
    return sum(1 for word in line.words if sum(char.isalpha() for char in word.text) >= 3) >= 6


def row_gap(upper: list[Line], lower: list[Line]) -> float:
    """Vertical space between two rows."""
    return min(line.top for line in lower) - max(line.bottom for line in upper)


def row_height(row: list[Line]) -> float:
    """Height of a row."""
    return max(line.bottom for line in row) - min(line.top for line in row)


def aligned_region(run: list[list[Line]], page_width: float, body: float) -> Region | None:
    """A table from a run of multi-fragment rows, or None when they read like prose columns."""
    fragments = [line for row in run for line in row]
    columns = split_on_gaps(fragments, True, max(0.8 * body, 3.0))
    if len(columns) < 2:
        return None
    widths = sorted(line.right - line.left for line in fragments)
    words_per_cell = sum(len(line.words) for line in fragments) / len(fragments)
    if widths[len(widths) // 2] > 0.3 * page_width or words_per_cell > 6:
        return None
    # Two or more runs of prose side by side (small pages printed two to a row, narrow columns
    # in small type) line up as well as a table's cells do: rows with prose in two of their
    # fragments are not a table's, which holds sentences in one column at most.
    if sum(1 for row in run if sum(1 for line in row if is_prose(line)) >= 2) >= 0.25 * len(run):
        return None
    spans = [(min(line.left for line in column), max(line.right for line in column)) for column in columns]
    filled = [sum(1 for left, right in spans if any(left <= line.left and line.right <= right for line in row))
              for row in run]
    if sum(1 for count in filled if count >= 2) < 0.75 * len(run):
        return None
    table_rows = []
    for row in run:
        table_rows.append([
            Cell(" ".join(line.text for line in row if left <= line.left and line.right <= right))
            for left, right in spans
        ])
    region = Region(
        "Table", min(line.left for line in fragments), min(line.top for line in fragments),
        max(line.right for line in fragments), max(line.bottom for line in fragments),
    )
    region.words = [word for line in fragments for word in line.words]
    region.payload = Table(table_rows)
    return region
