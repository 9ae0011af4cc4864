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
        return super().format(record) + fields_text(getattr(record, "fields", None), getattr(record, "in_message", ()))

    def line(self, name: str, created: float, message: str, fields: dict, said: tuple) -> str:
        """What format() gives for an INFO record with these parts, without building the record."""
        seconds = int(created)
        stamp = _LOCAL_SECOND.get(seconds)
        if stamp is None:
            stamp = time.strftime(self.default_time_format, self.converter(created))
            _LOCAL_SECOND.clear()
            _LOCAL_SECOND[seconds] = stamp
        return f"{stamp},{int((created - seconds) * 1000):03d} INFO {name}: {message}{fields_text(fields, said)}"


def fields_text(fields: dict | None, said: tuple) -> str:
    """` key=value` for each field with a value that the message does not already say."""
    if not fields:
        return ""
    return "".join([f" {key}={value}" for key, value in fields.items() if value is not None and key not in said])


_LOCAL_SECOND: dict[int, str] = {}  # the last second's local time stamp, as the text lines write it


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.entry(record.name, record.levelname, record.created, record.getMessage(),
                           getattr(record, "fields", None))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def entry(self, name: str, level: str, created: float, message: str, fields: dict | None) -> dict:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int((created - int(created)) * 1000):03d}Z"
        return {"time": stamp, "level": level, "logger": name, "message": message, **(fields or {})}

    def line(self, name: str, created: float, message: str, fields: dict, said: tuple) -> str:
        """What format() gives for an INFO record with these parts, without building the record."""
        return orjson.dumps(self.entry(name, "INFO", created, message, fields), default=str).decode()


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


ACCESS_SAID = ("method", "path", "status")


def access(method: str, path: str, status: int, seconds: float, owner: str | None, task_id: str | None) -> None:
    """The line of one answered request.

    Every request writes one, so when nothing but the service's own handler would see it (no
    test capturing logs, no handler or filter added by an operator's logging config), the line is
    formatted and written to that handler's stream directly: the same text, without a LogRecord.
    """
    fields = {"method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 1),
              "owner": owner, "task_id": task_id}
    handler = _sole_handler()
    if handler is not None:
        line = handler.formatter.line(ACCESS.name, time.time(), f"{method} {path} {status}", fields, ACCESS_SAID)
        try:
            with handler.lock:
                handler.stream.write(line + handler.terminator)
                handler.stream.flush()
            return
        except (OSError, ValueError):  # a broken or closed stream: logging's own path reports it
            pass
    ACCESS.info("%s %s %s", method, path, status, extra={"fields": fields, "in_message": ACCESS_SAID})


def _sole_handler() -> logging.StreamHandler | None:
    """The service's handler when an access line would reach it and nothing else."""
    handlers = logging.root.handlers
    if len(handlers) != 1 or ACCESS.parent is not logging.root or ACCESS.handlers or ACCESS.filters:
        return None
    handler = handlers[0]
    if not getattr(handler, "chunkr", False) or handler.filters or handler.level > logging.INFO:
        return None
    if not ACCESS.isEnabledFor(logging.INFO) or not ACCESS.propagate or ACCESS.disabled:
        return None
    return handler


def task_event(event: str, task_id: str, **fields) -> None:
    """The line of one task transition: created, updated, cancelled, deleted, claimed, finished,
    handed_back, retried, reaped."""
    TASKS.info("task %s %s", task_id, event, extra={"fields": {"event": event, "task_id": task_id, **fields},
                                                    "in_message": ("event", "task_id")})
