"""The workers of one process (`flask worker`, also run by gunicorn's master: worker/embedded.py) and their shutdown."""
from __future__ import annotations

import os
import signal
import threading
import time

import click
from flask import Flask
from flask.cli import with_appcontext

from sandbox.pool import process_context
from tasks.wakeup import announce_work
from worker.embedded import receive_wakeups
from worker.loop import SHUTDOWN_GRACE_SECONDS, Worker, housekeeping

BACKGROUND_JOBS = "background_jobs"  # app.extensions key: (name, function(app, stop_event)) pairs


def add_background_job(app: Flask, name: str, job) -> None:
    """Run `job(app, stop_event)` in a thread of every process that runs the workers, until the
    stop event is set: how a feature (webhook delivery) runs beside them without this package
    importing it."""
    app.extensions.setdefault(BACKGROUND_JOBS, []).append((name, job))


class BackgroundWorkers:
    """The worker threads, the housekeeping thread and the features' background jobs of one process."""

    def __init__(self, app: Flask, threads: int):
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=Worker(app, self.stop_event).run, name=f"worker-{n}",
                                         daemon=True) for n in range(threads)]
        self.helpers = [("housekeeping", housekeeping), *app.extensions.get(BACKGROUND_JOBS, [])]
        self.threads += [threading.Thread(target=job, args=(app, self.stop_event), name=name, daemon=True)
                         for name, job in self.helpers]

    def start(self) -> "BackgroundWorkers":
        if len(self.threads) > len(self.helpers):
            # The sandboxes' fork server starts here, before the worker threads: it starts with the
            # secrets taken out of this process's environment for a moment (sandbox/pool.py).
            process_context()
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
@click.option("--parent", default=None, type=int, hidden=True,
              help="Run as gunicorn's task workers (worker/embedded.py): stop when the process with "
                   "this pid, gunicorn's master, goes; WORKER_THREADS=0 runs housekeeping only.")
@click.option("--wakeup-fd", default=None, type=int, hidden=True,
              help="A datagram socket on which web processes say that they queued a task.")
@with_appcontext
def worker_command(threads: int | None, parent: int | None, wakeup_fd: int | None) -> None:
    """Run workers in this process until SIGTERM or Ctrl-C."""
    from flask import current_app

    app = current_app._get_current_object()
    configured = app.config["WORKER_THREADS"]
    workers = BackgroundWorkers(app, threads or (configured if parent else max(configured, 1))).start()
    if wakeup_fd is not None:
        receive_wakeups(wakeup_fd)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    click.echo(f"Worker running with {len(workers.threads) - len(workers.helpers)} threads; SIGTERM to stop.", err=True)
    # With a parent, look every second whether it is still there: a master killed with SIGKILL
    # cannot stop us, and we would be left working for a server that is gone.
    while not stopping.wait(1.0 if parent else None):
        if os.getppid() != parent:
            click.echo(f"Process {parent} (gunicorn's master) is gone.", err=True)
            break
    click.echo("Stopping: finishing or handing back running tasks...", err=True)
    workers.stop()
