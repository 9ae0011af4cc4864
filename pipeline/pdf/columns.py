"""Columns of a page: the whitespace gaps that run down it, told apart from the gaps between a
table's cells.

A page's lines split wherever a vertical strip of whitespace runs between them. Such a gap is a
gutter between two columns, read one after the other, unless what lies on either side of it reads
across as the rows of one table: its rows line up (cells top-aligned), in the same type size, a
cell's text that wraps onto more lines wraps on one side only while the other side waits, and no
side goes on far beyond the other. Each test is one pass over the rows of the two sides, sorted
once; nothing compares every line with every other.
"""
from __future__ import annotations

from operator import attrgetter

LEFT, TOP = attrgetter("left"), attrgetter("top")
HEADING_RATIO = 1.25  # a row this much larger than the row beside it is a heading, not a cell


def split_on_gaps(items: list, horizontal: bool, min_gap: float) -> list[list]:
    """Items split into groups wherever their projection on one axis has a gap of min_gap."""
    if horizontal:
        ordered = sorted(items, key=LEFT)
        spans = [(item.left, item.right) for item in ordered]
    else:
        ordered = sorted(items, key=TOP)
        spans = [(item.top, item.bottom) for item in ordered]
    group: list = []
    groups: list[list] = [group]
    reach = None
    for item, (start, end) in zip(ordered, spans):
        if reach is None:
            reach = end
        else:
            if start - reach >= min_gap:
                group = []
                groups.append(group)
            if end > reach:
                reach = end
        group.append(item)
    return groups


def gutter_columns(items: list, min_gap: float, one_row: bool = False) -> list[list]:
    """Items split at the vertical gaps that are gutters between columns; the gaps between a
    table's cells and beside a margin of line labels leave their sides together."""
    groups = split_on_gaps(items, True, min_gap)
    if len(groups) < 2:
        return groups
    groups = merge_margin_columns(groups)
    if one_row or len(groups) < 2:
        return groups  # one row of fragments far apart: each its own column, as it always was
    columns, last, index = [groups[0]], groups[0], 1
    while index < len(groups):
        group = groups[index]
        following = groups[index + 1] if index + 1 < len(groups) else None
        if (following is not None and len(group) == 1 and heads(group[0], last, following)
                and not is_gutter(last, following, columns[-1])):
            columns[-1] = columns[-1] + group + following  # a header cell centred over two columns
            last, index = following, index + 2
            continue
        if is_gutter(last, group, columns[-1]):
            columns.append(group)
        else:
            columns[-1] = columns[-1] + group
        last, index = group, index + 1
    return columns


def heads(item, left: list, right: list) -> bool:
    """Whether a lone item sits in the first row of the groups on either side of it, or above
    them, and each of them has two rows more below it (a header cell over a table's columns)."""
    if len(left) < 3 or len(right) < 3:
        return False
    return getattr(item, "size", None) is not None and item.top <= min(
        min(other.top for other in left), min(other.top for other in right)) + 0.5 * (item.bottom - item.top)


def merge_margin_columns(columns: list[list]) -> list[list]:
    """Narrow columns of labels beside the text (line or item numbers) joined to it."""
    # Such a column lines up row by row with its neighbour, so it is read along each row.
    merged = [columns[0]]
    for column in columns[1:]:
        if row_aligned_margin(merged[-1], column) or row_aligned_margin(column, merged[-1]):
            merged[-1] = merged[-1] + column
        else:
            merged.append(column)
    return merged


def row_aligned_margin(narrow: list, other: list) -> bool:
    """Whether `narrow` is a thin column of labels that line up row by row with `other`."""
    # Either each label sits on a row of the text, or (a numbered listing with blank lines)
    # each row of the text has its label.
    width = max(item.right for item in narrow) - min(item.left for item in narrow)
    other_width = max(item.right for item in other) - min(item.left for item in other)
    if len(narrow) < 2 or width > 0.15 * other_width or len(narrow) * len(other) > 250_000:
        return False
    labelled = [item for item in narrow if any(rows_overlap(item, peer) for peer in other)]
    if len(labelled) >= 0.8 * len(narrow):
        return True
    rows_labelled = sum(1 for peer in other if any(rows_overlap(item, peer) for item in labelled))
    return len(other) >= 2 and rows_labelled >= 0.9 * len(other)


def rows_overlap(item, peer) -> bool:
    """Whether two items share a row: the overlap is over half the height of `item`."""
    return min(item.bottom, peer.bottom) - max(item.top, peer.top) > 0.5 * (item.bottom - item.top)


