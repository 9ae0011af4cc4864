"""Page images of PDF pages, rendered from the task's PDF when first asked for, then kept.

The pipeline does not render a PDF page that has a text layer: most page images are never
looked at, and rendering and encoding one cost as much as the whole rest of the page's
analysis. Its file name (document.page_image_name) says the page and the pixel size, so
the service can render it on the first request for it and store it with the task's files.
PDFium runs in a document child of this process (runner.py), as the pipeline does, under a
deadline: a page that crashes or hangs PDFium fails that request, not the server.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from document import PAGE_IMAGE_NAME
from models import Task, TaskFile, db, task_files_table

LOG = logging.getLogger(__name__)
PDF_FILE = "document.pdf"  # pdf_pipeline.PDF_FILE: the PDF every page image comes from
RENDER_SECONDS = 20.0  # what one response may spend rendering page images
BATCH = 32  # page images rendered per job in the document child


class PageImageError(Exception):
    """A page image that should be rendered could not be."""


class RenderedFile(NamedTuple):
    """A rendered page image, shaped like a stored file."""

    mime_type: str
    data: bytes


def is_page_image(name: str) -> bool:
    """Whether a file name is a page image's, which can be rendered again from the PDF."""
    return PAGE_IMAGE_NAME.fullmatch(name) is not None


def render_missing(task_id: str, names: Iterable[str]) -> tuple[dict[str, bytes], dict[str, str]]:
    """Render the page images among `names` that the task has not stored yet, and keep them.

    Returns the images rendered, and why each page that failed did; pages past RENDER_SECONDS,
    or that the PDF lacks, are in neither. Raises PageImageError when the PDF cannot be read."""
    wanted = list(dict.fromkeys(name for name in names if is_page_image(name)))
    if not wanted:
        return {}, {}
    with db.engine.connect() as connection:  # not the request's session: its objects stay as they are
        stored = set(connection.scalars(select(TaskFile.name).where(
            TaskFile.task_id == task_id, TaskFile.name.in_(wanted))))
        missing = [name for name in wanted if name not in stored]
        source = connection.scalar(select(TaskFile.data).where(
            TaskFile.task_id == task_id, TaskFile.name == PDF_FILE)) if missing else None
    if source is None:
        return {}, {}
    rendered: dict[str, bytes] = {}
    failed: dict[str, str] = {}
    deadline = time.monotonic() + RENDER_SECONDS
    try:
        for start in range(0, len(missing), BATCH):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for name, data in render_in_child(source, missing[start:start + BATCH], remaining).items():
                if isinstance(data, str):
                    LOG.warning("Could not render %s of task %s: %s", name, task_id, data)
                    failed[name] = data
                elif data is not None:
                    rendered[name] = data
    finally:
        store(task_id, rendered)
    return rendered, failed


def store(task_id: str, images: dict[str, bytes]) -> None:
    """Keep rendered page images with the task's files, unless the task is gone or another
    request stored one first (both render the same page of the same PDF)."""
    for name, data in images.items():
        row = select(literal(task_id), literal(name), literal("image/jpeg"),
                     literal(data, task_files_table.c.data.type)).where(Task.task_id == task_id)
        try:
            with db.engine.begin() as connection:
                connection.execute(insert(task_files_table).from_select(
                    ["task_id", "name", "mime_type", "data"], row))
        except IntegrityError:
            pass  # stored meanwhile, or the task was deleted meanwhile
        except SQLAlchemyError as error:  # the image still goes out; a later request stores it
            LOG.warning("Could not keep %s of task %s: %s", name, task_id, error)


_renderer = None
_renderer_lock = threading.Lock()
_idle_timer: threading.Timer | None = None


def render_in_child(document: bytes, names: list[str], timeout: float) -> dict:
    """render_page_images run in this process's document child, under a deadline."""
    global _renderer, _idle_timer
    from document import DocumentError
    from runner import IDLE_CHILD_SECONDS, PipelineRunner, TaskTimeout

    with _renderer_lock:
        if _renderer is None:
            _renderer = PipelineRunner()
        try:
            return _renderer.render(document, names, timeout)
        except TaskTimeout:
            raise PageImageError(f"rendering took longer than {timeout:.3g} s") from None
        except DocumentError as error:
            raise PageImageError(str(error).removeprefix("Failed to process the document: ")) from None
        finally:
            if _idle_timer is not None:
                _idle_timer.cancel()
            _idle_timer = threading.Timer(IDLE_CHILD_SECONDS + 1, _close_idle_renderer)
            _idle_timer.daemon = True
            _idle_timer.start()


def _close_idle_renderer() -> None:
    """Let the document child go once it has rendered nothing for a while (its memory goes)."""
    with _renderer_lock:
        if _renderer is not None:
            _renderer.close_idle_child()


def render_page_images(document: bytes, names: list[str]) -> dict:
    """Page images rendered from a PDF by their names: {name: JPEG bytes, None when the PDF has no
    such page, or why the page failed}. Raises PageImageError when the PDF cannot be opened."""
    import pypdfium2 as pdfium

    from pdf_document import PDFIUM_LOCK
    from pdf_limits import MAX_PAGE_IMAGE_PIXELS
    from pdf_pipeline import describe_error
    from pdf_render import encode_image, render_whole_page

    try:
        with PDFIUM_LOCK:
            # Opened as it is: the pipeline opened this PDF with its checks (pdf_document.open_pdf).
            pdf = pdfium.PdfDocument(document)
    except Exception as error:  # noqa: BLE001 - reported, never a trace
        raise PageImageError(describe_error(error)) from error
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
    PDF has no such page. Raises PageImageError when it cannot be rendered."""
    result = render_page_images(document, [name])[name]
    if isinstance(result, str):
        raise PageImageError(result)
    return result
