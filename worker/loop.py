"""A worker's loop: claim a Starting task, run its document in the sandbox under a heartbeat
lease, finish it with a fenced write, and hand back what it holds on shutdown."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial

from flask import Flask

from models import db
from observability import logs, metrics
from pipeline import run as pipeline_run
from pipeline.doctype import SUPPORTED, detect_mime_type, extension_for
from pipeline.document import DocumentError, Limits, Result
from sandbox.child import parse_document
from sandbox.pool import Abandoned, Sandbox, TaskTimeout
from tasks import leases
from tasks.claims import ClaimedTask, claim_next_task
from tasks.lifecycle import sweep_expired
from tasks.wakeup import wait_for_work
from worker.fetch import download
from worker.heartbeat import Heartbeat

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5
SHUTDOWN_GRACE_SECONDS = 10.0
# A text document this small is parsed in about a millisecond, less than the trip to the
# sandbox and back costs: it runs on the worker's own thread. The slowest 2 kB found (2,048
# "[" as Markdown: markdown-it's link scan) took 0.12 s.
INLINE_TEXT_BYTES = 2 * 1024


def document_limits(config) -> Limits:
    """The budgets of one document, from the settings of the same names."""
    return Limits(max_pages=config["MAX_PAGES"], max_image_pixels=config["MAX_IMAGE_PIXELS"],
                  max_document_pixels=config["MAX_DOCUMENT_PIXELS"], ocr_page_seconds=config["OCR_PAGE_SECONDS"])


def run_document(sandbox: Sandbox, document: bytes, mime_type: str, file_name: str | None, configuration: dict, *,
                 progress: Callable[[str], None], timeout: float, should_abandon: Callable[[], bool],
                 limits: Limits | None = None) -> Result:
    """The pipeline's Result for one document within `limits` (None: the pipeline's defaults), or
    DocumentError / TaskTimeout / Abandoned."""
    args = (document, mime_type, file_name, configuration)
    if mime_type.startswith("text/") and len(document) <= INLINE_TEXT_BYTES:
        started = time.monotonic()
        result = pipeline_run.run_pipeline(*args, limits=limits)
        if time.monotonic() - started > timeout:
            raise TaskTimeout()
        return result
    # Limits travel with the job only when they are not the defaults, which the child applies itself.
    job = parse_document if limits is None or limits == Limits() else partial(parse_document, limits=limits)
    return sandbox.run(job, args, timeout=timeout, progress=progress, should_abandon=should_abandon)


class Worker:
    """One worker loop: claims the oldest Starting task, processes it, repeats until stopped."""

    def __init__(self, app: Flask, stop: threading.Event, name: str | None = None):
        self.app, self.stop = app, stop
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.heartbeat = Heartbeat(app, stop)
        self.sandbox = Sandbox(memory_limit=app.config["SANDBOX_MEMORY_BYTES"],
                               max_documents=app.config["SANDBOX_MAX_DOCUMENTS"])
        self._stop_seen_at: float | None = None
        self._next: ClaimedTask | None = None  # claimed together with the last finish, not started

    def run(self) -> None:
        """Work until the stop event is set."""
        self._let_go(self.sandbox.warm_up)
        while not self.stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("Worker %s: claim failed", self.worker_id)
                worked = False
            if not worked:
                self._let_go(self.sandbox.close_idle)
                wait_for_work(IDLE_SECONDS)
        self._let_go(self.sandbox.close)
        self._let_go(self.hand_back)

    def _let_go(self, release) -> None:
        """Release something this worker holds (its sandbox child, a claimed task); a failure is
        logged, not fatal: a child left over exits with this process, a task by its lease."""
        try:
            release()
        except Exception:  # noqa: BLE001
            log.exception("Worker %s: %s failed", self.worker_id, release.__name__)

    def run_once(self) -> bool:
        """Process one task: the one claimed with the last finish, else the oldest Starting one.
        False when the queue was empty."""
        with self.app.app_context():
            claimed, self._next = self._next, None
            if claimed is None:
                claimed = claim_next_task(self.worker_id, self.app.config["LEASE_SECONDS"])
            if claimed is None:
                return False
            self.heartbeat.hold(claimed)
            try:
                self._next = self.process(claimed)
            finally:
                self.heartbeat.hold(None)
            db.session.remove()
            return True

    def hand_back(self) -> None:
        """Return a task claimed with the last finish but not started (at shutdown) to the queue."""
        claimed, self._next = self._next, None
        if claimed is not None:
            with self.app.app_context():
                leases.release_task(claimed)
                db.session.remove()

    def _should_abandon(self) -> bool:
        """Give up the run: the lease is gone, or shutdown's grace period ran out."""
        if self.heartbeat.lost.is_set():
            return True
        if self.stop.is_set():
            self._stop_seen_at = self._stop_seen_at or time.monotonic()
            return time.monotonic() - self._stop_seen_at > SHUTDOWN_GRACE_SECONDS
        return False

    def process(self, claimed: ClaimedTask) -> ClaimedTask | None:
        """Run one claimed task to an end state, every write fenced by the claim; the next task
        when a success claimed it in the same statement (leases.finish_and_claim)."""
        config = self.app.config
        started, mime_type, pages = time.monotonic(), claimed.mime_type, None
        metrics.TASKS_CLAIMED.inc()
        logs.task_event("claimed", claimed.task_id, worker=self.worker_id, attempt=claimed.attempt)
        try:
            document, mime_type, file_name = self._input(claimed)
            if self.stop.wait(config["PROCESSING_DELAY_SECONDS"]):
                raise Abandoned()
            result = run_document(self.sandbox, document, mime_type, file_name, claimed.configuration,
                                  progress=lambda message: leases.report_progress(claimed, message),
                                  timeout=config["TASK_TIMEOUT"], should_abandon=self._should_abandon,
                                  limits=document_limits(config))
            message = "; ".join([leases.SUCCEEDED] + [f"skipped {item}" for item in result.skipped])
            pages = result.output.get("page_count")
            if self.stop.is_set():  # shutting down: claim nothing more
                ended = leases.finish_task(claimed, result.output, result.files, message)
                self._ended(claimed, "Succeeded" if ended else "lost", started, mime_type, pages)
                return None
            following = leases.finish_and_claim(claimed, result.output, result.files, message,
                                                config["LEASE_SECONDS"])
            self._ended(claimed, "Succeeded", started, mime_type, pages)
            return following
        except DocumentError as error:
            self._ended(claimed, "Failed" if leases.fail_task(claimed, str(error)) else "lost", started, mime_type)
        except TaskTimeout:
            metrics.TASKS_TIMED_OUT.inc()
            self._ended(claimed, "Failed" if leases.fail_task(claimed, leases.TIMED_OUT) else "lost", started, mime_type)
        except Abandoned:
            leases.release_task(claimed)
            metrics.TASKS_HANDED_BACK.inc()
            logs.task_event("handed_back", claimed.task_id, worker=self.worker_id, attempt=claimed.attempt)
        except Exception:  # noqa: BLE001 - never leave a task Processing on a bug
            db.session.rollback()
            log.exception("Worker %s: task %s failed", self.worker_id, claimed.task_id)
            leases.fail_task(claimed, "Internal error while processing the task")
            self._ended(claimed, "Failed", started, mime_type)
        return None

    def _ended(self, claimed: ClaimedTask, status: str, started: float, mime_type: str | None,
               pages: int | None = None) -> None:
        """Count and log the end of a run (`lost`: the claim was gone when its end was written)."""
        seconds = time.monotonic() - started
        kind = metrics.document_type(mime_type)
        metrics.TASKS_FINISHED.labels(status).inc()
        metrics.TASK_SECONDS.labels(kind).observe(seconds)
        if status == "Succeeded" and pages:
            metrics.PAGES.labels(kind).inc(pages)
        logs.task_event("finished", claimed.task_id, status=status, worker=self.worker_id, attempt=claimed.attempt,
                        seconds=round(seconds, 3), document_type=kind, pages=pages)

    def _input(self, claimed: ClaimedTask) -> tuple[bytes, str, str]:
        """The document bytes, their type and name: stored, or downloaded now for a URL input."""
        if claimed.document is not None:  # stored: it came with the claim
            return (claimed.document, claimed.mime_type,
                    claimed.file_name or f"{claimed.task_id}.{extension_for(claimed.mime_type)}")
        leases.report_progress(claimed, "Downloading file")
        data, given_name = download(claimed.input_url, self.app.config["MAX_FILE_BYTES"],
                                    self.app.config["ALLOW_PRIVATE_URLS"], should_stop=self._should_abandon)
        file_name = claimed.file_name or given_name
        mime_type = detect_mime_type(data, file_name)
        if mime_type not in SUPPORTED:
            raise DocumentError(f"Unsupported file type: {mime_type}")
        file_name = file_name or f"{claimed.task_id}.{extension_for(mime_type)}"
        leases.record_input(claimed, data, mime_type, file_name)
        return data, mime_type, file_name


def housekeeping(app: Flask, stop: threading.Event) -> None:
    """Reap lost leases often and sweep expired tasks now and then, until stopped."""
    config = app.config
    interval = max(min(config["LEASE_SECONDS"] / 2, 5.0), 0.05)
    next_sweep = 0.0
    while not stop.wait(interval):
        with app.app_context():
            try:
                leases.reap_lost_tasks(config["MAX_ATTEMPTS"], config["TASK_TIMEOUT"], config["LEASE_SECONDS"])
                if time.monotonic() >= next_sweep:
                    sweep_expired()
                    next_sweep = time.monotonic() + config["SWEEP_INTERVAL_SECONDS"]
            except Exception:  # noqa: BLE001 - retried at the next interval
                db.session.rollback()
                log.exception("Housekeeping failed")
            db.session.remove()
