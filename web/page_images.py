"""Page images of PDF pages, rendered from the task's PDF when first asked for, then kept.

The pipeline does not render a PDF page that has a text layer: most page images are never
looked at, and rendering and encoding one cost as much as the whole rest of the page's
analysis. Its file name (pipeline.document.page_image_name) says the page and the pixel size,
so the service can render it on the first request for it and store it with the task's files.
PDFium runs in this process's sandbox child, as a worker's documents do, under a deadline: a
page that crashes or hangs PDFium fails that request, not the server. One render at a time per
web process: a request that cannot have the renderer within SLOT_WAIT_SECONDS, or whose render
passes RENDER_SECONDS, is told to come back later (RenderUnavailable: 503 with Retry-After),
and holds one of the web process's threads meanwhile, never the process.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from typing import NamedTuple

from flask import current_app
from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from models import Task, TaskFile, db, task_files_table
from pipeline.document import PAGE_IMAGE_NAME, PDF_FILE, DocumentError
from sandbox.pool import Sandbox, TaskTimeout
from web.render_job import render_pages_niced

LOG = logging.getLogger(__name__)
RENDER_SECONDS = 10.0  # what one response may spend rendering page images
SLOT_WAIT_SECONDS = 1.0  # how long a request waits for this process's renderer before it is told to come back
BATCH = 16  # page images rendered per job in the sandbox child


class PageImageError(Exception):
    """A page image that should be rendered could not be."""


class RenderUnavailable(PageImageError):
    """A page image that cannot be rendered now, but may be later: ask again in `retry_after` s."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(math.ceil(retry_after), 1)


class RenderTimeout(RenderUnavailable):
    """A render that did not finish in the time it was given."""


class RendererBusy(RenderUnavailable):
    """The renderer stayed busy with other requests' pages for SLOT_WAIT_SECONDS."""


class RenderedFile(NamedTuple):
    """A rendered page image, shaped like a stored file."""

    mime_type: str
    data: bytes


def is_page_image(name: str) -> bool:
    """Whether a file name is a page image's, which can be rendered again from the PDF."""
    return PAGE_IMAGE_NAME.fullmatch(name) is not None


def render_missing(task_id: str, names: Iterable[str], deadline: float | None = None,
                   ) -> tuple[dict[str, bytes], dict[str, PageImageError]]:
    """Render the page images among `names` that the task has not stored yet, and keep them.

    Returns the images rendered, and the error of each page that failed (RenderUnavailable when it
    may do later); pages past the deadline (a time.monotonic() value, RENDER_SECONDS from now if
    not given), or that the PDF lacks, are in neither. A batch that fails as a whole (the child
    hung or crashed) is tried again a page at a time, and a page that fails alone is remembered
    for FAILED_SECONDS, so that later requests neither wait for it again nor stop at it; when the
    renderer is busy, every page waiting fails with RendererBusy, not remembered."""
    deadline = time.monotonic() + RENDER_SECONDS if deadline is None else deadline
    wanted = list(dict.fromkeys(name for name in names if is_page_image(name)))
    failed = {name: reason for name in wanted if (reason := known_failure(task_id, name)) is not None}
    wanted = [name for name in wanted if name not in failed]
    if not wanted:
        return {}, failed
    with db.engine.connect() as connection:  # not the request's session: its objects stay as they are
        stored = set(connection.scalars(select(TaskFile.name).where(
            TaskFile.task_id == task_id, TaskFile.name.in_(wanted))))
        missing = [name for name in wanted if name not in stored]
        source = connection.scalar(select(TaskFile.data).where(
            TaskFile.task_id == task_id, TaskFile.name == PDF_FILE)) if missing else None
    if source is None:
        return {}, failed
    rendered: dict[str, bytes] = {}
    batches = [missing[start:start + BATCH] for start in range(0, len(missing), BATCH)]
    try:
        while batches and time.monotonic() < deadline:
            batch = batches.pop(0)
            given = deadline - time.monotonic()
            try:
                images = render_in_child(source, batch, given)
            except RendererBusy as error:  # so are the other batches: no use waiting for it again
                failed.update((name, error) for waiting in [batch, *batches] for name in waiting)
                break
            except PageImageError as error:
                if len(batch) > 1:  # which page was it: each on its own, first
                    batches[:0] = [[name] for name in batch]
                    continue
                LOG.warning("Could not render %s of task %s: %s", batch[0], task_id, error)
                # A page that ran out of a short remainder of the deadline may do in a later request.
                if not isinstance(error, RenderTimeout) or given >= RENDER_SECONDS / 2:
                    error = remember_failure(task_id, batch[0], error)
                failed[batch[0]] = error
                continue
            for name, data in images.items():
                if isinstance(data, str):
                    LOG.warning("Could not render %s of task %s: %s", name, task_id, data)
                    failed[name] = remember_failure(task_id, name, PageImageError(data))
                elif data is not None:
                    rendered[name] = data
    finally:
        store(task_id, rendered)
    return rendered, failed


