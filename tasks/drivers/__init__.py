"""What differs between the databases: one driver per database, as River keeps one per database.

Every database-specific piece lives in a driver module (sqlite.py, postgresql.py): connection
settings, the migration lock, which row a claim takes and how concurrent claimers are kept
apart, and how several writes run together. The operations (lifecycle, claims, leases) build
their statements once and call the driver for these pieces; they never test the dialect. A new
database is a module named for SQLAlchemy's dialect name, with a driver having every member of
`Driver`, added to DRIVERS. docs/database.md tells why each branch exists.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Mapping, Protocol

from sqlalchemy import ColumnElement, Engine, Select

from models import db
from tasks.drivers import postgresql, sqlite
from tasks.statements import Prepared


class Driver(Protocol):
    """The members every database's driver has."""

    name: str  # SQLAlchemy's dialect name
    migrate_in_batches: bool  # Alembic's render_as_batch (migrations/env.py)

    def engine_options(self) -> dict:
        """Extra create_engine() options for every pool of this database."""

    def prepare_connections(self, engines: Mapping[str | None, Engine]) -> None:
        """Register the per-connection settings on Flask-SQLAlchemy's engines, by bind name."""

    def migration_lock(self, engine: Engine, instance_path: str) -> AbstractContextManager[None]:
        """Held while migrating, so that of several processes starting together one migrates."""

    def claim_target(self, oldest_starting: Select) -> tuple[ColumnElement[bool], ...]:
        """The claim's WHERE: the row `oldest_starting` picks, kept from concurrent claimers."""

    def chain(self, *statements: Prepared) -> Prepared | None:
        """The writes as one statement returning the last one's rows, or None where the
        database cannot write them so."""

    def run_together(self, *steps: tuple[Prepared, dict]) -> list:
        """Run (statement, values) steps all or none, the cheapest way this database has; the
        last one's rows."""


DRIVERS: dict[str, Driver] = {driver.name: driver for driver in (sqlite.DRIVER, postgresql.DRIVER)}


def for_dialect(name: str) -> Driver:
    """The driver of a SQLAlchemy dialect name."""
    try:
        return DRIVERS[name]
    except KeyError:
        raise RuntimeError(f"Unsupported database {name!r}: DATABASE_URL must be sqlite:// or postgresql://") from None


def for_engine(engine: Engine) -> Driver:
    """The driver of an engine's database."""
    return for_dialect(engine.dialect.name)


def current() -> Driver:
    """The driver of the application's database."""
    return for_engine(db.engine)
