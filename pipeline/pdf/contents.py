"""Tables of contents (and indexes set like them): each entry its own ListItem, leaders dropped.

An entry line ends with a page number (arabic, roman, or `A-3`) at the right, after dot leaders or
a wide gap. Several such lines in a row, their page numbers lined up on the right, are a listing;
a line without a number just above an entry, of its size and running across most of its width,
is the first part of a title that wraps. Without leaders (a wide gap only), the page numbers must
also go up. The listing's lines are taken out of their blocks, one block per entry.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from pipeline.pdf.layout import Block, Line, group_lines, row_as_line, visual_rows
from pipeline.pdf.text import Word

LEADERS = ".\u2024\u2025\u2026\u00b7\u2219\u22c5"
ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"  # lower case: "I" is a part
PAGE = rf"(?:(\d{{1,4}})(?:[-\u2013]\d{{1,4}})?|[A-Z][-.\u2013]\d{{1,4}}|{ROMAN})"  # 12, 12-15, A-3, xiv
PAGE_NUMBER = re.compile(rf"^{PAGE}$")
LISTED = re.compile(rf"^{PAGE},$")  # a page number before others: "8, 11, 27"
PAGE_NUMBER_ENDS = frozenset("0123456789ivxlcdm")
PAGE_LABELS = frozenset({"page", "pages", "pg", "p", "pp", "seite", "página", "pagina"})
WIDE_GAP = 2.0  # sizes of empty space before a page number without leaders
ALIGNED = 1.5  # sizes within which the page numbers of one listing end
MAX_WRAPPED = 2  # lines of a title above the line with its page number

ABBREVIATIONS = frozenset({"etc", "al", "vs", "cf", "inc", "ltd", "co", "jr", "sr", "st", "no", "vol", "ed", "eds",
                           "fig", "figs", "approx", "dept", "misc", "corp", "resp"})  # a title's last dot that is its own


@dataclass
class Row:
    """One visual row of the page's text blocks, in reading order, and the blocks its lines are from."""

    parts: list[tuple[Line, Block]]
    line: Line
    number: int | None = None  # the arabic page number an entry ends with
    page_right: float = 0.0  # where its page number ends
    leaders: bool = False
    entry: bool = False
    margin: bool = False  # in the top or bottom margin, where running headers and footers are


Entry = list[Row]  # a listing's entry: its rows, the lines of a wrapped title first


def leader_count(text: str) -> int:
    """Dots of leader in a run of leader characters (a two-dot or three-dot leader counts its dots)."""
    return len(text) + text.count("\u2025") + 2 * text.count("\u2026")


def read_row(row: Row) -> None:
    """Whether a row is an entry line, with its page number (or numbers: "8, 11, 27"), where it
    ends and whether leaders lead to it."""
    words = row.line.words
    if len(words) < 2 or words[-1].text[-1] not in PAGE_NUMBER_ENDS:
        return
    first = len(words) - 1
    while first > 1 and LISTED.match(words[first - 1].text.lstrip(LEADERS)):
        first -= 1
    number = words[first]
    number_text = number.text.lstrip(LEADERS)
    match = (PAGE_NUMBER if first == len(words) - 1 else LISTED).match(number_text)
    if match is None or PAGE_NUMBER.match(words[-1].text) is None and first < len(words) - 1:
        return
    dots = leader_count(number.text[:len(number.text) - len(number_text)])
    index = first - 1
    while index >= 0 and not words[index].text.strip(LEADERS):
        dots += leader_count(words[index].text)
        index -= 1
    if index < 0 or not any(char.isalnum() for char in words[index].text):
        return  # no title
    if row.margin and in_pieces(words[:index + 1], row.line.size or 1.0):
        return  # pieces set apart on a margin's row: a running head ("CONTENTS   gnuplot 5.4   iii"), no entry
    title_end = words[index]
    dots += leader_count(title_end.text[len(title_end.text.rstrip(LEADERS)):])
    if dots >= 3 or (dots == 2 and index < first - 1):  # ". ." alone: a long title leaves room for two
        row.leaders = True
    elif number.left - title_end.right < WIDE_GAP * (row.line.size or 1.0):
        return
    row.entry, row.page_right = True, words[-1].right
    row.number = int(match.group(1)) if match.group(1) else None


