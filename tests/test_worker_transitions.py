"""The worker's side of the transition table (SPEC.md §4-§6), cell by cell: each operation a worker
or its housekeeping performs, from each state a task's row can be in, with what the call returns
and the row it leaves. The fenced writes (renew, progress, finish, fail, hand back) change a row
only while it is Processing under this worker's claim of this attempt."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from helpers import sample_output

from models import Task, db, now_utc
from schemas import default_configuration
from tasks import leases
from tasks.claims import ClaimedTask, claim_next_task
from tasks.lifecycle import sweep_expired

ME, OTHER = "me", "other"
REASON = "Failed to download file: HTTP 404"
LOST = "Task failed: the worker running it was lost"
# What the previous run of a queued update or an update's run left (restored when it fails).
BEFORE_UPDATE = dict(prev_status="Succeeded", prev_message="Task succeeded", output=sample_output())

# The row each state starts from: (status, message, worker_id, attempt) and whatever else it holds.
# The worker's claim is always ME's of attempt 1 (an update's run when the state is one).
STATES = {
    "Starting": ("Starting", "Task queued", None, 0, {}),
    "Starting, a queued update": ("Starting", "Task queued for update", None, 0, BEFORE_UPDATE),
    "Processing, this claim": ("Processing", "Task started", ME, 1, {}),
    "Processing, this claim of an update": ("Processing", "Task started", ME, 1, BEFORE_UPDATE),
    "Processing, another worker": ("Processing", "Task started", OTHER, 1, {}),
    "Processing, a later attempt": ("Processing", "Task started", ME, 2, {}),  # reaped, claimed again
    "Succeeded": ("Succeeded", "Task succeeded", None, 1, {"output": sample_output()}),
    "Failed": ("Failed", "Task timed out", None, 1, {}),
    "Cancelled": ("Cancelled", "Task cancelled", None, 0, {}),
}
FINISHED = ("Succeeded", "Failed", "Cancelled")


# Each operation: its call, and what it changes of the row first.
#   reap: the lease lapsed a second ago (also left on rows not Processing: a stale lease must
#         not make them reapable), or the run overran TASK_TIMEOUT + LEASE_SECONDS with a live lease.
#   expire: expires_at is set only when a task finishes (§6); rows not finished have none.
OPERATIONS = {
    "claim": (lambda claimed: claim_next_task(ME, 60), {}),
    "renew": (lambda claimed: leases.renew_lease(claimed, 60), {}),
    "progress": (lambda claimed: leases.report_progress(claimed, "Chunking"), {}),
    "finish": (lambda claimed: leases.finish_task(claimed, sample_output(), {}, leases.SUCCEEDED), {}),
    "fail": (lambda claimed: leases.fail_task(claimed, REASON), {}),
    "hand back": (lambda claimed: leases.release_task(claimed), {}),
    "reap, lease lapsed": (lambda claimed: leases.reap_lost_tasks(3, 600, 60), {"lease": -1}),
    "reap, lease lapsed at MAX_ATTEMPTS=1": (lambda claimed: leases.reap_lost_tasks(1, 600, 60), {"lease": -1}),
    "reap, run overran": (lambda claimed: leases.reap_lost_tasks(3, 60, 60), {"started": -3600}),
    "expire, due": (lambda claimed: sweep_expired(), {"expires": -1}),
    "expire, not due": (lambda claimed: sweep_expired(), {"expires": 3600}),
}

SAME = "unchanged"
GONE = "deleted"
CLAIMED = "ClaimedTask(attempt=1, worker_id=me)"
CLAIMED_UPDATE = "ClaimedTask(attempt=1, worker_id=me, is_update)"
REFUSED = (False, SAME)
HELD = ("Processing, this claim", "Processing, this claim of an update")
PROCESSING = HELD + ("Processing, another worker", "Processing, a later attempt")


def _fenced(held_outcome):
    """A fenced write: `held_outcome` for this claim's states, refused in every other."""
    return {state: held_outcome(state) if state in HELD else REFUSED for state in STATES}


def _only(outcomes: dict, otherwise):
    """The outcomes given, and `otherwise` in every other state."""
    return {state: outcomes.get(state, otherwise) for state in STATES}


