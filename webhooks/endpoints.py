"""Where events go: the endpoints an owner registered, each with its secret, and the owner's secret
that signs the events of tasks created with their own `webhook_url`."""
from __future__ import annotations

import base64
import re
import secrets

from sqlalchemy import delete, exc, select, update

import outbound
from models import WebhookDelivery, WebhookEndpoint, WebhookSecret, db, now_utc

SECRET_PREFIX = "whsec_"
ENDPOINT_ID = re.compile(r"ep_[0-9a-f]{24}")


class EndpointNotFound(Exception):
    """No such endpoint of this owner."""


class UnsafeUrl(Exception):
    """A webhook URL the SSRF rules of URL inputs refuse; its text names the field and says why (a 400)."""


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: `whsec_` and the base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str, allow_private: bool, field: str = "webhook_url") -> str | None:
    """Refuse a URL as URL inputs are refused (not http(s), or resolving to a non-public address,
    unless ALLOW_PRIVATE_URLS); the checked address to connect to (outbound.check_address)."""
    try:
        return outbound.check_address(url, allow_private)
    except outbound.RefusedAddress as error:
        raise UnsafeUrl(f"{field}: {error}") from None


def checked_webhook_url(url: str | None, allow_private: bool) -> str | None:
    """A create's `webhook_url`, checked when given (UnsafeUrl otherwise)."""
    if url is not None:
        check_url(url, allow_private)
    return url


def add_endpoint(owner: str, url: str) -> WebhookEndpoint:
    """Register an endpoint for every task of `owner`; its secret is in the returned row."""
    endpoint = WebhookEndpoint(id="ep_" + secrets.token_hex(12), owner=owner, url=url, secret=new_secret(),
                               created_at=now_utc())  # the id matches ENDPOINT_ID
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def list_endpoints(owner: str | None) -> list[WebhookEndpoint]:
    """An owner's endpoints (everyone's when `owner` is None), oldest first."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    if owner is not None:
        query = query.where(WebhookEndpoint.owner == owner)
    return list(db.session.execute(query).scalars())


def remove_endpoint(endpoint_id: str, owner: str | None) -> None:
    """Remove an endpoint (of `owner`, unless None); its pending deliveries end as failed."""
    if not ENDPOINT_ID.fullmatch(endpoint_id):
        raise EndpointNotFound()  # not even an endpoint id: no row can match, and PostgreSQL rejects NULs
    query = delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if owner is not None:
        query = query.where(WebhookEndpoint.owner == owner)
    removed = db.session.execute(query.returning(WebhookEndpoint.id)).scalar_one_or_none()
    if removed is None:
        db.session.rollback()
        raise EndpointNotFound()
    db.session.execute(update(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                                     WebhookDelivery.state == "pending")
                       .values(state="failed", last_error="endpoint removed"))
    db.session.commit()


def owner_secret(owner: str, rotate: bool = False) -> str:
    """The secret signing the events sent to the `webhook_url` of `owner`'s tasks, made at first use;
    `rotate` replaces it (events not yet delivered are then signed with the new one)."""
    for _ in range(3):
        current = db.session.execute(select(WebhookSecret.secret).where(WebhookSecret.owner == owner)).scalar()
        if current is not None and not rotate:
            db.session.rollback()
            return current
        secret = new_secret()
        if current is not None:
            db.session.execute(update(WebhookSecret).where(WebhookSecret.owner == owner)
                               .values(secret=secret, created_at=now_utc()))
        else:
            db.session.add(WebhookSecret(owner=owner, secret=secret, created_at=now_utc()))
        try:
            db.session.commit()
            return secret
        except exc.IntegrityError:  # made meanwhile by another process: read it again
            db.session.rollback()
    raise RuntimeError("could not store the webhook secret")


def signing_secret(owner: str, endpoint_id: str | None) -> str | None:
    """The secret of a delivery's destination: its endpoint's, or the owner's for a task's own URL
    (None: the endpoint was removed)."""
    if endpoint_id is None:
        return owner_secret(owner)
    secret = db.session.execute(select(WebhookEndpoint.secret).where(WebhookEndpoint.id == endpoint_id)).scalar()
    db.session.rollback()
    return secret
