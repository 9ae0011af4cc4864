"""A worker's claim: the oldest Starting task becomes Processing under its lease, in one statement."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, literal_column, select, update

from models import INPUT_FILE, Task, TaskFile, now_utc, tasks_table
from tasks import drivers
from tasks.drivers import Driver
from tasks.statements import Prepared
from tasks.status import STARTED, Status, status_allows


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

# Oldest first, through the partial queue index; the driver adds how the row is kept from
# concurrent claimers (drivers/*.py: claim_target).
_OLDEST_STARTING = (select(Task.task_id).where(status_allows("claim")).order_by(Task.created_at)
                    .limit(literal_column("1")))  # inlined: a generic plan must know it reads one row


@functools.cache
def claim_statement(driver: Driver) -> Prepared:
    """The claim on one database, prepared once. One statement, so it runs alone in autocommit;
    the status guard decides the race with a cancel. Also run with a finish in front of it
    (leases.finish_and_claim)."""
    claim = (update(tasks_table)
             .where(*driver.claim_target(_OLDEST_STARTING))
             .values(status=Status.PROCESSING.value, message=STARTED,
                     started_at=bindparam("claimed_at", type_=Task.started_at.type),
                     worker_id=bindparam("claimer"), attempt=Task.attempt + 1,
                     lease_expires_at=bindparam("lease_until", type_=Task.lease_expires_at.type),
                     version=Task.version + 1)
             .returning(Task.task_id, Task.attempt, Task.configuration, Task.mime_type, Task.file_name,
                        Task.input_url, Task.prev_status, _STORED_INPUT.label("document")))
    return Prepared(claim, durable=False)  # a claim lost in a database crash leaves the task Starting: harmless


def claim_values(worker_id: str, lease_seconds: float) -> dict:
    """The values the claim binds."""
    now = now_utc()
    return {"claimed_at": now, "claimer": worker_id, "lease_until": now + timedelta(seconds=lease_seconds)}


def claimed_task(row, worker_id: str) -> ClaimedTask:
    """The ClaimedTask of a row the claim returned."""
    return ClaimedTask(task_id=row.task_id, attempt=row.attempt, worker_id=worker_id,
                       configuration=row.configuration, mime_type=row.mime_type,
                       file_name=row.file_name, input_url=row.input_url,
                       is_update=row.prev_status is not None, document=row.document)


def claim_next_task(worker_id: str, lease_seconds: float) -> ClaimedTask | None:
    """Move the oldest Starting task to Processing for this worker, or None when none waits."""
    row = claim_statement(drivers.current()).one_or_none(claim_values(worker_id, lease_seconds))
    return None if row is None else claimed_task(row, worker_id)