# (operation) -> {state: (returned, row afterwards as (status, message, worker_id, attempt))}
TABLE = {
    "claim": _only({"Starting": (CLAIMED, ("Processing", "Task started", ME, 1)),
                    "Starting, a queued update": (CLAIMED_UPDATE, ("Processing", "Task started", ME, 1))},
                   (None, SAME)),
    "renew": _fenced(lambda state: (True, SAME + " but the lease")),
    "progress": _fenced(lambda state: (True, ("Processing", "Chunking", ME, 1))),
    "finish": _fenced(lambda state: (True, ("Succeeded", "Task succeeded", None, 1))),
    # §5: an update's failed run brings back the previous state, saying the update failed and why.
    "fail": {**_fenced(lambda state: (True, ("Failed", REASON, None, 1))),
             "Processing, this claim of an update": (True, ("Succeeded", f"Update failed: {REASON}", None, 1))},
    # §5: handed back, Task queued, not counted as an attempt.
    "hand back": _fenced(lambda state: (True, ("Starting", "Task queued", None, 0))),
    # §5: Retrying task {n}/{max}, n the attempt about to run; the reaper takes any holder's task.
    "reap, lease lapsed": _only({**{state: (1, ("Starting", "Retrying task 2/3", None, 1)) for state in PROCESSING},
                                 "Processing, a later attempt": (1, ("Starting", "Retrying task 3/3", None, 2))},
                                (0, SAME)),
    "reap, lease lapsed at MAX_ATTEMPTS=1": _only({
        "Processing, this claim": (1, ("Failed", f"{LOST} (attempt 1/1)", None, 1)),
        "Processing, this claim of an update": (1, ("Succeeded", f"Update failed: {LOST} (attempt 1/1)", None, 1)),
        "Processing, another worker": (1, ("Failed", f"{LOST} (attempt 1/1)", None, 1)),
        "Processing, a later attempt": (1, ("Failed", f"{LOST} (attempt 2/1)", None, 2)),
    }, (0, SAME)),
    "reap, run overran": _only({
        **{state: (1, ("Failed", "Task timed out", None, 1)) for state in PROCESSING},
        "Processing, this claim of an update": (1, ("Succeeded", "Update failed: Task timed out", None, 1)),
        "Processing, a later attempt": (1, ("Failed", "Task timed out", None, 2)),
    }, (0, SAME)),
    "expire, due": _only({state: (1, GONE) for state in FINISHED}, (0, SAME)),
    "expire, not due": _only({}, (0, SAME)),
}


def put_row(app, state: str, setup: dict) -> tuple[str, ClaimedTask]:
    """A task's row in `state`, changed as the operation needs; and this worker's claim of it."""
    status, message, worker_id, attempt, extra = STATES[state]
    now, configuration = now_utc(), default_configuration(None)
    values = dict(task_id=str(uuid.uuid4()), owner="default", status=status, message=message,
                  worker_id=worker_id, attempt=attempt, configuration=configuration, file_name="doc.md",
                  mime_type="text/markdown", created_at=now - timedelta(minutes=2), version=3, **extra)
    if extra.get("prev_status"):
        values.update(prev_configuration=configuration, prev_started_at=now - timedelta(minutes=2),
                      prev_finished_at=now - timedelta(minutes=1))
    if status != "Starting" or extra.get("prev_status"):
        values["started_at"] = now - timedelta(seconds=5)
    if status == "Processing":
        values["lease_expires_at"] = now + timedelta(seconds=60)
    if status in FINISHED:
        values["finished_at"] = now - timedelta(seconds=1)
    if "lease" in setup:
        values["lease_expires_at"] = now + timedelta(seconds=setup["lease"])
    if "started" in setup and "started_at" in values:
        values["started_at"] = now + timedelta(seconds=setup["started"])
    if "expires" in setup and status in FINISHED:
        values["expires_at"] = now + timedelta(seconds=setup["expires"])
    with app.app_context():
        db.session.add(Task(**values))
        db.session.commit()
        db.session.remove()
    claimed = ClaimedTask(task_id=values["task_id"], attempt=1, worker_id=ME, configuration=configuration,
                          mime_type="text/markdown", file_name="doc.md", input_url=None,
                          is_update=bool(extra.get("prev_status")))
    return values["task_id"], claimed


def read_row(app, task_id: str) -> dict | None:
    """Every column of the task's row, or None once it is gone."""
    with app.app_context():
        task = db.session.get(Task, task_id)
        row = None if task is None else {column.key: getattr(task, column.key) for column in Task.__table__.columns}
        db.session.remove()
    return row


def returned(value):
    """A call's return value as the table writes it."""
    if isinstance(value, ClaimedTask):
        assert value.worker_id == ME and value.attempt == 1
        return CLAIMED_UPDATE if value.is_update else CLAIMED
    return value


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("state", list(STATES))
def test_worker_transition_table(app, state, operation):
    """Each cell returns what the table says and leaves the row it says; a refused or idle
    operation leaves every column as it was."""
    call, setup = OPERATIONS[operation]
    expected_return, expected_row = TABLE[operation][state]
    task_id, claimed = put_row(app, state, setup)
    before = read_row(app, task_id)
    with app.app_context():
        value = call(claimed)
        db.session.remove()
    if isinstance(value, ClaimedTask):
        assert value.task_id == task_id
    assert returned(value) == expected_return
    after = read_row(app, task_id)
    if expected_row == GONE:
        assert after is None
        return
    if expected_row == SAME:
        assert after == before
        return
    if expected_row == SAME + " but the lease":
        assert after["lease_expires_at"] > before["lease_expires_at"]
        assert {**after, "lease_expires_at": None} == {**before, "lease_expires_at": None}
        return
    assert (after["status"], after["message"], after["worker_id"], after["attempt"]) == expected_row
    if after["status"] == "Processing":
        assert after["lease_expires_at"] > now_utc()
    else:  # let go: nobody holds it
        assert after["lease_expires_at"] is None
    if after["status"] != before["status"]:
        assert after["version"] == before["version"] + 1  # a transition: a PATCH racing it sees it
    if after["status"] in FINISHED and before["status"] == "Processing" and not claimed.is_update:
        assert after["finished_at"] >= before["started_at"]
    if claimed.is_update and after["status"] != "Processing":
        # The previous state is restored or replaced, never left behind.
        assert after["prev_status"] is None or after["status"] == "Starting"
