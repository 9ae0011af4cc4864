"""The application factory: settings, database, migrations, blueprints, error handlers."""
from __future__ import annotations

import fcntl
import logging
import os
from contextlib import contextmanager

import flask_migrate
import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface
from sqlalchemy import event, text

from models import db
from routes import bp
from tasks.statements import AUTOCOMMIT_BIND, RELAXED_BIND
from web import auth, files, settings
from web.errors import plain, register_error_handlers
from web.storage import load_secret_key
from worker.service import worker_command

VERSION = "0.1.0"
MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
# Any constant works; it names the advisory lock that serialises migrations on PostgreSQL.
MIGRATION_LOCK_ID = 0x43484E4B


def create_app(test_config: dict | None = None) -> Flask:
    """Build the service: defaults, then the environment, then the test config."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.update(settings.from_environment())
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    configure_database(app)
    app.config["ENV_API_KEYS"] = auth.parse_env_keys(app.config["API_KEYS"])
    # Base64 inflates a document by 4/3; leave room for the JSON around it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_FILE_BYTES"] * 4 // 3 + 1_000_000
    logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    flask_migrate.Migrate(app, db, directory=MIGRATIONS)
    app.json = FastJSONProvider(app)
    app.session_interface = NoSessions()
    register_error_handlers(app)
    app.register_blueprint(bp, url_prefix="/api/v1", name="api_v1")
    app.register_blueprint(bp)
    app.register_blueprint(files.bp)
    app.cli.add_command(auth.keys_cli)
    app.cli.add_command(worker_command)

    @app.get("/health")
    def health():
        """Liveness, no key needed."""
        return plain(f"OK - Version {VERSION}", 200)

    with app.app_context():
        prepare_connections()
        upgrade_database(app)
        app.config["URL_SIGNING_KEY"] = load_secret_key()
        auth.ensure_initial_key(app)
        db.session.remove()
    return app


class NoSessions(SessionInterface):
    """The API is stateless (a key on every request, no cookies): never read or sign a session cookie."""

    def open_session(self, app, request):
        return None  # Flask then uses its empty, unsaved NullSession

    def save_session(self, app, session, response) -> None:
        return None


def dump_json(value) -> str:
    """JSON text of a value, with orjson (several times faster than the json module)."""
    return orjson.dumps(value).decode()


class FastJSONProvider(DefaultJSONProvider):
    """Flask's JSON with orjson: responses carry a full configuration, encoded on every GET."""

    def dumps(self, obj, **kwargs) -> str:
        try:
            return orjson.dumps(obj, default=self.default).decode()
        except TypeError:  # integers beyond 64 bits, which only the json module can write
            return super().dumps(obj, **kwargs)

    def loads(self, s, **kwargs):
        return orjson.loads(s)

    def response(self, *args, **kwargs):
        """jsonify: the body as orjson's bytes, without a round trip through str."""
        value = self._prepare_response_obj(args, kwargs)
        try:
            body = orjson.dumps(value, default=self.default, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:
            body = f"{super().dumps(value, separators=(',', ':'))}\n"  # compact, as Flask's own
        return self._app.response_class(body, mimetype=self.mimetype)


def configure_database(app: Flask) -> None:
    """Point Flask-SQLAlchemy at DATABASE_URL, with SQLite made fit for several processes."""
    uri = settings.database_uri(app.config["DATABASE_URL"], app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    # Recycle rather than pre-ping: a ping per checkout would double the round trips of a GET.
    options = {"pool_recycle": 1800, "json_serializer": dump_json, "json_deserializer": orjson.loads}
    if uri.startswith("sqlite"):
        # Wait on a locked database instead of failing at once (workers and servers share it).
        options["connect_args"] = {"timeout": 30}
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    # Two more pools for single statements (statements.py: GET, key checks, claims, heartbeats):
    # autocommit, so each costs one round trip, with no BEGIN before it and no ROLLBACK after.
    # The relaxed one does not wait for the disk at commit (see relax_commits).
    autocommit = {"url": uri, **options, "isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
    app.config.setdefault("SQLALCHEMY_BINDS", {AUTOCOMMIT_BIND: autocommit, RELAXED_BIND: autocommit})


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer writes; foreign keys make file rows cascade.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextmanager
def migration_lock(app: Flask):
    """Only one process migrates at a time (several gunicorn workers start together)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
    else:
        # SQLite's DDL is not transactional under Alembic: a lock file beside the database.
        database = engine.url.database or ""
        lock_path = (database if database and database != ":memory:" else
                     os.path.join(app.instance_path, "memory")) + ".migrate-lock"
        with open(lock_path, "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)


def relax_commits(dbapi_connection, connection_record) -> None:
    """PostgreSQL: this connection's commits return before the WAL reaches the disk.

    Only for writes whose loss in a database crash is harmless: a claim (the task is Starting
    again, and the orphaned run's fenced writes change nothing), a heartbeat, a progress
    message. A later durable commit (a finish) flushes them anyway."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET synchronous_commit = off")
    dbapi_connection.autocommit = autocommit


def prepare_connections() -> None:
    """Per-connection settings, on every engine's new connections."""
    if db.engine.dialect.name == "sqlite":
        for engine in db.engines.values():
            event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(db.engines[RELAXED_BIND], "connect", relax_commits)


def upgrade_database(app: Flask) -> None:
    """Apply pending migrations."""
    with migration_lock(app):
        flask_migrate.upgrade(directory=MIGRATIONS)
