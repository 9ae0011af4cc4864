"""Cheap documents that cost a lot to process: the attacks of issue 13 that budgets answer."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw

from bench.hostile_files import pdf_from_objects


def marked_image(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A white image with a few black marks (not uniform, so it is not skipped as blank)."""
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    width, height = size
    for step in range(1, 6):
        draw.rectangle((width * step // 7, height * step // 7, width * step // 7 + width // 20,
                        height * step // 7 + height // 40), fill="black")
    return image


def big_frames_tiff(frames: int = 6, size: tuple[int, int] = (7000, 8500)) -> bytes:
    """A multi-page TIFF of large, highly compressible frames (6 x 59.5 megapixels in about 1.5 MB)."""
    image = marked_image(size)
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", save_all=True, append_images=[image] * (frames - 1), compression="tiff_deflate")
    return buffer.getvalue()


def big_png(size: tuple[int, int] = (7000, 8500)) -> bytes:
    """One PNG of 59.5 megapixels in about 200 kB."""
    buffer = io.BytesIO()
    marked_image(size).save(buffer, "PNG", optimize=False, compress_level=9)
    return buffer.getvalue()


def tiny_frames_tiff(frames: int = 3000, size: tuple[int, int] = (8, 8), colour: str = "white") -> bytes:
    """A TIFF of many tiny one-colour frames."""
    image = Image.new("RGB", size, colour)
    buffer = io.BytesIO()
    image.save(buffer, "TIFF", save_all=True, append_images=[image] * (frames - 1))
    return buffer.getvalue()


def fax_tiff(frames: int = 20) -> bytes:
    """A fax-like TIFF: bilevel 1728 x 2200 frames (204 x 196 DPI), Group 4, with a line of text each."""
    buffer = io.BytesIO()
    pages = []
    for number in range(frames):
        page = Image.new("1", (1728, 2200), 1)
        ImageDraw.Draw(page).rectangle((200, 300 + number * 50, 1500, 340 + number * 50), fill=0)
        pages.append(page)
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], compression="group4", dpi=(204, 196))
    return buffer.getvalue()


def blank_pages_pdf(count: int = 4999, content: bytes = b"") -> bytes:
    """A PDF of `count` letter pages that all share one content stream (empty: blank pages)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{index + 4} 0 R" for index in range(count))
    objects.append(f"<< /Type /Pages /Count {count} /Kids [{kids}] >>".encode())
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>"] * count
    return pdf_from_objects(objects)
