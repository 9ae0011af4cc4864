"""App-wide error handlers: every error is a plain-text body, never HTML or a traceback."""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import ClientDisconnected, HTTPException, RequestEntityTooLarge

from models import db
from pipeline.document import DocumentError
from schemas import describe_errors
from tasks import idempotency
from tasks.status import TaskNotFound, TransitionRefused
from web.auth import AuthError


class BadInput(Exception):
    """Input a client must fix; its text is the 400 body (or `status` when given)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def plain(text: str, status: int) -> Response:
    """A plain-text response."""
    return Response(text, status=status, mimetype="text/plain")


def route_meant(path: str) -> str | None:
    """The path of a route that `path` names with doubled or trailing slashes, if there is one."""
    cleaned = "/" + "/".join(part for part in path.split("/") if part)
    if cleaned == path or len(path) > 2000:
        return None
    try:
        current_app.url_map.bind_to_environ(request.environ).match(cleaned, method=request.method)
    except HTTPException:  # not found, another method, or a redirect of its own
        return None
    return cleaned


def register_error_handlers(app: Flask) -> None:
    """Turn every exception into the plain-text answers of SPEC.md."""

    @app.errorhandler(AuthError)
    def unauthorized(error):
        return plain(str(error), 401)

    @app.errorhandler(TaskNotFound)
    def task_not_found(error):
        return plain("Task not found", 404)

    @app.errorhandler(TransitionRefused)
    def transition_refused(error):
        return plain(str(error), 400)

    @app.errorhandler(idempotency.KeyReused)
    def key_reused(error):
        return plain("Idempotency-Key was already used for a different request; use a new key for a new request", 422)

    @app.errorhandler(idempotency.KeyBusy)
    def key_busy(error):
        response = plain("A request with this Idempotency-Key is still being handled; retry it shortly", 409)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(BadInput)
    def bad_input(error):
        return plain(str(error), error.status)

    @app.errorhandler(DocumentError)
    def document_error(error):
        return plain(str(error), 400)

    @app.errorhandler(ValidationError)
    def invalid(error):
        return plain("; ".join(describe_errors(error.messages)), 400)

    @app.errorhandler(ClientDisconnected)
    def body_incomplete(error):
        # The body ended, or stalled past the server's read timeout (web/server.py), short of its
        # Content-Length: nothing was created.
        return plain("Request body incomplete: the connection stopped before the whole body arrived", 400)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = current_app.config["MAX_FILE_BYTES"]
        return plain(f"Request too large: documents are limited to {limit} bytes", 413)

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code == 404:
            meant = route_meant(request.path)
            return plain(f"Not found: did you mean {meant}?" if meant else "Not found", 404)
        response = plain(f"{error.name}: {error.description}", error.code)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error):
        db.session.rollback()
        current_app.logger.exception("Unhandled error")
        return plain("Internal server error", 500)
