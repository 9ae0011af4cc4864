"""The sandbox: documents run in a child process kept by pebble's ProcessPool, one at a time.

PDFium and ONNX can crash or hang on a hostile file, and a text parser can run for minutes:
each runs in a child under a deadline, so the worker (or the web process rendering a page
image) survives whatever the document does. pebble kills the child at the deadline or when
the run is cancelled and starts a fresh one after a crash; this module adds a recycle after
`max_documents` jobs or past `max_resident` bytes, an address-space cap, progress messages, a
clean-up after each job that runs while its owner is busy with the result, and a fork server
started without the service's secrets.
"""
from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from concurrent.futures import wait as wait_for_futures
from concurrent.futures.process import BrokenProcessPool

import pebble

from observability import metrics
from pipeline.document import DocumentError
from sandbox.child import SECRET_VARIABLES, JobFailed, clean_up, run_job, warm

LOG = logging.getLogger(__name__)
TICK_SECONDS = 0.2
PROGRESS_INTERVAL_SECONDS = 0.5
IDLE_SECONDS = 60.0
CLEAN_UP_SECONDS = 60.0
CLEAN_UP_WAIT_SECONDS = 5.0  # what a job waits, at most, for the clean-up after the last one
MAX_DOCUMENTS = 200  # jobs per child before a fresh one
MAX_RESIDENT_BYTES = 600 * 1024 * 1024  # a child holding more after a job is replaced
MEMORY_LIMIT_BYTES = 4 * 1024 ** 3  # RLIMIT_AS of a child: what one document may map
PRELOAD = ["pipeline.preload"]


class TaskTimeout(Exception):
    """The run passed its deadline; its child was killed."""


class Abandoned(Exception):
    """The caller gave the run up (shutdown, a lost lease); its child was killed."""


_context = None
_context_lock = threading.Lock()


