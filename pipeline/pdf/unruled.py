"""Unruled tables: runs of rows whose fragments line up in columns, looked for inside one column
of the page at a time (page.py cuts the page into columns first).

A row is a visual row of fragments. A row that only carries on the text of cells above it (a
description wrapping onto a second line) joins their row instead of ending the table. The table's
columns come from its body rows, so a header cell centred over two columns spans them instead of
making a column of its own, and a last row that runs across every column (a footnote just below)
is left out of the table. Cells may be centred vertically beside cells wrapped onto several
lines (in one column or several at once), and a word too long for its column may run on into
the next one (overflowing, printed over by the next cell's text): it stays in its own cell.
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
        carries = close and wraps_cells(run, row, rows[index:index + 8], bool(centred or any(wrapped)))
        # A lone line that opens a cell wrapped onto several lines, with the row's other cells
        # set level with its middle (centred vertically), takes those lines into one row. A line
        # that may also carry on the cell above is read as the table's rows before it were set.
        count = 0
        if row and not (carries and centred is False):
            count = centred_row(rows, index, run, carries and centred is None)
        if close and count:
            run += rows[index:index + count]
            wrapped += [False] + [True] * (count - 1)
            index, centred = index + count, True
            continue
        if close and (carries or len(row) >= 2):
            run.append(row)
            wrapped.append(carries)
            # Cells set top-aligned show only where one cell goes on below the others: a row
            # that carries on every cell above it is as like a row of centred cells.
            index, centred = index + 1, False if carries and len(row) < len(run[-2]) else centred
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


def overprinted(lines: list[Line]) -> list[Line]:
    """The lines, each split where a word starts well before the word it follows ends: a cell's
    text running on past its column, printed over by the next cell's (the two read apart)."""
    split: list[Line] = []
    for line in lines:
        words, start = line.words, 0
        for index in range(1, len(words)):
            previous, word = words[index - 1], words[index]
            size = max(previous.size, word.size)
            if word.left < previous.right - 0.2 * size and word.left > previous.left + size:
                split.append(Line(words[start:index]))
                start = index
        split.append(line if start == 0 else Line(words[start:]))
    return split


def centred_row(rows: list[list[Line]], start: int, run: list[list[Line]], carries: bool = False) -> int:
    """How many visual rows from `start` make one table row whose cells sit level with the middle
    of cells wrapped onto several lines (0 when they do not): the lines of `start` open the
    wrapped cells, each next line of a cell starts where it does, close below a line its first
    word would not have fitted on; every other line of those rows lies beside the cells, its
    centre level with their middle. The fewest lines that do so make the cells. A cell's line of
    one word is never wrapped, unless before a word that would have overshot its column by far
    (two text sizes) or that is longer than the column is wide, or beside a cell of the row that
    wraps as well (cells that all wrap at once). With `carries` (a line of
    `start` may also carry on a cell of the row above, and no row of the table so far tells how
    its rows are set), it opens a centred row only if the cells beside it sit between two of its
    lines, level with none: a row set top-aligned below a wrapped line has its cells level with
    its first line, which would be the middle one."""
    cells = [[line] for line in rows[start]]
    window = rows[start:start + 8]
    nearby = [other for visual in run[-8:] + window for other in visual]
    edges: list[float | None] = [None] * len(cells)  # the right edge of each cell's column
    others: list[Line] = []  # the lines beside the cells, down to their last lines so far
    for offset, row in enumerate(window[1:], start + 1):
        below: dict[int, Line] = {}
        for line in row:
            match = next((index for index, cell in enumerate(cells)
                          if abs(line.left - cell[-1].left) <= 0.8 * (cell[0].size or 1.0)), None)
            if match is None:
                others.append(line)
            elif match in below:
                return 0
            else:
                below[match] = line
        if not below:
            if min(line.top for line in row) - max(cell[-1].bottom for cell in cells) > 0.7 * (cells[0][0].size or 1.0):
                return 0
            continue
        single = True  # whether every cell that goes on does so after a line of one word
        for index, line in below.items():
            cell, first = cells[index], line.words[0]
            last, size, width = cell[-1], cell[0].size or 1.0, first.right - first.left
            if edges[index] is None:
                edges[index] = column_edge(cell[0], nearby, size)
            edge = edges[index]
            if (line.top - last.bottom > 0.7 * (line.bottom - line.top)
                    or last.right + 0.3 * size + width < edge - 0.3 * size):
                return 0
            if (len(last.words) >= 2 or last.words[-1].text.endswith("-") or width > edge - cell[0].left
                    or last.right + 0.3 * size + width > edge + 2 * size):
                single = False
        if single:
            return 0
        for index, line in below.items():
            cells[index].append(line)
        if others and centred_beside(cells, others) and not (carries and any(
                abs(line.top + line.bottom - other.top - other.bottom) <= 0.5 * (line.bottom - line.top)
                for cell in cells for line in cell for other in others)):
            return offset - start + 1
    return 0


