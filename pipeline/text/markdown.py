"""Markdown documents as segments, through markdown-it-py's block token stream."""
from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.text.html import add_html_segments
from pipeline.text.segments import (
    Rebuild,
    SegmentCollector,
    add_plain_text_segments,
    code_markup,
    list_item_html,
    list_item_markdown,
    list_item_markup,
    pipe_table,
)

# markdown-it's own limit is 20 levels (a list 10 deep): past its limit it drops the rest of the
# document. 100 keeps real documents whole and stays clear of Python's recursion limit.
MAX_NESTING = 100
# What a too-deep document loses, a step at a time: indents and quote marks, then list marks too.
_FLATTENINGS = (re.compile(r"^[ \t>]+", re.M), re.compile(r"^(?:[ \t>]|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]))+", re.M))


def _too_deep(tokens: list[Token]) -> bool:
    """Whether markdown-it stopped at its nesting limit (and so dropped the rest)."""
    return max((token.level for token in tokens), default=0) >= MAX_NESTING - 1


class MarkdownSegmenter:
    """Walk markdown-it's block token stream and add one segment per block or list item."""

    def __init__(self, collector: SegmentCollector) -> None:
        self.collector = collector
        self.parser = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
        self.item: tuple[Token, list[Token]] | None = None  # open list item and its paragraphs
        self.quote_depth = 0

    def add_segments(self, source: str) -> None:
        """Add the segments of a Markdown source."""
        tokens = self.parser.parse(source)
        # Past its limit the parser drops the rest: read the document again flatter (whole, if
        # less structured), and as plain text should even that be too deep.
        for flattening in _FLATTENINGS:
            if not _too_deep(tokens):
                break
            tokens = self.parser.parse(flattening.sub("", source))
        if _too_deep(tokens):
            add_plain_text_segments(source, self.collector)
            return
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

    def emit(self, segment_type: str, text: str, html: str, markdown: str, level: int = 0,
             rebuild: Rebuild | None = None) -> None:
        """Add a segment, wrapped in the blockquotes it sits in (the pieces of one too big are
        rebuilt from its text by `rebuild`, without them)."""
        html, markdown = self.quoted(html, markdown)
        if level:
            self.collector.add_heading(level, text, html, markdown, rebuild)
        else:
            self.collector.add(segment_type, text, html, markdown, rebuild)

    def quoted(self, html: str, markdown: str) -> tuple[str, str]:
        """html and markdown wrapped in the blockquotes they sit in."""
        html = "<blockquote>" * self.quote_depth + html + "</blockquote>" * self.quote_depth
        prefix = "> " * self.quote_depth
        return html, "\n".join(prefix + line for line in markdown.split("\n"))

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
        self.emit("ListItem", text, list_item_html(ordinal, html), markdown, rebuild=list_item_markup(ordinal))

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
        html, markdown = self.quoted(self.parser.renderer.render(tokens, self.parser.options, {}).strip(),
                                     pipe_table(markdown_rows, alignments))
        self.collector.add_table(text_rows, markdown_rows, html, alignments, markdown)

    def add_code(self, token: Token) -> None:
        """A code block, kept as a Text segment with its fence and language."""
        code = token.content.rstrip("\n")
        longest_backticks = max((len(run) for run in re.findall(r"`+", code)), default=0)
        fence = "`" * max(3, longest_backticks + 1)
        html = self.parser.renderer.render([token], self.parser.options, {}).strip()
        info = token.info.strip()
        self.emit("Text", code, html, f"{fence}{info}\n{code}\n{fence}", rebuild=code_markup(info))


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
