"""Page images rendered from a PDF by their file names (pipeline.document.PAGE_IMAGE_NAME).

The service renders a text page's image when it is first asked for (web/page_images.py),
in a sandbox child; this is the PDFium side of it.
"""
from __future__ import annotations

import pypdfium2 as pdfium

from pipeline.document import PAGE_IMAGE_NAME, DocumentError
from pipeline.pdf.document import PDFIUM_LOCK
from pipeline.pdf.limits import MAX_PAGE_IMAGE_PIXELS
from pipeline.pdf.pages import describe_error
from pipeline.pdf.render import encode_image, render_whole_page


def render_page_images(document: bytes, names: list[str]) -> dict:
    """Page images rendered from a PDF by their names: {name: JPEG bytes, None when the PDF has no
    such page, or why the page failed}. Raises PageImageError when the PDF cannot be opened."""


    try:
        with PDFIUM_LOCK:
            # Opened as it is: the pipeline opened this PDF with its checks (pipeline.pdf.document.open_pdf).
            pdf = pdfium.PdfDocument(document)
    except Exception as error:  # noqa: BLE001 - reported, never a trace
        raise DocumentError(describe_error(error)) from error
    results: dict = {}
    try:
        for name in names:
            number, width, height = (int(part) for part in PAGE_IMAGE_NAME.fullmatch(name).groups())
            if number > len(pdf) or width * height > MAX_PAGE_IMAGE_PIXELS:  # never named by the pipeline
                results[name] = None
                continue
            try:
                with PDFIUM_LOCK:
                    page = pdf[number - 1]
                    try:
                        image = render_whole_page(page, (width, height))
                    finally:
                        page.close()
                results[name] = encode_image(image)
            except Exception as error:  # noqa: BLE001 - a damaged page, no memory: that page's answer
                results[name] = describe_error(error)
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    return results


def render_page_image(document: bytes, name: str) -> bytes | None:
    """One page image rendered from a PDF in this process (tests and the bench); None when the
    PDF has no such page. Raises DocumentError when it cannot be rendered."""
    result = render_page_images(document, [name])[name]
    if isinstance(result, str):
        raise DocumentError(result)
    return result
