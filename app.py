"""The application factory: settings, database, migrations, blueprints, error handlers."""
from __future__ import annotations

import os

import orjson
from flask import Flask, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SessionInterface

import settings
import viewer
import webhooks
from apidocs.views import init_app as init_api_docs
from models import db
from observability import web as observability
from routes import bp
from tasks import database
from web import auth, files
from web.errors import plain, register_error_handlers
from web.storage import load_secret_key
from worker.service import worker_command

VERSION = "0.1.0"
INDEX = """chunkr-selfhost {version}
A self-hosted, Chunkr-compatible document task service.

API        /api/v1/task/parse, /api/v1/task, /api/v1/task/{{task_id}}, /api/v1/tasks (also without /api/v1)
API docs   /docs (OpenAPI 3.1: /openapi.json)
Health     /health
Viewer     /ui/ (in a browser)
"""


def create_app(test_config: dict | None = None) -> Flask:
    """Build the service: defaults, then the environment, then the test config."""
    app = Flask(__name__, instance_relative_config=True)
    # A path with `//` is not found (web/errors.py says which path was meant), never redirected:
    # werkzeug's redirect is an HTML page, and `//host` in it reads as another site.
    app.url_map.merge_slashes = False
    app.config.from_mapping(settings.DEFAULTS)
    app.config.update(settings.from_environment())
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    database.configure(app, settings.database_uri(app.config["DATABASE_URL"], app.instance_path))
    app.config["ENV_API_KEYS"] = auth.parse_env_keys(app.config["API_KEYS"])
    # Base64 inflates a document by 4/3; leave room for the JSON around it.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_FILE_BYTES"] * 4 // 3 + 1_000_000

    app.json = FastJSONProvider(app)
    app.session_interface = NoSessions()
    register_error_handlers(app)
    observability.init_app(app)  # a metric and a log line per request, /metrics
    app.register_blueprint(bp, url_prefix="/api/v1", name="api_v1")
    app.register_blueprint(bp)
    app.register_blueprint(files.bp)
    init_api_docs(app, VERSION)
    app.register_blueprint(viewer.bp)
    app.cli.add_command(auth.keys_cli)
    app.cli.add_command(worker_command)
    webhooks.init_app(app)  # /api/v1/webhooks and `flask webhooks`

    @app.get("/health")
    def health():
        """Liveness, no key needed."""
        return plain(f"OK - Version {VERSION}", 200)

    @app.get("/")
    def index():
        """A browser lands on the viewer; any other client gets a plain-text index."""
        if viewer.wants_html(request):
            response = redirect(url_for("viewer.list_page"))
        else:
            response = plain(INDEX.format(version=VERSION), 200)
        response.vary.add("Accept")
        return response

    with app.app_context():
        database.prepare_connections()
        database.upgrade(app)
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
