"""The database at start: engines and their pools, per-connection settings, migrations."""
from __future__ import annotations

import os

import flask_migrate
import orjson
from flask import Flask
from sqlalchemy.engine import make_url

from models import db
from tasks import drivers
from tasks.statements import AUTOCOMMIT_BIND, RELAXED_BIND, configure_hot_statements

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def dump_json(value) -> str:
    """JSON text of a value, with orjson (several times faster than the json module)."""
    return orjson.dumps(value).decode()


def configure(app: Flask, uri: str) -> None:
    """Bind Flask-SQLAlchemy and Flask-Migrate to the database at `uri`, with its driver's options."""
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    driver = drivers.for_dialect(make_url(uri).get_backend_name())
    # Recycle rather than pre-ping: a ping per checkout would double the round trips of a GET.
    options = {"pool_recycle": 1800, "json_serializer": dump_json, "json_deserializer": orjson.loads,
               **driver.engine_options()}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    # Two more pools for single statements (statements.py: GET, key checks, claims, heartbeats):
    # autocommit, so each costs one round trip, with no BEGIN before it and no ROLLBACK after.
    # The relaxed one may not wait for the disk at commit (the driver's prepare_connections).
    autocommit = {"url": uri, **options, "isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    app.config.setdefault("SQLALCHEMY_BINDS", {AUTOCOMMIT_BIND: autocommit, RELAXED_BIND: autocommit})
    configure_hot_statements(app)
    db.init_app(app)
    flask_migrate.Migrate(app, db, directory=MIGRATIONS)


def prepare_connections() -> None:
    """The driver's per-connection settings, on every engine's new connections (app context)."""
    drivers.current().prepare_connections(db.engines)


def upgrade(app: Flask) -> None:
    """Apply pending migrations, one process at a time (several gunicorn workers start together)."""
    with drivers.current().migration_lock(db.engine, app.instance_path):
        flask_migrate.upgrade(directory=MIGRATIONS)
