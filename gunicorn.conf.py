"""gunicorn settings read by `gunicorn wsgi:app`: start each worker process's task workers."""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
graceful_timeout = 30


def post_worker_init(worker):
    """Start WORKER_THREADS task workers in this server process (after the fork)."""
    from sandbox.pool import process_context
    from worker.service import BackgroundWorkers

    # The sandboxes' fork server (documents, page images) starts now, while this process has no
    # other thread: it is started with the secrets taken out of the environment for a moment.
    process_context()
    app = worker.wsgi
    worker.task_workers = BackgroundWorkers(app, app.config["WORKER_THREADS"]).start()


def worker_exit(server, worker):
    """On shutdown, finish or hand back running tasks before the process goes."""
    task_workers = getattr(worker, "task_workers", None)
    if task_workers is not None:
        task_workers.stop()
