"""Turn plain text, Markdown and HTML documents into layout segments on one virtual page."""
from __future__ import annotations

import html as html_escaping
import re
import uuid
from email.message import Message

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PreformattedString, Tag
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdownify import MarkdownConverter

from document import ParsedDocument

LIST_ITEM_LINE = re.compile(r"^\s*(?:[-*+\u2022]|(\d{1,9})[.)])\s+(?=\S)")
BLANK_LINES = re.compile(r"\n[ \t]*\n")
XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
LIST_TAGS = frozenset({"ul", "ol", "menu"})
PARAGRAPH_TAGS = frozenset({"p", "dt", "dd", "address", "summary", "legend"})
CONTAINER_TAGS = frozenset({
    "html", "body", "div", "section", "article", "main", "header", "footer", "nav", "aside",
    "form", "fieldset", "details", "figure", "blockquote", "dl", "center", "hgroup", "search",
})
SKIPPED_TAGS = frozenset({
    "head", "title", "meta", "link", "script", "style", "template", "noscript", "hr", "iframe",
    "object", "embed", "canvas", "svg", "math", "select", "textarea", "input", "button", "img",
    "video", "audio", "map",
})
BLOCK_TAGS = (
    CONTAINER_TAGS | PARAGRAPH_TAGS | LIST_TAGS | set(HEADING_TAGS)
    | {"li", "table", "pre", "figcaption"}
)


def parse_text(document: bytes, mime_type: str, configuration: dict) -> ParsedDocument:
    """Segments of a text/plain, text/markdown or text/html document, all on page 1."""
    essence = mime_type.split(";")[0].strip().lower()
    text = decode_text(document, mime_type, is_html=essence == "text/html")
    collector = SegmentCollector()
    if essence == "text/markdown":
        add_markdown_segments(text, collector)
    elif essence == "text/html" and "<" in text:
        add_html_segments(text, collector)
    else:
        add_plain_text_segments(text, collector)
    return ParsedDocument(segments=collector.segments, page_count=1)


def decode_text(document: bytes, mime_type: str, is_html: bool) -> str:
    """The document as text: declared charset, else BOM, else UTF-8; bad bytes replaced."""
    header = Message()
    header["content-type"] = mime_type
    declared = header.get_param("charset")
    encoding = declared if isinstance(declared, str) else None
    if encoding is None and is_html:
        encoding = EncodingDetector.find_declared_encoding(document[:4096], is_html=True)
    body, bom_encoding = EncodingDetector.strip_byte_order_mark(document)
    encoding = bom_encoding or encoding or "utf-8"
    try:
        text = body.decode(encoding, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    # NUL cannot be stored in PostgreSQL text or JSON; other line endings become "\n".
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


class SegmentCollector:
    """Segments in reading order; the first h1 becomes the Title, other headings SectionHeaders."""

    def __init__(self) -> None:
        self.segments: list[dict] = []
        self.has_title = False

    def add(self, segment_type: str, text: str, html: str, markdown: str) -> None:
        """Append a segment unless it has no text at all."""
        if text.strip():
            self.segments.append(text_segment(segment_type, text.strip(), html, markdown.strip()))

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
        add_plain_paragraph("\n".join(paragraph).strip("\n"), collector)
        for marker, lines in items:
            add_plain_list_item(marker, "\n".join(lines).strip(), collector)


def add_plain_paragraph(text: str, collector: SegmentCollector) -> None:
    """A Text segment for a paragraph of plain text."""
    html = "<p>" + html_escaping.escape(text.strip()).replace("\n", "<br>") + "</p>"
    collector.add("Text", text, html, text)


def add_plain_list_item(marker: str, text: str, collector: SegmentCollector) -> None:
    """A ListItem segment for one plain-text list line (and its continuation lines)."""
    number = LIST_ITEM_LINE.match(marker + " x")
    ordinal = number.group(1) if number else None
    escaped = html_escaping.escape(text).replace("\n", "<br>")
    if ordinal:
        html = f'<ol start="{int(ordinal)}"><li>{escaped}</li></ol>'
        markdown = f"{ordinal}. {text}"
    else:
        html = f"<ul><li>{escaped}</li></ul>"
        markdown = f"- {text}"
    collector.add("ListItem", text, html, markdown.replace("\n", "\n  "))
