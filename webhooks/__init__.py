"""Signed webhooks (Standard Webhooks): endpoints per owner, an outbox filled by database triggers in
the transaction of every status change (migration 0003), and deliverers beside the workers."""
from __future__ import annotations

import os

from flask import Flask

WEBHOOK_DEFAULTS = {
    "WEBHOOK_MAX_ATTEMPTS": 10,  # attempts of one delivery before it is given up as failed
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,  # one attempt's connect, and its wait for the answer
    "WEBHOOK_BACKOFF_SECONDS": 10.0,  # the wait after the first failure; doubled after each next one
    "WEBHOOK_BACKOFF_MAX_SECONDS": 3600.0,  # the longest wait between two attempts
    "WEBHOOK_POLL_SECONDS": 1.0,  # how often an idle deliverer looks for due deliveries
    "WEBHOOK_KEEP_SECONDS": 7 * 24 * 3600.0,  # how long delivered and failed deliveries stay listed
}


def init_app(app: Flask) -> None:
    """The webhook settings (test config, else the environment, else the defaults), routes and CLI."""
    from web.errors import plain
    from webhooks.api import bp
    from webhooks.cli import webhooks_cli
    from webhooks.endpoints import UnsafeUrl

    for name, default in WEBHOOK_DEFAULTS.items():
        if name in app.config:
            continue
        value = os.environ.get(name)
        try:
            parsed = type(default)(value) if value is not None else default
        except ValueError:
            raise RuntimeError(f"Invalid {name}={value!r}: expected a number") from None
        if parsed < (1 if isinstance(default, int) else 0.01):
            raise RuntimeError(f"Invalid {name}={value!r}: expected a positive number")
        app.config[name] = parsed
    app.register_error_handler(UnsafeUrl, lambda error: plain(str(error), 400))
    app.register_blueprint(bp, url_prefix="/api/v1")
    app.cli.add_command(webhooks_cli)
