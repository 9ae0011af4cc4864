"""Logs an operator can read: one line per request and one per task transition, as text or JSON.

LOG_FORMAT=json writes each line as one JSON object (time, level, logger, message and the
line's fields), text otherwise. What goes in is chosen here, field by field: a path without its
query string (which may hold a file URL's signature), an owner's name, a task id, a status, a
worker's id, durations. Never a key, a signature or a document's content.
"""
from __future__ import annotations

import logging
import sys
import time

import orjson

ACCESS = logging.getLogger("chunkr.access")
TASKS = logging.getLogger("chunkr.tasks")
FORMATS = ("text", "json")


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            said = getattr(record, "in_message", ())  # already in the message: not repeated
            line += "".join(f" {key}={value}" for key, value in fields.items() if value is not None and key not in said)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(log_format: str) -> None:
    """Send the service's logs to stderr in the given format (once per process)."""
    root = logging.getLogger()
    formatter = JsonFormatter() if log_format == "json" else TextFormatter()
    handler = next((h for h in root.handlers if getattr(h, "chunkr", False)), None)
    if handler is None:
        for old in list(root.handlers):  # basicConfig's, or an earlier app's in this process
            if isinstance(old, logging.StreamHandler) and getattr(old, "stream", None) in (sys.stderr, sys.stdout):
                root.removeHandler(old)
        handler = logging.StreamHandler(sys.stderr)
        handler.chunkr = True
        root.addHandler(handler)
    handler.setFormatter(formatter)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)


def access(method: str, path: str, status: int, seconds: float, owner: str | None, task_id: str | None) -> None:
    """The line of one answered request."""
    ACCESS.info("%s %s %s", method, path, status, extra={"fields": {
        "method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 1),
        "owner": owner, "task_id": task_id}, "in_message": ("method", "path", "status")})


def task_event(event: str, task_id: str, **fields) -> None:
    """The line of one task transition: created, updated, cancelled, deleted, claimed, finished,
    handed_back, retried, reaped."""
    TASKS.info("task %s %s", task_id, event, extra={"fields": {"event": event, "task_id": task_id, **fields},
                                                    "in_message": ("event", "task_id")})
