"""Code: runs of lines set in a monospace font, kept apart from prose with their line breaks and
indentation. Works on layout's lines (duck-typed: `words`, `left`, `top`, `right`, `bottom`,
`size`, `mono_chars`, `chars`), so that layout can import it."""
from __future__ import annotations

import html
import re
from bisect import bisect_left
from statistics import median

MONO_BODY_SHARE = 0.9  # a document (or page) this much in a monospace font is typed in it: no code
CODE_SIZE = 1.15  # a monospace line larger than this many body sizes is a heading, not code
CODE_GAP = 2.6  # code lines further apart than this many sizes (two blank lines) are two blocks
MAX_BLANK_LINES = 2
SENTENCE_END = (".", ",", ";", "!", "?", ")")
BACKTICKS = re.compile(r"`{3,}")


def code_size_limit(lines: list, body: float, share: float | None = None) -> float:
    """The largest size a monospace line may have to be code on this page; 0 when the document
    (its monospace share, when given) or else the page is mostly monospace, which makes monospace
    its body font."""
    if share is None:
        chars = sum(line.chars for line in lines)
        share = sum(line.mono_chars for line in lines) / chars if chars else 0.0
    return 0.0 if share >= MONO_BODY_SHARE else CODE_SIZE * body


def is_code(line, limit: float) -> bool:
    """Whether a line is all monospace and not heading-sized: a prose word, or a bullet, in another
    font makes it prose (or a list item) with monospace words in it."""
    return line.mono_chars == line.chars and line.chars > 0 and line.size <= limit


def code_flags(rows: list, limit: float) -> list[bool]:
    """Which of one leaf's rows (visual lines, top down) are code. A lone short monospace line that
    carries on a paragraph (not indented, close below a line that does not announce it with a
    colon, prose or nothing after it) is a wrapped piece of that paragraph instead."""
    if not limit:
        return [False] * len(rows)
    flags = [is_code(row, limit) for row in rows]
    for index, flag in enumerate(flags):
        if not flag or index == 0 or flags[index - 1] or (index + 1 < len(rows) and flags[index + 1]):
            continue
        row, previous = rows[index], rows[index - 1]
        following = rows[index + 1] if index + 1 < len(rows) else None
        size = max(row.size, previous.size)
        if (len(row.words) <= 3 and row.top - previous.bottom <= 0.5 * size
                and row.left <= previous.left + 0.5 * size and not previous.words[-1].text.endswith(":")
                and (following is None or following.top - row.bottom <= 0.5 * size
                     or row.words[-1].text.endswith(SENTENCE_END))):
            flags[index] = False
    return flags


def code_breaks(previous, line) -> bool:
    """Whether a code line starts a new block after the code line above it: a change of size, or
    more than two blank lines between them."""
    ratio = line.size / previous.size if previous.size else 1.0
    return ratio > 1.15 or ratio < 0.87 or line.top - previous.bottom > CODE_GAP * max(line.size, previous.size)


def is_code_table(region) -> bool:
    """Whether a table found from aligned columns is monospace lines (a listing's aligned columns)."""
    return region.kind == "Table" and bool(region.words) and all(word.mono for word in region.words)


def merge_code_blocks(blocks: list, join) -> list:
    """Code blocks next in reading order joined (`join(lines, "code")` makes the block) when one
    follows the other down, overlapping across, at most two blank lines below it, or stands beside
    it on the same rows: the reading order cuts code at its blank lines and between its aligned
    columns."""
    merged: list = []
    for block in blocks:
        if block.role == "code" and merged and merged[-1].role == "code" and continues_code(merged[-1], block):
            merged[-1] = join(merged[-1].lines + block.lines, "code")
        else:
            merged.append(block)
    return merged


def continues_code(upper, block) -> bool:
    """Whether a code block carries on the one before it: below it, or beside it with each of the
    shorter one's lines on a line of the other (comments set at a column of their own)."""
    left, _, right, bottom = upper.box
    b_left, b_top, b_right, _ = block.box
    size = max(upper.size, block.size)
    if not 0.87 <= (block.size / upper.size if upper.size else 1.0) <= 1.15:
        return False
    if b_left < right and left < b_right:
        return b_top - bottom <= CODE_GAP * size
    shorter, longer = (upper, block) if len(upper.lines) <= len(block.lines) else (block, upper)
    tops = sorted(line.top for line in longer.lines)
    for line in shorter.lines:
        index = bisect_left(tops, line.top - 0.3 * size)
        if index == len(tops) or tops[index] > line.top + 0.3 * size:
            return False
    return True


def char_width(lines: list) -> float:
    """The width of one character of the block's monospace font."""
    widths = [(word.right - word.left) / len(word.text) for line in lines for word in line.words
              if word.mono and word.text and word.right > word.left]
    if widths:
        return median(widths)
    return 0.6 * median(line.size for line in lines)


def code_text(lines: list) -> str:
    """The lines of a code block as text: a line break after each, blank lines for the empty
    space between them, and each word at its column (the block's left edge is column 0)."""
    width = char_width(lines) or 1.0
    left = min(line.left for line in lines)
    pitches = [lower.top - upper.top for upper, lower in zip(lines, lines[1:])
               if lower.top - upper.top >= 0.8 * (upper.bottom - upper.top)]
    pitch = min(pitches) if pitches else 0.0
    out: list[str] = []
    previous = None
    for line in lines:
        if previous is not None and pitch:
            blanks = round((line.top - previous.top) / pitch) - 1
            out += [""] * max(0, min(blanks, MAX_BLANK_LINES))
        text = ""
        for word in line.words:
            column = round((word.left - left) / width)
            text += " " * max(column - len(text), 1 if text else 0) + word.text
        out.append(text.rstrip())
        previous = line
    return "\n".join(out)


def code_markup(text: str) -> tuple[str, str]:
    """HTML (`<pre><code>`) and Markdown (a fence longer than any run of backticks in it)."""
    longest = max((len(run) for run in BACKTICKS.findall(text)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"<pre><code>{html.escape(text)}</code></pre>", f"{fence}\n{text}\n{fence}"
