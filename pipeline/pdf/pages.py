"""What PDF and image documents share: page entries, page errors, and the last pass over every
page (running headers and footers, the crops their new types ask for)."""
from __future__ import annotations

import io
from collections.abc import Callable

import pypdfium2 as pdfium
from PIL import Image

from pipeline.document import BudgetExceeded, DocumentError, ParsedDocument, page_image_name, without_addresses
from pipeline.pdf.page import DocumentState
from pipeline.pdf.render import crop_box, encode_image
from pipeline.pdf.running_heads import mark_running_headers
from pipeline.pdf.segments import render_markup


def page_info(number: int, size: tuple[int, int], dpi: float) -> dict:
    """The `pages` entry of one page image of this size."""
    return {"image": f"file:{page_image_name(number, size)}", "page_number": number, "page_width": size[0],
            "page_height": size[1], "dpi": round(dpi, 2)}


def continues(configuration: dict) -> bool:
    """Whether a failed page is skipped (error_handling=Continue) rather than failing the document."""
    return configuration.get("error_handling", "Fail") == "Continue"


def fails_now(error: Exception, configuration: dict) -> bool:
    """Whether a page's error fails the document at once: without error_handling=Continue, or when
    the document is past one of its budgets (then every later page would be too)."""
    return not continues(configuration) or isinstance(error, BudgetExceeded)


def handle_page_error(error: Exception, number: int, configuration: dict, parsed: ParsedDocument) -> None:
    """Skip the page under error_handling=Continue, else fail the document naming the page; a
    document past a budget fails with the budget's own message."""
    if isinstance(error, BudgetExceeded):
        raise error
    reason = describe_error(error)
    if continues(configuration):
        parsed.skipped.append(f"page {number}: {reason}")
        return
    raise DocumentError(f"Failed to process page {number}: {reason}") from error


def describe_error(error: Exception) -> str:
    """A short text for why a page failed."""
    if isinstance(error, DocumentError):
        return without_addresses(str(error))
    if isinstance(error, MemoryError):
        return "out of memory"
    if isinstance(error, pdfium.PdfiumError):
        return f"the page is damaged ({without_addresses(str(error))})"
    return f"{type(error).__name__}: {without_addresses(str(error))}"


def finish_segments(per_page: list[list[dict]], state: DocumentState, parsed: ParsedDocument,
                    page_image: Callable[[int], Image.Image]) -> None:
    """Find running headers and footers across pages, then list every segment in order."""
    if not state.page_strategy:
        for segment in mark_running_headers(per_page):
            render_markup(segment)
            recrop(segment, state, page_image)
    parsed.segments = [segment for segments in per_page for segment in segments]


def stored_page_image(files: dict[str, tuple[str, bytes]], parsed: ParsedDocument, number: int) -> Image.Image:
    """A page's image as the pipeline stored it (image documents store every page's)."""
    page = next(page for page in parsed.pages if page["page_number"] == number)
    image = Image.open(io.BytesIO(files[page["image"].removeprefix("file:")][1]))
    image.load()
    return image


def recrop(segment: dict, state: DocumentState, page_image: Callable[[int], Image.Image]) -> None:
    """Give a retyped segment the cropped image its new type asks for, or take it away."""
    wanted = state.crops(segment["segment_type"])
    if segment["image"] is not None and not wanted:
        state.files.pop(segment["image"].removeprefix("file:"), None)
        segment["image"] = None
    elif segment["image"] is None and wanted:
        box = segment["bbox"]
        crop = crop_box(page_image(segment["page_number"]),
                        (box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"]))
        name = f"segment-{segment['segment_id']}.jpg"
        state.files[name] = ("image/jpeg", encode_image(crop))
        segment["image"] = f"file:{name}"
