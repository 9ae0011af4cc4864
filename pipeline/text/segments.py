"""Segments of text documents: the collector, builders shared by every format, and plain text."""
from __future__ import annotations

import html as html_escaping
import re
import uuid

LIST_ITEM_LINE = re.compile(r"^\s*(?:[-*+\u2022]|(\d{1,9})[.)])\s+(?=\S)")
BLANK_LINES = re.compile(r"\n[ \t]*\n")


class SegmentCollector:
    """Segments in reading order; the first h1 becomes the Title, other headings SectionHeaders."""

    def __init__(self) -> None:
        self.segments: list[dict] = []
        self.has_title = False

    def add(self, segment_type: str, text: str, html: str, markdown: str) -> None:
        """Append a segment unless it has no text at all."""
        if text.strip():
            self.segments.append(text_segment(segment_type, text, html, markdown.strip()))

    def add_heading(self, level: int, text: str, html: str, markdown: str) -> None:
        """Append a heading as Title (the first h1) or SectionHeader."""
        is_title = level == 1 and not self.has_title and bool(text.strip())
        self.has_title = self.has_title or is_title
        self.add("Title" if is_title else "SectionHeader", text, html, markdown)


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
    html = "<p>" + html_escaping.escape(text).replace("\n", "<br>") + "</p>"
    collector.add("Text", text, html, text)


def add_plain_list_item(marker: str, text: str, collector: SegmentCollector) -> None:
    """A ListItem segment for one plain-text list line (and its continuation lines)."""
    number = LIST_ITEM_LINE.match(marker + " x")
    ordinal = int(number.group(1)) if number and number.group(1) else None
    html = list_item_html(ordinal, html_escaping.escape(text).replace("\n", "<br>"))
    collector.add("ListItem", text, html, list_item_markdown(ordinal, text))


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
