"""Segments of text documents: the collector, builders shared by every format, and plain text."""
from __future__ import annotations

import html as html_escaping
import re
import uuid
from collections.abc import Callable, Iterator

from pipeline.segment_processing import MAX_SEGMENT_CHARS, SegmentSize

LIST_ITEM_LINE = re.compile(r"^\s*(?:[-*+\u2022]|(\d{1,9})[.)])\s+(?=\S)")
BLANK_LINES = re.compile(r"\n[ \t]*\n")
# Where a long text is cut, coarsest first: a blank line, a line end, a sentence end, a space.
BREAKS = (
    BLANK_LINES,
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?;\u2026\u3002\uff01\uff1f])[\"'\u201d\u2019)\]]*\s+"),
    re.compile(r"\s+"),
)

# A run of text without a space is cut this many characters at a time.
LONG_WORD_CHARS = 1000
NO_SPACE = re.compile(r"\S+")
LAST_BREAKS = tuple(re.compile(r"(?s).+(?:" + pattern.pattern + ")") for pattern in BREAKS)

Rebuild = Callable[[str], tuple[str, str]]  # a piece of text -> its html and markdown


class SegmentCollector:
    """Segments in reading order; the first h1 becomes the Title, other headings SectionHeaders.
    With a `size`, a segment too big for it is cut in pieces (see `cut_text`, `add_table`)."""

    def __init__(self, size: SegmentSize | None = None) -> None:
        self.segments: list[dict] = []
        self.has_title = False
        self.size = size

    def add(self, segment_type: str, text: str, html: str, markdown: str,
            rebuild: Rebuild | None = None) -> None:
        """Append a segment unless it has no text at all; one too big becomes pieces of its text,
        each with html and markdown made by `rebuild` (a paragraph's by default)."""
        if not text.strip():
            return
        segment = text_segment(segment_type, text, html, markdown.strip())
        if self.size is None or self.size.excess(segment) <= 1:
            self.segments.append(segment)
            return
        rebuild = rebuild or paragraph_markup

        def piece_segment(piece: str) -> dict:
            return text_segment(segment_type, piece, *rebuild(piece))

        pieces = cut_text(text, lambda piece: self.size.excess(piece_segment(piece)))
        self.segments.extend(piece_segment(piece) for piece in pieces)

    def add_heading(self, level: int, text: str, html: str, markdown: str,
                    rebuild: Rebuild | None = None) -> None:
        """Append a heading as Title (the first h1) or SectionHeader."""
        is_title = level == 1 and not self.has_title and bool(text.strip())
        self.has_title = self.has_title or is_title
        self.add("Title" if is_title else "SectionHeader", text, html, markdown, rebuild or heading_markup(level))

    def add_table(self, rows: list[list[str]], markdown_rows: list[list[str]], html: str,
                  alignments: list[str] | None = None, markdown: str | None = None) -> None:
        """Append a Table segment: `rows` of plain cells, `markdown_rows` of the same cells as
        Markdown (a pipe table of them unless `markdown` is given), the table's html. One too big
        becomes tables of consecutive rows, each with the first row (the header) again, its html
        made from the cells; one row is never cut."""
        if markdown is None:
            markdown = pipe_table(markdown_rows, alignments)
        segment = text_segment("Table", table_text(rows), html, markdown)
        if self.size is None or len(rows) < 3 or self.size.excess(segment) <= 1:
            self.segments.append(segment)
            return

        def part(first: int, end: int) -> dict:
            picked = [0, *range(max(first, 1), end)]
            return text_segment("Table", table_text([rows[i] for i in picked]), table_html([rows[i] for i in picked]),
                                pipe_table([markdown_rows[i] for i in picked], alignments))

        first, reach = 1, len(rows)
        while first < len(rows):
            end = min(len(rows), first + reach)
            candidate = part(first, end)
            over = self.size.excess(candidate)
            if over <= 1 or end == first + 1:  # one row with its header is never cut
                self.segments.append(candidate)
                reach = next_reach(end - first, over, len(rows))
                first = end
            else:
                reach = max(1, min(end - first - 1, int((end - first) / over * 0.9)))


def text_segment(segment_type: str, text: str, html: str, markdown: str) -> dict:
    """A segment with every SPEC.md §7 key; text documents have no geometry, image or OCR."""
    return {
        "segment_id": str(uuid.uuid4()),
        "segment_type": segment_type,
        "bbox": {"left": 0.0, "top": 0.0, "width": 0.0, "height": 0.0},
        "page_number": 1,
        "page_width": 0.0,
        "page_height": 0.0,
        "confidence": None,
        "content": "",
        "text": text,
        "html": html,
        "markdown": markdown,
        "image": None,
        "ocr": [],
        "llm": None,
        "embed": "",
    }


