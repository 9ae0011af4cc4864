"""Unruled tables: runs of rows whose fragments line up in columns, looked for inside one column
of the page at a time (page.py cuts the page into columns first).

A row is a visual row of fragments. A row that only carries on the text of cells above it (a
description wrapping onto a second line) joins their row instead of ending the table. The table's
columns come from its body rows, so a header cell centred over two columns spans them instead of
making a column of its own, and a last row that runs across every column (a footnote just below)
is left out of the table.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

from pipeline.pdf.columns import is_prose, split_on_gaps
from pipeline.pdf.layout import Line, Region, lines_text, visual_rows
from pipeline.pdf.tables import Cell, Table, header_rows

Rule = tuple[float, float, float]  # a horizontal rule: (y, x0, x1)


def unruled_tables(lines: list[Line], page_width: float, body: float, rules: list[Rule] = ()) -> list[Region]:
    """Runs of three or more rows whose fragments line up in columns, as table regions."""
    regions: list[Region] = []
    run: list[list[Line]] = []
    wrapped: list[bool] = []  # for each row of the run: whether it carries on the cells of the row above
    rows = visual_rows(lines)
    index = 0
    centred: bool | None = None  # whether the run's last wrapped cell had its row centred beside it
    while index <= len(rows):
        row = rows[index] if index < len(rows) else []
        close = bool(run) and bool(row) and row_gap(run[-1], row) <= 1.6 * row_height(row)
        carries = close and wraps_cells(run, row)
        # A lone line that opens a cell wrapped onto several lines, with the row's other cells
        # set level with its middle (centred vertically), takes those lines into one row. A line
        # that may also carry on the cell above is read as the table's rows before it were set.
        count = 0
        if len(row) == 1 and not (carries and centred is False):
            count = centred_row(rows, index, run, carries and centred is None)
        if close and count:
            run += rows[index:index + count]
            wrapped += [False] + [True] * (count - 1)
            index, centred = index + count, True
            continue
        if close and (carries or len(row) >= 2):
            run.append(row)
            wrapped.append(carries)
            index, centred = index + 1, False if carries else centred
            continue
        if len(run) - sum(wrapped) >= 3:
            region = aligned_region(run, wrapped, page_width, body, rules)
            if region is not None:
                regions.append(region)
        if count:
            run, wrapped = rows[index:index + count], [False] + [True] * (count - 1)
            index, centred = index + count, True
        else:
            run, wrapped = ([row], [False]) if len(row) >= 2 else ([], [])
            index, centred = index + 1, None
    return regions


def centred_row(rows: list[list[Line]], start: int, run: list[list[Line]], carries: bool = False) -> int:
    """How many visual rows from `start` make one table row whose cells sit level with the middle
    of a cell wrapped onto several lines (0 when they do not): the lone line of `start` opens the
    wrapped cell, each of its next lines starts where it does, close below a line its first word
    would not have fitted on; every other line of those rows lies beside the cell, its centre
    level with the cell's middle. The fewest lines that do so make the cell. With `carries` (the
    line of `start` may also carry on a cell of the row above, and no row of the table so far
    tells how its rows are set), it opens a centred row only if the cells beside it sit between
    two of its lines, level with none: a row set top-aligned below a wrapped line has its cells
    level with its first line, which would be the middle one."""
    stack = [rows[start][0]]
    size = stack[0].size or 1.0
    window = rows[start:start + 8]
    edge = None  # the right edge of the cell's column, over the rows near it
    others: list[Line] = []  # the lines beside the cell, down to its last line so far
    for offset, row in enumerate(window[1:], start + 1):
        last = stack[-1]
        below = [line for line in row if abs(line.left - last.left) <= 0.8 * size]
        others += [line for line in row if not below or line is not below[0]]
        if not below:
            if min(line.top for line in row) - last.bottom > 0.7 * size:
                return 0
            continue
        line, first = below[0], below[0].words[0]
        if edge is None:
            edge = max(other.right for visual in run[-8:] + window for other in visual
                       if abs(other.left - stack[0].left) <= 0.8 * size)
        if (len(below) > 1 or line.top - last.bottom > 0.7 * (line.bottom - line.top)
                or len(last.words) < 2 and not last.words[-1].text.endswith("-")
                or last.right + 0.3 * size + (first.right - first.left) < edge - 0.3 * size):
            return 0
        stack.append(line)
        if others and centred_beside(stack, others) and not (carries and any(
                abs(line.top + line.bottom - other.top - other.bottom) <= 0.5 * (line.bottom - line.top)
                for line in stack for other in others)):
            return offset - start + 1
    return 0


def centred_beside(stack: list[Line], others: list[Line]) -> bool:
    """Whether every line of `others` lies beside the lines of `stack` (a cell's), its centre
    level with their middle."""
    middle = (stack[0].top + stack[-1].bottom) / 2
    left, right = min(line.left for line in stack), max(line.right for line in stack)
    return all((line.right <= left or line.left >= right)
               and abs((line.top + line.bottom) / 2 - middle) <= 0.35 * (line.bottom - line.top) for line in others)


def row_gap(upper: list[Line], lower: list[Line]) -> float:
    """Vertical space between two rows."""
    return min(line.top for line in lower) - max(line.bottom for line in upper)


def row_height(row: list[Line]) -> float:
    """Height of a row."""
    return max(line.bottom for line in row) - min(line.top for line in row)


def wraps_cells(run: list[list[Line]], row: list[Line]) -> bool:
    """Whether each fragment of `row` is the next line of a cell of the row above: it starts where
    that cell's line starts, follows it closely, and its first word would not have fitted on it."""
    above = run[-1]
    if len(row) > 1 and row[0].left - min(line.left for line in run[0]) <= 0.8 * (row[0].size or 1.0):
        return False  # the first column and more: a new row (a label that wraps comes alone)
    for line in row:
        size = line.size or 1.0
        peer = next((other for other in above if abs(other.left - line.left) <= 0.8 * size), None)
        if peer is None or line.top - peer.bottom > 0.7 * (line.bottom - line.top):
            return False
        if len(peer.words) < 2 and not peer.words[-1].text.endswith("-"):
            return False  # one word is never wrapped
        following = [other.left for other in above if other.left > peer.right]
        if following:
            edge = min(following) - size
        else:
            edge = max(other.right for upper in run for other in upper if abs(other.left - peer.left) <= 0.8 * size)
        first = line.words[0]
        if peer.right + 0.3 * size + (first.right - first.left) < edge - 0.3 * size:
            return False  # the word would have fitted: a line of its own
    return True


def column_spans(fragments: list[Line], min_gap: float) -> list[tuple[float, float]]:
    """The x extents of the columns the fragments line up in."""
    return [(min(line.left for line in group), max(line.right for line in group))
            for group in split_on_gaps(fragments, True, min_gap)]


def aligned_region(run: list[list[Line]], wrapped: list[bool], page_width: float, body: float,
                   rules: list[Rule] = ()) -> Region | None:
    """A table from a run of rows, or None when they read like prose columns."""
    rows: list[list[list[Line]]] = []  # the table's rows, each one or more visual rows
    for visual, carries in zip(run, wrapped):
        if carries and rows:
            rows[-1].append(visual)
        else:
            rows.append([visual])
    # Columns from the body: the first rows may be a header whose cells span columns, and the
    # last a line running across them all (a footnote close below), left out of the table.
    head, gap = min(2, len(rows) - 2), max(0.8 * body, 3.0)
    best: tuple[int, list] | None = None
    for tail in (0, 1, 2):
        if len(rows) - tail < 3:
            break
        spans = column_spans([line for table_row in rows[head:len(rows) - tail] for visual in table_row
                              for line in visual], gap)
        if best is None or len(spans) > len(best[1]):
            best = (tail, spans)
    if best is None or len(best[1]) < 2:
        return None
    tail, spans = best
    rows = rows[:len(rows) - tail]
    fragments = [line for table_row in rows for visual in table_row for line in visual]
    widths = sorted(line.right - line.left for line in fragments)
    words_per_cell = sum(len(line.words) for line in fragments) / len(fragments)
    if widths[len(widths) // 2] > 0.3 * page_width or words_per_cell > 6:
        return None
    # Two or more runs of prose side by side (small pages printed two to a row, narrow columns
    # in small type) line up as well as a table's cells do: rows with prose in two of their
    # fragments are not a table's, which holds sentences in one column at most.
    if sum(1 for table_row in rows if any(sum(1 for line in visual if is_prose(line)) >= 2
                                          for visual in table_row)) >= 0.25 * len(rows):
        return None
    table_rows = [row_cells(table_row, spans) for table_row in rows]
    filled = [sum(1 for cell in cells if cell.text) for cells in table_rows]
    if sum(1 for count in filled if count >= 2) < 0.75 * len(table_rows):
        return None
    # A table's rows fill much the same columns; lines of justified text, broken at their wide
    # spaces, each fill others.
    if len(spans) > 3 and max(filled.count(count) for count in set(filled)) < 0.4 * len(filled):
        return None
    region = Region(
        "Table", min(line.left for line in fragments), min(line.top for line in fragments),
        max(line.right for line in fragments), max(line.bottom for line in fragments),
    )
    region.words = [word for line in fragments for word in line.words]
    region.payload = Table(table_rows, header_rows(table_rows, ruled_under_first(rows, region, rules)))
    return region


def row_cells(table_row: list[list[Line]], spans: list[tuple[float, float]]) -> list[Cell]:
    """The cells of one table row: each fragment in the column it lies in, or spanning the
    columns it reaches across (a fragment in the gap between two spans both)."""
    count = len(spans)
    lefts, rights = [span[0] for span in spans], [span[1] for span in spans]
    parts: list[list[Line]] = [[] for _ in spans]
    reach = list(range(count))
    for visual in table_row:
        for line in visual:
            first = min(bisect_left(rights, line.left), count - 1)
            last = max(bisect_right(lefts, line.right) - 1, 0)
            if first > last:
                first, last = last, first
            parts[first].append(line)
            reach[first] = max(reach[first], last)
    cells, column = [], 0
    while column < count:
        end = reach[column]
        scan = column
        while scan < end:
            scan += 1
            end = max(end, reach[scan])
        lines = [line for index in range(column, end + 1) for line in parts[index]]
        if len(lines) > 1:  # top down: a cell's lines may come from a row centred beside them
            lines.sort(key=lambda line: (line.top, line.left))
        cells.append(Cell(lines_text(lines) if lines else "", end - column + 1,
                          bool(lines) and all(line.bold for line in lines)))
        column = end + 1
    return cells


def ruled_under_first(rows: list[list[list[Line]]], region: Region, rules: list[Rule]) -> bool:
    """Whether a rule drawn across the table separates its first row from the rest, and no
    such rule runs between most of the other rows (a header rule, not a ruled body)."""
    if not rules or len(rows) < 2:
        return False
    width = region.right - region.left
    across = sorted(y for y, x0, x1 in rules if min(x1, region.right) - max(x0, region.left) >= 0.6 * width
                    and region.top <= y <= region.bottom)
    if not across:
        return False
    bounds = [(max(line.bottom for visual in row for line in visual), min(line.top for line in row[0]))
              for row in rows]

    def ruled(upper: int) -> bool:
        low, high = bounds[upper][0] - 2, bounds[upper + 1][1] + 2
        index = bisect_left(across, low)
        return index < len(across) and across[index] <= high

    others = sum(1 for upper in range(1, len(rows) - 1) if ruled(upper))
    return ruled(0) and others < 0.5 * max(len(rows) - 2, 1)
