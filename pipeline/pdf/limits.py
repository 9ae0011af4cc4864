"""Limits that keep one hostile document from exhausting the worker, and safe image opening."""
from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from pipeline.document import DocumentError

MAX_PAGES = 5000
MAX_IMAGE_PIXELS = 60_000_000  # an input image (a 7,700 x 7,700 scan); PIL's own bomb limit
MAX_PAGE_IMAGE_PIXELS = 12_000_000  # a rendered page image; larger pages render at a lower DPI
MAX_OCR_PIXELS = 6_000_000  # what the OCR engine is given at most per page
MAX_PAGE_POINTS = 14_400  # PDF's own largest page side (200 inches)


def check_page_count(count: int) -> None:
    """Refuse documents with more pages than a task may process."""
    if count > MAX_PAGES:
        raise DocumentError(f"Document has {count} pages; at most {MAX_PAGES} pages can be processed")
    if count <= 0:
        raise DocumentError("Document has no pages")


def open_image(document: bytes) -> Image.Image:
    """A lazily decoded PIL image, its size checked before any pixel is decoded."""
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        # Turn PIL's decompression-bomb warning into an error this function can report.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(document))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DocumentError(image_too_large_message()) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise DocumentError(f"Cannot read the image: {error}") from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DocumentError("Cannot read the image: it has no pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise DocumentError(image_too_large_message(width, height))
    return image


def image_too_large_message(width: int | None = None, height: int | None = None) -> str:
    """The failure message for an image over the pixel limit."""
    size = f" ({width} x {height} pixels)" if width else ""
    return f"Image is too large{size}: at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels can be processed"


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