def pipe_table(rows: list[list[str]], alignments: list[str] | None = None) -> str:
    """A Markdown pipe table from cells that are already Markdown; the first row is the header."""
    width = max(len(row) for row in rows)
    padded = [[cell.replace("\n", " ") for cell in row] + [""] * (width - len(row)) for row in rows]
    rules = {"left": ":---", "center": ":---:", "right": "---:"}
    separator = [rules.get(align, "---") for align in (alignments or [])] + ["---"] * width
    lines = [padded[0], separator[:width], *padded[1:]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def escape_table_cell(text: str) -> str:
    """Plain cell text made safe for a pipe table."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def table_text(rows: list[list[str]]) -> str:
    """Plain text of a table: one line per row, cells separated by ` | `."""
    return "\n".join(" | ".join(row) for row in rows)


# Plain text


def add_plain_text_segments(text: str, collector: SegmentCollector) -> None:
    """Blank-line separated paragraphs become Text; lines that look like list items ListItem."""
    for block in BLANK_LINES.split(text):
        paragraph: list[str] = []
        items: list[tuple[str, list[str]]] = []  # (marker, lines)
        for line in block.split("\n"):
            marker = LIST_ITEM_LINE.match(line)
            if marker:
                items.append((marker.group(0).strip(), [line[marker.end():].strip()]))
            elif items:
                items[-1][1].append(line.strip())
            else:
                paragraph.append(line.rstrip())
        add_plain_paragraph("\n".join(paragraph).strip(), collector)
        for marker, lines in items:
            add_plain_list_item(marker, "\n".join(lines).strip(), collector)


def add_plain_paragraph(text: str, collector: SegmentCollector) -> None:
    """A Text segment for a paragraph of plain text."""
    collector.add("Text", text, *paragraph_markup(text))


def add_plain_list_item(marker: str, text: str, collector: SegmentCollector) -> None:
    """A ListItem segment for one plain-text list line (and its continuation lines)."""
    number = LIST_ITEM_LINE.match(marker + " x")
    ordinal = int(number.group(1)) if number and number.group(1) else None
    collector.add("ListItem", text, *list_item_markup(ordinal)(text), list_item_markup(ordinal))


def list_item_html(ordinal: int | None, inner_html: str) -> str:
    """A standalone one-item list: bulleted, or numbered from `ordinal`."""
    if ordinal is None:
        return f"<ul><li>{inner_html}</li></ul>"
    start = "" if ordinal == 1 else f' start="{ordinal}"'
    return f"<ol{start}><li>{inner_html}</li></ol>"


def list_item_markdown(ordinal: int | None, body: str) -> str:
    """A Markdown list item, continuation lines indented under its marker."""
    marker = "-" if ordinal is None else f"{ordinal}."
    return f"{marker} " + body.replace("\n", "\n" + " " * (len(marker) + 1))


# Cutting long text


def cut_text(text: str, excess: Callable[[str], float]) -> Iterator[str]:
    """`text` in pieces, in order, each with `excess(piece)` at most 1 (a single character
    whatever its excess), cut at the last blank line, else line end, else sentence end, else
    space in reach, else between characters, at most LONG_WORD_CHARS of a word at a time. The
    reach follows the sizes measured, so the work is linear in the text's length."""
    position, reach = 0, MAX_SEGMENT_CHARS
    while position < len(text):
        if len(text) - position <= min(reach, LONG_WORD_CHARS):
            end = len(text)
        elif NO_SPACE.fullmatch(text, position, position + LONG_WORD_CHARS + 1):
            end = position + LONG_WORD_CHARS  # a long "word": short pieces are counted fast, if at all
        else:
            end = len(text) if len(text) - position <= reach else last_break(text, position, position + reach)
        piece = text[position:end].strip()
        over = excess(piece) if piece else 0.0
        if over <= 1 or end - position == 1:
            if piece:
                yield piece
            reach = next_reach(end - position, over, MAX_SEGMENT_CHARS)
            position = end
        else:
            reach = max(1, min(end - position - 1, int((end - position) / over * 0.9)))


def next_reach(taken: int, over: float, most: int) -> int:
    """How much to try next after `taken` (characters or rows) measured `over` of the largest."""
    return most if over <= 0.05 else max(1, min(most, int(taken / over * 0.95)))


def last_break(text: str, start: int, end: int) -> int:
    """Where to end a piece of text[start:end]: after the coarsest break in its second half,
    else after the last break of any kind, else at `end`."""
    fallback = 0
    for pattern in LAST_BREAKS:
        found = pattern.match(text, start, end)  # `.+` first: the last break, found from the end
        cut = found.end() - start if found else 0
        if cut > (end - start) // 2:
            return start + cut
        fallback = max(fallback, cut)
    return start + fallback if fallback else end


def paragraph_markup(text: str) -> tuple[str, str]:
    """The html and markdown of a paragraph of plain text."""
    return "<p>" + html_escaping.escape(text).replace("\n", "<br>") + "</p>", text


def heading_markup(level: int) -> Rebuild:
    """The html and markdown of a heading's plain text."""
    return lambda text: (f"<h{level}>{html_escaping.escape(text)}</h{level}>", "#" * level + " " + text.replace("\n", " "))


def list_item_markup(ordinal: int | None) -> Rebuild:
    """The html and markdown of a list item's plain text."""
    return lambda text: (list_item_html(ordinal, html_escaping.escape(text).replace("\n", "<br>")),
                         list_item_markdown(ordinal, text))


def code_markup(info: str = "") -> Rebuild:
    """The html and markdown of a piece of code: a <pre> block and a fence."""
    def markup(code: str) -> tuple[str, str]:
        fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", code)), default=0) + 1)
        return f"<pre><code>{html_escaping.escape(code)}</code></pre>", f"{fence}{info}\n{code}\n{fence}"
    return markup


def table_html(rows: list[list[str]]) -> str:
    """A <table> of plain cells, the first row as header cells."""
    def row(cells: list[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html_escaping.escape(cell)}</{tag}>" for cell in cells) + "</tr>"
    return "<table>" + "".join(row(cells, "th" if index == 0 else "td") for index, cells in enumerate(rows)) + "</table>"
