"""The "work was queued" wake-up: routes set it when they queue a task, idle workers wait on it.

It lives here, below both, so that routes and worker never import each other. It only wakes
workers in this process; workers elsewhere find the task at their next poll.
"""
from __future__ import annotations

import threading

_work_queued = threading.Event()


def announce_work() -> None:
    """A task was just queued in this process: wake its idle workers."""
    _work_queued.set()


def wait_for_work(timeout: float) -> bool:
    """Wait up to `timeout` seconds for announced work; True (and the signal consumed) if any."""
    if _work_queued.wait(timeout):
        _work_queued.clear()
        return True
    return False
