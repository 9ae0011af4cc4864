"""PostgreSQL: a server shared by many processes and hosts; row locks, advisory locks, writes in WITH."""
from __future__ import annotations

import functools
from contextlib import contextmanager

from sqlalchemy import event, text

from models import Task
from tasks.statements import RELAXED_BIND, Prepared

# Any constant works; it names the advisory lock that serialises migrations.
MIGRATION_LOCK_ID = 0x43484E4B


def _relax_commits(dbapi_connection, connection_record) -> None:
    """This connection's commits return before the WAL reaches the disk.

    Only for writes whose loss in a database crash is harmless: a claim (the task is Starting
    again, and the orphaned run's fenced writes change nothing), a heartbeat, a progress
    message. A later durable commit (a finish) flushes them anyway."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET synchronous_commit = off")
    dbapi_connection.autocommit = autocommit


@functools.cache
def _chained(statements: tuple[Prepared, ...]) -> Prepared:
    """The statements as one, prepared once per combination."""
    *first, last = statements
    # Data-modifying WITH: each write before the last runs as a CTE, whether or not it is read.
    chained = last.statement.add_cte(*[step.statement.cte(f"step_{number}")
                                       for number, step in enumerate(first, 1)])
    # Waits for the disk if any of its writes must (a finish chained with a claim does).
    return Prepared(chained, durable=any(step.durable for step in statements))


class PostgreSQLDriver:
    """The PostgreSQL side of every database-specific piece (tasks/drivers/__init__.py: Driver)."""

    name = "postgresql"
    migrate_in_batches = False  # ALTER TABLE does what a migration needs

    def engine_options(self) -> dict:
        return {}

    def prepare_connections(self, engines) -> None:
        # Only the relaxed pool (statements.py) skips waiting for the disk at commit.
        event.listen(engines[RELAXED_BIND], "connect", _relax_commits)

    @contextmanager
    def migration_lock(self, engine, instance_path: str):
        # Processes on several hosts may start together: a session-level advisory lock, held
        # on a connection of its own for the whole migration.
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()

    def claim_target(self, oldest_starting):
        # SELECT ... FOR UPDATE SKIP LOCKED inside the claiming UPDATE: the subquery locks the row
        # it picks, and a row a concurrent write changed is re-checked against the subquery's
        # status guard after that write commits (so a cancel and a claim never both win); SKIP
        # LOCKED makes concurrent claimers take different rows instead of queueing behind one.
        # The outer WHERE is the primary key alone: a repeated status term there let the planner,
        # on a young table, scan the whole queue index instead.
        return (Task.task_id == oldest_starting.with_for_update(skip_locked=True).scalar_subquery(),)

    def chain(self, *statements: Prepared) -> Prepared:
        # One statement is one round trip and one commit where there were one of each per write.
        return _chained(statements)

    def run_together(self, *steps: tuple[Prepared, dict]) -> list:
        values: dict = {}
        for _, step_values in steps:
            for name, value in step_values.items():
                # The steps share one set of parameters: a name two of them bind is one value.
                if values.setdefault(name, value) is not value and values[name] != value:
                    raise ValueError(f"the chained statements bind {name!r} to different values")
        return self.chain(*[prepared for prepared, _ in steps]).rows(values)


DRIVER = PostgreSQLDriver()
