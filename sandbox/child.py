"""What runs inside a sandbox child: its start (limits, no secrets, the pipeline loaded) and its jobs.

A child is forked from multiprocessing's fork server, which imported `pipeline.preload` once
(the pipeline's modules and the cl100k_base table), so a fresh child starts warm.
"""
from __future__ import annotations

import gc
import os
import resource

# Settings of the service that a document has no business seeing (SPEC.md §9).
SECRET_VARIABLES = ("SECRET_KEY", "API_KEYS", "DATABASE_URL", "TEST_POSTGRES_URL")
MEMORY_ERROR = "The document needs more memory than this worker has"

_progress_queue = None


def start_child(progress_queue, memory_limit: int | None) -> None:
    """pebble's initializer: drop secrets, cap the address space, load the pipeline, stop
    automatic garbage collection."""
    global _progress_queue
    _progress_queue = progress_queue
    for name in SECRET_VARIABLES:
        os.environ.pop(name, None)
    if memory_limit:
        # The cap holds while a document runs: an allocation past it fails (MemoryError in
        # Python, a failed malloc in PDFium or ONNX) instead of the machine swapping.
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    import pipeline.preload  # noqa: F401 - a no-op when the fork server preloaded it

    # No automatic collection: walking the many objects a document makes took about 15% of a
    # PDF's time, and nearly none are in cycles. clean_up collects once after each document.
    gc.disable()


def resident_bytes(pid: int | str = "self") -> int:
    """A process's resident memory now (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class JobFailed(Exception):
    """A job raised something other than DocumentError; its text says what."""


def run_job(token: int, function, args: tuple):
    """Run one job, reporting its progress under `token`; its value."""
    from pipeline.document import DocumentError, without_addresses

    def progress(message: str) -> None:
        if _progress_queue is not None:
            _progress_queue.put((token, message))

    try:
        value = function(*args, progress)
    except DocumentError:
        raise
    except MemoryError:
        raise DocumentError(MEMORY_ERROR) from None
    except BaseException as error:  # noqa: BLE001 - any parser failure (even SystemExit) fails its own task only
        raise JobFailed(f"{type(error).__name__}: {without_addresses(str(error))}") from None
    return value


def clean_up(progress) -> int:
    """Free what the last job left (its objects in cycles, the heap's free pages), so that it
    goes back before the next job; this child's resident memory then. Run as a job of its own
    after each document, while the worker writes the result."""
    from pipeline.pdf.ocr import release_free_memory

    gc.collect()
    release_free_memory()
    return resident_bytes()


def parse_document(document: bytes, mime_type: str, file_name: str | None, configuration: dict, progress,
                   limits=None):
    """The pipeline's Result for one document, within `limits` (a pipeline.document.Limits; None:
    the pipeline's defaults)."""
    from pipeline.run import run_pipeline

    return run_pipeline(document, mime_type, file_name, configuration, progress=progress, limits=limits)


def render_pages(document: bytes, names: list[str], progress):
    """Page images of a PDF by their names (pipeline.pdf.page_images)."""
    from pipeline.pdf.page_images import render_page_images

    return render_page_images(document, names)


def warm(progress) -> None:
    """Nothing: scheduled to start a child before the first document needs it."""
