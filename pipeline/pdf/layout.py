"""Words into lines, reading order (recursive XY-cut) and blocks of one page."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import attrgetter
from statistics import median

from pipeline.pdf.code import (
    code_breaks,
    code_flags,
    code_size_limit,
    is_code_table,
    merge_code_blocks,
)
from pipeline.pdf.reading_order import xy_cut
from pipeline.pdf.text import Word

LIST_MARKER = re.compile(
    r"^(?:[\u2022\u2023\u2043\u2219\u25aa\u25ab\u25cf\u25cb\u25a0\u25a1\u25e6\u27a2\u2713\u2714\u00b7*+\-\u2013\u2014]"
    r"|\(?(?:\d{1,3}|[a-zA-Z]|[ivxlcIVXLC]{1,5})[.)])$"
)
CAPTION_START = re.compile(r"^(?:Figure|Fig\.|Table|Tab\.|Chart|Exhibit|Listing|Plate|Illustration|Graph)\s*[0-9IVX]+")
CAPTION_INITIALS = "FTCELPIG"  # the first letters of CAPTION_START's words
MAX_HEIGHT_RATIO = 2.2  # words or lines more unequal in height than this are never one row
DEFINITION_LABEL = re.compile(r"^\[[A-Z][a-z]+(?: [A-Za-z][a-z]+){0,2}\]$")  # "[Function]", "[Special Form]"
FRAGMENT_GAP = 0.85  # a gap wider than this many font sizes splits a line into fragments
LEFT, TOP = attrgetter("left"), attrgetter("top")


class Line:
    """A horizontal run of words without a wide gap (a line, or one cell or column of it)."""

    __slots__ = ("words", "left", "top", "right", "bottom", "size", "bold", "chars", "mono_chars")

    def __init__(self, words: list[Word]):
        # Written out (not a dataclass with __post_init__): a page makes thousands of lines.
        self.words = words
        first = words[0]
        left, top, right, bottom = first.left, first.top, first.right, first.bottom
        size, uniform, bold_chars, chars, mono_chars = first.size, True, 0, 0, 0
        for word in words:
            if word.left < left:
                left = word.left
            if word.top < top:
                top = word.top
            if word.right > right:
                right = word.right
            if word.bottom > bottom:
                bottom = word.bottom
            if word.size != size:
                uniform = False
            weight = len(word.text)
            chars += weight
            if word.bold:
                bold_chars += weight
            if word.mono:
                mono_chars += weight
        self.chars, self.mono_chars = chars, mono_chars
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.size = size if uniform else weighted_median([(word.size, len(word.text)) for word in words])
        self.bold = bold_chars >= 0.8 * chars

    def __repr__(self) -> str:
        return f"Line({self.text!r}, {self.left:.1f}, {self.top:.1f}, {self.right:.1f}, {self.bottom:.1f})"

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join([word.text for word in self.words])


def lines_text(lines: list[Line]) -> str:
    """The text of lines read top down: a word broken over two lines by a hyphen rejoined."""
    parts: list[str] = []
    broken = None
    for line in lines:
        if broken is not None and broken.continued_by is line.words[0]:
            parts[-1] = parts[-1][:-1] + broken.joins_next + line.text
        else:
            parts.append(line.text)
        broken = line.words[-1] if line.words[-1].joins_next is not None else None
    return " ".join(parts)


class cached:
    """functools.cached_property without the lock Python 3.11 takes at each first read: a page
    makes thousands of blocks, each read by one thread."""

    def __init__(self, function):
        self.function, self.name, self.__doc__ = function, function.__name__, function.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


@dataclass(eq=False)
class Region:
    """An area taken whole into the reading order: a table or a picture."""

    kind: str
    left: float
    top: float
    right: float
    bottom: float
    words: list[Word] = field(default_factory=list)
    payload: object = None


@dataclass(eq=False)
class Block:
    """A run of lines (or one region) that becomes one segment; read its properties once complete."""

    lines: list[Line]
    kind: str = "Text"
    region: Region | None = None
    level: int = 2
    role: str = ""  # "code" (monospace lines) or "contents" (one entry of a table of contents)

    @cached
    def box(self) -> tuple[float, float, float, float]:
        """(left, top, right, bottom) of the lines or the region."""
        if self.region is not None:
            return self.region.left, self.region.top, self.region.right, self.region.bottom
        return (
            min(line.left for line in self.lines), min(line.top for line in self.lines),
            max(line.right for line in self.lines), max(line.bottom for line in self.lines),
        )

    @cached
    def words(self) -> list[Word]:
        """Every word of the block, in reading order."""
        if self.region is not None:
            return self.region.words
        return [word for line in self.lines for word in line.words]

    @cached
    def text(self) -> str:
        """The block's text, lines joined by spaces."""
        if self.region is not None:
            return " ".join(word.text for word in self.region.words)
        return lines_text(self.lines)

    @cached
    def size(self) -> float:
        """The median text size of its lines."""
        return median(line.size for line in self.lines) if self.lines else 0.0