def entry_row(line: Line) -> Row:
    """A row of one line, read."""
    row = Row([], line)
    read_row(row)
    return row


def page_rows(blocks: list[Block], top: float, bottom: float) -> list[Row | None]:
    """The rows of the page's prose blocks in reading order, those above `top` or below `bottom`
    marked as in a margin; None where a table, picture or code block comes between them. A page
    number the reading order put in a column of its own joins the line on its row to its left."""
    sequence: list[tuple[Line, Block] | None] = []
    for block in blocks:
        if block.region is None and not block.role:
            sequence += [(line, block) for line in block.lines]
        elif sequence and sequence[-1] is not None:
            sequence.append(None)
    joined = attach_numbers([item for item in sequence if item is not None])
    taken = {id(line) for parts in joined.values() for line, _ in parts}
    rows: list[Row | None] = []
    for item in sequence:
        if item is None:
            if rows and rows[-1] is not None:
                rows.append(None)
            continue
        line = item[0]
        if id(line) in taken:
            continue  # in the row of the line it was attached to
        parts = [item] + joined.get(id(line), [])
        row = Row(parts, line if len(parts) == 1 else Line([word for part, _ in parts for word in part.words]))
        row.margin = row.line.bottom <= top or row.line.top >= bottom
        rows.append(row)
    return rows


def attach_numbers(items: list[tuple[Line, Block]]) -> dict[int, list[tuple[Line, Block]]]:
    """Lines that are a page number alone (leaders before it allowed) attached to the nearest line
    to their left on their row, unless that line is an entry by itself: {id(that line):
    [(number line, its block), ...] left to right}."""
    alone = [page_number_alone(line) for line, _ in items]
    if not any(alone):
        return {}
    targets = sorted((item for item, number in zip(items, alone) if not number), key=lambda item: item[0].top)
    tops = [line.top for line, _ in targets]
    joined: dict[int, list[tuple[Line, Block]]] = {}
    for item, number in zip(items, alone):
        if not number:
            continue
        line = item[0]
        best = None
        for index in range(bisect_left(tops, line.top - 2 * (line.bottom - line.top)), len(targets)):
            candidate = targets[index][0]
            if candidate.top > line.bottom:
                break
            overlap = min(candidate.bottom, line.bottom) - max(candidate.top, line.top)  # over half the shorter
            if (candidate.right <= line.left and (best is None or candidate.right > best.right)
                    and overlap > 0.5 * min(candidate.bottom - candidate.top, line.bottom - line.top)):
                best = candidate
        if best is None or entry_row(best).entry:
            continue  # a line that ends with its own page number is an entry of another column
        joined.setdefault(id(best), []).append(item)
    for parts in joined.values():
        parts.sort(key=lambda part: part[0].left)
    return joined


def page_number_alone(line: Line) -> bool:
    """Whether a line is a page number, leaders before it allowed."""
    words = line.words
    return (PAGE_NUMBER.match(words[-1].text.lstrip(LEADERS)) is not None
            and all(not word.text.strip(LEADERS) or LISTED.match(word.text.lstrip(LEADERS)) for word in words[:-1]))


def wraps_into(first: Row, following: Row, entry: Row) -> bool:
    """Whether `first` (then `following`, down to `entry`) is the start of the entry's title: the
    same size, close above it, not right of its left, running most of the way to its number, in
    one piece (boldness is no guide: the leaders of a bold title are often set plain); in a page
    margin, without a wide gap anywhere (a running head's pieces: "CONTENTS   gnuplot 5.4")."""
    line, below, target = first.line, following.line, entry.line
    size = target.size or 1.0
    return (0.9 <= line.size / size <= 1.1
            and below.top - line.bottom <= 0.8 * size
            and line.left <= target.left + 0.5 * size
            and line.right >= line.left + 0.6 * (entry.page_right - line.left) and not gapped(line)
            and not (first.margin and in_pieces(line.words, size)))  # a running head's pieces