FAILED_SECONDS = 600.0
_failures: dict[tuple[str, str], tuple[float, PageImageError]] = {}  # (task, page image) -> (until, error)
_failures_lock = threading.Lock()


def remember_failure(task_id: str, name: str, error: PageImageError) -> PageImageError:
    """Keep, for a while, that a page image could not be rendered (a few thousand at most); the
    error as a request should see it (a page that took too long: to be asked for again then)."""
    if isinstance(error, RenderUnavailable):
        error = type(error)(str(error), retry_after=FAILED_SECONDS)
    with _failures_lock:
        if len(_failures) >= 4096:
            _failures.clear()
        _failures[(task_id, name)] = (time.monotonic() + FAILED_SECONDS, error)
    return error


def known_failure(task_id: str, name: str) -> PageImageError | None:
    """The error of a page image that failed to render lately, or None."""
    with _failures_lock:
        until, error = _failures.get((task_id, name), (0.0, None))
    left = until - time.monotonic()
    if error is None or left <= 0:
        return None
    return type(error)(str(error), retry_after=left) if isinstance(error, RenderUnavailable) else error


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


_renderer: Sandbox | None = None  # this process's, made at the first render with the app's settings
_renderer_lock = threading.Lock()
_idle_timer: threading.Timer | None = None


def render_in_child(document: bytes, names: list[str], timeout: float) -> dict:
    """render_page_images run in this process's sandbox child, under a deadline."""
    global _idle_timer, _renderer
    deadline = time.monotonic() + timeout
    # One render at a time per process (its one sandbox child); a request waits for it briefly only.
    waited = min(max(timeout, 0.0), SLOT_WAIT_SECONDS)
    if not _renderer_lock.acquire(timeout=waited):
        raise RendererBusy(f"the renderer stayed busy with other pages for {waited:.3g} s",
                           retry_after=RENDER_SECONDS)
    timeout = deadline - time.monotonic()  # what the wait for the lock left of it
    try:
        if _renderer is None:
            config = current_app.config
            _renderer = Sandbox(memory_limit=config["SANDBOX_MEMORY_BYTES"],
                                max_documents=config["SANDBOX_MAX_DOCUMENTS"])
        try:
            return _renderer.run(render_pages_niced, (document, names), timeout=timeout)
        except TaskTimeout:
            raise RenderTimeout(f"rendering took longer than {timeout:.3g} s", retry_after=RENDER_SECONDS) from None
        except DocumentError as error:
            raise PageImageError(str(error).removeprefix("Failed to process the document: ")) from None
        finally:
            if _idle_timer is not None:
                _idle_timer.cancel()
            _idle_timer = threading.Timer(_renderer.idle_seconds + 1, _renderer.close_idle)
            _idle_timer.daemon = True
            _idle_timer.start()
    finally:
        _renderer_lock.release()
