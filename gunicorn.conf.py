"""gunicorn settings read by `gunicorn wsgi:app` (and `make run`); see docs/operations.md.

Web processes: gthread with read timeouts (web/server.py), as many connections as threads, so
no connection waits for a thread and a client that stops sending frees its thread in
READ_TIMEOUT_SECONDS. Task workers: one process of their own, started and kept by the master
(worker/embedded.py), so killing or recycling a web process interrupts no task.
"""
import os
import shutil
import tempfile

# Metrics (observability/): every process of this server, web and task workers, counts into one
# folder that any web process adds up at GET /metrics. A fresh one per start unless given.
_METRICS_FOLDER = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _METRICS_FOLDER = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="chunkr-metrics-")

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "web.server.ThreadWorker"
threads = int(os.environ.get("WEB_THREADS", "64"))
# A process takes a connection only when it has a thread free for it: a full process leaves new
# connections to the others. With no room for idle kept-alive connections, keep-alive is off.
worker_connections = threads
keepalive = 0
graceful_timeout = 30


def when_ready(server):
    """Start the task-worker process and the master's thread that keeps it running."""
    from worker.embedded import EmbeddedWorkers

    server.task_workers = EmbeddedWorkers(server).start()


def on_reload(server):
    """On SIGHUP, the task workers restart too (gently) with the new code and settings."""
    task_workers = getattr(server, "task_workers", None)
    if task_workers is not None:
        task_workers.restart()


def child_exit(server, worker):
    """A web process ended: its live gauges stop counting (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """At shutdown, once the web processes are gone: the task workers finish or hand back their tasks."""
    task_workers = getattr(server, "task_workers", None)
    if task_workers is not None:
        task_workers.stop()
    if _METRICS_FOLDER is not None:
        shutil.rmtree(_METRICS_FOLDER, ignore_errors=True)


def post_fork(server, worker):
    """Hand the new web process the master's end of the task workers' wake-up socket."""
    task_workers = getattr(server, "task_workers", None)
    worker.wakeup_sender = task_workers.wakeup_sender if task_workers is not None else None


def post_worker_init(worker):
    """Start this web process's sandbox fork server (page images) before any thread, then the
    thread that wakes the task workers when this process queues a task."""
    from sandbox.pool import process_context
    from worker.embedded import forward_wakeups

    # Started while this process has no other thread (gthread starts its threads with the first
    # connection): the secrets are taken out of the environment for a moment (sandbox/pool.py).
    process_context()
    if worker.wakeup_sender is not None:
        forward_wakeups(worker.wakeup_sender)
