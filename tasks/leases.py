"""A worker's writes to the task it holds, each fenced by (status, worker id, attempt), and the reaper."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, or_, select, update

from models import INPUT_FILE, Task, TaskFile, db, now_utc, task_files_table, tasks_table
from observability import logs, metrics
from tasks import drivers
from tasks.claims import ClaimedTask, claim_statement, claim_values, claimed_task
from tasks.statements import Prepared
from tasks.status import QUEUED, Status, expiry, status_in

SUCCEEDED = "Task succeeded"
TIMED_OUT = "Task timed out"


# The fence: the task is still Processing under this worker's claim of this attempt. Its
# values are bound at execution, so the statements below are built once.
_HELD = (Task.task_id == bindparam("held_task"), status_in(Status.PROCESSING),
         Task.worker_id == bindparam("held_worker"), Task.attempt == bindparam("held_attempt"))
# Single statements: they run alone in autocommit (statements.py). A lost heartbeat or progress
# message (a database crash before the WAL reached the disk) costs nothing: not durable.
_RENEW = Prepared(update(tasks_table).where(*_HELD)
                  .values(lease_expires_at=bindparam("lease_until", type_=Task.lease_expires_at.type))
                  .returning(Task.task_id), durable=False)
_PROGRESS = Prepared(update(tasks_table).where(*_HELD).values(message=bindparam("progress"))
                     .returning(Task.task_id), durable=False)
_FINISH = Prepared(update(tasks_table).where(*_HELD)
           .values(status=Status.SUCCEEDED.value, message=bindparam("done_message"),
                   output=bindparam("done_output", type_=Task.output.type),
                   finished_at=bindparam("done_at", type_=Task.finished_at.type),
                   expires_at=bindparam("done_expires", type_=Task.expires_at.type),
                   worker_id=None, lease_expires_at=None, prev_status=None, prev_message=None,
                   prev_configuration=None, prev_started_at=None, prev_finished_at=None,
                   prev_expires_at=None, version=Task.version + 1)
           .returning(Task.task_id))


def _held_params(claimed: ClaimedTask) -> dict:
    return {"held_task": claimed.task_id, "held_worker": claimed.worker_id, "held_attempt": claimed.attempt}


def _fenced_update(claimed: ClaimedTask, *conditions, **values) -> bool:
    """One fenced write; False when the lease was lost (and nothing changed)."""
    row = db.session.connection().execute(
        update(tasks_table).where(*_HELD, *conditions).values(**values).returning(Task.task_id),
        _held_params(claimed),
    ).scalar_one_or_none()
    db.session.commit()
    return row is not None


def renew_lease(claimed: ClaimedTask, lease_seconds: float) -> bool:
    """Heartbeat: push the lease deadline out; False when the lease is no longer ours."""
    return _RENEW.scalar(
        {**_held_params(claimed), "lease_until": now_utc() + timedelta(seconds=lease_seconds)}) is not None


def report_progress(claimed: ClaimedTask, message: str) -> bool:
    """Set the task's progress message."""
    return _PROGRESS.scalar({**_held_params(claimed), "progress": message[:1000]}) is not None


def record_input(claimed: ClaimedTask, data: bytes, mime_type: str, file_name: str) -> bool:
    """Store a downloaded input document with its type and name."""
    ok = _fenced_update(claimed, mime_type=mime_type, file_name=file_name)
    if ok:
        db.session.connection().execute(delete(task_files_table).where(TaskFile.task_id == claimed.task_id, TaskFile.name == INPUT_FILE))
        db.session.connection().execute(insert(task_files_table).values(
            task_id=claimed.task_id, name=INPUT_FILE, mime_type=mime_type, data=data))
        db.session.commit()
    return ok


def _finish_params(claimed: ClaimedTask, output: dict, message: str) -> dict:
    now = now_utc()
    return {**_held_params(claimed), "done_message": message, "done_output": output, "done_at": now,
            "done_expires": expiry(now, claimed.configuration)}


def finish_and_claim(claimed: ClaimedTask, output: dict, files: dict[str, tuple[str, bytes]],
                     message: str, lease_seconds: float) -> ClaimedTask | None:
    """Succeed, and claim the worker's next task (or None): in one statement where the driver
    can chain the finish in front of the claim and the finish is the write alone (no files, not
    an update), else finish_task then no claim. The two touch different rows (the finished task
    is not Starting), and the claim is as durable as the finish (a lost claim would be harmless)."""
    driver = drivers.current()
    finish_then_claim = driver.chain(_FINISH, claim_statement(driver))
    if files or claimed.is_update or finish_then_claim is None:
        finish_task(claimed, output, files, message)
        return None
    row = finish_then_claim.one_or_none({**_finish_params(claimed, output, message),
                                         **claim_values(claimed.worker_id, lease_seconds)})
    return None if row is None else claimed_task(row, claimed.worker_id)


