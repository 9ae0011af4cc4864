"""API keys: hashing, checking a request's key, the `keys` CLI and the first key."""
from __future__ import annotations

import hashlib
import secrets

import click
from flask import Flask, current_app, g, request
from flask.cli import AppGroup
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from models import ApiKey, db, now_utc
from tasks.statements import Prepared

INITIAL_KEY_NAME = "initial"


class AuthError(Exception):
    """A request whose key is missing or not accepted; its text is the 401 body."""


def hash_key(key: str) -> str:
    """The stored form of a key (keys are random, so a fast hash is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random API key."""
    return "ck_" + secrets.token_urlsafe(32)


ASCII_SPACE = " \t"


def parse_env_keys(value: str | None) -> dict[str, str]:
    """API_KEYS (`key` or `key:owner`, comma-separated) as {hash: owner}."""
    keys = {}
    for item in (value or "").split(","):
        item = item.strip(ASCII_SPACE + "\r\n")
        if not item:
            continue
        key, _, owner = item.partition(":")
        keys[hash_key(key.strip(ASCII_SPACE))] = owner.strip(ASCII_SPACE) or "default"
    return keys


# Built once: every request runs it.
_OWNER_OF_KEY = Prepared(
    select(ApiKey.owner).where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)))


def authenticate() -> str:
    """The owner of the request's API key; raises AuthError with the SPEC.md §3 text."""
    header = request.headers.get("Authorization")
    if header is None:
        raise AuthError("Authorization header is missing")
    # Only ASCII spaces and tabs are trimmed: a key is compared exactly, so a key with a
    # no-break space or another Unicode space pasted onto it is a different, unknown key.
    key = header.strip(ASCII_SPACE)
    scheme, _, rest = key.partition(" ")
    if scheme.lower() == "bearer":  # `Bearer <key>`; `Bearer` with nothing after is a missing key
        key = rest.strip(ASCII_SPACE)
    if not key:
        raise AuthError("API key is missing")
    digest = hash_key(key)
    owner = current_app.config["ENV_API_KEYS"].get(digest)
    if owner is None:
        owner = _OWNER_OF_KEY.scalar({"key_hash": digest})
    if owner is None:
        raise AuthError("Invalid or inactive API key")
    g.owner = owner
    return owner


def create_key(owner: str, name: str | None = None) -> str:
    """Store a new key for an owner and return it in clear (the only time it is seen)."""
    key = new_key()
    db.session.add(ApiKey(key_hash=hash_key(key), prefix=key[:8], owner=owner, name=name,
                          created_at=now_utc()))
    db.session.commit()
    return key


def ensure_initial_key(app: Flask) -> None:
    """When no key exists at all, create one and log it once (across every process). When keys
    exist but every one is revoked, say so: creating a new key then would undo the revocation."""
    if app.config["ENV_API_KEYS"]:
        return
    total, active = db.session.execute(
        select(func.count(), func.count().filter(ApiKey.revoked_at.is_(None))).select_from(ApiKey)).one()
    if active:
        app.logger.info("%d API key(s) active; make another with `.venv/bin/flask --app app keys create --owner NAME`",
                        active)
        return
    if total:
        app.logger.warning("Every API key is revoked and API_KEYS is empty: no request will be accepted. "
                           "Create a key with `flask --app app keys create --owner NAME`.")
        return
    try:
        # The unique name makes concurrent starts (several gunicorn workers) create one key.
        key = create_key("default", name=INITIAL_KEY_NAME)
    except IntegrityError:
        db.session.rollback()
        return
    rule = "=" * 72
    app.logger.warning("\n%s\n  No API key existed, so one was made for owner 'default'. It is shown once:\n\n"
                       "      %s\n\n  Send it as `Authorization: <key>`. More keys: "
                       "`.venv/bin/flask --app app keys create --owner NAME`\n%s", rule, key, rule)


keys_cli = AppGroup("keys", help="Manage API keys.")  # an AppGroup: every command runs in the app context


@keys_cli.command("create")
@click.option("--owner", required=True, help="Who the key belongs to; tasks are scoped to it.")
@click.option("--name", default=None, help="An optional unique label.")
def create_key_command(owner: str, name: str | None) -> None:
    """Create a key and print it once."""
    try:
        click.echo(create_key(owner, name))
    except IntegrityError:
        raise click.ClickException(f"A key named {name!r} exists already")


@keys_cli.command("list")
def list_keys_command() -> None:
    """List keys (prefix, owner, name, created, revoked); never the keys themselves."""
    for key in db.session.execute(select(ApiKey).order_by(ApiKey.id)).scalars():
        revoked = key.revoked_at.isoformat() if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.prefix}…\t{key.owner}\t{key.name or ''}\t"
                   f"{key.created_at.isoformat()}\t{revoked}")


@keys_cli.command("revoke")
@click.argument("key_or_id")
def revoke_key_command(key_or_id: str) -> None:
    """Revoke a key, given the key itself or its id from `keys list`."""
    match = ApiKey.id == int(key_or_id) if key_or_id.isdigit() else ApiKey.key_hash == hash_key(key_or_id)
    revoked = db.session.execute(
        update(ApiKey).where(match, ApiKey.revoked_at.is_(None)).values(revoked_at=now_utc())
        .returning(ApiKey.id)
    ).scalar_one_or_none()
    db.session.commit()
    if revoked is None:
        raise click.ClickException("No such active key")
    click.echo(f"Revoked key {revoked}")
