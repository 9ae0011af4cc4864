"""Workers: claim Starting tasks, run them under a heartbeat lease, and hand back on shutdown."""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid

import click
from flask import Flask
from flask.cli import with_appcontext

from models import db
from pipeline.doctype import SUPPORTED, detect_mime_type, extension_for
from pipeline.document import DocumentError
from sandbox.runner import Abandoned, PipelineRunner, TaskTimeout
from tasks import leases
from tasks.lifecycle import ClaimedTask, claim_next_task, sweep_expired
from worker.fetch import download

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.5
SHUTDOWN_GRACE_SECONDS = 10.0
# Set when this process queues a task (a create or an update): its idle workers claim at once
# instead of at their next poll. Workers in other processes still find it by polling.
_work_queued = threading.Event()


def announce_work() -> None:
    """A task was just queued in this process: wake its idle workers."""
    _work_queued.set()


class Heartbeat:
    """Renews the lease of the task its worker holds, from one long-lived thread per worker."""

    def __init__(self, app: Flask, stop: threading.Event):
        self.app, self.stop = app, stop
        self.interval = max(app.config["LEASE_SECONDS"] / 3, 0.05)
        self.lost = threading.Event()
        self._lock = threading.Lock()
        self._held: ClaimedTask | None = None
        self._renewed_at = 0.0
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def hold(self, claimed: ClaimedTask | None) -> None:
        """Start beating for a newly claimed task (None: stop beating)."""
        with self._lock:
            self._held, self._renewed_at = claimed, time.monotonic()
            self.lost.clear()
        if claimed is not None and not self._thread.is_alive() and not self.stop.is_set():
            self._thread.start()

    def _beat(self) -> None:
        """Renew while a task is held, through shutdown's grace period too (a lease that lapsed
        while the run finished would throw its result away); end once stopped with none held."""
        with self.app.app_context():
            while True:
                if self.stop.is_set():
                    time.sleep(self.interval / 2)  # the set event no longer paces the loop
                else:
                    self.stop.wait(self.interval / 2)
                with self._lock:
                    claimed = self._held
                    due = claimed is not None and time.monotonic() - self._renewed_at >= self.interval
                if claimed is None and self.stop.is_set():
                    break
                if due:
                    self._renew(claimed)
            db.session.remove()

    def _renew(self, claimed: ClaimedTask) -> None:
        try:
            kept = leases.renew_lease(claimed, self.app.config["LEASE_SECONDS"])
        except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
            db.session.rollback()
            log.exception("Heartbeat of %s failed", claimed.task_id)
            return
        with self._lock:
            if self._held is claimed:  # a beat for a task already let go must not mark the next one
                self._renewed_at = time.monotonic()
                if not kept:
                    self.lost.set()


class Worker:
    """One worker loop: claims the oldest Starting task, processes it, repeats until stopped."""

    def __init__(self, app: Flask, stop: threading.Event, name: str | None = None):
        self.app, self.stop = app, stop
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.heartbeat = Heartbeat(app, stop)
        self.runner = PipelineRunner()
        self._stop_seen_at: float | None = None
        self._next: ClaimedTask | None = None  # claimed together with the last finish, not started

    def run(self) -> None:
        """Work until the stop event is set."""
        while not self.stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("Worker %s: claim failed", self.worker_id)
                worked = False
            if not worked:
                self._let_go(self.runner.close_idle_child)
                if _work_queued.wait(IDLE_SECONDS):
                    _work_queued.clear()
        self._let_go(self.runner.close_child)
        self._let_go(self.hand_back)

    def _let_go(self, release) -> None:
        """Release something this worker holds (a document child, a claimed task); a failure is
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
        try:
            document, mime_type, file_name = self._input(claimed)
            if self.stop.wait(config["PROCESSING_DELAY_SECONDS"]):
                raise Abandoned()
            result = self.runner.run(document, mime_type, file_name, claimed.configuration,
                                     progress=lambda message: leases.report_progress(claimed, message),
                                     timeout=config["TASK_TIMEOUT"], should_abandon=self._should_abandon)
            message = "; ".join([leases.SUCCEEDED] + [f"skipped {item}" for item in result.skipped])
            if self.stop.is_set():  # shutting down: claim nothing more
                leases.finish_task(claimed, result.output, result.files, message)
                return None
            return leases.finish_and_claim(claimed, result.output, result.files, message,
                                           config["LEASE_SECONDS"])
        except DocumentError as error:
            leases.fail_task(claimed, str(error))
        except TaskTimeout:
            leases.fail_task(claimed, leases.TIMED_OUT)
        except Abandoned:
            leases.release_task(claimed)
        except Exception:  # noqa: BLE001 - never leave a task Processing on a bug
            db.session.rollback()
            log.exception("Worker %s: task %s failed", self.worker_id, claimed.task_id)
            leases.fail_task(claimed, "Internal error while processing the task")
        return None

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


class BackgroundWorkers:
    """The worker threads and the housekeeping thread of one process."""

    def __init__(self, app: Flask, threads: int):
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=Worker(app, self.stop_event).run, name=f"worker-{n}",
                                         daemon=True) for n in range(threads)]
        self.threads.append(threading.Thread(target=housekeeping, args=(app, self.stop_event),
                                             name="housekeeping", daemon=True))

    def start(self) -> "BackgroundWorkers":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = SHUTDOWN_GRACE_SECONDS + 5) -> None:
        """Stop claiming; let each worker finish or hand back its task; wait for them."""
        self.stop_event.set()
        announce_work()  # idle workers wake, see the stop, and end now
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(deadline - time.monotonic(), 0))


@click.command("worker")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Worker threads (default: WORKER_THREADS, at least 1).")
@with_appcontext
def worker_command(threads: int | None) -> None:
    """Run workers in this process until SIGTERM or Ctrl-C."""
    from flask import current_app

    app = current_app._get_current_object()
    workers = BackgroundWorkers(app, threads or max(app.config["WORKER_THREADS"], 1)).start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    click.echo(f"Worker running with {len(workers.threads) - 1} threads; SIGTERM to stop.", err=True)
    stopping.wait()
    click.echo("Stopping: finishing or handing back running tasks...", err=True)
    workers.stop()