def weighted_median(pairs: list[tuple[float, int]]) -> float:
    """The value at the middle of the total weight."""
    ordered = sorted(pairs)
    half = sum(weight for _, weight in ordered) / 2
    running = 0
    for value, weight in ordered:
        running += weight
        if running >= half:
            return value
    return ordered[-1][0] if ordered else 0.0


def group_lines(words: list[Word]) -> list[Line]:
    """Words grouped into rows by height, each row split into fragments at wide gaps."""
    rows: list[list[Word]] = []
    row: list[Word] | None = None
    row_centre = row_height = 0.0  # centre and height of the current row's tallest word
    middles = [word.top + word.bottom for word in words]  # twice each word's centre: the sort key
    for index in sorted(range(len(words)), key=middles.__getitem__):
        word = words[index]
        centre, height = middles[index] / 2, word.bottom - word.top
        if row is not None:
            taller, shorter = (height, row_height) if height > row_height else (row_height, height)
            # A word far taller than the row (a watermark, a drop cap) never joins it.
            similar = taller <= MAX_HEIGHT_RATIO * (shorter if shorter > 0.1 else 0.1)
            if similar and abs(centre - row_centre) <= 0.4 * taller:
                row.append(word)
                if height > row_height:
                    row_centre, row_height = centre, height
                continue
        row = [word]
        rows.append(row)
        row_centre, row_height = centre, height
    lines: list[Line] = []
    for row in rows:
        if len(row) > 1:
            row.sort(key=LEFT)
        start = len(lines)
        current = [row[0]]
        previous = row[0]
        for word in row[1:]:
            wider = word.size if word.size > previous.size else previous.size
            if word.left - previous.right > FRAGMENT_GAP * wider and not (
                len(current) == 1 and LIST_MARKER.match(previous.text) is not None
            ):
                lines.append(Line(current))
                current = [word]
            else:
                current.append(word)
            previous = word
        if len(lines) == start + 1 and DEFINITION_LABEL.match(" ".join(word.text for word in current)):
            # A definition's category set flush right ("[Function]" after a signature, texinfo's
            # @deffn): read first, as its other forms print it ("Function: double gammafn (double x)").
            lines[start] = Line(current + lines[start].words)
            continue
        lines.append(Line(current))
    return lines


def visual_rows(lines: list[Line]) -> list[list[Line]]:
    """Fragments of one leaf grouped into rows that overlap vertically, each left to right."""
    rows: list[list[Line]] = []
    top = bottom = 0.0  # the extent of the last row
    for line in sorted(lines, key=TOP):
        if rows:
            overlap = (line.bottom if line.bottom < bottom else bottom) - (line.top if line.top > top else top)
            row_height, line_height = bottom - top, line.bottom - line.top
            shorter, taller = (line_height, row_height) if line_height < row_height else (row_height, line_height)
            similar = taller <= MAX_HEIGHT_RATIO * (0.1 if 0.1 > shorter else shorter)
            if similar and overlap > 0.5 * shorter:
                rows[-1].append(line)
                if line.top < top:
                    top = line.top
                if line.bottom > bottom:
                    bottom = line.bottom
                continue
        rows.append([line])
        top, bottom = line.top, line.bottom
    return [sorted(row, key=LEFT) if len(row) > 1 else row for row in rows]


def row_as_line(row: list[Line]) -> Line:
    """One visual row as a single line."""
    return row[0] if len(row) == 1 else Line([word for part in row for word in part.words])


def starts_list_item(line: Line) -> bool:
    """Whether a line opens with a bullet or an item number."""
    return bool(line.words) and LIST_MARKER.match(line.words[0].text) is not None and len(line.words) > 1


