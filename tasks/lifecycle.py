"""The task state machine: statuses, the transition table, and one guarded write per transition."""
from __future__ import annotations

import enum
import uuid
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import bindparam, case, delete, insert, literal, literal_column, or_, select, update

from models import INPUT_FILE, Task, TaskFile, db, now_utc, task_files_table, tasks_table
from tasks.statements import Prepared, transaction


class Status(str, enum.Enum):
    """A task's status, spelled exactly as SPEC.md §4."""

    STARTING = "Starting"
    PROCESSING = "Processing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


# SPEC.md §4: the statuses each operation may start from. Every guard reads this table.
ALLOWED_FROM: dict[str, frozenset[Status]] = {
    "cancel": frozenset({Status.STARTING}),
    "delete": frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED}),
    "update": frozenset({Status.SUCCEEDED, Status.FAILED}),
    "claim": frozenset({Status.STARTING}),
}
VERB_PAST = {"cancel": "cancelled", "delete": "deleted", "update": "updated"}

QUEUED = "Task queued"
QUEUED_FOR_UPDATE = "Task queued for update"
CANCELLED = "Task cancelled"
STARTED = "Task started"


class TaskNotFound(Exception):
    """No such task for this owner (or it expired)."""


class TransitionRefused(Exception):
    """The task's status does not allow the operation."""

    def __init__(self, operation: str, status: str):
        super().__init__(f"Task cannot be {VERB_PAST[operation]}: status is {status}")
        self.status = status


def _allowed(operation: str) -> list[str]:
    return [status.value for status in ALLOWED_FROM[operation]]


def status_in(*statuses: str):
    """`status IN ('A', ...)` with the values inlined, not bound: only then can the planners of
    both databases match the partial indexes on status (a parameter's value is unknown at plan time).
    One status is written `status = 'A'`: SQLite matches a partial index only on the same term."""
    values = [literal_column(f"'{Status(status).value}'") for status in statuses]
    return Task.status == values[0] if len(values) == 1 else Task.status.in_(values)


def status_allows(operation: str):
    """The guard of one operation, from the transition table."""
    return status_in(*_allowed(operation))


def _visible(task_id: str, owner: str, now: datetime):
    """The WHERE terms that make a task exist for an owner: theirs, and not expired."""
    if not _looks_like_task_id(task_id):
        raise TaskNotFound()  # not even a uuid: no row can match, and PostgreSQL rejects NULs
    return (Task.task_id == task_id, Task.owner == owner,
            or_(Task.expires_at.is_(None), Task.expires_at > now))


def _looks_like_task_id(task_id: str) -> bool:
    try:
        return len(task_id) == 36 and str(uuid.UUID(task_id)) == task_id.lower()
    except ValueError:
        return False


def expiry(finished_at: datetime, configuration: dict) -> datetime | None:
    """When a finished task stops existing (SPEC.md §6)."""
    seconds = configuration.get("expires_in")
    return None if seconds is None else finished_at + timedelta(seconds=seconds)


# Prepared once: GET is the hottest path, and SQLAlchemy's per-call machinery costs more than the query.
RESPONSE_COLUMNS = (Task.task_id, Task.status, Task.message, Task.created_at, Task.started_at,
                    Task.finished_at, Task.expires_at, Task.configuration, Task.output, Task.input_url,
                    Task.mime_type)
_GET_TASK = Prepared(select(*RESPONSE_COLUMNS).where(
    Task.task_id == bindparam("task_id"), Task.owner == bindparam("owner"),
    or_(Task.expires_at.is_(None), Task.expires_at > bindparam("now", type_=Task.expires_at.type))))


def get_task(task_id: str, owner: str):
    """The task's row (the columns a response needs, as attributes), or TaskNotFound."""
    if not _looks_like_task_id(task_id):
        raise TaskNotFound()
    task = _GET_TASK.one_or_none({"task_id": task_id, "owner": owner, "now": now_utc()})
    if task is None:
        raise TaskNotFound()
    return task


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
# comes back but what the file's INSERT needs: the response is built from the values sent
# (returning the configuration's JSON to parse it again cost a create about a third of its CPU).
_NEW_TASK = insert(tasks_table).values(
    **_bound(Task.task_id, Task.owner, Task.configuration, Task.file_name, Task.mime_type,
             Task.input_url, Task.created_at),
    status=Status.STARTING.value, message=QUEUED, version=0, attempt=0)
_INSERT_TASK = Prepared(_NEW_TASK)
_INSERT_FILE = Prepared(insert(task_files_table).values(
    **_bound(TaskFile.task_id, TaskFile.name, TaskFile.mime_type, TaskFile.data)))
# PostgreSQL runs both INSERTs as one statement (the file's in a WITH clause), so a create with
# its document is one autocommit round trip; SQLite has no INSERT in WITH: a transaction there.
_created = _NEW_TASK.returning(Task.task_id, Task.mime_type).cte("created")
_INSERT_TASK_WITH_FILE = Prepared(select(_created.c.task_id).add_cte(
    insert(task_files_table).from_select(
        ["task_id", "name", "mime_type", "data"],
        select(_created.c.task_id, literal(INPUT_FILE), _created.c.mime_type,
               bindparam("data", type_=TaskFile.data.type))).cte("stored")))
