"""Helpers shared by tests: make documents and tasks, force states the API cannot reach alone."""
from __future__ import annotations

import base64
import time
from datetime import timedelta

from sqlalchemy import update

from models import Task, db, now_utc

MARKDOWN = b"# A title\n\nSome text.\n\n## Section\n\n- one\n- two\n"


def b64(data: bytes) -> str:
    """Base64 text of bytes."""
    return base64.b64encode(data).decode()


def create(client, headers, document: bytes = MARKDOWN, prefix: str = "/api/v1", **fields) -> dict:
    """Create a task from inline bytes and return its TaskResponse."""
    response = client.post(f"{prefix}/task/parse", json={"file": b64(document), **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json


def force(app, task_id: str, **values) -> None:
    """Write task columns directly (to stand in for a worker in lifecycle tests)."""
    with app.app_context():
        db.session.execute(update(Task).where(Task.task_id == task_id).values(**values))
        db.session.commit()
        db.session.remove()


def finish(app, task_id: str, status: str = "Succeeded", output: dict | None = None,
           message: str | None = None, expires_in_seconds: int | None = None) -> None:
    """Put a task in a finished state, as a worker would."""
    now = now_utc()
    force(app, task_id, status=status, message=message or f"Task {status.lower()}",
          started_at=now - timedelta(seconds=1), finished_at=now,
          expires_at=None if expires_in_seconds is None else now + timedelta(seconds=expires_in_seconds),
          output=output if output is not None else sample_output())


def sample_output() -> dict:
    """A small Output with one chunk of one segment."""
    segment = {"segment_id": "s1", "segment_type": "Text",
               "bbox": {"left": 0, "top": 0, "width": 0, "height": 0}, "page_number": 1,
               "page_width": 0, "page_height": 0, "confidence": None, "content": "Some text.",
               "text": "Some text.", "html": "<p>Some text.</p>", "markdown": "Some text.",
               "image": None, "ocr": [], "llm": None, "embed": "Some text."}
    return {"chunks": [{"chunk_id": "c1", "chunk_length": 3, "segments": [segment], "embed": "Some text."}],
            "file_name": "doc.md", "page_count": 1, "pdf_url": None, "mime_type": "text/markdown",
            "pages": []}


def trickle(handler, count: int, pause: float) -> None:
    """An HTTP handler's body sent a byte at a time, `pause` seconds apart, until done or the client goes."""
    try:
        for _ in range(count):
            handler.wfile.write(b"#")
            handler.wfile.flush()
            time.sleep(pause)  # the slowness is the point: a server that trickles
    except OSError:  # the client gave up
        pass


def wait_until(condition, timeout: float = 30.0, what: str | None = None):
    """Poll `condition()` until it returns something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what or 'true'} after {timeout} s")
        time.sleep(0.02)  # the poll's interval, not a guess at how long something takes


def gone(pid: int) -> bool:
    """Whether a process has exited (reaped, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