def gapped(line: Line) -> bool:
    """Whether a line's last word stands apart after a wide gap (a column label, not a title)."""
    words = line.words
    return len(words) > 1 and words[-1].left - words[-2].right >= WIDE_GAP * (line.size or 1.0)


def in_pieces(words: list[Word], size: float) -> bool:
    """Whether words stand apart after a wide gap anywhere (a running head's pieces, not a title)."""
    return any(right.left - left.right >= WIDE_GAP * size for left, right in zip(words, words[1:]))


def listings(rows: list[Row | None]) -> list[list[Entry]]:
    """Runs of entries (with their wrapped first lines) whose page numbers line up."""
    runs: list[list[Entry]] = []
    run: list[Entry] = []
    pending: list[Row] = []  # the last lines that are no entry: the start of the next title, or a break
    for row in rows:
        if row is None:
            runs.append(run)
            run, pending = [], []
            continue
        read_row(row)
        if not row.entry:
            pending.append(row)
            if len(pending) > MAX_WRAPPED:
                runs.append(run)
                run, pending = [], pending[1:]
            continue
        while pending and not all(wraps_into(upper, lower, row) for upper, lower in zip(pending, pending[1:] + [row])):
            runs.append(run)  # a line that is not this title's comes between: the run ends there
            run, pending = [], pending[1:]
        if run and not follows(run, row):
            runs.append(run)
            run = []
        run.append(pending + [row])
        pending = []
    runs.append(run)
    labels = Labels(rows)
    return [run for run in runs if run and accepted(run, labels)]


def follows(run: list[Entry], row: Row) -> bool:
    """Whether an entry line carries on a run: its page number lines up with the last entry's, or
    with the one before when the last stands beside it (columns of an index read across); one in
    a page margin (a running header or footer set like an entry) only close to the last."""
    previous, size = run[-1][-1], row.line.size or 1.0
    if previous.margin or row.margin:
        return abs(previous.page_right - row.page_right) <= ALIGNED * size and (
            0 <= row.line.top - previous.line.bottom <= 2.5 * size)
    if abs(previous.page_right - row.page_right) <= ALIGNED * size:
        return True
    beside = min(previous.line.bottom, row.line.bottom) > max(previous.line.top, row.line.top)
    return (beside and row.line.left > previous.page_right) or (
        len(run) > 1 and abs(run[-2][-1].page_right - row.page_right) <= ALIGNED * size)


def accepted(run: list[Entry], labels: Labels) -> bool:
    """Whether a run of entries is a listing: two with leaders, or three whose numbers go up and
    that are no table's rows under a header row (a label over the numbers that is not "Page")."""
    ends = [entry[-1] for entry in run]
    if sum(1 for row in ends if row.leaders) >= 2:
        return True
    numbers = [row.number for row in ends if row.number is not None]
    if len(run) < 3 or len(numbers) < 3 or any(a > b for a, b in zip(numbers, numbers[1:])):
        return False
    return not labels.over(ends[0], run[0][0].line.top)


class Labels:
    """The page's lines by their bottom edge (sorted when first needed: most pages have no listing
    to check), to find a column label over a listing's numbers: a line just above `top` that ends
    over the entry's page number with a word that neither is one nor names pages."""

    def __init__(self, rows: list[Row | None]):
        self.rows, self.lines, self.bottoms = rows, [], []

    def over(self, entry: Row, top: float) -> bool:
        if not self.lines:
            self.lines = sorted((part for row in self.rows if row is not None for part, _ in row.parts),
                                key=lambda line: line.bottom)
            self.bottoms = [line.bottom for line in self.lines]
        size, middle = entry.line.size or 1.0, (entry.line.left + entry.page_right) / 2
        for index in range(bisect_left(self.bottoms, top - 1.5 * size), len(self.lines)):
            line = self.lines[index]
            if line.bottom > top:
                break
            last = line.words[-1]
            if (abs(last.right - entry.page_right) <= ALIGNED * size and last.left > middle
                    and not PAGE_NUMBER.match(last.text) and last.text.strip(".:").lower() not in PAGE_LABELS):
                return True
        return False