ResponseRow = namedtuple("ResponseRow", [column.key for column in RESPONSE_COLUMNS])


def create_task(owner: str, configuration: dict, file_name: str | None, mime_type: str | None,
                input_url: str | None, document: bytes | None) -> ResponseRow:
    """Insert a new Starting task (and its inline input document); returns its response row."""
    values = {"task_id": str(uuid.uuid4()), "owner": owner, "configuration": configuration,
              "file_name": file_name, "mime_type": mime_type, "input_url": input_url, "created_at": now_utc()}
    if document is None:
        _INSERT_TASK.rows(values)
    elif db.engine.dialect.name == "postgresql":
        _INSERT_TASK_WITH_FILE.rows({**values, "data": document})
    else:
        with transaction() as within:
            _INSERT_TASK.rows(values, within)
            _INSERT_FILE.rows({"task_id": values["task_id"], "name": INPUT_FILE, "mime_type": mime_type,
                               "data": document}, within)
    return ResponseRow(task_id=values["task_id"], status=Status.STARTING.value, message=QUEUED,
                       created_at=values["created_at"], started_at=None, finished_at=None, expires_at=None,
                       configuration=configuration, output=None, input_url=input_url, mime_type=mime_type)


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
        if current.status not in _allowed("update"):
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


@dataclass
class ClaimedTask:
    """What a worker needs of the task it claimed; (worker_id, attempt) fence its writes."""

    task_id: str
    attempt: int
    worker_id: str
    configuration: dict
    mime_type: str | None
    file_name: str | None
    input_url: str | None
    is_update: bool
    document: bytes | None = None  # the stored input, None for a URL not fetched yet


# The stored input comes back with the claim: the worker needs it next, and this saves a round
# trip. Written out because SQLAlchemy's SQLite compiler drops the table names inside RETURNING,
# which would turn the correlation into task_id = task_id.
_STORED_INPUT = literal_column(
    f"(SELECT task_files.data FROM task_files WHERE task_files.task_id = tasks.task_id"
    f" AND task_files.name = '{INPUT_FILE}')", type_=TaskFile.data.type)

# The claim: one statement, so it runs alone in autocommit. The subquery's status guard decides
# the race with a cancel. On PostgreSQL its row is locked FOR UPDATE, and a row a concurrent
# write changed is re-checked against the guard after that write commits; SKIP LOCKED makes
# concurrent claimers take different rows instead of queueing behind one. SQLite renders no FOR
# UPDATE: an UPDATE holds the database's write lock from its start, so the subquery reads the
# current rows. The outer WHERE is the primary key alone: a repeated status term there let
# PostgreSQL's planner, on a young table, scan the whole queue index instead.
_OLDEST_STARTING = (select(Task.task_id).where(status_allows("claim")).order_by(Task.created_at)
                    .limit(literal_column("1"))  # inlined: a generic plan must know it reads one row
                    .with_for_update(skip_locked=True))
# The claim's statement, also run with a finish in front of it (leases.finish_and_claim).
CLAIM = (update(tasks_table)
         .where(Task.task_id == _OLDEST_STARTING.scalar_subquery())
         .values(status=Status.PROCESSING.value, message=STARTED,
                 started_at=bindparam("claimed_at", type_=Task.started_at.type),
                 worker_id=bindparam("claimer"), attempt=Task.attempt + 1,
                 lease_expires_at=bindparam("lease_until", type_=Task.lease_expires_at.type),
                 version=Task.version + 1)
         .returning(Task.task_id, Task.attempt, Task.configuration, Task.mime_type, Task.file_name,
                    Task.input_url, Task.prev_status, _STORED_INPUT.label("document")))
_CLAIM = Prepared(CLAIM, durable=False)  # a claim lost in a database crash leaves the task Starting: harmless


def claim_values(worker_id: str, lease_seconds: float) -> dict:
    """The values CLAIM binds."""
    now = now_utc()
    return {"claimed_at": now, "claimer": worker_id, "lease_until": now + timedelta(seconds=lease_seconds)}


def claimed_task(row, worker_id: str) -> ClaimedTask:
    """The ClaimedTask of a row CLAIM returned."""
    return ClaimedTask(task_id=row.task_id, attempt=row.attempt, worker_id=worker_id,
                       configuration=row.configuration, mime_type=row.mime_type,
                       file_name=row.file_name, input_url=row.input_url,
                       is_update=row.prev_status is not None, document=row.document)


def claim_next_task(worker_id: str, lease_seconds: float) -> ClaimedTask | None:
    """Move the oldest Starting task to Processing for this worker, or None when none waits."""
    row = _CLAIM.one_or_none(claim_values(worker_id, lease_seconds))
    return None if row is None else claimed_task(row, worker_id)


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
    """Delete expired tasks and their files; returns how many went."""
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
