"""Database models: tasks, their stored files, API keys, idempotency keys, service settings and webhooks."""
from __future__ import annotations

from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)

class UtcDateTime(TypeDecorator):
    """A UTC instant: stored as UTC, always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        # To UTC first: SQLite's DATETIME writes the wall-clock fields and drops the zone.
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def now_utc() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(timezone.utc)


INPUT_FILE = "input"  # the task file holding the input document


class Task(db.Model):
    """One document task and its lifecycle state."""

    __tablename__ = "tasks"

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    configuration: Mapped[dict] = mapped_column(JSON)
    file_name: Mapped[str | None] = mapped_column(Text)
    input_url: Mapped[str | None] = mapped_column(Text)  # a URL input, fetched by the worker
    mime_type: Mapped[str | None] = mapped_column(String(200))
    output: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Bumped by every transition, so a read-merge-write (PATCH) can tell it raced.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # The state before a queued update, restored by cancel (SPEC.md §4, Decision: revert).
    prev_status: Mapped[str | None] = mapped_column(String(16))
    prev_message: Mapped[str | None] = mapped_column(Text)
    prev_configuration: Mapped[dict | None] = mapped_column(JSON)
    prev_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prev_finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prev_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The lease of the worker running it: its id, the attempt number (the fencing token).
    worker_id: Mapped[str | None] = mapped_column(String(100))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Where this task's own status changes are sent (webhooks/), besides its owner's endpoints.
    webhook_url: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # The queue reads only Starting tasks, oldest first.
        Index(
            "ix_tasks_queue",
            "created_at",
            postgresql_where=text("status = 'Starting'"),
            sqlite_where=text("status = 'Starting'"),
        ),
        Index("ix_tasks_owner_created", "owner", "created_at"),
        Index("ix_tasks_expires_at", "expires_at"),
        Index(
            "ix_tasks_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'Processing'"),
            sqlite_where=text("status = 'Processing'"),
        ),
    )


class TaskFile(db.Model):
    """A file kept for a task (its input document, a rendered PDF, page images)."""

    __tablename__ = "task_files"

    task_id: Mapped[str] = mapped_column(
        String(36), db.ForeignKey("tasks.task_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    mime_type: Mapped[str] = mapped_column(String(200))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ApiKey(db.Model):
    """An API key, stored as its SHA-256 hash, belonging to one owner."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown by `keys list` to tell keys apart
    owner: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Setting(db.Model):
    """A service-wide value shared by every process, such as the URL-signing secret."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IdempotencyKey(db.Model):
    """An `Idempotency-Key` a create was sent with: the request it was first used for (as a
    fingerprint) and the task it made (None while that first request is being handled)."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_idempotency_keys_created", "created_at"),)


class WebhookEndpoint(db.Model):
    """A URL an owner registered to receive the events of every task of theirs, with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))  # whsec_...: kept in clear, it signs every event
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookSecret(db.Model):
    """The secret that signs the events sent to the `webhook_url` tasks of one owner name."""

    __tablename__ = "webhook_secrets"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDelivery(db.Model):
    """The outbox: one event (a task's status change) for one destination, and its delivery.

    Written by the database triggers of migration 0003, in the transaction of the change itself."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40))  # the webhook-id header, the same on every retry
    task_id: Mapped[str] = mapped_column(String(36))
    owner: Mapped[str] = mapped_column(String(200))
    endpoint_id: Mapped[str | None] = mapped_column(String(40))  # None: the task's own webhook_url
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # the task's status and message the event reports
    message: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        # The deliverers read only pending rows, the due ones first.
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
        Index("ix_webhook_deliveries_owner", "owner", "id"),
    )


# Core tables for guarded writes: plain UPDATE/DELETE ... RETURNING, without the ORM's
# session synchronisation, which these statements neither need nor can afford on the hot path.
tasks_table = Task.__table__
task_files_table = TaskFile.__table__
idempotency_keys_table = IdempotencyKey.__table__
webhook_deliveries_table = WebhookDelivery.__table__
