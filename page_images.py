"""Page images of PDF pages, rendered from the task's PDF when first asked for, then kept.

The pipeline does not render a PDF page that has a text layer: most page images are never
looked at, and rendering and encoding one cost as much as the whole rest of the page's
analysis. Its file name (pdf_render.page_image_name) says the page and the pixel size, so
the service can render it on the first request for it and store it with the task's files.
"""
from __future__ import annotations

import logging
from typing import NamedTuple

from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError

from models import Task, db, task_files_table

LOG = logging.getLogger(__name__)
PDF_FILE = "document.pdf"  # pdf_pipeline.PDF_FILE: the PDF every page image comes from


class PageImageError(Exception):
    """A page image that should be rendered could not be."""


class RenderedFile(NamedTuple):
    """A rendered page image, shaped like a stored file."""

    mime_type: str
    data: bytes


def is_page_image(name: str) -> bool:
    """Whether a file name is a page image's, which can be rendered again from the PDF."""
    return name.startswith("page-") and page_image_name().fullmatch(name) is not None


def page_image_name():
    """pdf_render's pattern of page image names (imported when needed: it loads PDFium)."""
    from pdf_render import PAGE_IMAGE_NAME

    return PAGE_IMAGE_NAME


def render_and_store(task_id: str, name: str, load_file) -> RenderedFile | None:
    """Render the page image `name` from the task's PDF, keep it, and return it.

    None when there is nothing to render it from (no PDF, no such page); PageImageError when
    the page cannot be rendered."""
    source = load_file(task_id, PDF_FILE)
    db.session.rollback()  # the read is done: no transaction stays open while the page renders
    if source is None:
        return None
    try:
        data = render_page_image(source.data, name)
    except PageImageError as error:
        LOG.warning("Could not render %s of task %s: %s", name, task_id, error)
        raise
    if data is None:
        return None
    store(task_id, name, data)
    return RenderedFile("image/jpeg", data)


def render_page_image(document: bytes, name: str) -> bytes | None:
    """The JPEG of the page image `name` rendered from a PDF; None when the PDF has no such page."""
    import pypdfium2 as pdfium

    from pdf_document import PDFIUM_LOCK
    from pdf_limits import MAX_PAGE_IMAGE_PIXELS
    from pdf_pipeline import describe_error
    from pdf_render import encode_image, render_whole_page

    number, width, height = (int(part) for part in page_image_name().fullmatch(name).groups())
    if width * height > MAX_PAGE_IMAGE_PIXELS:
        return None  # never named by the pipeline, which caps page images
    try:
        with PDFIUM_LOCK:
            # Opened as it is: the pipeline opened this PDF with its checks (pdf_document.open_pdf).
            pdf = pdfium.PdfDocument(document)
        try:
            with PDFIUM_LOCK:
                if number > len(pdf):
                    return None
                page = pdf[number - 1]
                try:
                    image = render_whole_page(page, (width, height))
                finally:
                    page.close()
        finally:
            with PDFIUM_LOCK:
                pdf.close()
        return encode_image(image)
    except Exception as error:  # noqa: BLE001 - a damaged page, no memory: reported, never a trace
        raise PageImageError(describe_error(error)) from error


def store(task_id: str, name: str, data: bytes) -> None:
    """Keep a rendered page image with the task's files, unless the task is gone or another
    request stored it first (both render the same page of the same PDF)."""
    row = select(literal(task_id), literal(name), literal("image/jpeg"), literal(data, task_files_table.c.data.type))
    statement = insert(task_files_table).from_select(
        ["task_id", "name", "mime_type", "data"], row.where(Task.task_id == task_id))
    try:
        db.session.connection().execute(statement)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
