"""Page images and segment crops: rendering with PDFium, and encoding off the main thread."""
from __future__ import annotations

import ctypes
import io
import math
from concurrent.futures import Future, ThreadPoolExecutor

import pypdfium2.raw as pdfium_c
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


# Bitmap calls that hold the GIL (PYFUNCTYPE): they are quick, and a thread that gave the GIL up
# around each call could wait up to the switch interval (5 ms) to get it back from a busy thread.
# Only the render itself, the slow call, lets the GIL go.
create_bitmap = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                  ctypes.c_int)(ctypes.cast(pdfium_c.FPDFBitmap_CreateEx, ctypes.c_void_p).value)
destroy_bitmap = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)(
    ctypes.cast(pdfium_c.FPDFBitmap_Destroy, ctypes.c_void_p).value
)
render_into_bitmap = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_int, ctypes.c_int, ctypes.c_int)(
    ctypes.cast(pdfium_c.FPDF_RenderPageBitmap, ctypes.c_void_p).value
)
WHITE = b"\xff"


def render_whole_page(page, size: tuple[int, int]) -> Image.Image:
    """The whole page as an RGBX image of `size` pixels, as render_page draws it, in one call into PDFium."""
    width, height = size
    stride = width * 4
    pixels = bytearray(WHITE) * (stride * height)  # white paper; the X byte is unused
    address = ctypes.addressof((ctypes.c_char * len(pixels)).from_buffer(pixels))
    bitmap = create_bitmap(width, height, pdfium_c.FPDFBitmap_BGRx, address, stride)
    if not bitmap:
        raise MemoryError("PDFium could not make the page bitmap")
    try:
        page_address = ctypes.cast(page.raw, ctypes.c_void_p).value
        render_into_bitmap(bitmap, page_address, 0, 0, width, height, 0,
                           pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_REVERSE_BYTE_ORDER)
    finally:
        destroy_bitmap(bitmap)
    return Image.frombuffer("RGBX", (width, height), pixels, "raw", "RGBX", stride, 1)


def page_pixels(width: float, height: float, scale: float) -> tuple[int, int]:
    """The pixel size of a page image of a page this size (in points, as turned) at this scale."""
    return math.ceil(width * scale), math.ceil(height * scale)


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
    """Encodes the images the pipeline keeps (scanned and image pages) on a helper thread (PIL lets the GIL go)."""

    # At most two images wait at a time, so memory stays bounded on long documents.
    def __init__(self, files: dict[str, tuple[str, bytes]]):
        self.files = files
        self.pending: list[tuple[str, str, Future]] = []
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="page-encoder")

    def submit(self, name: str, image: Image.Image, fmt: str = "JPEG") -> None:
        """Queue one image to be stored as `name`."""
        self._make_room()
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        self.pending.append((name, mime, self.executor.submit(encode_image, image, fmt)))

    def finish_pending(self) -> None:
        """Wait until every queued image is stored in `files`."""
        while self.pending:
            self._collect_one()

    def _make_room(self) -> None:
        while len(self.pending) >= 2:
            self._collect_one()

    def _collect_one(self) -> None:
        name, mime, future = self.pending.pop(0)
        self.files[name] = (mime, future.result())

    def finish(self) -> None:
        """Wait for every queued image and stop the helper threads."""
        try:
            self.finish_pending()
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
