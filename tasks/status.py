"""The task state machine: statuses, the transition table, and the guards read from it."""
from __future__ import annotations

import enum
from datetime import datetime, timedelta

from sqlalchemy import literal_column

from models import Task


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

# SPEC.md §5: the messages the transitions set.
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


def allowed(operation: str) -> list[str]:
    """The status values an operation may start from."""
    return [status.value for status in ALLOWED_FROM[operation]]


def status_in(*statuses: str):
    """`status IN ('A', ...)` with the values inlined, not bound: only then can the planners of
    both databases match the partial indexes on status (a parameter's value is unknown at plan time).
    One status is written `status = 'A'`: SQLite matches a partial index only on the same term."""
    values = [literal_column(f"'{Status(status).value}'") for status in statuses]
    return Task.status == values[0] if len(values) == 1 else Task.status.in_(values)


def status_allows(operation: str):
    """The guard of one operation, from the transition table."""
    return status_in(*allowed(operation))


def expiry(finished_at: datetime, configuration: dict) -> datetime | None:
    """When a finished task stops existing (SPEC.md §6)."""
    seconds = configuration.get("expires_in")
    return None if seconds is None else finished_at + timedelta(seconds=seconds)