class Row:
    """The lines of one side of a gap that share a row, summed up for the gutter test."""

    __slots__ = ("lines", "left", "top", "right", "bottom", "size", "bold", "wraps", "first_width", "_prose",
                 "continued", "follows", "ocr")

    def __init__(self, lines: list):
        lines.sort(key=LEFT)
        first = lines[0]
        self.left, self.right = first.left, max(line.right for line in lines)
        self.top, self.bottom = min(line.top for line in lines), max(line.bottom for line in lines)
        self.size = max(lines, key=lambda line: len(line.words)).size  # its main text's: not a big math sign's
        self.bold = all(line.bold for line in lines)
        words = [word for line in lines for word in line.words]
        # A row can have been wrapped only if it is one run of text (not cells) of two words or
        # more (not figures), or ends with a hyphen.
        self.wraps = len(lines) == 1 and (sum(1 for word in words if any(map(str.isalpha, word.text))) > 1
                                          or words[-1].text.endswith("-"))
        self.first_width = first.words[0].right - first.words[0].left
        self.lines, self._prose = lines, None
        self.ocr = first.words[0].confidence is not None  # read by OCR: sized by its letters' boxes
        self.continued = False  # the row carries on the text of the row above (a wrapped line)
        self.follows = False  # the row may carry on that text: it is set like it, close below it


    @property
    def prose(self) -> bool:
        """Whether a line of the row reads like running text (worked out when first asked)."""
        if self._prose is None:
            self._prose = any(is_prose(line) for line in self.lines)
        return self._prose


def is_prose(line) -> bool:
    """Whether a fragment reads like a line of running text: six words or more of three letters or more."""
    words = line.words
    return len(words) >= 6 and sum(1 for word in words if sum(char.isalpha() for char in word.text) >= 3) >= 6


def side_rows(items: list) -> list[Row]:
    """The rows of one side of a gap, top down, each marked when it wraps the row above."""
    rows: list[list] = []
    top = bottom = 0.0
    for line in sorted(items, key=TOP):
        if rows and min(line.bottom, bottom) - max(line.top, top) > 0.5 * min(line.bottom - line.top, bottom - top):
            rows[-1].append(line)
            top, bottom = min(top, line.top), max(bottom, line.bottom)
        else:
            rows.append([line])
            top, bottom = line.top, line.bottom
    summed = [Row(row) for row in rows]
    edge = max(row.right for row in summed)
    for above, row in zip(summed, summed[1:]):
        # A wrapped line: close below a row in the same type that starts where it does and that
        # its first word would not have fitted on (the row reaches the side's right edge).
        row.follows = (above.wraps and above.bold == row.bold and 0.87 <= row.size / (above.size or 1.0) <= 1.15
                       and row.top - above.bottom <= 0.7 * (row.bottom - row.top)
                       and abs(row.left - above.left) <= 0.8 * row.size)
        row.continued = row.follows and above.right + 0.3 * row.size + row.first_width > edge - 0.3 * row.size
    if len(summed) >= 4 and sum(row.continued for row in summed) >= 0.85 * (len(summed) - 1):
        for row in summed:  # lines all of one width: a list of like entries as much as a paragraph
            row.continued = False
    return summed


def unlabelled(rows: list[Row], side: list, context: list) -> None:
    """Keep a row's wrap only where nothing of its column further left shares the row: a line
    beside the next entry's label starts that entry, however full the line above it was."""
    own = {id(item) for item in side}
    others = sorted((item for item in context if id(item) not in own), key=TOP)
    start = 0
    for row in rows:
        while start < len(others) and others[start].bottom <= row.top:
            start += 1
        position = start
        while row.continued and position < len(others) and others[position].top < row.bottom:
            other = others[position]
            if min(row.bottom, other.bottom) - max(row.top, other.top) > 0.5 * (row.bottom - row.top):
                row.continued = False
            position += 1


def touching(rows: list[Row], others: list[Row]):
    """For each row, the rows of `others` it overlaps vertically (both lists top down)."""
    start = 0
    for row in rows:
        while start < len(others) and others[start].bottom <= row.top:
            start += 1
        position, touched = start, []
        while position < len(others) and others[position].top < row.bottom:
            touched.append(position)
            position += 1
        yield row, touched


def shares_row(row: Row, peer: Row) -> bool:
    """Whether two rows overlap by over half the shorter's height."""
    overlap = min(row.bottom, peer.bottom) - max(row.top, peer.top)
    return overlap > 0.5 * min(row.bottom - row.top, peer.bottom - peer.top)


def aligned_pairs(rows: list[Row], others: list[Row]) -> list[tuple[Row, Row]]:
    """The rows of two sides that share a row."""
    return [(row, others[index]) for row, touched in touching(rows, others) for index in touched
            if shares_row(row, others[index])]


