"""The service's Prometheus metrics, counted in every process that does the work.

Under gunicorn (gunicorn.conf.py) every process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode, and `GET /metrics` in any web
process adds them all up: web processes, the task-worker process and their restarts. Without that
directory (tests, `flask run`) each process counts for itself. Metric names: docs/operations.md.
This module imports nothing of the service, so the sandbox and the state machine can count too.
"""
from __future__ import annotations

from prometheus_client import Counter, Histogram

# Requests: labelled by the route's rule (never the path, which holds task ids), not by owner.
REQUESTS = Counter("chunkr_http_requests", "HTTP requests answered", ["method", "route", "status"])
REQUEST_SECONDS = Histogram("chunkr_http_request_duration_seconds", "Time to answer a request", ["method", "route"],
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

# Tasks: what the state machine did.
TASKS_CREATED = Counter("chunkr_tasks_created", "Tasks created (both create routes)")
TASKS_UPDATED = Counter("chunkr_tasks_updated", "Tasks queued again by an update")
TASKS_CANCELLED = Counter("chunkr_tasks_cancelled", "Tasks cancelled before they ran")
TASKS_CLAIMED = Counter("chunkr_tasks_claimed", "Task runs started by a worker")
TASKS_FINISHED = Counter("chunkr_tasks_finished", "Task runs ended by a worker", ["status"])
TASKS_TIMED_OUT = Counter("chunkr_tasks_timed_out", "Task runs stopped at TASK_TIMEOUT")
TASKS_HANDED_BACK = Counter("chunkr_tasks_handed_back", "Task runs given back to the queue (shutdown, lost lease)")
TASKS_REAPED = Counter("chunkr_tasks_reaped", "Lost task runs found by housekeeping", ["outcome"])
TASK_SECONDS = Histogram("chunkr_task_duration_seconds", "Time a worker spent on one task run", ["document_type"],
                         buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
PAGES = Counter("chunkr_pages_processed", "Pages of documents processed by succeeded runs", ["document_type"])

# The sandbox: a fresh document child, and why the last one went.
SANDBOX_RESTARTS = Counter("chunkr_sandbox_child_restarts", "Document children replaced", ["reason"])


def document_type(mime_type: str | None) -> str:
    """A bounded label for a document's type: its MIME type's subtype family."""
    essence = (mime_type or "").split(";")[0].strip().lower()
    if essence == "application/pdf":
        return "pdf"
    if essence.startswith("image/"):
        return "image"
    if essence.startswith("text/"):
        return "text"
    if "officedocument" in essence:
        return "office"
    return "other"
