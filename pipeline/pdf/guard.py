"""A scan of a PDF's raw streams for decompression bombs, before PDFium is let near them.

PDFium inflates a page's content stream whole and builds an object for every drawing
operator, so a few hundred kilobytes of compressed spaces or path operators cost it
gigabytes of memory. Inflating each stream here, with a bounded buffer, finds those first.
"""
from __future__ import annotations

import re
import zlib

from pipeline.document import DocumentError

STREAM_START = re.compile(rb"stream\r?\n")
DICT_WINDOW = 4096  # bytes before `stream` searched for the stream's dictionary
MAX_CONTENT_BYTES = 24 * 1024 * 1024  # one inflated non-image stream (content, fonts, objects)
MAX_IMAGE_BYTES = 256 * 1024 * 1024  # one inflated image stream
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all streams together
MAX_IMAGE_PIXELS = 200_000_000  # declared /Width x /Height of one image
CHUNK = 1024 * 1024
NUMBER = rb"\s*(\d{1,12})"


def check_pdf_bombs(document: bytes) -> None:
    """Raise DocumentError if a stream inflates, or an image claims, far beyond sane sizes."""
    total = 0
    for match in STREAM_START.finditer(document):
        header = stream_header(document, match.start())
        if header is None:
            continue
        is_image = re.search(rb"/Subtype\s*/Image", header) is not None
        if is_image:
            check_image_size(header)
        if b"/FlateDecode" not in header and b"/Fl " not in header and b"/Fl]" not in header:
            continue
        limit = MAX_IMAGE_BYTES if is_image else MAX_CONTENT_BYTES
        size = inflated_size(document, match.end(), limit + 1)
        if size > limit:
            kind = "an image" if is_image else "a content stream"
            raise DocumentError(
                f"PDF rejected as a decompression bomb: {kind} expands to over {limit // (1024 * 1024)} MB"
            )
        total += size
        if total > MAX_TOTAL_BYTES:
            raise DocumentError(
                f"PDF rejected as a decompression bomb: its streams expand to over {MAX_TOTAL_BYTES // 2**20} MB"
            )


def stream_header(document: bytes, stream_at: int) -> bytes | None:
    """The dictionary just before a `stream` keyword, or None if this is no stream start."""
    if stream_at >= 3 and document[stream_at - 3:stream_at] == b"end":
        return None
    window = document[max(0, stream_at - DICT_WINDOW):stream_at]
    start = window.rfind(b"obj")
    if start < 0 or window.rstrip()[-2:] != b">>":
        return None
    return window[start:]


def check_image_size(header: bytes) -> None:
    """Refuse an image whose declared pixel count alone is a bomb."""
    width = re.search(rb"/Width" + NUMBER, header)
    height = re.search(rb"/Height" + NUMBER, header)
    if width and height and int(width.group(1)) * int(height.group(1)) > MAX_IMAGE_PIXELS:
        raise DocumentError(
            f"PDF rejected: an image of {int(width.group(1))} x {int(height.group(1))} pixels is too large"
        )


def inflated_size(document: bytes, start: int, limit: int) -> int:
    """How many bytes a Flate stream starting at `start` inflates to, counting up to `limit`."""
    inflater = zlib.decompressobj()
    view = memoryview(document)
    size, position, step = 0, start, 16 * 1024  # most streams are small: read a little first
    try:
        while position < len(document) and size < limit and not inflater.eof:
            pending = view[position:position + step]
            position += step
            step = CHUNK
            while pending and size < limit and not inflater.eof:
                size += len(inflater.decompress(pending, CHUNK))
                pending = inflater.unconsumed_tail
    except zlib.error:
        pass  # a damaged stream: PDFium will fail on it by itself, or skip it
    return size