def split_contents(blocks: list[Block], top: float, bottom: float) -> list[Block]:
    """The page's blocks with each listing entry a `ListItem` block of its own (role "contents"),
    in the place of its first line; the lines left in a block stay together. A line above `top`
    or below `bottom` (the page's margins) is an entry only close to another."""
    blocks = [split_across(block) for table in blocks for block in listing_table(table)]
    found = listings(page_rows(blocks, top, bottom))
    if not found:
        return blocks
    entry_of = {id(line): entry for run in found for entry in run for row in entry for line, _ in row.parts}
    result: list[Block] = []
    given: set[int] = set()
    for block in blocks:
        if block.region is not None or block.role:
            result.append(block)
            continue
        kept: list[Line] = []
        for line in block.lines:
            entry = entry_of.get(id(line))
            if entry is None:
                kept.append(line)
                continue
            if kept:
                result.append(rest_of(block, kept))
                kept = []
            if id(entry) not in given:
                given.add(id(entry))
                result.append(Block([row.line for row in entry], kind="ListItem", role="contents"))
        if kept:
            result.append(rest_of(block, kept))
    return result


def listing_table(block: Block) -> list[Block]:
    """A table that is a listing without leaders (each row a title and, after a wide gap, a page
    number that goes up, as a table finder reads aligned columns; a "Page" label over them
    allowed) as a block of its lines; any other block as it is."""
    if block.region is None or block.kind != "Table" or not block.words:
        return [block]
    lines = [row_as_line(row) for row in visual_rows(group_lines(block.words))]
    rows = [entry_row(line) for line in lines]
    labelled = not rows[0].entry and rows[0].line.words[-1].text.strip(".:").lower() in PAGE_LABELS
    entries = rows[1:] if labelled else rows
    if len(entries) < 3 or not all(row.entry for row in entries):
        return [block]
    runs = listings(rows)
    if len(runs) != 1 or len(runs[0]) != len(entries):
        return [block]
    return [Block(lines)]


def split_across(block: Block) -> Block:
    """A block whose lines hold several entries side by side (columns of an index read across)
    with those lines cut after each entry that leaders lead to; any other block as it is."""
    if block.region is not None or block.role:
        return block
    lines = [piece for line in block.lines for piece in entry_pieces(line)]
    return block if len(lines) == len(block.lines) else Block(lines, kind=block.kind, level=block.level)


def entry_pieces(line: Line) -> list[Line]:
    """A line cut after each page number that leaders lead to and a wide gap follows."""
    words = line.words
    if len(words) < 4 or words[-1].text[-1] not in PAGE_NUMBER_ENDS:
        return [line]
    pieces: list[Line] = []
    start, gap = 0, WIDE_GAP * (line.size or 1.0)
    for index in range(1, len(words) - 2):
        word = words[index]
        if (word.text[-1] in PAGE_NUMBER_ENDS and words[index + 1].left - word.right >= gap
                and PAGE_NUMBER.match(word.text.lstrip(LEADERS))):
            row = entry_row(Line(words[start:index + 1]))
            if row.entry and row.leaders:
                pieces.append(row.line)
                start = index + 1
    return pieces + [Line(words[start:])] if pieces else [line]


def rest_of(block: Block, lines: list[Line]) -> Block:
    """The block itself when it keeps all its lines, else a block of those it keeps."""
    return block if len(lines) == len(block.lines) else Block(lines, kind=block.kind, level=block.level)


def entry_text(text: str) -> str:
    """An entry's title and page numbers, without the leaders between them."""
    words = text.split() or [""]
    numbers = [words.pop()]
    while len(words) > 1 and LISTED.match(words[-1].lstrip(LEADERS)):
        numbers.insert(0, words.pop())
    numbers[0] = numbers[0].lstrip(LEADERS)
    while words and not words[-1].strip(LEADERS):
        words.pop()
    if words:
        last = words[-1]
        stripped = last.rstrip(LEADERS)
        if len(last) - len(stripped) >= 2 or (stripped != last and is_leader_dot(stripped)):
            words[-1] = stripped
    return " ".join(words + numbers)


def is_leader_dot(word: str) -> bool:
    """Whether the one dot after a title's last word is a leader set close to it rather than its own
    (an abbreviation or an initial)."""
    return len(word) > 1 and "." not in word and word.lower() not in ABBREVIATIONS
