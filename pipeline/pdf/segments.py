"""Segment dicts of SPEC.md §7 from typed blocks: boxes, text, HTML, Markdown and OCR entries."""
from __future__ import annotations

import html
import random
import re
from collections.abc import Callable

from pipeline.pdf.code import code_markup, code_text
from pipeline.pdf.contents import entry_text
from pipeline.pdf.layout import LIST_MARKER, Block
from pipeline.pdf.text import Word, same_box

ToImage = Callable[[tuple], tuple]
# uuid.UUID(version=4): the variant (RFC 4122) and version bits cleared, then set.
VERSION_MASK = ~((0xC000 << 48) | (0xF000 << 64))
VERSION_4 = (0x8000 << 48) | (4 << 76)
NUMBERED = re.compile(r"^\(?(\d{1,3})[.)]$")


def box_dict(left: float, top: float, right: float, bottom: float) -> dict:
    """A bbox of SPEC.md §7, in tenths of a pixel (int arithmetic: round() is slow per word); the
    size is the rounded right less the rounded left, so that a box clipped to the page stays in it."""
    left_tenths, top_tenths = int(left * 10 + 0.5), int(top * 10 + 0.5)
    right_tenths, bottom_tenths = int(right * 10 + 0.5), int(bottom * 10 + 0.5)
    return {
        "left": left_tenths / 10, "top": top_tenths / 10,
        "width": (right_tenths - left_tenths) / 10 if right_tenths > left_tenths else 0.0,
        "height": (bottom_tenths - top_tenths) / 10 if bottom_tenths > top_tenths else 0.0,
    }


def clip(box: tuple, width: float, height: float) -> tuple[float, float, float, float]:
    """A (left, top, right, bottom) box cut to the page's 0..width, 0..height (text that runs off it)."""
    left, top, right, bottom = box
    return (min(max(left, 0.0), width), min(max(top, 0.0), height),
            min(max(right, 0.0), width), min(max(bottom, 0.0), height))


def within(box: tuple, width: float, height: float) -> bool:
    """Whether a (left, top, right, bottom) box lies on the page."""
    return box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height


def ocr_entries(words: list[Word], to_image: ToImage = same_box, page: dict | None = None) -> list[dict]:
    """The `ocr` list of a segment: each word or OCR line with its box (in image pixels) and
    confidence; with the `page`, boxes are clipped to it and a word wholly off it is left out."""
    if page is not None:
        width, height = page["page_width"], page["page_height"]
        boxes = [to_image((word.left, word.top, word.right, word.bottom)) for word in words]
        if not all(within(box, width, height) for box in boxes):
            entries = []
            for word, box in zip(words, boxes):
                left, top, right, bottom = clip(box, width, height)
                if right > left and bottom > top:
                    entries.append({"bbox": box_dict(left, top, right, bottom), "text": word.text,
                                    "confidence": word.confidence})
            return entries
    # box_dict written out inline: this runs once per word of every page under ocr_strategy=All.
    if to_image is same_box:
        return [{"bbox": {"left": int(word.left * 10 + 0.5) / 10, "top": int(word.top * 10 + 0.5) / 10,
                          "width": int((word.right - word.left) * 10 + 0.5) / 10 if word.right > word.left else 0.0,
                          "height": int((word.bottom - word.top) * 10 + 0.5) / 10 if word.bottom > word.top else 0.0},
                 "text": word.text, "confidence": word.confidence} for word in words]
    entries = []
    for word in words:
        left, top, right, bottom = to_image((word.left, word.top, word.right, word.bottom))
        width, height = right - left, bottom - top
        entries.append({"bbox": {"left": int(left * 10 + 0.5) / 10, "top": int(top * 10 + 0.5) / 10,
                                 "width": int(width * 10 + 0.5) / 10 if width > 0 else 0.0,
                                 "height": int(height * 10 + 0.5) / 10 if height > 0 else 0.0},
                        "text": word.text, "confidence": word.confidence})
    return entries


def new_segment_id() -> str:
    """A random (version 4) UUID; ids need to be unique, not secret, and os.urandom is slow here.
    The bits uuid.UUID(int=..., version=4) sets, written out: building the object costs more."""
    bits = random.getrandbits(128) & VERSION_MASK | VERSION_4
    hexadecimal = f"{bits:032x}"
    return (f"{hexadecimal[:8]}-{hexadecimal[8:12]}-{hexadecimal[12:16]}-{hexadecimal[16:20]}-"
            f"{hexadecimal[20:]}")


