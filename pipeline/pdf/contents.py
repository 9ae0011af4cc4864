"""Tables of contents (and indexes set like them): each entry its own ListItem, leaders dropped.

An entry line ends with a page number (arabic, roman, or `A-3`) at the right, after dot leaders or
a wide gap. Several such lines in a row, their page numbers lined up on the right, are a listing;
a line without a number just above an entry, of its size and running across most of its width,
is the first part of a title that wraps. Without leaders (a wide gap only), the page numbers must
also go up. The listing's lines are taken out of their blocks, one block per entry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.pdf.layout import Block, Line

LEADERS = ".\u2024\u2025\u2026\u00b7\u2219\u22c5"
LEADER_WEIGHT = {"\u2025": 2, "\u2026": 3}  # two-dot and three-dot leaders count for their dots
ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
PAGE_NUMBER = re.compile(rf"^(?:(\d{{1,4}})|[A-Z][-.\u2013]\d{{1,4}}|{ROMAN})$", re.IGNORECASE)
ABBREVIATIONS = frozenset({"etc", "al", "vs", "cf", "inc", "ltd", "co", "jr", "sr", "st", "no", "vol", "ed", "eds",
                           "fig", "figs", "approx", "dept", "misc", "corp", "resp"})
WIDE_GAP = 2.0  # sizes of empty space before a page number without leaders
ALIGNED = 1.5  # sizes within which the page numbers of one listing end
MAX_WRAPPED = 2  # lines of a title above the line with its page number


@dataclass
class Row:
    """One visual row of the page's text blocks, in reading order, and the blocks its lines are from."""

    parts: list[tuple[Line, Block]]
    line: Line
    number: int | None = None  # the arabic page number an entry ends with
    page_right: float = 0.0  # where its page number ends
    leaders: bool = False
    entry: bool = False


@dataclass
class Entry:
    """A listing's entry: its rows (wrapped title lines first)."""

    rows: list[Row] = field(default_factory=list)


def leader_count(text: str) -> int:
    """Dots of leader in a run of leader characters."""
    return sum(LEADER_WEIGHT.get(char, 1) for char in text)


def read_row(row: Row) -> None:
    """Whether a row is an entry line, with its page number, where it ends and whether leaders lead to it."""
    words = row.line.words
    if len(words) < 2:
        return
    last = words[-1]
    number_text = last.text.lstrip(LEADERS)
    match = PAGE_NUMBER.match(number_text)
    if match is None:
        return
    dots = leader_count(last.text[:len(last.text) - len(number_text)])
    index = len(words) - 2
    while index >= 0 and not words[index].text.strip(LEADERS):
        dots += leader_count(words[index].text)
        index -= 1
    if index < 0 or not any(char.isalnum() for char in words[index].text):
        return  # no title
    title_end = words[index]
    dots += leader_count(title_end.text) - leader_count(title_end.text.rstrip(LEADERS))
    size = row.line.size or 1.0
    if dots >= 3 or (dots == 2 and index < len(words) - 2):  # ". ." alone: a long title leaves room for two
        row.leaders = True
    elif last.left - title_end.right < WIDE_GAP * size:
        return
    row.entry, row.page_right = True, last.right
    row.number = int(match.group(1)) if match.group(1) else None


def page_rows(blocks: list[Block], top: float, bottom: float) -> list[Row | None]:
    """The rows of the page's prose blocks in reading order, between `top` and `bottom` (where
    running headers and footers are); None where a table, picture, code block or margin block
    comes between them. A line that sits on the row of the one before it, to its right (a page
    number the reading order put in a column of its own) joins that row."""
    rows: list[Row | None] = []
    for block in blocks:
        if block.region is not None or block.role or block.box[3] <= top or block.box[1] >= bottom:
            if rows and rows[-1] is not None:
                rows.append(None)
            continue
        for line in block.lines:
            last = rows[-1] if rows else None
            if last is not None and line.left >= last.line.right and same_row(last.line, line):
                last.parts.append((line, block))
                last.line = Line(last.line.words + line.words)
            else:
                rows.append(Row([(line, block)], line))
    return rows


def same_row(upper: Line, line: Line) -> bool:
    """Whether two lines overlap by over half the shorter one's height."""
    overlap = min(upper.bottom, line.bottom) - max(upper.top, line.top)
    return overlap > 0.5 * min(upper.bottom - upper.top, line.bottom - line.top)


def wraps_into(first: Row, following: Row, entry: Row) -> bool:
    """Whether `first` (then `following`, down to `entry`) is the start of the entry's title: the
    same size, close above it, not right of its left, and running most of the way to its number
    (boldness is no guide: the leaders of a bold title are often set plain)."""
    line, below, target = first.line, following.line, entry.line
    size = target.size or 1.0
    return (0.9 <= line.size / size <= 1.1
            and below.top - line.bottom <= 0.8 * size
            and line.left <= target.left + 0.5 * size
            and line.right >= line.left + 0.6 * (entry.page_right - line.left))


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
        if run and abs(run[-1].rows[-1].page_right - row.page_right) > ALIGNED * (row.line.size or 1.0):
            runs.append(run)
            run = []
        run.append(Entry(pending + [row]))
        pending = []
    runs.append(run)
    return [run for run in runs if run and accepted(run)]


def accepted(run: list[Entry]) -> bool:
    """Whether a run of entries is a listing: two with leaders, or three whose numbers go up."""
    ends = [entry.rows[-1] for entry in run]
    if sum(1 for row in ends if row.leaders) >= 2:
        return True
    numbers = [row.number for row in ends if row.number is not None]
    return len(run) >= 3 and len(numbers) >= 3 and all(a <= b for a, b in zip(numbers, numbers[1:]))


def split_contents(blocks: list[Block], top: float, bottom: float) -> list[Block]:
    """The page's blocks with each listing entry a `ListItem` block of its own (role "contents"),
    in the place of its first line; the lines left in a block stay together. Blocks above `top`
    or below `bottom` (the page's margins) are no entries."""
    found = listings(page_rows(blocks, top, bottom))
    if not found:
        return blocks
    entry_of = {id(line): entry for run in found for entry in run for row in entry.rows for line, _ in row.parts}
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
                result.append(Block([row.line for row in entry.rows], kind="ListItem", role="contents"))
        if kept:
            result.append(rest_of(block, kept))
    return result


def rest_of(block: Block, lines: list[Line]) -> Block:
    """The block itself when it keeps all its lines, else a block of those it keeps."""
    return block if len(lines) == len(block.lines) else Block(lines, kind=block.kind, level=block.level)


def entry_text(text: str) -> str:
    """An entry's title and page number, without the leaders between them."""
    words = text.split()
    if not words:
        return ""
    number = words.pop().lstrip(LEADERS)
    while words and not words[-1].strip(LEADERS):
        words.pop()
    if words:
        last = words[-1]
        stripped = last.rstrip(LEADERS)
        if len(last) - len(stripped) >= 2 or (stripped != last and is_leader_dot(stripped)):
            words[-1] = stripped
    return " ".join(words + [number])


def is_leader_dot(word: str) -> bool:
    """Whether the one dot after a title's last word is a leader set close to it rather than its own
    (an abbreviation, an initial, a number)."""
    return len(word) > 1 and "." not in word and word.lower() not in ABBREVIATIONS and not word[-1].isdigit()
