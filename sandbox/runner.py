"""Runs the document pipeline under a deadline: text in a thread, binary formats in a child process."""
from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from typing import Callable, Iterator

from pipeline.document import DocumentError, Result

TICK_SECONDS = 0.2
# A text document this small is parsed in about a millisecond, less than handing it to the
# pipeline thread and back costs: it runs on the worker's own thread. The slowest 2 kB found
# (2,048 "[" as Markdown: markdown-it's link scan) took 0.12 s.
INLINE_TEXT_BYTES = 2 * 1024
PROGRESS_INTERVAL_SECONDS = 0.5
PRELOAD = ["pipeline.preload"]  # what the fork server of document children loads once
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Python 3.11's fork server imports its preload with its own sys.path (its working directory
# first), not the parent's: the project goes on PYTHONPATH, here, once, before any thread starts
# (changing the environment while threads run is not safe).
if PROJECT not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    os.environ["PYTHONPATH"] = os.pathsep.join(path for path in (PROJECT, os.environ.get("PYTHONPATH")) if path)


class TaskTimeout(Exception):
    """The run passed TASK_TIMEOUT."""


class Abandoned(Exception):
    """The worker is shutting down and handed the run back."""


def _pipeline_events(document, mime_type, file_name, configuration, emit: Callable[[tuple], None]) -> None:
    """Run the pipeline, reporting progress and the outcome as events."""
    try:
        from pipeline.run import run_pipeline  # imported here: the child process imports it fresh

        result = run_pipeline(document, mime_type, file_name, configuration,
                              progress=lambda message: emit(("progress", message)))
        emit(("result", result))
    except DocumentError as error:
        emit(("error", str(error)))
    except MemoryError:
        emit(("error", "The document needs more memory than this worker has"))
    except Exception as error:  # noqa: BLE001 - any parser failure becomes a task failure
        emit(("crash", f"{type(error).__name__}: {error}"))


def _render_events(document: bytes, names: list[str], emit: Callable[[tuple], None]) -> None:
    """Render page images of a PDF by their names (page_images.py), reporting them as one result:
    each name's JPEG, None for a page the PDF does not have, or the text of why it failed."""
    try:
        from web.page_images import PageImageError, render_page_images

        emit(("result", render_page_images(document, names)))
    except PageImageError as error:
        emit(("error", str(error)))
    except Exception as error:  # noqa: BLE001 - reported to the server, which answers it
        emit(("crash", f"{type(error).__name__}: {error}"))


def resident_bytes(pid: int | str = "self") -> int:
    """A process's resident memory now (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _serve_documents(jobs, events, page_helper: bool = False) -> None:
    """A document child's loop: say it is ready (with its memory after the last document was
    let go, its PDF page helper's included), run the job sent to it, and again, until its worker
    closes the pipe. With `page_helper`, the helper that long PDFs share their pages with is
    forked first, so that it holds nothing of any document (pdf_helper.py)."""
    import gc

    from pipeline.pdf.helper import kept_helper_bytes
    from pipeline.pdf.ocr import release_free_memory

    if page_helper:
        from pipeline.pdf.parse import prepare_page_helper

        prepare_page_helper()

    # No automatic garbage collection: it took about 15% of a PDF's time, walking the many
    # objects a document makes, of which nearly none are in reference cycles (a 113-page PDF
    # left 1,378 unreachable objects). The collection after each document frees those.
    gc.disable()
    while True:
        events.send(("ready", resident_bytes() + kept_helper_bytes()))
        try:
            job, args = jobs.recv()
        except EOFError:  # the worker closed it, or is gone
            return
        job(*args, events.send)
        del args
        gc.collect()
        release_free_memory()  # what this document used goes back before the next one


class PipelineThread:
    """A long-lived daemon thread running one job at a time (daemon: a stuck run cannot block exit)."""

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self._serve, name="pipeline", daemon=True).start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def submit(self, function: Callable, *args) -> None:
        self._jobs.put(lambda: function(*args))

    def retire(self) -> None:
        """End the thread once its current job returns."""
        self._jobs.put(None)


def _thread_events(args, executor: PipelineThread) -> Iterator[tuple | None]:
    """Events of a run on the worker's pipeline thread; None on each quiet tick."""
    events: queue.Queue = queue.Queue()
    executor.submit(_pipeline_events, *args, events.put)
    while True:
        try:
            yield events.get(timeout=TICK_SECONDS)
        except queue.Empty:
            yield None


def _inline_events(args, timeout: float) -> Iterator[tuple]:
    """The outcome of a run on the calling thread (progress is not reported: the run is over by
    then); a run that took longer than the timeout is a timeout all the same."""
    started = time.monotonic()
    events: list[tuple] = []
    _pipeline_events(*args, events.append)
    if time.monotonic() - started > timeout:
        raise TaskTimeout()
    yield from (event for event in events if event[0] != "progress")


