"""The outbox of events: the deliverers' claim of a due delivery, the record of each attempt, the
listing of deliveries and their sweep. The rows themselves are written by database triggers
(migration 0003) in the transaction of each status change."""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, literal_column, select, update

from models import WebhookDelivery, db, now_utc, webhook_deliveries_table
from tasks import drivers

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATES = (PENDING, DELIVERED, FAILED)
D = WebhookDelivery


@dataclass
class ClaimedDelivery:
    """A delivery a deliverer holds for one attempt; (id, attempts) fence the record of its result."""

    id: int
    event_id: str
    task_id: str
    owner: str
    endpoint_id: str | None
    url: str
    status: str
    message: str
    occurred_at: datetime
    attempts: int


_NOW = bindparam("now", type_=D.next_attempt_at.type)
# The most overdue pending delivery, through the partial index on pending rows.
_DUE = (select(D.id).where(D.state == PENDING, D.next_attempt_at <= _NOW).order_by(D.next_attempt_at)
        .limit(literal_column("1")))


@functools.cache
def _claim_statement(database: str):
    """The claim on one database, built once: the attempt is counted and the row is held (its next
    attempt pushed past this one's timeout), so a deliverer that dies mid-attempt only delays it."""
    if database == "postgresql":
        # FOR UPDATE SKIP LOCKED in the claiming UPDATE's subquery: the picked row is locked and
        # re-checked after a concurrent claim commits, and concurrent deliverers (threads, processes,
        # hosts) take different rows instead of queueing behind one.
        target = (D.id == _DUE.with_for_update(skip_locked=True).scalar_subquery(),)
    else:
        # SQLite has no row locks: the UPDATE takes the database's write lock before its subquery
        # reads, and the guard repeated in its WHERE is the lock (a row claimed meanwhile is not due).
        target = (D.id == _DUE.scalar_subquery(), D.state == PENDING, D.next_attempt_at <= _NOW)
    return (update(webhook_deliveries_table).where(*target)
            .values(attempts=D.attempts + 1, next_attempt_at=bindparam("held_until", type_=D.next_attempt_at.type))
            .returning(D.id, D.event_id, D.task_id, D.owner, D.endpoint_id, D.url, D.status, D.message,
                       D.occurred_at, D.attempts))


_ANY_DUE = select(D.id).where(D.state == PENDING, D.next_attempt_at <= _NOW).limit(1)


def any_due() -> bool:
    """Whether a delivery is due: a read, so that an idle deliverer's poll takes no write lock (SQLite)."""
    due = db.session.connection().execute(_ANY_DUE, {"now": now_utc()}).first() is not None
    db.session.rollback()
    return due


def claim_due_delivery(hold_seconds: float) -> ClaimedDelivery | None:
    """Take the most overdue pending delivery for one attempt, or None when none is due."""
    now = now_utc()
    row = db.session.connection().execute(
        _claim_statement(drivers.current().name),
        {"now": now, "held_until": now + timedelta(seconds=hold_seconds)},
    ).one_or_none()
    db.session.commit()
    return None if row is None else ClaimedDelivery(**row._asdict())


def backoff_seconds(attempts: int, base: float, longest: float) -> float:
    """The wait after `attempts` failed attempts: doubling from `base`, at most `longest`, plus up to
    a fifth more at random so that deliveries failed together do not all come back together."""
    return min(base * 2 ** (attempts - 1), longest) * random.uniform(1.0, 1.2)


def record_attempt(claimed: ClaimedDelivery, error: str | None, config) -> str:
    """Record an attempt's result (None: delivered); the delivery's new state. Fenced by the attempt
    count: a deliverer whose hold ran out and whose row was claimed again changes nothing."""
    now = now_utc()
    if error is None:
        values = {"state": DELIVERED, "delivered_at": now, "last_error": None}
    elif claimed.attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        values = {"state": FAILED, "last_error": error[:1000]}
    else:
        wait = backoff_seconds(claimed.attempts, config["WEBHOOK_BACKOFF_SECONDS"],
                               config["WEBHOOK_BACKOFF_MAX_SECONDS"])
        values = {"next_attempt_at": now + timedelta(seconds=wait), "last_error": error[:1000]}
    db.session.connection().execute(
        update(webhook_deliveries_table)
        .where(D.id == claimed.id, D.state == PENDING, D.attempts == claimed.attempts).values(**values))
    db.session.commit()
    return values.get("state", PENDING)


def list_deliveries(owner: str | None, *, limit: int = 100, state: str | None = None,
                    task_id: str | None = None) -> list[WebhookDelivery]:
    """Deliveries newest first: an owner's (everyone's when None), of one state or task if given."""
    query = select(WebhookDelivery).order_by(D.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(D.owner == owner)
    if state is not None:
        query = query.where(D.state == state)
    if task_id is not None:
        query = query.where(D.task_id == task_id)
    return list(db.session.execute(query).scalars())


def sweep_finished(keep_seconds: float) -> int:
    """Delete delivered and failed deliveries older than `keep_seconds`; how many went."""
    cutoff = now_utc() - timedelta(seconds=keep_seconds)
    gone = db.session.connection().execute(
        delete(webhook_deliveries_table).where(D.state.in_((DELIVERED, FAILED)), D.occurred_at < cutoff)).rowcount
    db.session.commit()
    return gone
