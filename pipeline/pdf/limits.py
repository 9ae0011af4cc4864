"""Limits that keep one hostile document from exhausting the worker, and safe image opening."""
from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from pipeline.document import BudgetExceeded, DocumentError, Limits, without_addresses

DEFAULT_LIMITS = Limits()
MAX_PAGES = DEFAULT_LIMITS.max_pages
MAX_IMAGE_PIXELS = DEFAULT_LIMITS.max_image_pixels  # also PIL's own bomb limit while an image opens
MAX_PAGE_IMAGE_PIXELS = 12_000_000  # a rendered page image; larger pages render at a lower DPI
MAX_OCR_PIXELS = 6_000_000  # what the OCR engine is given at most per page
MAX_PAGE_POINTS = 14_400  # PDF's own largest page side (200 inches)


class Budget:
    """One document's Limits and what it has spent of them so far: the pixels decoded and rendered."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS):
        self.limits = limits
        self.pixels = 0

    def check_page_count(self, count: int) -> None:
        """Refuse documents with more pages than a task may process."""
        if count > self.limits.max_pages:
            raise BudgetExceeded(f"Document has {count} pages; at most {self.limits.max_pages} pages can be "
                                 "processed; MAX_PAGES raises the limit")
        if count <= 0:
            raise DocumentError("Document has no pages")

    def check_image(self, width: int, height: int) -> None:
        """Refuse one image or frame over the per-image pixel limit (before it is decoded)."""
        if width * height > self.limits.max_image_pixels:
            raise DocumentError(image_too_large_message(width, height, self.limits.max_image_pixels))

    def check_document_pixels(self, total: int) -> None:
        """Refuse a document known to decode to more pixels in all than its budget."""
        if total > self.limits.max_document_pixels:
            raise BudgetExceeded(document_pixels_message(self.limits.max_document_pixels))

    def spend_pixels(self, count: int) -> None:
        """Count pixels about to be decoded or rendered; past the document's budget, fail it first."""
        self.check_document_pixels(self.pixels + count)
        self.pixels += count


def check_page_count(count: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse documents with more pages than a task may process."""
    Budget(limits).check_page_count(count)


def open_image(document: bytes, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """A lazily decoded PIL image, its size checked before any pixel is decoded."""
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels  # a process-wide setting: one document runs at a time
    try:
        # Turn PIL's decompression-bomb warning into an error this function can report.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(document))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DocumentError(image_too_large_message(limit=limits.max_image_pixels)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DocumentError(f"Cannot read the image: {without_addresses(str(error))}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DocumentError("Cannot read the image: it has no pixels")
    Budget(limits).check_image(width, height)
    return image


def image_too_large_message(width: int | None = None, height: int | None = None,
                            limit: int = MAX_IMAGE_PIXELS) -> str:
    """The failure message for an image over the pixel limit."""
    size = f" ({width} x {height} pixels)" if width else ""
    return (f"Image is too large{size}: at most {megapixels(limit)} megapixels can be processed; "
            "MAX_IMAGE_PIXELS raises the limit")


def document_pixels_message(limit: int) -> str:
    """The failure message for a document over its pixel budget."""
    return (f"Document decodes to over {megapixels(limit)} megapixels in all (pages and frames together); "
            "MAX_DOCUMENT_PIXELS raises the limit")


def megapixels(pixels: int) -> str:
    """A pixel count in megapixels, as a message shows it."""
    return f"{pixels / 1_000_000:g}"


def capped_scale(width_points: float, height_points: float, wanted: float, max_pixels: int) -> float:
    """The render scale closest to `wanted` that keeps the image within max_pixels."""
    if width_points <= 0 or height_points <= 0:
        raise DocumentError("Page has no area")
    if max(width_points, height_points) > MAX_PAGE_POINTS * 1.01:
        raise DocumentError(
            f"Page is {width_points:.0f} x {height_points:.0f} points, larger than PDF allows ({MAX_PAGE_POINTS})"
        )
    area = (width_points * wanted + 1) * (height_points * wanted + 1)  # PDFium rounds sizes up
    if area <= max_pixels:
        return wanted
    return wanted * (max_pixels / area) ** 0.5
