"""Shared by the benches: throwaway databases on SQLite and PostgreSQL.

Run: not by itself; imported as `bench.common` by `python -m bench.queue` and `python -m bench.api`
(run from the project root, which is then first on sys.path).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid

import sqlalchemy as sa

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def scratch_database(engine_name: str):
    """A URL to an empty database of the given engine, removed afterwards."""
    if engine_name == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite3"
        return
    schema = "bench_" + uuid.uuid4().hex[:12]
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
