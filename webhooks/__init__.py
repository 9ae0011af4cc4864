"""Signed webhooks (Standard Webhooks): endpoints per owner, an outbox filled by database triggers in
the transaction of every status change (migration 0003), and deliverers beside the workers."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The webhook routes, CLI and deliverer (the settings are settings.py's WEBHOOK_*)."""
    from web.errors import plain
    from webhooks.api import bp
    from webhooks.cli import webhooks_cli
    from webhooks.delivery import deliver_webhooks
    from webhooks.endpoints import UnsafeUrl
    from worker.service import add_background_job

    app.register_error_handler(UnsafeUrl, lambda error: plain(str(error), 400))
    app.register_blueprint(bp, url_prefix="/api/v1")
    app.cli.add_command(webhooks_cli)
    add_background_job(app, "webhooks", deliver_webhooks)  # beside the workers, wherever they run
