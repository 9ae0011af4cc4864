"""Turn plain text, Markdown and HTML documents into layout segments on one virtual page."""
from __future__ import annotations

import html as html_escaping
import re
import uuid
from email.message import Message
from functools import lru_cache

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PreformattedString, Tag
from bs4.exceptions import ParserRejectedMarkup
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdownify import MarkdownConverter

from document import ParsedDocument

LIST_ITEM_LINE = re.compile(r"^\s*(?:[-*+\u2022]|(\d{1,9})[.)])\s+(?=\S)")
BLANK_LINES = re.compile(r"\n[ \t]*\n")
EXTRA_BLANK_LINES = re.compile(r"\n{3,}")
XML_DECLARATION = re.compile(r"<\?xml[^>]*>", re.IGNORECASE)
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
BLOCK_TAG_NAMES = sorted(BLOCK_TAGS)


def parse_text(document: bytes, mime_type: str, configuration: dict) -> ParsedDocument:
    """Segments of a text/plain, text/markdown or text/html document, all on page 1."""
    essence = mime_type.split(";")[0].strip().lower()
    text = decode_text(document, mime_type, is_html=essence == "text/html")
    collector = SegmentCollector()
    try:
        if essence == "text/markdown":
            add_markdown_segments(text, collector)
        elif essence == "text/html" and "<" in text:
            add_html_segments(text, collector)
        else:
            add_plain_text_segments(text, collector)
    except RecursionError:  # tags nested deeper than Python's stack: keep the words, not the layout
        collector = SegmentCollector()
        add_plain_text_segments(text_without_markup(text), collector)
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


# Markdown


class MarkdownSegmenter:
    """Walk markdown-it's block token stream and add one segment per block or list item."""

    def __init__(self, collector: SegmentCollector) -> None:
        self.collector = collector
        self.parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
        self.item: tuple[Token, list[Token]] | None = None  # open list item and its paragraphs
        self.quote_depth = 0

    def add_segments(self, source: str) -> None:
        """Add the segments of a Markdown source."""
        tokens = self.parser.parse(source)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.type not in ("inline", "paragraph_open", "paragraph_close"):
                self.flush_item()
            if token.type == "table_open":
                end = next(i for i in range(index, len(tokens)) if tokens[i].type == "table_close")
                self.add_table(tokens[index:end + 1])
                index = end
            elif token.type == "list_item_open":
                self.item = (token, [])
            elif token.type in ("blockquote_open", "blockquote_close"):
                self.quote_depth += 1 if token.type == "blockquote_open" else -1
            elif token.type == "heading_open":
                self.add_heading(token, tokens[index + 1])
            elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
                self.add_paragraph(token)
            elif token.type in ("fence", "code_block"):
                self.add_code(token)
            elif token.type == "html_block":
                add_html_segments(token.content, self.collector)
            index += 1

    def inline_html(self, inline: Token) -> str:
        """HTML of an inline token's content."""
        return self.parser.renderer.renderInline(inline.children or [], self.parser.options, {})

    def emit(self, segment_type: str, text: str, html: str, markdown: str, level: int = 0) -> None:
        """Add a segment, wrapped in the blockquotes it sits in."""
        html = "<blockquote>" * self.quote_depth + html + "</blockquote>" * self.quote_depth
        prefix = "> " * self.quote_depth
        markdown = "\n".join(prefix + line for line in markdown.split("\n"))
        if level:
            self.collector.add_heading(level, text, html, markdown)
        else:
            self.collector.add(segment_type, text, html, markdown)

    def add_heading(self, opening: Token, inline: Token) -> None:
        """A Title or SectionHeader, written as an ATX heading."""
        level = int(opening.tag[1])
        html = f"<{opening.tag}>{self.inline_html(inline)}</{opening.tag}>"
        markdown = "#" * level + " " + inline.content.replace("\n", " ")
        self.emit("SectionHeader", markdown_inline_text(inline), html, markdown, level)

    def add_paragraph(self, inline: Token) -> None:
        """A Text segment, or one more paragraph of the open list item."""
        if self.item is not None:
            self.item[1].append(inline)
            return
        self.emit("Text", markdown_inline_text(inline), f"<p>{self.inline_html(inline)}</p>", inline.content)

    def flush_item(self) -> None:
        """Add the open list item's paragraphs as one ListItem segment."""
        if self.item is None:
            return
        opening, paragraphs = self.item
        self.item = None
        if not paragraphs:
            return
        ordinal = int(opening.info) if opening.info else None  # an ordered item carries its number
        htmls = [self.inline_html(inline) for inline in paragraphs]
        html = htmls[0] if len(htmls) == 1 else "".join(f"<p>{part}</p>" for part in htmls)
        markdown = list_item_markdown(ordinal, "\n\n".join(inline.content for inline in paragraphs))
        text = "\n".join(markdown_inline_text(inline) for inline in paragraphs)
        self.emit("ListItem", text, list_item_html(ordinal, html), markdown)

    def add_table(self, tokens: list[Token]) -> None:
        """A Table segment: markdown-it's <table> and a normalised pipe table."""
        markdown_rows: list[list[str]] = []
        text_rows: list[list[str]] = []
        alignments: list[str] = []
        for token in tokens:
            if token.type == "tr_open":
                markdown_rows.append([])
                text_rows.append([])
            elif token.type == "th_open":
                alignments.append(str(token.attrs.get("style", "")).removeprefix("text-align:"))
            elif token.type == "inline":
                markdown_rows[-1].append(token.content.replace("|", "\\|"))
                text_rows[-1].append(markdown_inline_text(token))
        html = self.parser.renderer.render(tokens, self.parser.options, {}).strip()
        self.emit("Table", table_text(text_rows), html, pipe_table(markdown_rows, alignments))

    def add_code(self, token: Token) -> None:
        """A code block, kept as a Text segment with its fence and language."""
        code = token.content.rstrip("\n")
        longest_backticks = max((len(run) for run in re.findall(r"`+", code)), default=0)
        fence = "`" * max(3, longest_backticks + 1)
        html = self.parser.renderer.render([token], self.parser.options, {}).strip()
        self.emit("Text", code, html, f"{fence}{token.info.strip()}\n{code}\n{fence}")


