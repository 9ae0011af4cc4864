"""Runs the document pipeline under a deadline: text in a thread, binary formats in a child process."""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import queue
import threading
import time
from typing import Callable, Iterator

from document import DocumentError, Result

TICK_SECONDS = 0.2
PROGRESS_INTERVAL_SECONDS = 0.5
PRELOAD = ["pipeline_preload"]  # what the fork server of document children loads once
PROJECT = os.path.dirname(os.path.abspath(__file__))
_fork_server_lock = threading.Lock()


class TaskTimeout(Exception):
    """The run passed TASK_TIMEOUT."""


class Abandoned(Exception):
    """The worker is shutting down and handed the run back."""


def _pipeline_events(document, mime_type, file_name, configuration, emit: Callable[[tuple], None]) -> None:
    """Run the pipeline, reporting progress and the outcome as events."""
    try:
        from pipeline import run_pipeline  # imported here: the child process imports it fresh

        result = run_pipeline(document, mime_type, file_name, configuration,
                              progress=lambda message: emit(("progress", message)))
        emit(("result", result))
    except DocumentError as error:
        emit(("error", str(error)))
    except MemoryError:
        emit(("error", "The document needs more memory than this worker has"))
    except Exception as error:  # noqa: BLE001 - any parser failure becomes a task failure
        emit(("crash", f"{type(error).__name__}: {error}"))


def _child_main(sender, document, mime_type, file_name, configuration) -> None:
    _pipeline_events(document, mime_type, file_name, configuration, sender.send)
    sender.close()


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


def process_context():
    """The forkserver context documents run in. Its server loads the pipeline once, when it
    starts (pipeline_preload.py); each run's child forks from it with every module and the
    tokenizer loaded instead of loading them afresh (0.6 s of a run)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    with _fork_server_lock:
        # Python 3.11's fork server imports its preload with its own sys.path, whose first entry
        # is its working directory, not the project: name the project in PYTHONPATH while it
        # starts (a server already running is left as it is).
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(path for path in (PROJECT, saved) if path)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            if saved is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = saved
    return context


def _process_events(args) -> Iterator[tuple | None]:
    """Events of a run in a child process, so a hostile file cannot take the worker down."""
    context = process_context()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child_main, args=(sender, *args), daemon=True)
    process.start()
    sender.close()
    try:
        while True:
            if receiver.poll(TICK_SECONDS):
                try:
                    yield receiver.recv()
                except EOFError:
                    process.join(5)
                    yield ("crash", f"the document parser died (exit code {process.exitcode})")
            else:
                yield None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)


class PipelineRunner:
    """Runs one document at a time for a worker, keeping its pipeline thread between runs."""

    def __init__(self):
        self._thread: PipelineThread | None = None

    def run(self, document: bytes, mime_type: str, file_name: str | None, configuration: dict, *,
            progress: Callable[[str], None], timeout: float, should_abandon: Callable[[], bool]) -> Result:
        """The pipeline's Result, or DocumentError / TaskTimeout / Abandoned."""
        args = (document, mime_type, file_name, configuration)
        if not mime_type.startswith("text/"):
            return _supervise(_process_events(args), progress, timeout, should_abandon)
        if self._thread is None:
            self._thread = PipelineThread()
        try:
            return _supervise(_thread_events(args, self._thread), progress, timeout, should_abandon)
        except (TaskTimeout, Abandoned):
            # The thread is still busy with the abandoned run: leave it and start afresh.
            self._thread.retire()
            self._thread = None
            raise


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
