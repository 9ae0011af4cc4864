"""The task workers of `gunicorn wsgi:app`: one process beside the web processes, kept by the master.

The gunicorn master starts it (gunicorn.conf.py's when_ready) as `flask --app app worker
--parent <master pid>`, restarts it when it dies, and on shutdown stops it as `flask worker`
stops: SIGTERM, running tasks finish or are handed back. It stops by itself when the master goes.
Web processes can then be killed or recycled (timeouts, max_requests, kill -9) without touching
a running task. A web process that queues a task wakes its idle workers through a datagram
socket pair the master makes (forward_wakeups), as routes wake workers of their own process.
This module runs in the master and the web processes: it imports nothing of Flask.
"""
from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

LOG = logging.getLogger("gunicorn.error")  # the master's log
ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 30  # SHUTDOWN_GRACE_SECONDS (worker/loop.py), its sandboxes closing, a task handed back
RESTART_PAUSES = (1, 2, 5, 10, 30)  # seconds before a restart, growing while it keeps dying young


class EmbeddedWorkers:
    """Keeps one task-worker process running from a thread of the gunicorn master."""

    def __init__(self, server):
        self.server = server  # gunicorn's Arbiter: its LISTENERS empty means it is shutting down
        self.process: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.restart_now = threading.Event()
        self.thread = threading.Thread(target=self.keep_running, name="task-workers", daemon=True)
        # Web processes inherit the sending end (forked from the master), each task-worker
        # process gets the receiving end; datagrams, so that any number may send on one end.
        self.wakeup_receiver, self.wakeup_sender = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.wakeup_sender.setblocking(False)

    def start(self) -> "EmbeddedWorkers":
        # The first process is started here, on the master's own thread, before gunicorn forks its
        # web processes: Popen in another thread while the master forks would let a web process
        # inherit Popen's exec-status pipe, and that Popen would wait for the web process to end.
        self.process = self.spawn()
        self.thread.start()
        return self

    def spawn(self) -> subprocess.Popen:
        wakeups = self.wakeup_receiver.fileno()
        command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--parent", str(os.getpid()),
                   "--wakeup-fd", str(wakeups)]
        # Its own process group: a Ctrl-C meant for gunicorn reaches the master, which stops it.
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, process_group=0,
                                   pass_fds=(wakeups,))
        LOG.info("Started task workers (pid: %s)", process.pid)
        return process

    def keep_running(self) -> None:
        """Start the process; when it ends, start another (pausing longer while it dies young)."""
        young_deaths = 0
        while not self.shutting_down():
            started = time.monotonic()
            if self.process is None or self.process.poll() is not None:
                self.process = self.spawn()
            status = self.wait_for_exit(self.process)
            if self.shutting_down():
                return
            LOG.error("Task workers (pid: %s) exited (%s); starting them again", self.process.pid, status)
            young_deaths = young_deaths + 1 if time.monotonic() - started < 60 else 0
            pause = RESTART_PAUSES[min(young_deaths, len(RESTART_PAUSES) - 1)]
            if self.stopping.wait(pause if young_deaths else 0.1):
                return

    def wait_for_exit(self, process: subprocess.Popen) -> str:
        """Wait until the process ends (the master may reap it first: watched through a pidfd);
        send it SIGTERM when the master starts shutting down, or a restart is asked for."""
        try:
            watch = os.pidfd_open(process.pid)
        except (AttributeError, OSError):  # not Linux, or already gone: poll instead
            watch = None
        asked_to_stop = False
        try:
            while True:
                if watch is None:
                    if process.poll() is not None:
                        break
                    time.sleep(0.5)
                elif select.select([watch], [], [], 0.5)[0]:
                    break
                if not asked_to_stop and (self.shutting_down() or self.restart_now.is_set()):
                    self.restart_now.clear()
                    asked_to_stop = True
                    process.send_signal(signal.SIGTERM)
        finally:
            if watch is not None:
                os.close(watch)
        code = process.poll()  # 0 also when the master's waitpid(-1) took the status first
        return f"killed by signal {-code}" if code and code < 0 else f"exit code {code}"

    def shutting_down(self) -> bool:
        # gunicorn's Arbiter.stop() closes the listeners first, before it waits for the web processes.
        return self.stopping.is_set() or not self.server.LISTENERS

    def restart(self) -> None:
        """Stop the process gently (tasks finish or are handed back), then start a fresh one."""
        self.restart_now.set()

    def stop(self) -> None:
        """Stop the process as `flask worker` stops, and wait for it (SIGKILL after STOP_SECONDS)."""
        self.stopping.set()
        process = self.process
        if process is None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            LOG.error("Task workers (pid: %s) did not stop in %s s: killed", process.pid, STOP_SECONDS)
            process.kill()
        self.thread.join(5)


def forward_wakeups(sender: socket.socket) -> None:
    """In a web process: pass on each "work was queued" of this process to the task workers."""
    from tasks.wakeup import wait_for_work

    def forward() -> None:
        while True:
            if wait_for_work(3600):
                try:
                    sender.send(b"!")
                except OSError:  # full: a wake-up is already waiting to be read
                    pass

    threading.Thread(target=forward, name="wake-task-workers", daemon=True).start()


def receive_wakeups(fd: int) -> None:
    """In the task-worker process: wake the idle workers when a web process queued a task."""
    from tasks.wakeup import announce_work

    receiver = socket.socket(fileno=fd)

    def receive() -> None:
        while True:
            receiver.recv(64)
            announce_work()

    threading.Thread(target=receive, name="wakeups", daemon=True).start()
