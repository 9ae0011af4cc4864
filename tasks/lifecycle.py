"""The API side of the task lifecycle: create and read tasks, and one guarded write per transition."""
from __future__ import annotations

import re
import uuid
from collections import namedtuple
from datetime import datetime
from typing import Callable

from sqlalchemy import bindparam, case, delete, insert, or_, select, update

from models import INPUT_FILE, Task, TaskFile, db, now_utc, task_files_table, tasks_table
from tasks import drivers, idempotency
from tasks.statements import Prepared
from tasks.status import (
    CANCELLED,
    QUEUED,
    QUEUED_FOR_UPDATE,
    Status,
    TaskNotFound,
    TransitionRefused,
    allowed,
    expiry,
    status_allows,
)


def _visible(task_id: str, owner: str, now: datetime):
    """The WHERE terms that make a task exist for an owner: theirs, and not expired."""
    if not _looks_like_task_id(task_id):
        raise TaskNotFound()  # not even a uuid: no row can match, and PostgreSQL rejects NULs
    return (Task.task_id == task_id, Task.owner == owner,
            or_(Task.expires_at.is_(None), Task.expires_at > now))


def _looks_like_task_id(task_id: str) -> bool:
    """A UUID in its canonical 8-4-4-4-12 hex form, as task ids are made (either case)."""
    return _TASK_ID.fullmatch(task_id) is not None


_TASK_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE | re.ASCII)


# Prepared once: GET is the hottest path, and SQLAlchemy's per-call machinery costs more than the query.
RESPONSE_COLUMNS = (Task.task_id, Task.status, Task.message, Task.created_at, Task.started_at,
                    Task.finished_at, Task.expires_at, Task.configuration, Task.output, Task.input_url,
                    Task.mime_type, Task.version)
_VISIBLE_BY_ID = (Task.task_id == bindparam("task_id"), Task.owner == bindparam("owner"),
                  or_(Task.expires_at.is_(None), Task.expires_at > bindparam("now", type_=Task.expires_at.type)))
_GET_TASK = Prepared(select(*RESPONSE_COLUMNS).where(*_VISIBLE_BY_ID))
# What a response's ETag is made of: every write that changes a response bumps `version`, but for
# the worker's progress messages, which change only `message`.
_TASK_STATE = Prepared(select(Task.task_id, Task.version, Task.status, Task.message).where(*_VISIBLE_BY_ID))


def get_task(task_id: str, owner: str):
    """The task's row (the columns a response needs, as attributes), or TaskNotFound."""
    return _visible_row(_GET_TASK, task_id, owner)


def task_state(task_id: str, owner: str):
    """The task's `task_id`, `version`, `status` and `message` (for a conditional GET, without
    reading its output), or TaskNotFound."""
    return _visible_row(_TASK_STATE, task_id, owner)


def _visible_row(statement: Prepared, task_id: str, owner: str):
    """The row `statement` reads of the owner's unexpired task, or TaskNotFound."""
    if not _looks_like_task_id(task_id):
        raise TaskNotFound()
    row = statement.one_or_none({"task_id": task_id, "owner": owner, "now": now_utc()})
    if row is None:
        raise TaskNotFound()
    return row


def _refusal(operation: str, task_id: str, owner: str) -> Exception:
    """After a guarded write changed nothing: why (one follow-up read)."""
    status = db.session.connection().execute(
        select(Task.status).where(*_visible(task_id, owner, now_utc()))
    ).scalar_one_or_none()
    db.session.rollback()
    return TaskNotFound() if status is None else TransitionRefused(operation, status)


def _bound(*columns) -> dict:
    """VALUES for an INSERT: each column bound by its own name and type."""
    return {column.key: bindparam(column.key, type_=column.type) for column in columns}


# Prepared once: building an INSERT per call costs more than running it. Nothing of the new row
# comes back: the response is built from the values sent (returning the configuration's JSON to
# parse it again cost a create about a third of its CPU).
_INSERT_TASK = Prepared(insert(tasks_table).values(
    **_bound(Task.task_id, Task.owner, Task.configuration, Task.file_name, Task.mime_type,
             Task.input_url, Task.created_at, Task.webhook_url),
    status=Status.STARTING.value, message=QUEUED, version=0, attempt=0))
_INSERT_FILE = Prepared(insert(task_files_table).values(
    **_bound(TaskFile.task_id, TaskFile.name, TaskFile.mime_type, TaskFile.data)))
ResponseRow = namedtuple("ResponseRow", [column.key for column in RESPONSE_COLUMNS])


def create_task(owner: str, configuration: dict, file_name: str | None, mime_type: str | None,
                input_url: str | None, document: bytes | None, idempotency_key: str | None = None,
                webhook_url: str | None = None) -> ResponseRow:
    """Insert a new Starting task (and its inline input document, and the mark on the
    Idempotency-Key that this request holds); returns its response row. Its webhook events are
    written by the database's triggers (migration 0003), in the INSERT's own transaction."""
    values = {"task_id": str(uuid.uuid4()), "owner": owner, "configuration": configuration,
              "file_name": file_name, "mime_type": mime_type, "input_url": input_url, "created_at": now_utc(),
              "webhook_url": webhook_url}
    steps = [(_INSERT_TASK, values)]
    if document is not None:
        steps.append((_INSERT_FILE, {"task_id": values["task_id"], "name": INPUT_FILE, "mime_type": mime_type,
                                     "data": document}))
    if idempotency_key is not None:
        steps.append((idempotency.MARK_TASK, {"task_id": values["task_id"], "owner": owner,
                                              "idempotency_key": idempotency_key}))
    if len(steps) == 1:
        _INSERT_TASK.rows(values)
    else:  # the task, its document and its key's mark are stored together or not at all
        drivers.current().run_together(*steps)
    return ResponseRow(task_id=values["task_id"], status=Status.STARTING.value, message=QUEUED,
                       created_at=values["created_at"], started_at=None, finished_at=None, expires_at=None,
                       configuration=configuration, output=None, input_url=input_url, mime_type=mime_type,
                       version=0)


