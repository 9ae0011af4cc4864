"""A forked helper process that analyses some of a long PDF's pages while this process does the rest.

The analysis of a page is Python, so one process keeps one core busy; a helper on a second
core takes a long document's pages from the middle on and sends each page's outcome back as
soon as it is done. Pages cost very different times (an index page holds ten times the words
of a chapter opening), so this process, once done with the first part, takes the helper's
pages from the last one backwards until the two meet.
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
from multiprocessing.connection import Pipe

MIN_PAGES = 16  # below this, forking costs more than the second core gives back
PR_SET_PDEATHSIG = 1
CLAIMS = struct.Struct("ii")  # the helper's next page, and the end of its pages


class PageClaims:
    """The helper's pages, `next` up to `end`, in memory both processes share: the helper takes
    them from the start and only it writes `next`; this process takes them from the end and only
    it writes `end`.

    Each reads the other's claim before writing its own, so both may take the page where they
    meet (it is then done twice, and this process's outcome is kept), but none is left to neither."""

    def __init__(self, first: int, count: int):
        self.shared = mmap.mmap(-1, CLAIMS.size)  # anonymous and shared: a forked child sees the same bytes
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
    """A child process running `work` over pages `first` to `count` - 1 in turn, while this
    process may take the last of them it has not reached with `take()`; `outcomes()` gives the
    child's results, by page, once it is done.

    `work` gets an iterator of page indices and yields an (index, result) pair for each. The
    locks in `hold` are held while the process forks, so that no other thread is inside what
    they guard (PDFium, the OCR engine) at that moment; both processes then let them go. Each
    result is sent as soon as it is made, and a thread of this process receives it then:
    unpickling them costs this process time it would otherwise spend waiting at the end."""

    def __init__(self, work: Callable[[Iterator[int]], Iterator[tuple[int, object]]], first: int, count: int,
                 hold: Iterable = ()):
        self.claims = PageClaims(first, count)
        self.receiver, sender = Pipe(duplex=False)
        try:
            self._start(work, hold, sender)
        except BaseException:
            self.receiver.close()
            self.claims.close()
            raise
        finally:
            sender.close()

    def _start(self, work: Callable[[Iterator[int]], Iterator], hold: Iterable, sender) -> None:
        parent = os.getpid()
        # Objects that exist now are left alone by the child's garbage collector: a finalizer
        # there must not close what the parent still uses (a database connection's socket).
        gc.freeze()
        try:
            with ExitStack() as held:
                for lock in hold:
                    held.enter_context(lock)
                self.pid = os.fork()
                if self.pid == 0:
                    held.close()  # the child's one thread is the one that took them
                    _run_child(work, self.claims, sender, self.receiver, parent)  # never returns
        finally:
            if os.getpid() == parent:
                gc.unfreeze()
        self.results: dict[int, object] = {}
        self.reaped = False
        self.reader = threading.Thread(target=self._receive, name="page-helper-reader", daemon=True)
        try:
            self.reader.start()
        except BaseException:  # no thread to be had: the helper goes, and its pages with it
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            raise

    def _receive(self) -> None:
        try:
            while True:
                message = self.receiver.recv()
                if message == _DONE:
                    return
                index, result = message
                self.results[index] = result
        except (EOFError, OSError):  # the helper died, or stop() closed the pipe
            return

    def take(self) -> int | None:
        """The helper's last page it has not reached, for this process to do, or None once it has."""
        return self.claims.take_last()

    def outcomes(self) -> dict[int, object]:
        """The helper's results by page, once it is done: all of them, or those it sent before it died."""
        try:
            self.reader.join()
            return self.results
        finally:
            self.stop()

    def stop(self) -> None:
        """End the helper, if it still runs, and reap it."""
        if self.reaped:
            return
        self.reaped = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        self.reader.join()  # the pipe's far end is gone: the reader has seen EOF
        self.receiver.close()
        self.claims.close()


_DONE = "done"


def _run_child(work: Callable[[Iterator[int]], Iterator], claims: PageClaims, sender, receiver, parent: int) -> None:
    """The helper process: do the work, send each result, exit without running the parent's exit code."""
    code = 1
    try:
        receiver.close()
        _die_with(parent)
        for result in work(iter(claims.take_next, None)):
            sender.send(result)
        sender.send(_DONE)
        code = 0
    except BaseException:  # noqa: BLE001 - the parent sees EOF and does the pages itself
        code = 1
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent goes (a worker killing a stuck document)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it went before the request was made
        os._exit(1)
