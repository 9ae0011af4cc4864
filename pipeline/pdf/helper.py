"""A forked helper process that analyses some of a long PDF's pages while this process does the rest.

The analysis of a page is Python, so one process keeps one core busy; a helper on a second
core takes a long document's pages from the middle on and sends each page's outcome back as
soon as it is done. Pages cost very different times (an index page holds ten times the words
of a chapter opening), so this process, once done with the first part, takes the helper's
pages from the last one backwards until the two meet.

The helper is forked once and kept for the next PDFs: by a worker's document child when it
starts, before it holds any document (pdf_pipeline.prepare_page_helper), or else for the first
long PDF. Forked afresh for each, it cost both processes a copy-on-write fault for every page of
memory either wrote first: about 9,000 per PDF for this process and 4,000 for the helper (R
manuals), some 0.3 of the time the helper saved. A helper that dies, or that this process gives
up on, goes; the next PDF forks another.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import mmap
import os
import signal
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from multiprocessing import reduction
from multiprocessing.connection import Pipe

MIN_PAGES = 16  # below this, forking costs more than the second core gives back
PR_SET_PDEATHSIG = 1
CLAIMS = struct.Struct("ii")  # the helper's next page, and the end of its pages


class PageClaims:
    """The helper's pages, `next` up to `end`, in memory both processes share: the helper takes
    them from the start and only it writes `next`; this process takes them from the end and only
    it writes `end` (and both, with `reset`, while the helper waits for its next job).

    Each reads the other's claim before writing its own, so both may take the page where they
    meet (it is then done twice, and this process's outcome is kept), but none is left to neither."""

    def __init__(self):
        self.shared = mmap.mmap(-1, CLAIMS.size)  # anonymous and shared: a forked child sees the same bytes

    def reset(self, first: int, count: int) -> None:
        """The helper's pages for its next job: `first` to `count` - 1."""
        CLAIMS.pack_into(self.shared, 0, first, count)

    def take_next(self) -> int | None:
        """The helper's next page, or None once this process has taken it."""
        following, end = CLAIMS.unpack_from(self.shared)
        if following >= end:
            return None
        struct.pack_into("i", self.shared, 0, following + 1)  # only `next`: writing `end` could undo a claim
        return following

    def take_last(self) -> int | None:
        """The last page the helper has not taken, for this process, or None once the helper has."""
        following, end = CLAIMS.unpack_from(self.shared)
        if end - 1 < following:
            return None
        struct.pack_into("i", self.shared, 4, end - 1)
        return end - 1

    def close(self) -> None:
        self.shared.close()


def helper_wanted(page_count: int) -> bool:
    """Whether a PDF this long is worth a helper process on this machine."""
    return page_count >= MIN_PAGES and len(os.sched_getaffinity(0)) >= 2


class PageHelper:
    """A helper process, forked now and kept for one job after another. A job runs
    `work(*args, pages)` there over the pages `first` to `count` - 1 that `pages` hands it in
    turn, and yields an (index, result) pair for each; meanwhile this process may take the last
    of them the helper has not reached with `take()`. `outcomes()` gives the job's results, by
    page, once the helper is done with it. `work` is the one the process was forked with; only
    the arguments are sent, and a file descriptor with them if `start` is given one (it comes
    first in the arguments there).

    The locks in `hold` are held while the process forks, so that no other thread is inside
    what they guard (PDFium, the OCR engine) at that moment; both processes then let them go.
    Each result is sent as soon as it is made, and a thread of this process receives it then:
    unpickling them costs this process time it would otherwise spend waiting at the end. Every
    message carries its job's number, so that nothing of one job is ever taken for another's."""

    def __init__(self, work: Callable[..., Iterator[tuple[int, object]]], hold: Iterable = ()):
        self.work = work
        self.owner = os.getpid()
        self.claims = PageClaims()
        job_receiver, self.jobs = Pipe(duplex=True)  # a socket pair: file descriptors can go through it
        self.receiver, result_sender = Pipe(duplex=False)
        try:
            self.pid = self._fork(hold, job_receiver, result_sender)
        except BaseException:
            self._close_ends()
            raise
        finally:
            job_receiver.close()
            result_sender.close()
        self.alive = True  # False once it is known to be gone, or to be no longer in step
        self.reaped = False
        self.busy = False
        self.job = 0
        self.done = False
        self.results: dict[int, object] = {}
        self.reader: threading.Thread | None = None

    def _fork(self, hold: Iterable, job_receiver, result_sender) -> int:
        # Objects that exist now are left alone by the child's garbage collector: a finalizer
        # there must not close what the parent still uses (a database connection's socket).
        gc.freeze()
        try:
            with ExitStack() as held:
                for lock in hold:
                    held.enter_context(lock)
                pid = os.fork()
                if pid == 0:
                    try:
                        held.close()  # the child's one thread is the one that took them
                        self.jobs.close()
                        self.receiver.close()
                        _serve(self.work, self.claims, job_receiver, result_sender, self.owner)
                    finally:
                        os._exit(1)  # never back into the parent's code
                return pid
        finally:
            gc.unfreeze()

    def usable(self) -> bool:
        """Whether this process can hand the helper a job: it is its own child, idle and alive
        (one that died meanwhile is reaped here)."""
        if not (self.alive and not self.busy and self.owner == os.getpid()):
            return False
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid:
            self.alive, self.reaped = False, True
        return self.alive

    def start(self, args: tuple, first: int, count: int, descriptor: int | None = None) -> None:
        """Hand the helper a job, with a duplicate of `descriptor` if given (OSError or
        RuntimeError if that cannot be done: stop() it then)."""
        self.claims.reset(first, count)
        self.job += 1
        self.results, self.done, self.busy = {}, False, True
        self.jobs.send((self.job, args, descriptor is not None))
        if descriptor is not None:
            reduction.send_handle(self.jobs, descriptor, self.pid)
        reader = threading.Thread(target=self._receive, args=(self.job,), name="page-helper-reader", daemon=True)
        reader.start()
        self.reader = reader

    def _receive(self, job: int) -> None:
        try:
            while True:
                number, index, result = self.receiver.recv()
                if number != job:
                    break  # not this job's: the helper is out of step
                if index is None:
                    self.done = True
                    return
                self.results[index] = result
        except BaseException:  # noqa: BLE001 - gone (EOF), stopped, or a result that could not be read
            pass
        self.alive = False

    def take(self) -> int | None:
        """The helper's last page it has not reached, for this process to do, or None once it has."""
        return self.claims.take_last()

    def outcomes(self) -> dict[int, object]:
        """The job's results by page, once the helper is done with it: all of them, or those it
        sent before it died (the helper is then no longer usable)."""
        self.reader.join()
        self.busy = False
        if not self.done:
            self.alive = False
        results, self.results = self.results, {}
        return results

    def stop(self) -> None:
        """End the helper, whatever it is doing, and reap it."""
        if self.owner != os.getpid():
            return
        self.owner = -1
        self.alive = False
        if not self.reaped:  # once reaped (usable()), its pid may be another process's
            self.reaped = True
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        if self.reader is not None:
            self.reader.join()  # the pipe's far end is gone: the reader has seen EOF
        self._close_ends()

    def _close_ends(self) -> None:
        for end in (self.jobs, self.receiver):
            end.close()
        self.claims.close()

    def private_bytes(self) -> int:
        """Memory only the helper holds (its private pages), 0 once it is gone."""
        if not self.alive or self.owner != os.getpid():
            return 0
        try:
            with open(f"/proc/{self.pid}/smaps_rollup") as rollup:
                return sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Private_"))
        except (OSError, ValueError, IndexError):
            return 0


_kept: PageHelper | None = None


def kept_helper(work: Callable[..., Iterator[tuple[int, object]]], hold: Iterable = ()) -> PageHelper:
    """This process's helper for `work`, ready for a job: the one kept from an earlier PDF, or a
    new one (OSError or RuntimeError when no process or thread is to be had)."""
    global _kept
    if _kept is not None and not (_kept.usable() and _kept.work is work):
        _kept.stop()
        _kept = None
    if _kept is None:
        _kept = PageHelper(work, hold)
    return _kept


def kept_helper_bytes() -> int:
    """The private memory of this process's kept helper (0 without one)."""
    return _kept.private_bytes() if _kept is not None else 0


def stop_kept_helper() -> None:
    """End this process's kept helper, if it has one (the next PDF forks another)."""
    global _kept
    if _kept is not None:
        _kept.stop()
        _kept = None


def _forget_in_child() -> None:
    """A forked child has no helper of its own: the one it would see is its parent's."""
    global _kept
    _kept = None


os.register_at_fork(after_in_child=_forget_in_child)


def _serve(work: Callable[..., Iterator], claims: PageClaims, jobs, results, parent: int) -> None:
    """The helper process: run each job, sending each result as it is made, until the parent
    closes the pipe; exit without running the parent's exit code. A job that fails ends the
    process, so that the parent, seeing the pipe close, does the pages itself."""
    code = 1
    try:
        _die_with(parent)
        gc.disable()  # it collects after each job instead (as a document child does)
        while True:
            try:
                job, args, with_descriptor = jobs.recv()
            except EOFError:
                code = 0
                return
            if with_descriptor:
                args = (reduction.recv_handle(jobs), *args)
            for index, result in work(*args, iter(claims.take_next, None)):
                results.send((job, index, result))
            results.send((job, None, None))
            args = result = None  # the job's document and last page go before the next job
            gc.collect()
            _trim()
    except BaseException:  # noqa: BLE001 - the parent sees EOF and does the pages itself
        code = 1
    finally:
        os._exit(code)


def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _trim() -> None:
    """Hand the heap's free pages back to the system between jobs."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent goes (a worker killing a stuck document)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "prctl"):
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it went before the request was made
        os._exit(1)
