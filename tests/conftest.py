"""Fixtures: every test gets a fresh database, once on a SQLite file and once on PostgreSQL."""
from __future__ import annotations

import gc
import os
import uuid

import pytest
import sqlalchemy as sa

from app import create_app
from models import db

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEY = "test-key"
OTHER_KEY = "other-key"


def _postgres_schema_url():
    """A new schema in the test database, and a URL whose connections use it."""
    schema = "t_" + uuid.uuid4().hex[:16]
    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        # PostgreSQL tests must fail, never skip, when the server is not there.
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    return engine, schema, f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A URL to an empty database of each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
        return
    engine, schema, url = _postgres_schema_url()
    yield url
    with engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def app_config(database_url, tmp_path):
    """The test configuration; tests may change it before `app` is built."""
    return {"TESTING": True, "DATABASE_URL": database_url, "API_KEYS": f"{KEY},{OTHER_KEY}:other",
            "WORKER_THREADS": 0, "SECRET_KEY": "test-secret"}


@pytest.fixture
def app(app_config, tmp_path):
    """The service on a fresh database, without background threads."""
    application = create_app(app_config)
    application.instance_path = str(tmp_path)
    yield application
    with application.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def auth():
    """Headers of the main test key."""
    return {"Authorization": KEY}


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on a free loopback port; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def chunkr(app, live_server, tmp_path, monkeypatch):
    """The official client pointed at a live server with two workers, run from an empty directory (no .env)."""
    from chunkr_ai import Chunkr

    from worker.service import BackgroundWorkers

    monkeypatch.chdir(tmp_path)
    running = BackgroundWorkers(app, 2).start()
    client = Chunkr(url=live_server, api_key="test-key")
    yield client
    client.close()
    running.stop()
    close_client_loop()


def close_client_loop() -> None:
    """chunkr-ai 0.3.7 keeps a module-level event loop open forever; close it so it does not leak."""
    from chunkr_ai.api import decorators

    if decorators._sync_loop is not None:
        decorators._sync_loop.close()
        decorators._sync_loop = None
    gc.collect()


