"""A forked helper process that analyses some of a long PDF's pages while this process does the rest.

The analysis of a page is Python, so one process keeps one core busy; a helper on a second
core takes the second half of a long document's pages and sends each page's outcome back as
soon as it is done.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from multiprocessing.connection import Pipe

MIN_PAGES = 16  # below this, forking costs more than the second core gives back
PR_SET_PDEATHSIG = 1


def helper_wanted(page_count: int) -> bool:
    """Whether a PDF this long is worth a helper process on this machine."""
    return page_count >= MIN_PAGES and len(os.sched_getaffinity(0)) >= 2


class PageHelper:
    """A child process running `work` over `items`; `outcomes()` gives the results it yielded.

    The locks in `hold` are held while the process forks, so that no other thread is inside
    what they guard (PDFium, the OCR engine) at that moment; both processes then let them go.
    Each result is sent as soon as it is made, and a thread of this process receives it then:
    unpickling them costs this process time it would otherwise spend waiting at the end."""

    def __init__(self, work: Callable[[list], Iterator], items: list, hold: Iterable = ()):
        self.receiver, sender = Pipe(duplex=False)
        try:
            self._start(work, items, hold, sender)
        except BaseException:
            self.receiver.close()
            raise
        finally:
            sender.close()

    def _start(self, work: Callable[[list], Iterator], items: list, hold: Iterable, sender) -> None:
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
                    _run_child(work, items, sender, self.receiver, parent)  # never returns
        finally:
            if os.getpid() == parent:
                gc.unfreeze()
        self.results: list = []
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
                self.results.append(message)
        except (EOFError, OSError):  # the helper died, or stop() closed the pipe
            return

    def outcomes(self) -> list:
        """The helper's results, in order, once it is done: all of them, or those it sent before it died."""
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


_DONE = "done"


def _run_child(work: Callable[[list], Iterator], items: list, sender, receiver, parent: int) -> None:
    """The helper process: do the work, send each result, exit without running the parent's exit code."""
    code = 1
    try:
        receiver.close()
        _die_with(parent)
        for result in work(items):
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