def markdown_inline_text(inline: Token) -> str:
    """Plain text of an inline token: no markup, soft breaks as spaces, images as alt text."""
    pieces: list[str] = []
    pending = list(reversed(inline.children or []))
    while pending:
        child = pending.pop()
        if child.type in ("text", "code_inline"):
            pieces.append(child.content)
        elif child.type == "softbreak":
            pieces.append(" ")
        elif child.type == "hardbreak":
            pieces.append("\n")
        elif child.type == "image":
            pending.extend(reversed(child.children or []))
    return "".join(pieces)


def add_markdown_segments(source: str, collector: SegmentCollector) -> None:
    """Add the segments of a Markdown document."""
    MarkdownSegmenter(collector).add_segments(source)


# HTML


def add_html_segments(markup: str, collector: SegmentCollector) -> None:
    """Add the segments of an HTML document or fragment."""
    try:
        soup = html_soup(markup)
    except ParserRejectedMarkup:  # e.g. a broken "<![" declaration: keep the text as it is
        add_plain_text_segments(markup, collector)
        return
    add_html_children(soup.body or soup, collector)


def html_soup(markup: str) -> BeautifulSoup:
    """Markup parsed by the standard library's HTML parser, through Beautiful Soup."""
    # XML declarations mean nothing in HTML; they only make Beautiful Soup warn.
    return BeautifulSoup(XML_DECLARATION.sub("", markup), "html.parser")


def text_without_markup(text: str) -> str:
    """The words of a document whose markup cannot be laid out, or its raw text."""
    if "<" not in text:
        return text
    try:
        return html_soup(text).get_text("\n")
    except ParserRejectedMarkup:
        return text


def add_html_children(container: Tag, collector: SegmentCollector) -> None:
    """Add a container's block children in order; runs of inline content between them are Text."""
    run: list = []
    for child in container.children:
        if isinstance(child, PreformattedString) or (isinstance(child, Tag) and child.name in SKIPPED_TAGS):
            continue
        if isinstance(child, NavigableString) or not is_block(child):
            run.append(child)
            continue
        add_html_run(run, collector)
        run = []
        add_html_block(child, collector)
    add_html_run(run, collector)


def is_block(tag: Tag) -> bool:
    """Whether a tag is a block, or an inline tag wrapped around blocks."""
    return tag.name in BLOCK_TAGS or tag.find(BLOCK_TAG_NAMES) is not None