def finish_task(claimed: ClaimedTask, output: dict, files: dict[str, tuple[str, bytes]],
                message: str = SUCCEEDED) -> bool:
    """Succeed: store the output and its files, replacing a previous run's."""
    params = _finish_params(claimed, output, message)
    if not files and not claimed.is_update:
        return _FINISH.scalar(params) is not None  # nothing else changes: the write alone
    row = db.session.connection().execute(_FINISH.statement, params).scalar_one_or_none()
    if row is None:
        db.session.rollback()
        return False
    # Same transaction as the fenced write: the output and its files change together. Only an
    # update's run has a previous output whose files go.
    if claimed.is_update:
        db.session.connection().execute(
            delete(task_files_table).where(TaskFile.task_id == claimed.task_id, TaskFile.name != INPUT_FILE))
    if files:
        db.session.connection().execute(insert(task_files_table), [
            {"task_id": claimed.task_id, "name": name, "mime_type": mime_type, "data": data}
            for name, (mime_type, data) in files.items()])
    db.session.commit()
    return True


def _failure_values(reason: str, now, is_update: bool, configuration: dict) -> dict:
    """A failed run: Failed, or for an update the previous state back with the reason."""
    if is_update:
        return dict(status=Task.prev_status, message=f"Update failed: {reason}",
                    configuration=Task.prev_configuration, started_at=Task.prev_started_at,
                    finished_at=Task.prev_finished_at, expires_at=Task.prev_expires_at,
                    prev_status=None, prev_message=None, prev_configuration=None, prev_started_at=None,
                    prev_finished_at=None, prev_expires_at=None, worker_id=None, lease_expires_at=None,
                    version=Task.version + 1)
    return dict(status=Status.FAILED.value, message=reason, finished_at=now,
                expires_at=expiry(now, configuration), worker_id=None, lease_expires_at=None,
                version=Task.version + 1)


def fail_task(claimed: ClaimedTask, reason: str) -> bool:
    """Fail the run with a reason a user can act on."""
    return _fenced_update(claimed, **_failure_values(reason, now_utc(), claimed.is_update, claimed.configuration))


def release_task(claimed: ClaimedTask) -> bool:
    """Hand the task back to the queue at shutdown; it does not count as an attempt."""
    return _fenced_update(claimed, status=Status.STARTING.value,
                          message=QUEUED,
                          attempt=Task.attempt - 1, worker_id=None, lease_expires_at=None,
                          version=Task.version + 1)


def reap_lost_tasks(max_attempts: int, task_timeout: float, lease_seconds: float) -> int:
    """Requeue (or fail, after max_attempts) tasks whose worker stopped heartbeating or overran."""
    now = now_utc()
    overdue = now - timedelta(seconds=task_timeout + lease_seconds)
    candidates = db.session.connection().execute(
        select(Task.task_id, Task.worker_id, Task.attempt, Task.configuration, Task.prev_status,
               Task.lease_expires_at)
        .where(status_in(Status.PROCESSING),
               or_(Task.lease_expires_at < now, Task.started_at < overdue))
        .limit(100)
    ).all()
    db.session.rollback()
    reaped = 0
    for row in candidates:
        claimed = ClaimedTask(task_id=row.task_id, attempt=row.attempt, worker_id=row.worker_id,
                              configuration=row.configuration, mime_type=None, file_name=None,
                              input_url=None, is_update=row.prev_status is not None)
        lease_lost = row.lease_expires_at is not None and row.lease_expires_at < now
        # Re-checked in the write: a heartbeat that landed since the read keeps the task.
        still = Task.lease_expires_at < now if lease_lost else Task.started_at < overdue
        if not lease_lost:
            outcome = "timed_out"
            values = _failure_values(TIMED_OUT, now, claimed.is_update, claimed.configuration)
        elif row.attempt >= max_attempts:
            outcome = "failed"
            reason = f"Task failed: the worker running it was lost (attempt {row.attempt}/{max_attempts})"
            values = _failure_values(reason, now, claimed.is_update, claimed.configuration)
        else:
            outcome = "retried"
            values = dict(status=Status.STARTING.value, message=f"Retrying task {row.attempt + 1}/{max_attempts}",
                          worker_id=None, lease_expires_at=None, version=Task.version + 1)
        # Fenced like the worker's own writes: if it heartbeated or finished meanwhile, nothing happens.
        if _fenced_update(claimed, still, **values):
            reaped += 1
            metrics.TASKS_REAPED.labels(outcome).inc()
            logs.task_event("reaped", row.task_id, outcome=outcome, worker=row.worker_id, attempt=row.attempt)
    return reaped
