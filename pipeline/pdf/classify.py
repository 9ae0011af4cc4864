"""Segment types for a page's blocks: headings, lists, captions, footnotes, formulas (running heads: running_heads.py)."""
from __future__ import annotations

import re
from collections import Counter

from pipeline.pdf.contents import split_contents
from pipeline.pdf.layout import CAPTION_START, Block, starts_list_item

PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013(\[]?\s*(?:\d{1,5}|[ivxlcdm]{1,7})\s*[-\u2013)\]]?(?:\s*(?:of|/)\s*\d{1,5})?$",
    re.IGNORECASE,
)
CAPTION_LABEL = re.compile(CAPTION_START.pattern + r"\s*[.:\u2014\u2013-]")
FOOTNOTE_MARK = re.compile(r"^(?:\d{1,3}|[*\u2020\u2021\u00a7\u00b6\u00b9\u00b2\u00b3])")
MATH_SYMBOLS = set("=+\u2212\u00b1\u00d7\u00f7\u2211\u220f\u222b\u221a\u221e\u2202\u2207\u2264\u2265\u2260\u2248\u2208\u2200\u2203"
                   "\u03b1\u03b2\u03b3\u03b4\u03b5\u03b8\u03bb\u03bc\u03c0\u03c3\u03c6\u03c9\u0394\u03a3\u03a9^_")
MARGIN_SHARE = 0.09  # top and bottom share of the page where running headers and footers sit


class BodySize:
    """The most common text size seen so far in the document, weighted by words."""

    def __init__(self):
        self.counts: Counter[float] = Counter()
        self.chars = self.mono_chars = 0

    def add(self, lines) -> None:
        """Count a page's lines."""
        for line in lines:
            self.counts[round(line.size * 2) / 2] += len(line.words)
            self.chars += line.chars
            self.mono_chars += line.mono_chars

    def value(self, default: float) -> float:
        """The body text size, or `default` before any text was seen."""
        if not self.counts:
            return default
        return self.counts.most_common(1)[0][0]

    def mono_share(self) -> float | None:
        """The share of the text seen so far set in a monospace font (layout: in a document typed
        in one, monospace is no sign of code); None before any text was seen."""
        if not self.counts:
            return None
        return self.mono_chars / self.chars if self.chars else 0.0


def classify_blocks(blocks: list[Block], page_height: float, body: float, title_allowed: bool) -> bool:
    """Set each block's kind in place; True when a Title was given out. The list changes in place
    too: a table of contents is split into its entries, and blocks wholly off the page (above,
    below or left of it) are dropped."""
    margins = (page_height * MARGIN_SHARE, page_height * (1 - MARGIN_SHARE))
    blocks[:] = [block for block in split_contents(blocks, *margins)
                 if block.box[3] > 0 and block.box[1] < page_height and block.box[2] > 0]
    regions = [block for block in blocks if block.region is not None]
    headings = [block for block in blocks if block.region is None and not block.role and is_heading(block, body)]
    title = None
    if title_allowed and headings:
        largest = max(headings, key=lambda block: block.size)
        if largest.size >= 1.45 * body and largest.box[1] < 0.5 * page_height:
            title = largest
    for block in blocks:
        if block.region is not None or block.role == "contents":
            continue
        block.kind = block_kind(block, page_height, body, regions, block in headings)
        if block.role == "code" and block.kind not in ("PageHeader", "PageFooter"):
            block.kind = "Text"  # whatever it would read as in prose (a formula, a list item)
        if block is title:
            block.kind, block.level = "Title", 1
        elif block.kind == "SectionHeader":
            block.level = 2 if block.size >= 1.35 * body else 3
    return title is not None


def block_kind(block: Block, page_height: float, body: float, regions: list[Block], heading: bool) -> str:
    """The segment type of one text block."""
    text = block.text.strip()
    left, top, right, bottom = block.box
    in_top = bottom <= page_height * MARGIN_SHARE
    in_bottom = top >= page_height * (1 - MARGIN_SHARE)
    if (in_top or in_bottom) and PAGE_NUMBER.match(text):
        return "PageHeader" if in_top else "PageFooter"
    if CAPTION_START.match(text) and len(block.lines) <= 6 and (
        CAPTION_LABEL.match(text) or any(near(block, region, body) for region in regions)
    ):
        return "Caption"
    if is_formula(block):
        return "Formula"
    if heading:
        return "SectionHeader"
    if starts_list_item(block.lines[0]):
        return "ListItem"
    if (block.size <= 0.88 * body and top >= 0.55 * page_height and FOOTNOTE_MARK.match(text)
            and any(char.isalpha() for char in text[1:])):  # a mark alone (a listing's line number) is no note
        return "Footnote"
    return "Text"


def is_heading(block: Block, body: float) -> bool:
    """Short, larger or bold text that does not read like a sentence."""
    if len(block.lines) > 3:
        return False
    text = block.text.strip()
    words = text.split()
    if not words or len(words) > 25 or not any(map(str.isalpha, text)):
        return False
    if CAPTION_START.match(text) or is_formula(block):
        return False
    larger = block.size >= 1.18 * body
    bold = all(line.bold for line in block.lines) and block.size >= 0.95 * body
    sentence = text.endswith((".", ",", ";")) and len(words) > 8
    if starts_list_item(block.lines[0]) and not larger:
        return False
    return (larger or bold) and not sentence


def is_formula(block: Block) -> bool:
    """Text set mostly in math fonts, or a short line dense with math symbols."""
    if len(block.lines) > 4:
        return False
    words = block.words
    if any(word.math for word in words):
        chars = sum(len(word.text) for word in words) or 1
        math_chars = sum(len(word.text) for word in words if word.math and word.text.strip(".,"))
        if math_chars / chars >= 0.4:
            return True
    text = block.text
    if "=" not in text:
        return False
    symbols = sum(1 for char in text if char in MATH_SYMBOLS)
    letters = sum(1 for char in text if char.isalpha())
    return "=" in text and len(block.lines) <= 2 and symbols >= 2 and symbols >= 0.15 * max(letters, 1)


def near(block: Block, region: Block, body: float) -> bool:
    """Whether a block sits just above or below a region and overlaps it horizontally."""
    left, top, right, bottom = block.box
    r_left, r_top, r_right, r_bottom = region.box
    overlaps = min(right, r_right) - max(left, r_left) > 0
    gap = max(r_top - bottom, top - r_bottom)
    return overlaps and gap <= 4 * body