def cancel_task(task_id: str, owner: str) -> None:
    """Cancel a Starting task: a new one becomes Cancelled, a queued update reverts."""
    now = now_utc()
    reverting = Task.prev_status.is_not(None)
    # One guarded write: the status guard decides the race with a worker's claim, and a
    # queued update's previous state comes back in this same statement.
    row = db.session.connection().execute(
        update(tasks_table).where(*_visible(task_id, owner, now), status_allows("cancel"))
        .values(
            status=case((reverting, Task.prev_status), else_=Status.CANCELLED.value),
            message=case((reverting, Task.prev_message), else_=CANCELLED),
            configuration=case((reverting, Task.prev_configuration), else_=Task.configuration),
            started_at=case((reverting, Task.prev_started_at), else_=Task.started_at),
            finished_at=case((reverting, Task.prev_finished_at), else_=now),
            expires_at=case((reverting, Task.prev_expires_at), else_=None),
            prev_status=None, prev_message=None, prev_configuration=None,
            prev_started_at=None, prev_finished_at=None, prev_expires_at=None,
            worker_id=None, lease_expires_at=None, version=Task.version + 1,
        )
        .returning(Task.status, Task.configuration)
    ).one_or_none()
    if row is None:
        raise _refusal("cancel", task_id, owner)
    if row.status == Status.CANCELLED.value and expiry(now, row.configuration) is not None:
        # Same transaction, row already ours: set the expiry the new state implies.
        db.session.connection().execute(update(tasks_table).where(Task.task_id == task_id)
                           .values(expires_at=expiry(now, row.configuration)))
    db.session.commit()


def delete_task(task_id: str, owner: str) -> None:
    """Delete a finished task and its files."""
    deleted = db.session.connection().execute(
        delete(tasks_table).where(*_visible(task_id, owner, now_utc()), status_allows("delete"))
        .returning(Task.task_id)
    ).scalar_one_or_none()
    if deleted is None:
        raise _refusal("delete", task_id, owner)
    db.session.connection().execute(delete(task_files_table).where(TaskFile.task_id == task_id))
    db.session.commit()


def queue_update(task_id: str, owner: str, merge: Callable[[dict], dict]):
    """Re-queue a finished task with a merged configuration, keeping its previous state; the
    task's response row as that write left it (a worker may claim it the moment it commits).
    `merge` runs only once the task is known to exist and to allow an update."""
    for _ in range(10):
        current = db.session.connection().execute(
            select(Task.status, Task.configuration, Task.version).where(*_visible(task_id, owner, now_utc()))
        ).one_or_none()
        if current is None:
            raise TaskNotFound()
        if current.status not in allowed("update"):
            raise TransitionRefused("update", current.status)
        configuration = merge(current.configuration)
        # Guarded by status and version: the merge above was computed from this version.
        changed = db.session.connection().execute(
            update(tasks_table)
            .where(*_visible(task_id, owner, now_utc()), status_allows("update"),
                   Task.version == current.version)
            .values(
                status=Status.STARTING.value, message=QUEUED_FOR_UPDATE, configuration=configuration,
                prev_status=Task.status, prev_message=Task.message,
                prev_configuration=Task.configuration, prev_started_at=Task.started_at,
                prev_finished_at=Task.finished_at, prev_expires_at=Task.expires_at,
                finished_at=None, expires_at=None, attempt=0, worker_id=None,
                lease_expires_at=None, version=Task.version + 1,
            )
            .returning(*RESPONSE_COLUMNS)
        ).one_or_none()
        if changed is not None:
            db.session.commit()
            return changed
        db.session.rollback()
    raise TransitionRefused("update", Status.STARTING.value)


def list_tasks(owner: str, *, limit: int | None, offset: int, start: datetime | None,
               end: datetime | None, statuses: list[str] | None) -> list[Task]:
    """The owner's visible tasks, newest first."""
    query = select(Task).where(Task.owner == owner,
                               or_(Task.expires_at.is_(None), Task.expires_at > now_utc()))
    if start is not None:
        query = query.where(Task.created_at >= start)
    if end is not None:
        query = query.where(Task.created_at <= end)
    if statuses:
        query = query.where(Task.status.in_(statuses))
    query = query.order_by(Task.created_at.desc(), Task.task_id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.execute(query).scalars())


def sweep_expired(batch: int = 500) -> int:
    """Delete expired tasks and their files, and expired idempotency keys; returns how many tasks went."""
    idempotency.sweep_expired()
    expired = select(Task.task_id).where(Task.expires_at <= now_utc()).limit(batch)
    ids = list(db.session.connection().execute(expired).scalars())
    if not ids:
        return 0
    # Guarded again: a row only goes if it is still expired when deleted.
    gone = db.session.connection().execute(
        delete(tasks_table).where(Task.task_id.in_(ids), Task.expires_at <= now_utc()).returning(Task.task_id)
    ).scalars().all()
    if gone:
        db.session.connection().execute(delete(task_files_table).where(TaskFile.task_id.in_(gone)))
    db.session.commit()
    return len(gone)


def task_exists(task_id: str) -> bool:
    """Whether a task exists and has not expired, whoever owns it."""
    if not _looks_like_task_id(task_id):
        return False
    return db.session.connection().execute(
        select(Task.task_id).where(Task.task_id == task_id,
                                   or_(Task.expires_at.is_(None), Task.expires_at > now_utc()))
    ).first() is not None
