"""The prepared single statements (statements.py): results, errors, transactions, durability; the
drivers' database-specific pieces; the same answers with the fast path off (HOT_STATEMENTS)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import ApiKey, Task, db
from schemas import default_configuration
from tasks import claims, drivers, leases, lifecycle
from tasks.statements import AUTOCOMMIT_BIND, RELAXED_BIND, Prepared, autocommit_engine, transaction

_INSERT_KEY = Prepared(insert(ApiKey.__table__).values(
    key_hash=bindparam("key_hash"), prefix="ck_test", owner=bindparam("owner"),
    created_at=bindparam("created_at", type_=ApiKey.created_at.type)))
_KEY_OWNER = Prepared(select(ApiKey.owner, ApiKey.created_at).where(ApiKey.key_hash == bindparam("key_hash")))


@pytest.fixture
def app_config(app_config):
    """These tests are about the fast path: on, whatever the environment says."""
    return {**app_config, "HOT_STATEMENTS": "on"}


def test_prepared_rows_convert_types_like_sqlalchemy(app):
    """JSON comes back as dicts and datetimes as aware UTC, exactly as through the ORM."""
    with app.app_context():
        created = lifecycle.create_task("default", default_configuration(None), "a.txt", "text/plain",
                                        None, b"hello")
        row = lifecycle.get_task(created.task_id, "default")
        orm = db.session.get(Task, created.task_id)
        assert row.configuration == orm.configuration == default_configuration(None)
        assert row.created_at == orm.created_at
        assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0
        assert row.status == "Starting" and row.mime_type == "text/plain" and row.output is None


def test_a_driver_error_is_sqlalchemys_and_the_pool_stays_usable(app):
    with app.app_context():
        values = {"key_hash": "h" * 64, "owner": "x", "created_at": datetime.now(timezone.utc)}
        _INSERT_KEY.rows(values)
        with pytest.raises(IntegrityError):
            _INSERT_KEY.rows(values)
        for _ in range(5):  # every pooled connection still works
            assert _KEY_OWNER.scalar({"key_hash": "h" * 64}) == "x"


def test_transaction_commits_together_or_not_at_all(app):
    with app.app_context():
        now = datetime.now(timezone.utc)
        with transaction() as within:
            _INSERT_KEY.rows({"key_hash": "a" * 64, "owner": "a", "created_at": now}, within)
            _INSERT_KEY.rows({"key_hash": "b" * 64, "owner": "b", "created_at": now}, within)
        assert _KEY_OWNER.scalar({"key_hash": "a" * 64}) == "a"
        assert _KEY_OWNER.scalar({"key_hash": "b" * 64}) == "b"

        with pytest.raises(IntegrityError):
            with transaction() as within:
                _INSERT_KEY.rows({"key_hash": "c" * 64, "owner": "c", "created_at": now}, within)
                _INSERT_KEY.rows({"key_hash": "a" * 64, "owner": "dup", "created_at": now}, within)
        assert _KEY_OWNER.scalar({"key_hash": "c" * 64}) is None  # rolled back with the failure

        with pytest.raises(RuntimeError):
            with transaction() as within:
                _INSERT_KEY.rows({"key_hash": "d" * 64, "owner": "d", "created_at": now}, within)
                raise RuntimeError("the caller failed")
        assert _KEY_OWNER.scalar({"key_hash": "d" * 64}) is None


def test_create_task_stores_task_and_input_in_one_transaction(app, monkeypatch):
    with app.app_context():
        fixed = uuid.uuid4()
        monkeypatch.setattr(lifecycle.uuid, "uuid4", lambda: fixed)
        lifecycle.create_task("default", default_configuration(None), "a.txt", "text/plain", None, b"one")
        with pytest.raises(DBAPIError):  # the same task id again: the task's INSERT fails
            lifecycle.create_task("default", default_configuration(None), "b.txt", "text/plain", None, b"two")
        tasks = db.session.execute(text("SELECT count(*) FROM tasks")).scalar_one()
        files = db.session.execute(text("SELECT count(*) FROM task_files")).scalar_one()
        assert (tasks, files) == (1, 1)


def test_only_the_relaxed_pool_skips_waiting_for_the_disk(app):
    """On PostgreSQL claims, heartbeats and progress commit without waiting for the WAL flush;
    creates, finishes and every other write wait for it."""
    with app.app_context():
        if drivers.current().name != "postgresql":
            # SQLite: every pool has the WAL journal (its commits do not fsync each time anyway).
            for engine in db.engines.values():
                with engine.connect() as connection:
                    assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            return
        settings = {}
        for name, engine in db.engines.items():
            with engine.connect() as connection:
                settings[name] = connection.execute(text("SHOW synchronous_commit")).scalar()
        assert settings == {None: "on", AUTOCOMMIT_BIND: "on", RELAXED_BIND: "off"}
        assert claims.claim_statement(drivers.current()).durable is False
        assert lifecycle._INSERT_TASK.durable and lifecycle._INSERT_FILE.durable


def test_a_broken_pooled_connection_fails_one_call_and_is_replaced(app):
    """A connection the database dropped (restart, idle timeout) costs one error, not every call after."""
    with app.app_context():
        for durable in (True, False):
            owner_of_key = Prepared(_KEY_OWNER.statement, durable=durable)
            broken = autocommit_engine(durable).raw_connection()
            broken.dbapi_connection.close()  # as if the server had gone away
            broken.close()  # back into the pool, broken
            with pytest.raises(DBAPIError):
                owner_of_key.scalar({"key_hash": "x" * 64})
            assert owner_of_key.scalar({"key_hash": "x" * 64}) is None  # a fresh connection
            with pytest.raises(DBAPIError):  # the same inside a transaction
                broken = autocommit_engine().raw_connection()
                broken.dbapi_connection.close()
                broken.close()
                with transaction() as within:
                    owner_of_key.scalar({"key_hash": "x" * 64}, within)
            with transaction() as within:
                assert owner_of_key.scalar({"key_hash": "x" * 64}, within) is None


def test_each_database_has_its_own_claim(app):
    """STYLE.md §10: PostgreSQL picks the row FOR UPDATE SKIP LOCKED; SQLite's single UPDATE
    repeats the status guard outside its subquery."""
    with app.app_context():
        driver = drivers.current()
        sql = str(claims.claim_statement(driver).statement.compile(dialect=db.engine.dialect))
        if driver.name == "postgresql":
            assert "FOR UPDATE SKIP LOCKED" in sql and sql.count("'Starting'") == 1
            assert driver.chain(lifecycle._INSERT_TASK, lifecycle._INSERT_FILE).durable
            assert driver.chain(leases._FINISH, claims.claim_statement(driver)).durable
        else:
            assert "FOR UPDATE" not in sql and sql.count("'Starting'") == 2
            assert driver.chain(leases._FINISH, claims.claim_statement(driver)) is None
    with pytest.raises(RuntimeError, match="Unsupported database"):
        drivers.for_dialect("mysql")


@pytest.mark.parametrize("mode", ["core", "off"])
def test_the_fast_path_off_gives_the_same_answers(app_config, mode):
    """HOT_STATEMENTS=core and off (bench/api.py's comparison) run the same statements through
    SQLAlchemy: same rows, same types, same transactions."""
    from app import create_app

    application = create_app({**app_config, "HOT_STATEMENTS": mode})
    try:
        with application.app_context():
            assert application.config["HOT_STATEMENTS"] == mode
            created = lifecycle.create_task("default", default_configuration(None), "a.txt", "text/plain",
                                            None, b"hello")
            row = lifecycle.get_task(created.task_id, "default")
            assert row.configuration == default_configuration(None) and row.status == "Starting"
            assert row.created_at.utcoffset().total_seconds() == 0
            claimed = claims.claim_next_task("w", 60)
            assert claimed.task_id == created.task_id and claimed.document == b"hello"
            assert leases.renew_lease(claimed, 60) and leases.report_progress(claimed, "Chunking")
            assert leases.finish_and_claim(claimed, {"chunks": []}, {}, leases.SUCCEEDED, 60) is None
            assert lifecycle.get_task(created.task_id, "default").status == "Succeeded"
            with pytest.raises(IntegrityError):
                with transaction() as within:
                    _INSERT_KEY.rows({"key_hash": "e" * 64, "owner": "e", "created_at": row.created_at}, within)
                    _INSERT_KEY.rows({"key_hash": "e" * 64, "owner": "f", "created_at": row.created_at}, within)
            assert _KEY_OWNER.scalar({"key_hash": "e" * 64}) is None
    finally:
        with application.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
