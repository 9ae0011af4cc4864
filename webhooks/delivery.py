"""Sending events: the body Chunkr's webhooks send, signed as Standard Webhooks sign it, posted to
an address checked against the SSRF rules of URL inputs at every attempt; the deliverer thread."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
import time

import orjson
import requests
from flask import Flask

import outbound
from models import db
from schemas import utc_timestamp
from webhooks import endpoints, outbox
from webhooks.endpoints import SECRET_PREFIX, UnsafeUrl, check_url

EVENT_TYPE = "task.parse.updated"  # Chunkr's own event type, for every status change
SWEEP_EVERY_SECONDS = 3600.0
log = logging.getLogger(__name__)


def event_body(claimed: outbox.ClaimedDelivery) -> bytes:
    """The JSON body of an event, as Chunkr's webhooks send it, plus the time of the change."""
    return orjson.dumps({"event_type": EVENT_TYPE, "task_id": claimed.task_id, "status": claimed.status,
                         "message": claimed.message, "timestamp": utc_timestamp(claimed.occurred_at)})


def sign(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
    under the secret's bytes (the base64 after `whsec_`)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def attempt(claimed: outbox.ClaimedDelivery, secret: str, timeout: float, allow_private: bool) -> str | None:
    """One POST of the event; None when the endpoint answered 2xx, else what went wrong."""
    try:
        address = check_url(claimed.url, allow_private, field="refused")  # again: DNS may answer otherwise than at registration
    except UnsafeUrl as error:
        return str(error)
    body = event_body(claimed)
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "chunkr-selfhost-webhooks",
               "webhook-id": claimed.event_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, claimed.event_id, timestamp, body)}
    with requests.Session() as session:
        target, pinned = outbound.pinned(session, claimed.url, address)  # no second DNS answer
        try:
            # A redirect is not followed but counted as a failure: its target was never checked.
            with session.post(target, data=body, headers={**headers, **pinned}, timeout=timeout,
                              allow_redirects=False, stream=True) as response:
                if 200 <= response.status_code < 300:
                    return None
                return f"HTTP {response.status_code}"
        except requests.Timeout:
            return f"timed out after {timeout:g} s"
        except (requests.RequestException, ValueError) as error:  # ValueError: a URL requests cannot use
            return f"{type(error).__name__}: cannot reach {claimed.url[:200]}"


def deliver_due(app: Flask, stop: threading.Event) -> int:
    """Deliver due events one attempt at a time until none is due or `stop` is set; how many were tried."""
    config = app.config
    timeout = config["WEBHOOK_TIMEOUT_SECONDS"]
    tried = 0
    if not outbox.any_due():
        return 0
    while not stop.is_set():
        # Held past the attempt's connect and read timeouts, so nobody else tries it meanwhile.
        claimed = outbox.claim_due_delivery(hold_seconds=2 * timeout + 30)
        if claimed is None:
            return tried
        secret = endpoints.signing_secret(claimed.owner, claimed.endpoint_id)
        error = ("endpoint removed" if secret is None else
                 attempt(claimed, secret, timeout, config["ALLOW_PRIVATE_URLS"]))
        state = outbox.record_attempt(claimed, error, config)
        if error is not None:
            log.info("Webhook %s to %s, attempt %d: %s (now %s)", claimed.event_id, claimed.url[:200],
                     claimed.attempts, error, state)
        tried += 1
    return tried


def deliver_webhooks(app: Flask, stop: threading.Event) -> None:
    """The deliverer thread of a worker process: send due events, sweep old deliveries, until stopped."""
    next_sweep = 0.0
    while True:
        with app.app_context():
            try:
                deliver_due(app, stop)
                if time.monotonic() >= next_sweep:
                    outbox.sweep_finished(app.config["WEBHOOK_KEEP_SECONDS"])
                    next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
            except Exception:  # noqa: BLE001 - tried again at the next poll
                db.session.rollback()
                log.exception("Webhook delivery failed")
            db.session.remove()
        if stop.wait(app.config["WEBHOOK_POLL_SECONDS"]):
            return
