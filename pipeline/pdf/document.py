"""Opening PDFs safely with PDFium, and wrapping images into one; PDFium is used under one lock."""
from __future__ import annotations

import io
import threading
import zlib

import pypdfium2 as pdfium
from PIL import Image

from pipeline.document import DocumentError, Limits
from pipeline.pdf.guard import check_pdf_bombs
from pipeline.pdf.limits import DEFAULT_LIMITS, check_page_count

# PDFium is not thread-safe, not even across documents: every call into it holds this lock.
PDFIUM_LOCK = threading.RLock()


def open_pdf(document: bytes, limits: Limits = DEFAULT_LIMITS) -> pdfium.PdfDocument:
    """The document opened with PDFium, refused with a clear message when it cannot be read."""
    if b"%PDF" not in document[:1024]:
        raise DocumentError("Cannot read the PDF: the file does not start like a PDF")
    check_pdf_bombs(document)
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(document)
        except pdfium.PdfiumError as error:
            if "password" in str(error).lower():
                raise DocumentError("The PDF is encrypted: it needs a password to open") from None
            raise DocumentError(f"Cannot read the PDF: the file is damaged ({error})") from None
        try:
            check_page_count(len(pdf), limits)
        except DocumentError:
            pdf.close()
            raise
    return pdf


class ImagePdf:
    """A PDF of one image per page, written as the pages come: each image is compressed when it is
    added, so an image document's frames are never all held decoded (PDFium keeps each image it is
    given raw until the document is saved: 180 MB for one 60-megapixel frame)."""

    COLOUR_SPACES = {"1": (b"/DeviceGray", 1), "L": (b"/DeviceGray", 8), "RGB": (b"/DeviceRGB", 8)}
    STRIP_BYTES = 4 * 1024 * 1024  # raw pixels compressed at a time

    def __init__(self):
        self.objects: list[bytes] = [b"", b""]  # 1: the catalog, 2: the page tree, written at the end
        self.pages: list[int] = []

    def add(self, image: Image.Image, dpi: float, jpeg: bytes | None = None) -> None:
        """One page showing `image` (1, L or RGB; or any mode, converted to RGB) sized by its DPI; its
        JPEG bytes, if it came as a JPEG of mode L or RGB, go in as they are (no second lossy encoding)."""
        if jpeg is not None and image.mode in ("L", "RGB"):
            stream, pixel_filter = jpeg, b"/DCTDecode"
        else:
            if image.mode not in self.COLOUR_SPACES:
                image = image.convert("RGB")
            stream, pixel_filter = compressed_pixels(image, self.STRIP_BYTES), b"/FlateDecode"
        colour_space, bits = self.COLOUR_SPACES[image.mode]
        width, height = image.width * 72.0 / dpi, image.height * 72.0 / dpi
        picture = self._add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s "
                            b"/BitsPerComponent %d /Filter %s /Length %d >>\nstream\n"
                            % (image.width, image.height, colour_space, bits, pixel_filter, len(stream))
                            + stream + b"\nendstream")
        drawing = b"q %.4f 0 0 %.4f 0 0 cm /Im0 Do Q" % (width, height)
        contents = self._add(b"<< /Length %d >>\nstream\n" % len(drawing) + drawing + b"\nendstream")
        self.pages.append(self._add(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.4f %.4f] /Resources << /XObject << /Im0 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (width, height, picture, contents)))

    def _add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def finish(self) -> bytes:
        """The PDF's bytes."""
        self.objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
        self.objects[1] = b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
            len(self.pages), b" ".join(b"%d 0 R" % number for number in self.pages))
        out = io.BytesIO()
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(out.tell())
            out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
        xref = out.tell()
        out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1))
        out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
        out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(self.objects) + 1, xref))
        return out.getvalue()


def compressed_pixels(image: Image.Image, strip_bytes: int) -> bytes:
    """An image's raw pixels (rows padded to whole bytes, as PDF wants them) Flate-compressed a
    strip of rows at a time, so no second full-size copy is made."""
    compressor = zlib.compressobj(6)
    row_bytes = (image.width * {"1": 1, "L": 8, "RGB": 24}[image.mode] + 7) // 8
    rows = max(strip_bytes // max(row_bytes, 1), 1)
    parts = [compressor.compress(image.crop((0, top, image.width, min(top + rows, image.height))).tobytes())
             for top in range(0, image.height, rows)]
    parts.append(compressor.flush())
    return b"".join(parts)


def images_to_pdf(frames: list[tuple[Image.Image, bytes | None, float]]) -> bytes:
    """One PDF page per (image, its JPEG bytes if it came as JPEG, DPI), sized by the DPI."""
    pdf = ImagePdf()
    for image, jpeg, dpi in frames:
        pdf.add(image, dpi, jpeg)
    return pdf.finish()