def column_edge(line: Line, nearby: list[Line], size: float) -> float:
    """How far right the column of `line` reaches: its lines' right edge, over the lines near it,
    leaving out a word that runs on past where the next column starts (a word too long for its
    cell, overflowing it)."""
    following = [other.left for other in nearby if other.left > line.right]
    limit = min(following) if following else float("inf")
    ends = [(other.right, len(other.words)) for other in nearby if abs(other.left - line.left) <= 0.8 * size]
    return max([end for end, words in ends if end <= limit or words > 1] or [end for end, _ in ends])


def centred_beside(cells: list[list[Line]], others: list[Line]) -> bool:
    """Whether every line of `others` lies beside the lines of `cells`, right of each cell's
    shortest line (a longer one may run on past its column, under the next cell) or starting
    left of the cell, and the cells they make are level with their middle: each line of a column
    and the lines closely below it that start where it does are one cell, centred vertically."""
    middle = (min(cell[0].top for cell in cells) + max(cell[-1].bottom for cell in cells)) / 2
    bounds = [(min(line.left for line in cell), min(line.right for line in cell)) for cell in cells]
    if not all(line.left < left or line.left >= right for line in others for left, right in bounds):
        return False
    groups: list[list[Line]] = []
    for line in sorted(others, key=lambda other: (other.top, other.left)):
        group = next((group for group in groups if abs(group[-1].left - line.left) <= 0.8 * (line.size or 1.0)
                      and line.top - group[-1].bottom <= 0.7 * (line.bottom - line.top)), None)
        if group is None:
            groups.append([line])
        else:
            group.append(line)
    return all(abs((group[0].top + group[-1].bottom) / 2 - middle) <= 0.35 * (group[0].bottom - group[0].top)
               for group in groups)


def row_gap(upper: list[Line], lower: list[Line]) -> float:
    """Vertical space between two rows."""
    return min(line.top for line in lower) - max(line.bottom for line in upper)


def row_height(row: list[Line]) -> float:
    """Height of a row."""
    return max(line.bottom for line in row) - min(line.top for line in row)


def wraps_cells(run: list[list[Line]], row: list[Line], ahead: list[list[Line]] = (), multiline: bool = False) -> bool:
    """Whether each fragment of `row` is the next line of a cell of the row above: it starts where
    that cell's line starts, follows it closely, keeps out of the next column (but for one word
    too long for it), and its first word would not have fitted on it. A line of one word is
    never wrapped, unless beside a cell that wraps after a line of more (cells that all wrap at
    once). A row that starts in the first column carries on the row above only in a table whose
    rows run onto more lines (`multiline`: a cell wrapped or centred beside one before), if every
    one of its cells does, two of them after a line of more than one word, each first word too
    long for the line above (past the furthest its column's lines reach; in the last column,
    past the furthest the table's lines reach), and no line starting with a capital under a line
    that does (labels set in sentence case, each its own row): a new row's cells mostly would
    have fitted. Otherwise a last column's right edge is the furthest its lines reach, in the
    run and the rows `ahead`."""
    above = run[-1]
    worded = 0  # the cells that wrap after a line of more than one word (or a hyphen)
    first_column = len(row) > 1 and row[0].left - min(line.left for line in run[0]) <= 0.8 * (row[0].size or 1.0)
    if first_column and not multiline:
        return False
    for line in row:
        size = line.size or 1.0
        peer = next((other for other in above if abs(other.left - line.left) <= 0.8 * size), None)
        if peer is None or line.top - peer.bottom > 0.7 * (line.bottom - line.top):
            return False
        if len(peer.words) >= 2 or peer.words[-1].text.endswith("-"):
            worded += 1
        following = [other.left for other in above if other.left > peer.right]
        if following and line.right > min(following) and len(line.words) > 1:
            return False  # a line running on into the next column: no cell's next line
        if first_column:
            if line.text[:1].isupper() and peer.text[:1].isupper():
                return False
            edge = (column_edge(peer, [other for upper in run[-8:] + [row] for other in upper], size) if following
                    else max(other.right for upper in run + list(ahead) for other in upper))
        elif following:
            edge = min(following) - size
        else:
            edge = max(other.right for upper in run[-8:] + list(ahead) for other in upper
                       if abs(other.left - peer.left) <= 0.8 * size)
        first = line.words[0]
        if peer.right + 0.3 * size + (first.right - first.left) < edge - 0.3 * size:
            return False  # the word would have fitted: a line of its own
    return worded >= (2 if first_column else 1)