def new_segment(segment_type: str, box: tuple, page: dict, text: str, words: list[Word], with_ocr: bool,
                to_image: ToImage = same_box) -> dict:
    """A segment of one page, with confidence from its OCR words when it has any; boxes go to image
    pixels, clipped to the page (text can run off it)."""
    scores = [word.confidence for word in words if word.confidence is not None]
    width, height = page["page_width"], page["page_height"]
    image_box = to_image(box)
    inside = within(image_box, width, height)
    return {
        "segment_id": new_segment_id(),
        "segment_type": segment_type,
        "bbox": box_dict(*(image_box if inside else clip(image_box, width, height))),
        "page_number": page["page_number"],
        "page_width": width,
        "page_height": height,
        "confidence": round(sum(scores) / len(scores), 4) if scores else None,
        "text": text,
        "html": "",
        "markdown": "",
        "image": None,
        "ocr": (ocr_entries(words, to_image) if inside else ocr_entries(words, to_image, page)) if with_ocr else [],
    }


def block_segment(block: Block, page: dict, with_ocr: bool, to_image: ToImage = same_box) -> dict:
    """The segment of one block, markup included."""
    if block.kind == "Table" and block.region is not None:
        table = block.region.payload
        segment = new_segment("Table", block.box, page, table.text(), block.words, with_ocr, to_image)
        segment["html"], segment["markdown"] = table.html(), table.markdown()
        return segment
    text = block_text(block)
    segment = new_segment(block.kind, block.box, page, text, block.words, with_ocr, to_image)
    if block.role == "code" and block.kind == "Text":
        segment["html"], segment["markdown"] = code_markup(text)
    else:
        render_markup(segment, block.level)
    return segment


def block_text(block: Block) -> str:
    """A block's text: code keeps its lines and indentation, a contents entry drops its leaders."""
    if block.role == "code" and block.kind == "Text":
        return code_text(block.lines)
    if block.role == "contents":
        return entry_text(block.text)
    return block.text.strip()


def render_markup(segment: dict, level: int = 2) -> None:
    """Fill `html` and `markdown` of a non-table segment from its type and text."""
    kind, text = segment["segment_type"], segment["text"]
    escaped, md = html.escape(text), escape_markdown(text)
    if kind == "Title":
        segment["html"], segment["markdown"] = f"<h1>{escaped}</h1>", f"# {md}"
    elif kind == "SectionHeader":
        segment["html"], segment["markdown"] = f"<h{level}>{escaped}</h{level}>", f"{'#' * level} {md}"
    elif kind == "ListItem":
        segment["html"], segment["markdown"] = list_item_markup(text)
    elif kind == "Picture":
        alt = html.escape(text or "Picture", quote=True)
        segment["html"], segment["markdown"] = f'<img alt="{alt}" />', f"![{escape_markdown(text or 'Picture')}]()"
    elif kind == "Caption":
        segment["html"], segment["markdown"] = f'<span class="caption">{escaped}</span>', f"_{md}_"
    elif kind == "Formula":
        segment["html"], segment["markdown"] = f'<span class="formula">{escaped}</span>', f"$${text}$$"
    elif kind == "Footnote":
        segment["html"], segment["markdown"] = f'<span class="footnote">{escaped}</span>', md
    elif kind in ("PageHeader", "PageFooter"):
        css = "page-header" if kind == "PageHeader" else "page-footer"
        segment["html"], segment["markdown"] = f'<div class="{css}">{escaped}</div>', md
    else:
        segment["html"], segment["markdown"] = f"<p>{escaped}</p>", md


def list_item_markup(text: str) -> tuple[str, str]:
    """HTML and Markdown of one list item, numbered or bulleted by its marker."""
    marker, _, rest = text.partition(" ")
    if not LIST_MARKER.match(marker):
        return f"<ul><li>{html.escape(text)}</li></ul>", f"- {escape_markdown(text)}"
    number = NUMBERED.match(marker)
    if number:
        start = int(number.group(1))
        return (f'<ol start="{start}"><li>{html.escape(rest)}</li></ol>',
                f"{start}. {escape_markdown(rest)}")
    return f"<ul><li>{html.escape(rest)}</li></ul>", f"- {escape_markdown(rest)}"


def escape_markdown(text: str) -> str:
    """Text with the characters that would turn into Markdown syntax escaped."""
    # str.replace, backslashes first (the others add backslashes): re.sub costs ten times as much.
    return (text.replace("\\", "\\\\").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_")
            .replace("[", "\\[").replace("]", "\\]"))


def page_segment(blocks: list[Block], page: dict, words: list[Word], with_ocr: bool,
                 to_image: ToImage = same_box) -> dict:
    """The one `Page` segment of a page under segmentation_strategy=Page."""
    rendered = [block_segment(block, page, False) for block in blocks]
    segment = new_segment(
        "Page", (0, 0, page["page_width"], page["page_height"]), page,
        "\n\n".join(part["text"] for part in rendered if part["text"]), words, False,
    )
    if with_ocr:
        segment["ocr"] = ocr_entries(words, to_image, page)
    segment["html"] = '<div class="page">' + "".join(part["html"] for part in rendered) + "</div>"
    segment["markdown"] = "\n\n".join(part["markdown"] for part in rendered if part["markdown"])
    return segment
