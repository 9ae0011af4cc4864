"""Idempotent creates: an `Idempotency-Key` makes a retried create return the task it made.

As the IETF draft (draft-ietf-httpapi-idempotency-key-header) and Stripe have it: the first
request with a key holds it while it is handled; the same key with the same request (same
fingerprint) then answers the task that request made, never a second one; the same key with a
different request is refused (422); a retry that comes while the first is still being handled is
told to retry later (409). The key is marked with its task in the same transaction that inserts
the task (lifecycle.create_task), so a crash between the two cannot leave a task the key does not
know. Keys are kept KEEP long, then swept.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from models import IdempotencyKey, db, idempotency_keys_table, now_utc
from tasks.statements import Prepared

KEEP = timedelta(hours=24)
# A first request still unfinished after this long died with its process: a retry may take over.
PENDING = timedelta(seconds=120)
MAX_KEY_LENGTH = 255


class KeyReused(Exception):
    """The key was first used for a different request (422)."""


class KeyBusy(Exception):
    """The first request with this key is still being handled (409)."""


# Run with the task's INSERT, in its transaction: binds task_id, owner and idempotency_key.
MARK_TASK = Prepared(update(idempotency_keys_table).where(
    IdempotencyKey.owner == bindparam("owner"), IdempotencyKey.key == bindparam("idempotency_key"),
    IdempotencyKey.task_id.is_(None)).values(task_id=bindparam("task_id")))


def claim(owner: str, key: str, fingerprint: str) -> str | None:
    """Hold `key` for this request: None when this request is to create the task; the task id
    when the key already made one for the same request. Raises KeyReused or KeyBusy."""
    match = (IdempotencyKey.owner == owner, IdempotencyKey.key == key)
    for _ in range(3):  # an expired or abandoned row is cleared or taken over, then tried again
        now = now_utc()
        try:
            db.session.execute(insert(idempotency_keys_table).values(
                owner=owner, key=key, fingerprint=fingerprint, task_id=None, created_at=now))
            db.session.commit()
            return None
        except IntegrityError:  # the key exists (a concurrent insert waited for that one's commit)
            db.session.rollback()
        row = db.session.execute(select(IdempotencyKey.fingerprint, IdempotencyKey.task_id,
                                        IdempotencyKey.created_at).where(*match)).one_or_none()
        if row is None:
            continue  # swept between the two statements
        if row.created_at <= now - KEEP:
            db.session.execute(delete(idempotency_keys_table).where(*match, IdempotencyKey.created_at == row.created_at))
            db.session.commit()
            continue
        if row.fingerprint != fingerprint:
            db.session.rollback()
            raise KeyReused()
        if row.task_id is not None:
            db.session.rollback()
            return row.task_id
        if row.created_at <= now - PENDING:
            taken = db.session.execute(update(idempotency_keys_table).where(
                *match, IdempotencyKey.task_id.is_(None), IdempotencyKey.created_at == row.created_at)
                .values(created_at=now)).rowcount
            db.session.commit()
            if taken:
                return None
            continue
        db.session.rollback()
        raise KeyBusy()
    raise KeyBusy()


def release(owner: str, key: str) -> None:
    """Let go of a key whose request made no task (it failed), so that a retry can make one."""
    db.session.rollback()
    db.session.execute(delete(idempotency_keys_table).where(
        IdempotencyKey.owner == owner, IdempotencyKey.key == key, IdempotencyKey.task_id.is_(None)))
    db.session.commit()


def sweep_expired() -> int:
    """Delete keys older than KEEP; returns how many went."""
    gone = db.session.execute(delete(idempotency_keys_table).where(
        IdempotencyKey.created_at <= now_utc() - KEEP)).rowcount
    db.session.commit()
    return gone
