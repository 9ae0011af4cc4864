"""SQLite: one database file shared by every process; no row locks, no writes inside WITH."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager

from sqlalchemy import event

from models import Task
from tasks.statements import Prepared, transaction
from tasks.status import status_allows


def _pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer writes; foreign keys make file rows cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _owner_only(database: str | None) -> None:
    """Make the database file readable by its owner only (0600) before SQLite first opens it: it
    holds the documents, their outputs and the URL-signing secret. SQLite gives the -wal and -shm
    files it creates beside it the database file's own mode; those left by an older start are
    narrowed here too."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    os.close(os.open(database, os.O_CREAT | os.O_RDWR, 0o600))
    for path in (database, database + "-wal", database + "-shm", database + "-journal"):
        try:
            os.chmod(path, 0o600)
        except FileNotFoundError:
            pass


class SQLiteDriver:
    """The SQLite side of every database-specific piece (tasks/drivers/__init__.py: Driver)."""

    name = "sqlite"
    # SQLite's ALTER TABLE can do little: Alembic rebuilds a changed table (its batch mode).
    migrate_in_batches = True

    def engine_options(self) -> dict:
        # Wait on a locked database instead of failing at once (workers and servers share it).
        return {"connect_args": {"timeout": 30}}

    def prepare_connections(self, engines) -> None:
        for engine in engines.values():
            _owner_only(engine.url.database)
            event.listen(engine, "connect", _pragmas)

    @contextmanager
    def migration_lock(self, engine, instance_path: str):
        # SQLite's DDL is not transactional under Alembic, and it has no advisory locks: a
        # lock file beside the database.
        database = engine.url.database or ""
        lock_path = (database if database and database != ":memory:" else
                     os.path.join(instance_path, "memory")) + ".migrate-lock"
        with open(lock_path, "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def claim_target(self, oldest_starting):
        # SQLite has no row locks (SQLAlchemy drops FOR UPDATE here): a single
        # UPDATE ... WHERE task_id = (SELECT ... LIMIT 1) AND status = 'Starting' RETURNING ...
        # takes the database's write lock before it reads, so its subquery sees the current rows
        # and no other write lands between the pick and the update. The status guard is the lock.
        return Task.task_id == oldest_starting.scalar_subquery(), status_allows("claim")

    def chain(self, *statements: Prepared) -> None:
        # SQLite has no INSERT or UPDATE inside WITH; nor would one statement save anything here:
        # the database is in the process, there is no round trip.
        return None

    def run_together(self, *steps: tuple[Prepared, dict]) -> list:
        # A transaction on one connection: BEGIN, the statements, COMMIT.
        with transaction() as within:
            rows = [prepared.rows(values, within) for prepared, values in steps]
        return rows[-1]


DRIVER = SQLiteDriver()
