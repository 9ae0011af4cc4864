"""HTML documents and fragments as segments, through Beautiful Soup and markdownify."""
from __future__ import annotations

import re
from functools import lru_cache

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from bs4.exceptions import ParserRejectedMarkup
from markdownify import MarkdownConverter

from pipeline.text.segments import (
    SegmentCollector,
    add_plain_text_segments,
    code_markup,
    escape_table_cell,
    list_item_html,
    list_item_markdown,
    list_item_markup,
)

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


def add_html_segments(markup: str, collector: SegmentCollector) -> None:
    """Add the segments of an HTML document or fragment."""
    try:
        soup = html_soup(markup)
    except ParserRejectedMarkup:  # e.g. a broken "<![" declaration: keep the text as it is
        add_plain_text_segments(markup, collector)
        return
    add_html_children(soup.body or soup, collector, tags_holding_blocks(soup))


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


def add_html_children(container: Tag, collector: SegmentCollector, holding: set[int]) -> None:
    """Add a container's block children in order; runs of inline content between them are Text."""
    run: list = []
    for child in container.children:
        if isinstance(child, PreformattedString) or (isinstance(child, Tag) and child.name in SKIPPED_TAGS):
            continue
        if isinstance(child, NavigableString) or not is_block(child, holding):
            run.append(child)
            continue
        add_html_run(run, collector)
        run = []
        add_html_block(child, collector, holding)
    add_html_run(run, collector)


def tags_holding_blocks(soup: BeautifulSoup) -> set[int]:
    """The ids of the tags with a block element somewhere inside, found in one pass up from each
    block (asking each tag in turn would search every tag's descendants again: a document of
    nested inline tags took seconds per kilobyte)."""
    holding: set[int] = set()
    for block in soup.find_all(BLOCK_TAG_NAMES):
        parent = block.parent
        while parent is not None and id(parent) not in holding:
            holding.add(id(parent))
            parent = parent.parent
    return holding


def is_block(tag: Tag, holding: set[int]) -> bool:
    """Whether a tag is a block, or an inline tag wrapped around blocks."""
    return tag.name in BLOCK_TAGS or id(tag) in holding


def add_html_block(tag: Tag, collector: SegmentCollector, holding: set[int]) -> None:
    """Add the segments of one block element."""
    if tag.name in HEADING_TAGS:
        collector.add_heading(HEADING_TAGS[tag.name], html_text([tag]), str(tag), nodes_to_markdown([tag]))
    elif tag.name in PARAGRAPH_TAGS or tag.name == "figcaption":
        segment_type = "Caption" if tag.name == "figcaption" else "Text"
        collector.add(segment_type, html_text([tag]), str(tag), nodes_to_markdown([tag]))
    elif tag.name == "pre":
        collector.add("Text", tag.get_text().strip("\n"), str(tag), nodes_to_markdown([tag]), code_markup())
    elif tag.name == "table":
        add_html_table(tag, collector)
    elif tag.name in LIST_TAGS:
        add_html_list(tag, collector, holding)
    elif tag.name == "li":
        add_html_list_item(tag, None, collector, holding)
    else:
        add_html_children(tag, collector, holding)


def add_html_run(nodes: list, collector: SegmentCollector) -> None:
    """A Text segment for inline content that sits between blocks."""
    text = html_text(nodes)
    if text:
        html = "<p>" + "".join(str(node) for node in nodes).strip() + "</p>"
        collector.add("Text", text, html, nodes_to_markdown(nodes))


def add_html_list(list_tag: Tag, collector: SegmentCollector, holding: set[int]) -> None:
    """One ListItem segment per item, nested lists after their parent item."""
    start = str(list_tag.get("start", "1"))
    number = int(start) if start.isdigit() else 1
    for child in list_tag.children:
        if isinstance(child, Tag) and child.name == "li":
            add_html_list_item(child, number if list_tag.name == "ol" else None, collector, holding)
            number += 1
        elif isinstance(child, Tag) and child.name not in SKIPPED_TAGS:
            add_html_block(child, collector, holding)


def add_html_list_item(item: Tag, ordinal: int | None, collector: SegmentCollector, holding: set[int]) -> None:
    """A ListItem segment for the item's own content, then its nested lists."""
    nested = [child for child in item.children if isinstance(child, Tag) and child.name in LIST_TAGS]
    own = [
        child for child in item.children
        if not isinstance(child, PreformattedString)
        and not (isinstance(child, Tag) and child.name in LIST_TAGS)
    ]
    inner_html = "".join(str(child) for child in own).strip()
    markdown = list_item_markdown(ordinal, nodes_to_markdown(own))
    collector.add("ListItem", html_text(own), list_item_html(ordinal, inner_html), markdown, list_item_markup(ordinal))
    for nested_list in nested:
        add_html_list(nested_list, collector, holding)


def add_html_table(table: Tag, collector: SegmentCollector) -> None:
    """A Caption segment for its <caption>, then a Table segment: the source <table> and a pipe
    table of its cells' text, row by row in document order (cells outside any <tr> make rows of
    their own). A table with no cells at all keeps its words as Text."""
    caption = next((found for found in table.find_all("caption") if found.find_parent("table") is table), None)
    if caption is not None:
        caption.extract()  # said once, as the Caption, not again in the table
        if text := html_text([caption]):
            collector.add("Caption", text, str(caption), text)
    rows: list[list[str]] = []
    row_of_last_cell = None
    for cell in table.find_all(["td", "th"]):
        owner = cell.find_parent(["tr", "table"])
        if owner is not table and (owner.name != "tr" or owner.find_parent("table") is not table):
            continue  # a cell of a nested table: its text is in the outer cell's
        if owner is not row_of_last_cell or not rows:
            rows.append([])
            row_of_last_cell = owner
        rows[-1].append(html_text([cell]).replace("\n", " "))
    if rows:
        collector.add_table(rows, [[escape_table_cell(cell) for cell in row] for row in rows], str(table))
    elif text := html_text([table]):
        collector.add("Text", text, str(table), text)


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
