"""Opening PDFs safely with PDFium, and wrapping images into one; PDFium is used under one lock."""
from __future__ import annotations

import io
import threading

import pypdfium2 as pdfium
from PIL import Image

from pipeline.document import DocumentError
from pipeline.pdf.guard import check_pdf_bombs
from pipeline.pdf.limits import check_page_count

# PDFium is not thread-safe, not even across documents: every call into it holds this lock.
PDFIUM_LOCK = threading.RLock()


def open_pdf(document: bytes) -> pdfium.PdfDocument:
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
            check_page_count(len(pdf))
        except DocumentError:
            pdf.close()
            raise
    return pdf


def images_to_pdf(frames: list[tuple[Image.Image, bytes | None, float]]) -> bytes:
    """One PDF page per (image, its JPEG bytes if it came as JPEG, DPI), sized by the DPI."""
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument.new()
        try:
            for image, jpeg, dpi in frames:
                width, height = image.width * 72.0 / dpi, image.height * 72.0 / dpi
                page = pdf.new_page(width, height)
                picture = pdfium.PdfImage.new(pdf)
                if jpeg is not None:
                    picture.load_jpeg(io.BytesIO(jpeg), inline=True)
                else:
                    bitmap = pdfium.PdfBitmap.from_pil(image.convert("RGB"))
                    picture.set_bitmap(bitmap)
                    bitmap.close()
                picture.set_matrix(pdfium.PdfMatrix().scale(width, height))
                page.insert_obj(picture)
                page.gen_content()
                page.close()
            buffer = io.BytesIO()
            pdf.save(buffer)
            return buffer.getvalue()
        finally:
            pdf.close()
