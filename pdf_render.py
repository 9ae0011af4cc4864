"""Page images and segment crops: rendering with PDFium and encoding off the main thread."""
from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

JPEG_QUALITY = 80
PAGE_SCALE_HIGH = 1.5  # 108 DPI page images with high_resolution
PAGE_SCALE_LOW = 1.0  # 72 DPI without
CROP_SCALE_HIGH = 3.0  # crops of pictures and tables re-rendered at 216 DPI with high_resolution


def page_scale(high_resolution: bool) -> float:
    """The scale (pixels per PDF point) of page images."""
    return PAGE_SCALE_HIGH if high_resolution else PAGE_SCALE_LOW


def render_page(page, scale: float, crop: tuple[float, float, float, float] = (0, 0, 0, 0)) -> Image.Image:
    """The page (or a part of it) as an RGB or RGBX image."""
    # RGBX shares the buffer PIL gets (plain RGB would be copied twice); JPEG can encode it as is.
    bitmap = page.render(scale=scale, crop=crop, rev_byteorder=True, prefer_bgrx=True, draw_annots=True)
    try:
        image = bitmap.to_pil()  # keeps the Python-owned pixel buffer alive after the bitmap closes
    finally:
        bitmap.close()  # now, under the caller's PDFium lock, rather than in a finalizer on any thread
    return image if image.mode in ("RGB", "RGBX") else image.convert("RGB")


def encode_image(image: Image.Image, fmt: str = "JPEG") -> bytes:
    """An image as JPEG (or PNG) bytes."""
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=3)
    else:
        (image if image.mode in ("RGB", "RGBX", "L") else image.convert("RGB")).save(
            buffer, "JPEG", quality=JPEG_QUALITY
        )
    return buffer.getvalue()


class BackgroundEncoder:
    """Encodes page images on one helper thread (PIL releases the GIL while encoding)."""

    # At most two images wait at a time, so memory stays bounded on long documents.
    def __init__(self, files: dict[str, tuple[str, bytes]]):
        self.files = files
        self.pending: list[tuple[str, str, Future]] = []
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-encoder")

    def submit(self, name: str, image: Image.Image, fmt: str = "JPEG") -> None:
        """Queue one image to be stored as `name`."""
        while len(self.pending) >= 2:
            self._collect_one()
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        self.pending.append((name, mime, self.executor.submit(encode_image, image, fmt)))

    def _collect_one(self) -> None:
        name, mime, future = self.pending.pop(0)
        self.files[name] = (mime, future.result())

    def finish(self) -> None:
        """Wait for every queued image and stop the helper thread."""
        try:
            while self.pending:
                self._collect_one()
        finally:
            self.executor.shutdown(wait=True, cancel_futures=True)


def crop_box(image: Image.Image, box: tuple[float, float, float, float], margin: float = 2.0) -> Image.Image:
    """The part of an image inside a box (left, top, right, bottom), with a small margin."""
    left, top, right, bottom = box
    return image.crop((
        max(int(left - margin), 0), max(int(top - margin), 0),
        min(int(right + margin + 1), image.width), min(int(bottom + margin + 1), image.height),
    ))


def render_crop(page, page_size: tuple[float, float], box: tuple, page_scale_used: float, scale: float) -> Image.Image:
    """A box of the page image re-rendered from the PDF at a higher scale."""
    width, height = page_size  # points, after rotation
    left, top, right, bottom = (value / page_scale_used for value in box)
    crop = (max(left - 1, 0), max(height - bottom - 1, 0), max(width - right - 1, 0), max(top - 1, 0))
    return render_page(page, scale, crop)
