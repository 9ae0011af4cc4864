"""Runs the document pipeline under a deadline: text in a thread, binary formats in a child process."""
from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from typing import Callable, Iterator

from document import DocumentError, Result

TICK_SECONDS = 0.2


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


def _thread_events(args) -> Iterator[tuple | None]:
    """Events of a run in a thread; None on each quiet tick."""
    events: queue.Queue = queue.Queue()
    threading.Thread(target=_pipeline_events, args=(*args, events.put), daemon=True).start()
    while True:
        try:
            yield events.get(timeout=TICK_SECONDS)
        except queue.Empty:
            yield None


def _process_events(args) -> Iterator[tuple | None]:
    """Events of a run in a child process, so a hostile file cannot take the worker down."""
    context = multiprocessing.get_context("forkserver")
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


def run_document(document: bytes, mime_type: str, file_name: str | None, configuration: dict, *,
                 progress: Callable[[str], None], timeout: float,
                 should_abandon: Callable[[], bool]) -> Result:
    """The pipeline's Result, or DocumentError / TaskTimeout / Abandoned."""
    args = (document, mime_type, file_name, configuration)
    events = _thread_events(args) if mime_type.startswith("text/") else _process_events(args)
    deadline = time.monotonic() + timeout
    try:
        for event in events:
            if event is None:
                if time.monotonic() > deadline:
                    raise TaskTimeout()
                if should_abandon():
                    raise Abandoned()
                continue
            kind, value = event
            if kind == "progress":
                progress(value)
            elif kind == "result":
                return value
            elif kind == "error":
                raise DocumentError(value)
            else:
                raise DocumentError(f"Failed to process the document: {value}")
    finally:
        events.close()  # stops the child process, if there is one
    raise AssertionError("unreachable")