def starts_caption(line: Line) -> bool:
    """Whether a line opens like a caption ("Figure 3", "Table IV"); its first letter rules out
    most lines before their text is joined."""
    return line.words[0].text[:1] in CAPTION_INITIALS and CAPTION_START.match(line.text) is not None


def split_blocks(lines: list[Line], code_limit: float = 0.0) -> list[Block]:
    """One leaf's lines cut into blocks at changes of style, list markers, captions, indents and
    between code (monospace lines up to `code_limit` in size) and prose."""
    blocks: list[Block] = []
    rows = list(map(row_as_line, visual_rows(lines)))
    previous: Line | None = None
    for line, code in zip(rows, code_flags(rows, code_limit)):
        if previous is None or code != (blocks[-1].role == "code") or (
                code_breaks(previous, line) if code else starts_new_block(previous, line, blocks[-1])):
            blocks.append(Block([line], role="code" if code else ""))
        else:
            blocks[-1].lines.append(line)
        previous = line
    return blocks


def starts_new_block(previous: Line, line: Line, block: Block) -> bool:
    """Whether `line` begins a new block after `previous`, which ends `block`."""
    size_ratio = line.size / previous.size if previous.size else 1.0
    if size_ratio > 1.15 or size_ratio < 0.87 or line.bold != previous.bold:
        return True
    if starts_list_item(line) or starts_caption(line):
        return True
    if starts_caption(block.lines[0]) and line.top - previous.bottom > 0.3 * line.size:
        return True
    if line.top - previous.bottom > 0.8 * max(line.size, previous.size):
        return True
    in_list = starts_list_item(block.lines[0])
    if in_list and line.left < block.lines[0].left + 0.5 * line.size and not starts_list_item(line):
        return True  # back at the marker's margin: the item has ended
    indented = line.left - previous.left >= 0.8 * line.size
    return indented and not in_list and len(block.lines) > 1 and line.size > 0


def layout_page(lines: list[Line], regions: list[Region], body_size: float,
                mono_share: float | None = None) -> list[Block]:
    """The page's blocks in reading order; regions (tables, pictures) stay whole. `mono_share` is
    the document's share of text in a monospace font; without it, the page's own decides whether
    monospace lines are code."""
    code_limit = code_size_limit(lines, body_size, mono_share)
    if code_limit:  # aligned monospace lines are code, not a table
        regions = [region for region in regions if not is_code_table(region)]
    items: list = free_lines(lines, regions) + list(regions)
    if not items:
        return []
    leaves = xy_cut(items, gap_x=max(body_size, 4.0), gap_y=max(0.55 * body_size, 2.0))
    blocks: list[Block] = []
    for leaf in leaves:
        leaf_regions = [item for item in leaf if isinstance(item, Region)]
        leaf_lines = [item for item in leaf if isinstance(item, Line)]
        leaf_blocks = split_blocks(leaf_lines, code_limit) if leaf_lines else []
        if leaf_regions:
            leaf_blocks += [Block([], kind=region.kind, region=region) for region in leaf_regions]
            leaf_blocks.sort(key=lambda block: block.box[1])
        blocks.extend(leaf_blocks)
    return merge_code_blocks(blocks, join_rows) if code_limit else blocks


def join_rows(lines: list[Line], role: str = "") -> Block:
    """One block of the given lines, their fragments joined into visual rows."""
    return Block(list(map(row_as_line, visual_rows(lines))), role=role)


def free_lines(lines: list[Line], regions: list[Region]) -> list[Line]:
    """The lines outside every region; a line only partly in a table keeps the words the table left."""
    # A table holds exactly its words: a line can overlap its box (a paragraph just below it,
    # a row it did not take) without being one of its rows, and must not be lost then.
    in_tables = {id(word) for region in regions if region.kind == "Table" for word in region.words}
    others = [region for region in regions if region.kind != "Table"]
    free = []
    for line in lines:
        if others and any(inside(line, region) for region in others):
            continue
        if in_tables:
            kept = [word for word in line.words if id(word) not in in_tables]
            if not kept:
                continue
            if len(kept) < len(line.words):
                line = Line(kept)
        free.append(line)
    return free


def inside(word, region) -> bool:
    """Whether a word's (or line's) centre lies within a region."""
    x, y = (word.left + word.right) / 2, (word.top + word.bottom) / 2
    return region.left <= x <= region.right and region.top <= y <= region.bottom