def process_context():
    """The fork server context every sandbox shares, its server started without the secrets.

    The server is started once per process, with SECRET_VARIABLES taken out of the environment
    for the moment it is spawned: its children, forked from it, inherit its environment (and
    /proc/PID/environ shows that), not this process's. The server imports the pipeline once
    (pipeline/preload.py), so every child starts with it loaded."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            hidden = {name: os.environ.pop(name) for name in SECRET_VARIABLES if name in os.environ}
            try:
                from multiprocessing import forkserver

                forkserver.ensure_running()
            finally:
                os.environ.update(hidden)
            _context = context
        return _context


class Sandbox:
    """One child process running one job at a time for its owner (a worker, or the web side)."""

    def __init__(self, *, memory_limit: int | None = MEMORY_LIMIT_BYTES, max_documents: int = MAX_DOCUMENTS,
                 max_resident: int = MAX_RESIDENT_BYTES, idle_seconds: float = IDLE_SECONDS):
        self.memory_limit, self.max_documents = memory_limit, max_documents
        self.max_resident, self.idle_seconds = max_resident, idle_seconds
        self._pool: pebble.ProcessPool | None = None
        self._jobs = 0  # run by the pool's child
        self._clean_up = None  # the future of the clean-up after the last job
        self._progress = None
        self._tokens = itertools.count(1)
        self._last_used = time.monotonic()
        self._lock = threading.Lock()  # one job at a time; the pool is replaced under it

    def _ready_pool(self) -> pebble.ProcessPool:
        if self._pool is None:
            context = process_context()
            self._progress = context.SimpleQueue()
            # One child; recycled here (after max_documents jobs, or past max_resident bytes),
            # not by pebble's max_tasks, which would count the clean-ups too.
            self._pool = pebble.ProcessPool(max_workers=1, context=context, initializer=_start,
                                            initargs=(self._progress, self.memory_limit))
            self._jobs, self._clean_up = 0, None
        return self._pool

    def warm_up(self) -> None:
        """Start the child now, so the first document does not wait for it."""
        with self._lock:
            self._schedule(run_job, (0, warm, ()), None)

    def run(self, function: Callable, args: tuple, *, timeout: float,
            progress: Callable[[str], None] = lambda message: None,
            should_abandon: Callable[[], bool] = lambda: False):
        """`function(*args, progress)` run in the child: its value, or DocumentError (the
        document's fault, or the child died), TaskTimeout or Abandoned."""
        with self._lock:
            self._replace_if_spent(min(CLEAN_UP_WAIT_SECONDS, timeout / 4))
            token = next(self._tokens)
            succeeded, ended_by = False, "failed"
            try:
                try:
                    value = self._follow(self._schedule(run_job, (token, function, args), timeout), token,
                                         timeout, progress, should_abandon)
                except _PoolBroke:  # the child died before it took the job: once more, in a fresh one
                    self._close_pool("died")
                    value = self._follow(self._schedule(run_job, (token, function, args), timeout), token,
                                         timeout, progress, should_abandon)
                succeeded = True
                self._jobs += 1
                if self._jobs >= self.max_documents:
                    self._close_pool("max_documents")
                else:  # runs while the caller stores the value; the next job finds it done
                    self._clean_up = self._pool.schedule(run_job, (0, clean_up, ()), timeout=CLEAN_UP_SECONDS)
                return value
            except BaseException as error:
                ended_by = _ended_by(error)
                raise
            finally:
                self._last_used = time.monotonic()
                if not succeeded:  # whatever the child held or half-did goes with it
                    self._close_pool(ended_by)

    def _schedule(self, function, args: tuple, timeout: float):
        """Hand a job to the child. A pool that broke while idle (its child killed between
        jobs: pebble then refuses every job) is replaced once."""
        try:
            return self._ready_pool().schedule(function, args, timeout=timeout)
        except RuntimeError:
            LOG.warning("Sandbox pool broke while idle: replaced")
            self._close_pool("died")
            return self._ready_pool().schedule(function, args, timeout=timeout)

    def _replace_if_spent(self, wait: float) -> None:
        """Let the child go when its clean-up after the last job failed, is still running after
        `wait` seconds, or found it holding more than max_resident bytes: the next job starts a
        fresh one."""
        if self._clean_up is None:
            return
        cleaned, self._clean_up = self._clean_up, None
        if not wait_for_futures([cleaned], timeout=max(wait, 0.0)).done:
            LOG.warning("Sandbox child still cleaning up after its last job: replaced")
            self._close_pool("clean_up_slow")
            return
        try:
            resident = cleaned.result()
        except Exception as error:  # noqa: BLE001 - a child that cannot clean up is replaced
            LOG.warning("Sandbox child failed its clean-up (%s): replaced", type(error).__name__)
            self._close_pool("clean_up_failed")
            return
        if resident > self.max_resident:
            LOG.info("Sandbox child holds %d MB after a job: replaced", resident >> 20)
            self._close_pool("memory")

    def _follow(self, future, token: int, timeout: float, progress, should_abandon):
        """Wait for the job, passing on its progress at most every PROGRESS_INTERVAL_SECONDS."""
        deadline = time.monotonic() + timeout
        last_report, pending = time.monotonic(), None
        while True:
            if wait_for_futures([future], timeout=TICK_SECONDS).done:
                return _outcome(future)
            while not self._progress.empty():
                sent_by, message = self._progress.get()
                if sent_by == token:
                    pending = message
            now = time.monotonic()
            if pending is not None and now - last_report >= PROGRESS_INTERVAL_SECONDS:
                progress(pending)
                pending, last_report = None, now
            if should_abandon():
                future.cancel()  # pebble kills the child running it
                raise Abandoned()
            if now > deadline + 5 * TICK_SECONDS:  # pebble's own deadline did not fire
                future.cancel()
                raise TaskTimeout()

    def _close_pool(self, reason: str) -> None:
        """Stop the child; `reason` labels the restart metric (observability/metrics.py)."""
        pool, self._pool, self._clean_up = self._pool, None, None
        if pool is not None:
            metrics.SANDBOX_RESTARTS.labels(reason).inc()
            pool.stop()
            pool.join(timeout=10)

    def close_idle(self) -> None:
        """Let the child go once it has run nothing for `idle_seconds` (its memory goes)."""
        if self._pool is not None and time.monotonic() - self._last_used > self.idle_seconds:
            if self._lock.acquire(blocking=False):
                try:  # checked again under the lock: a run may have ended meanwhile
                    if time.monotonic() - self._last_used > self.idle_seconds:
                        self._close_pool("idle")
                finally:
                    self._lock.release()

    def close(self) -> None:
        """Stop the child, killing a job it runs."""
        with self._lock:
            self._close_pool("shutdown")

    def child_pids(self) -> list[int]:
        """The pids of this sandbox's children (tests and the bench)."""
        pool = self._pool
        if pool is None:
            return []
        workers = pool._pool_manager.worker_manager.workers  # pebble keeps them there
        return [process.pid for process in list(workers.values()) if process.pid]


def _ended_by(error: BaseException) -> str:
    """Why a job's child is let go, for the restart metric."""
    if isinstance(error, TaskTimeout):
        return "timeout"
    if isinstance(error, Abandoned):
        return "abandoned"
    if isinstance(error, DocumentError) and "parser died" in str(error):
        return "died"
    return "failed"


class _PoolBroke(DocumentError):
    """The pool broke before its child took the job (the child was killed while idle)."""


def _outcome(future):
    """A finished job's value, or the exception that says how it ended."""
    try:
        return future.result()
    except TimeoutError:  # pebble's deadline (the builtin, which concurrent.futures' is): the child was killed
        raise TaskTimeout() from None
    except CancelledError:
        raise Abandoned() from None
    except pebble.ProcessExpired as error:
        raise DocumentError(f"Failed to process the document: the document parser died "
                            f"(exit code {error.exitcode})") from None
    except BrokenProcessPool:  # the child died before it could take the job
        raise _PoolBroke("Failed to process the document: the document parser died") from None
    except JobFailed as error:
        raise DocumentError(f"Failed to process the document: {error}") from None


def _start(progress_queue, memory_limit):
    from sandbox.child import start_child

    start_child(progress_queue, memory_limit)