def process_context():
    """The forkserver context documents run in. Its server loads the pipeline once, when it
    starts (pipeline_preload.py); each child forks from it with every module and the tokenizer
    loaded instead of loading them afresh (0.6 s)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


class DocumentChild:
    """A child process that runs one worker's documents one after another, so what a run loads
    (the OCR engine: about 1.3 s to build and warm) stays loaded for the next. A child whose run
    did not end in a result (a failure, a crash, a timeout, an abandon) is killed, and so is one
    that holds more than MAX_CHILD_RSS_BYTES once it let its last document go, or sat idle for
    IDLE_CHILD_SECONDS: the next document starts a fresh one."""

    def __init__(self, page_helper: bool = False):
        context = process_context()
        self.events, child_events = context.Pipe(duplex=False)
        child_jobs, self.jobs = context.Pipe(duplex=False)
        self.process = context.Process(target=_serve_documents, args=(child_jobs, child_events, page_helper),
                                       daemon=True)
        self.process.start()
        child_jobs.close()
        child_events.close()
        self.last_used = time.monotonic()

    def ready(self, timeout: float, max_resident: float = float("inf")) -> bool:
        """Whether the child said it is ready for a document, within `max_resident` bytes. False
        when it died (even after its last result: the next document must not be blamed), did not
        answer in time, or is too large."""
        try:
            if not self.events.poll(timeout):
                return False
            kind, resident = self.events.recv()
        except (EOFError, OSError):
            return False
        return kind == "ready" and resident <= max_resident

    def close(self) -> None:
        for end in (self.jobs, self.events):
            end.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)


MAX_CHILD_RSS_BYTES = 600 * 1024 * 1024
IDLE_CHILD_SECONDS = 60.0
READY_SECONDS = 60.0  # a fresh child's first start waits for its fork server to load the pipeline


def _child_events(job: Callable, args, runner: "PipelineRunner") -> Iterator[tuple | None]:
    """Events of a run in the worker's document child, so a hostile file cannot take the worker down."""
    child = runner.document_child()
    succeeded = False
    try:
        child.jobs.send((job, args))
        while True:
            if child.events.poll(TICK_SECONDS):
                try:
                    event = child.events.recv()
                except (EOFError, OSError):  # OSError: it died halfway through a message
                    child.process.join(5)
                    yield ("crash", f"the document parser died (exit code {child.process.exitcode})")
                    return
                succeeded = event[0] == "result"
                yield event
            else:
                yield None
    finally:
        child.last_used = time.monotonic()
        if not succeeded:
            runner.close_child()


class PipelineRunner:
    """Runs one document at a time for a worker, keeping its pipeline thread between runs. Its
    document children fork a page helper for long PDFs when they start, unless `page_helper` is
    False (the server's, which only renders page images)."""

    def __init__(self, page_helper: bool = True):
        self._thread: PipelineThread | None = None
        self._child: DocumentChild | None = None
        self._page_helper = page_helper

    def document_child(self) -> DocumentChild:
        """This worker's document child, ready for a document: the kept one, or a fresh one when
        there is none or the kept one died or grew past MAX_CHILD_RSS_BYTES."""
        if self._child is not None and not self._child.ready(READY_SECONDS, MAX_CHILD_RSS_BYTES):
            self.close_child()
        if self._child is None:
            child = DocumentChild(self._page_helper)
            if not child.ready(READY_SECONDS):
                child.close()
                raise DocumentError("The document parser could not be started")
            self._child = child
        return self._child

    def close_child(self) -> None:
        """Stop the document child (the next document starts a fresh one)."""
        child, self._child = self._child, None
        if child is not None:
            child.close()

    def close_idle_child(self) -> None:
        """Stop a document child that has not run anything for IDLE_CHILD_SECONDS (its memory goes)."""
        if self._child is not None and time.monotonic() - self._child.last_used > IDLE_CHILD_SECONDS:
            self.close_child()

    def run(self, document: bytes, mime_type: str, file_name: str | None, configuration: dict, *,
            progress: Callable[[str], None], timeout: float, should_abandon: Callable[[], bool]) -> Result:
        """The pipeline's Result, or DocumentError / TaskTimeout / Abandoned."""
        args = (document, mime_type, file_name, configuration)
        if not mime_type.startswith("text/"):
            return _supervise(_child_events(_pipeline_events, args, self), progress, timeout, should_abandon)
        if len(document) <= INLINE_TEXT_BYTES:
            return _supervise(_inline_events(args, timeout), progress, timeout, should_abandon)
        if self._thread is None:
            self._thread = PipelineThread()
        try:
            return _supervise(_thread_events(args, self._thread), progress, timeout, should_abandon)
        except (TaskTimeout, Abandoned):
            # The thread is still busy with the abandoned run: leave it and start afresh.
            self._thread.retire()
            self._thread = None
            raise


    def render(self, document: bytes, names: list[str], timeout: float) -> dict:
        """Page images of a PDF rendered in the document child (the server's own, for page_images.py):
        {name: JPEG bytes, None, or why it failed}; DocumentError or TaskTimeout when the child fails."""
        return _supervise(_child_events(_render_events, (document, names), self), lambda message: None, timeout,
                          lambda: False)


def _supervise(events: Iterator[tuple | None], progress: Callable[[str], None], timeout: float,
               should_abandon: Callable[[], bool]) -> Result:
    """Follow a run's events to its result, enforcing the deadline and the abandon check."""
    started = last_report = time.monotonic()
    pending: str | None = None
    try:
        for event in events:
            now = time.monotonic()
            if event is not None and event[0] == "progress":
                pending = event[1]
            elif event is not None:
                kind, value = event
                if kind == "result":
                    return value
                raise DocumentError(value if kind == "error" else f"Failed to process the document: {value}")
            if now - started > timeout:
                raise TaskTimeout()
            if should_abandon():
                raise Abandoned()
            # Progress is coalesced: at most one write per interval, none for a run faster than that.
            if pending is not None and now - last_report >= PROGRESS_INTERVAL_SECONDS:
                progress(pending)
                pending, last_report = None, now
    finally:
        events.close()  # stops the child process, if there is one
    raise AssertionError("unreachable")