def column_spans(fragments: list[Line], min_gap: float) -> list[tuple[float, float]]:
    """The x extents of the columns the fragments line up in."""
    return [(min(line.left for line in group), max(line.right for line in group))
            for group in split_on_gaps(fragments, True, min_gap)]


def overflowing(visuals: list[list[Line]], gap: float) -> set[int]:
    """The fragments (ids) of these visual rows that run on to where another column's cells
    start: text too long for its cell, set over the gap and into the next column. Such a fragment
    runs up to the next fragment of its row, or reaches a left edge that three fragments or more
    share (a column start); a table's cells overflow rarely, so a table with many of the latter
    has columns that are not these."""
    fragments = [line for visual in visuals for line in visual]
    lefts = sorted(line.left for line in fragments)
    starts, run = [], 1
    for before, after in zip(lefts, lefts[1:]):
        run = run + 1 if after - before <= 0.2 * gap else 1
        if run == 3:
            starts.append(after)
    over = {id(line) for visual in visuals for line, following in zip(visual, visual[1:])
            if line.left + gap <= following.left < line.right + gap}
    reaching = set()
    for line in fragments:
        index = bisect_right(starts, line.left + gap)
        if id(line) not in over and index < len(starts) and starts[index] < line.right + gap:
            reaching.add(id(line))
    return over | reaching if len(reaching) <= max(2, 0.1 * len(fragments)) else over


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
        body_lines = [line for table_row in rows[head:len(rows) - tail] for visual in table_row for line in visual]
        spans = column_spans(body_lines, gap)
        over = overflowing([visual for table_row in rows[head:len(rows) - tail] for visual in table_row], gap)
        if over:
            kept = column_spans([line for line in body_lines if id(line) not in over], gap)
            spans, over = (kept, over) if len(kept) > len(spans) else (spans, set())
        if best is None or len(spans) > len(best[1]):
            best = (tail, spans, over)
    if best is None or len(best[1]) < 2:
        return None
    tail, spans, over = best
    rows = rows[:len(rows) - tail]
    fragments = [line for table_row in rows for visual in table_row for line in visual]
    widths = sorted(line.right - line.left for line in fragments)
    words_per_cell = sum(len(line.words) for line in fragments) / len(fragments)
    # Cells as wide as prose columns' lines, or holding as many words: no table (file paths and
    # commands of two wide columns, read whole now that overflowing words are split off, are).
    if widths[len(widths) // 2] > 0.4 * page_width or words_per_cell > 6:
        return None
    # Two or more runs of prose side by side (small pages printed two to a row, narrow columns
    # in small type) line up as well as a table's cells do: rows with prose in two of their
    # fragments are not a table's, which holds sentences in one column at most.
    if sum(1 for table_row in rows if any(sum(1 for line in visual if is_prose(line)) >= 2
                                          for visual in table_row)) >= 0.25 * len(rows):
        return None
    table_rows = [row_cells(table_row, spans, over) for table_row in rows]
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


def row_cells(table_row: list[list[Line]], spans: list[tuple[float, float]], over: set[int] = frozenset()) -> list[Cell]:
    """The cells of one table row: each fragment in the column it lies in, or spanning the
    columns it reaches across (a fragment in the gap between two spans both); a fragment of
    `over` (ids: text overflowing its cell) in the column it starts in."""
    count = len(spans)
    lefts, rights = [span[0] for span in spans], [span[1] for span in spans]
    parts: list[list[Line]] = [[] for _ in spans]
    reach = list(range(count))
    for visual in table_row:
        for line in visual:
            first = min(bisect_left(rights, line.left), count - 1)
            last = first if id(line) in over else max(bisect_right(lefts, line.right) - 1, 0)
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
