"""The hostile inputs of issue 13, made on the spot: each is small to send and costly to process.

Run: not by itself; imported by `python -m bench.hostile` (and usable from tests).
"""
from __future__ import annotations

import io
import zlib

from PIL import Image


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF of numbered objects (object 1 the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def blank_pages_pdf(pages: int = 4999) -> bytes:
    """`pages` blank US-letter pages that all share one empty content stream (about 600 KB)."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids),
               b"<< /Length 0 >>\nstream\n\nendstream"]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * pages
    return pdf_from_objects(objects)


def million_strokes_pdf(strokes: int = 1_000_000) -> bytes:
    """One page: a line of text and `strokes` stroked line segments, compressed (a few MB)."""
    drawing = b"".join(b"%d %d m %d %d l S\n" % (n % 500, n % 700, n % 500 + 3, n % 700 + 2)
                       for n in range(strokes))
    content = b"BT /F1 12 Tf 72 740 Td (One line of text above a great many strokes.) Tj ET\n" + drawing
    packed = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count 1 /Kids [3 0 R] >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return pdf_from_objects(objects)


def tiff(frames: list[Image.Image], compression: str) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression=compression)
    return buffer.getvalue()


def big_frames_tiff(frames: int = 6, size: tuple[int, int] = (7000, 8500)) -> bytes:
    """`frames` bilevel fax frames of 7000 x 8500 (59.5 megapixels each), CCITT G4: a few hundred KB."""
    page = Image.new("1", size, 1)
    for y in range(0, size[1], 400):  # a little ink, so that a frame is not one colour
        page.paste(0, (300, y, size[0] - 300, y + 3))
    return tiff([page] * frames, "group4")


def tiny_frames_tiff(frames: int = 3000) -> bytes:
    """`frames` grey frames of 48 x 32 with a mark each: cheap to send, one OCR call each if not skipped."""
    images = []
    for n in range(frames):
        frame = Image.new("L", (48, 32), 255)
        frame.paste(0, (4 + n % 30, 10, 10 + n % 30, 20))
        images.append(frame)
    return tiff(images, "tiff_lzw")


def blank_frames_tiff(frames: int = 3000) -> bytes:
    """`frames` blank 8 x 8 frames: the issue's 576 KB TIFF, each frame an OCR call if not skipped."""
    return tiff([Image.new("L", (8, 8), 255)] * frames, "tiff_lzw")


def huge_png(size: tuple[int, int] = (7000, 8500)) -> bytes:
    """A 59.5-megapixel greyscale PNG of one colour: about 60 KB."""
    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def one_line_text(megabytes: int = 50) -> bytes:
    """`megabytes` MB of words on one line, no line break anywhere."""
    sentence = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. "
    return (sentence * (megabytes * 1024 * 1024 // len(sentence) + 1))[:megabytes * 1024 * 1024]


def nested_multipart_value(depth: int = 100_000) -> str:
    """A `chunk_processing` form value nested `depth` lists deep."""
    return "[" * depth + "]" * depth