def misaligned(rows: list[Row], others: list[Row]) -> tuple[int, int]:
    """How many rows of either side overlap rows of the other without sharing a row with any:
    baselines on two grids. A row set level with the middle of a cell wrapped onto two lines
    (a cell centred vertically beside it, even one whose box reaches over half of the lower
    line's), and the lines of that cell, are not counted. Also how many rows are so centred."""
    centred, loose = set(), []
    for side, other_side in ((rows, others), (others, rows)):
        for row, touched in touching(side, other_side):
            height = row.bottom - row.top
            touched = [index for index in touched if min(row.bottom, other_side[index].bottom)
                       - max(row.top, other_side[index].top) > 0.2 * min(height, other_side[index].bottom - other_side[index].top)]
            # Grazing the next line's box (OCR pads its lines) is no overlap.
            if len(touched) >= 2 and centred_beside(row, [other_side[index] for index in touched]):
                centred.add(id(row))
            elif touched and not any(shares_row(row, other_side[index]) for index in touched):
                loose.append([id(other_side[index]) for index in touched])
    return sum(1 for touched in loose if not all(index in centred for index in touched)), len(centred)


def centred_beside(row: Row, lines: list[Row]) -> bool:
    """Whether a row sits level with the middle of lines set close together (a cell centred
    vertically beside a cell of several lines)."""
    height = row.bottom - row.top
    close = all(lower.top - upper.bottom <= 0.7 * height for upper, lower in zip(lines, lines[1:]))
    middle = (lines[0].top + lines[-1].bottom) / 2
    return close and abs((row.top + row.bottom) / 2 - middle) <= 0.35 * height


def is_gutter(left: list, right: list, context: list | None = None) -> bool:
    """Whether the vertical gap between two neighbouring groups separates columns, read one
    after the other, rather than the cells of a table's rows, read across. `context` is the
    column `left` belongs to so far (its groups further left included)."""
    if any(getattr(item, "size", None) is None for item in left + right):
        return True  # a region (a table, a picture)
    left_rows, right_rows = side_rows(left), side_rows(right)
    if len(left_rows) < 2 or len(right_rows) < 2:
        # A lone line beside the rest: a label level with its first line (a table's row whose
        # cell wraps), or one more fragment of a row of several set level with it (the last cell
        # of a row, a spaced-out code line), read along that row; anywhere else (a note in the
        # margin, beside lines of running text), apart.
        lone, others = (left_rows, right_rows) if len(left_rows) < 2 else (right_rows, left_rows)
        level = next((row for row in others if shares_row(lone[0], row)), None)
        return level is None or not (level is others[0] or len(level.lines) >= 2) or not (
            1 / HEADING_RATIO < lone[0].size / (level.size or 1.0) < HEADING_RATIO)
    if context is not None and len(context) > len(left):
        unlabelled(left_rows, left, context)
    pairs = aligned_pairs(left_rows, right_rows)
    partial, centred = misaligned(left_rows, right_rows)
    fewer = min(len(left_rows), len(right_rows))
    # Baselines on two grids: two columns set each to its own spacing.
    if partial >= 2 and partial >= 0.15 * fewer:
        return True
    # Headings beside lines of text (one line of mixed heights is no sign; OCR sizes a line by
    # its letters, descenders and capitals included, so its sizes differ more).
    ratios = [max(a.size, b.size) / (min(a.size, b.size) or 1.0) / (1.3 if a.ocr or b.ocr else 1.0) for a, b in pairs]
    if sum(1 for ratio in ratios if ratio >= HEADING_RATIO) >= 2 or any(ratio >= 1.6 for ratio in ratios):
        return True
    # Running text on both sides.
    both_prose = sum(1 for a, b in pairs if a.prose and b.prose)
    if both_prose >= 2 and both_prose >= 0.25 * len(pairs):
        return True
    if (sum(row.prose for row in left_rows) >= 0.5 * len(left_rows)
            and sum(row.prose for row in right_rows) >= 0.5 * len(right_rows)):
        return True
    # The left side wraps a line of text while the right starts a new entry: two columns of
    # entries (a reference card's), not a row of cells, which all start together. (A wrap on
    # the right beside a new entry on the left is what a table's cells that happen to fill
    # their column look like too.) Rows set level with the middle of a cell of several lines
    # beside them are a table's, whose cells are centred vertically: there a cell of three lines
    # has its middle one beside the next row's cell, and a row of commands that fill their
    # column looks wrapped. Columns of entries set on one grid have no such rows.
    mixed = sum(1 for a, b in pairs if a.continued and not b.continued)
    if mixed >= 2 and mixed >= 0.1 * len(pairs) and mixed > centred:
        return True
    # One side going on well beyond the other's first and last rows (a column that runs on
    # below its shorter neighbour).
    for rows, others in ((left_rows, right_rows), (right_rows, left_rows)):
        top, bottom = others[0].top, others[-1].bottom
        above = sum(1 for row in rows if row.bottom <= top and not row.continued)
        below = [row for row in rows if row.top >= bottom]
        # The last lines of the cell level with the other side's last row do not count.
        ending = next((index for index, row in enumerate(below) if index >= 4 or not row.follows), len(below))
        beyond = above + sum(1 for row in below[ending:] if not row.continued)
        if beyond >= 2 and beyond >= 0.25 * len(rows):
            return True
    return False