def add_html_block(tag: Tag, collector: SegmentCollector) -> None:
    """Add the segments of one block element."""
    if tag.name in HEADING_TAGS:
        collector.add_heading(HEADING_TAGS[tag.name], html_text([tag]), str(tag), nodes_to_markdown([tag]))
    elif tag.name in PARAGRAPH_TAGS or tag.name == "figcaption":
        segment_type = "Caption" if tag.name == "figcaption" else "Text"
        collector.add(segment_type, html_text([tag]), str(tag), nodes_to_markdown([tag]))
    elif tag.name == "pre":
        collector.add("Text", tag.get_text().strip("\n"), str(tag), nodes_to_markdown([tag]))
    elif tag.name == "table":
        add_html_table(tag, collector)
    elif tag.name in LIST_TAGS:
        add_html_list(tag, collector)
    elif tag.name == "li":
        add_html_list_item(tag, None, collector)
    else:
        add_html_children(tag, collector)


def add_html_run(nodes: list, collector: SegmentCollector) -> None:
    """A Text segment for inline content that sits between blocks."""
    text = html_text(nodes)
    if text:
        html = "<p>" + "".join(str(node) for node in nodes).strip() + "</p>"
        collector.add("Text", text, html, nodes_to_markdown(nodes))


def add_html_list(list_tag: Tag, collector: SegmentCollector) -> None:
    """One ListItem segment per item, nested lists after their parent item."""
    start = str(list_tag.get("start", "1"))
    number = int(start) if start.isdigit() else 1
    for child in list_tag.children:
        if isinstance(child, Tag) and child.name == "li":
            add_html_list_item(child, number if list_tag.name == "ol" else None, collector)
            number += 1
        elif isinstance(child, Tag) and child.name not in SKIPPED_TAGS:
            add_html_block(child, collector)


def add_html_list_item(item: Tag, ordinal: int | None, collector: SegmentCollector) -> None:
    """A ListItem segment for the item's own content, then its nested lists."""
    nested = [child for child in item.children if isinstance(child, Tag) and child.name in LIST_TAGS]
    own = [
        child for child in item.children
        if not isinstance(child, PreformattedString)
        and not (isinstance(child, Tag) and child.name in LIST_TAGS)
    ]
    inner_html = "".join(str(child) for child in own).strip()
    markdown = list_item_markdown(ordinal, nodes_to_markdown(own))
    collector.add("ListItem", html_text(own), list_item_html(ordinal, inner_html), markdown)
    for nested_list in nested:
        add_html_list(nested_list, collector)


def add_html_table(table: Tag, collector: SegmentCollector) -> None:
    """A Table segment: the source <table> and a pipe table of its cells' text."""
    rows = []
    for row in table.find_all("tr"):
        cells = row.find_all(["td", "th"], recursive=False)
        if cells and row.find_parent("table") is table:
            rows.append([html_text([cell]).replace("\n", " ") for cell in cells])
    if rows:
        markdown = pipe_table([[escape_table_cell(cell) for cell in row] for row in rows])
        collector.add("Table", table_text(rows), str(table), markdown)


def html_text(nodes: list) -> str:
    """Plain text of HTML nodes: whitespace collapsed, line breaks at <br> and blocks."""
    pieces: list[str] = []
    for node in nodes:
        for item in [node, *node.descendants] if isinstance(node, Tag) else [node]:
            if isinstance(item, Tag):
                if item.name == "br" or item.name in BLOCK_TAGS or item.name == "tr":
                    pieces.append("\n")
                elif item.name in ("td", "th"):
                    pieces.append(" ")
            elif not isinstance(item, PreformattedString) and item.parent.name not in SKIPPED_TAGS:
                pieces.append(str(item))
    lines = (" ".join(line.split()) for line in "".join(pieces).split("\n"))
    return "\n".join(line for line in lines if line)


@lru_cache(maxsize=1)
def markdown_converter() -> MarkdownConverter:
    """markdownify's converter, built once: it keeps no state between conversions."""
    return MarkdownConverter(heading_style="atx", bullets="-")


def nodes_to_markdown(nodes: list) -> str:
    """Markdown of parsed HTML nodes, by markdownify."""
    markdown = "".join(markdown_converter().process_element(node) for node in nodes)
    return EXTRA_BLANK_LINES.sub("\n\n", markdown).strip()
