"""Files kept with tasks, and the signed or `data:` URLs that hand them out."""
from __future__ import annotations

import base64
import hmac
import secrets
import time
from urllib.parse import quote

from flask import current_app, request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from models import Setting, TaskFile, db
from statements import Prepared

FILE_REF_PREFIX = "file:"


def load_secret_key() -> str:
    """The URL-signing secret: SECRET_KEY if set, else one generated once and shared via the database."""
    configured = current_app.config.get("SECRET_KEY")
    if configured:
        return configured
    stored = db.session.get(Setting, "secret_key")
    if stored is None:
        try:
            db.session.add(Setting(key="secret_key", value=secrets.token_urlsafe(32)))
            db.session.commit()
        except IntegrityError:
            # Another process stored it first; use theirs.
            db.session.rollback()
        stored = db.session.get(Setting, "secret_key")
    return stored.value


_LOAD_FILE = Prepared(select(TaskFile.mime_type, TaskFile.data).where(
    TaskFile.task_id == bindparam("task_id"), TaskFile.name == bindparam("name")))


def load_file(task_id: str, name: str):
    """One stored file of a task (`mime_type`, `data`), or None."""
    return _LOAD_FILE.one_or_none({"task_id": task_id, "name": name})


def _signature(task_id: str, name: str, expires: int) -> str:
    key = current_app.config["URL_SIGNING_KEY"].encode()
    message = f"{task_id}/{name}/{expires}".encode()
    return hmac.digest(key, message, "sha256").hex()  # one-shot: every GET signs the input's URL


def signed_url(task_id: str, name: str) -> str:
    """An absolute URL of this service that serves one file until it expires."""
    expires = int(time.time()) + current_app.config["FILE_URL_SECONDS"]
    query = f"?expires={expires}&signature={_signature(task_id, name, expires)}"
    return f"{public_base()}{request.script_root}/files/{task_id}/{quote(name, safe='')}{query}"


def signature_is_valid(task_id: str, name: str, expires: int, signature: str) -> bool:
    """Whether a file URL's signature matches (the expiry is checked separately)."""
    return hmac.compare_digest(_signature(task_id, name, expires), signature)


def public_base() -> str:
    """The scheme and host clients reach this service at: PUBLIC_URL, else the request's."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/")
    return f"{request.scheme}://{request.host}"


def data_url(task_id: str, name: str) -> str | None:
    """The stored file as a `data:` URL, or None when it is missing."""
    stored = load_file(task_id, name)
    if stored is None:
        return None
    return f"data:{stored.mime_type};base64,{base64.b64encode(stored.data).decode()}"


def file_url(task_id: str, name: str, base64_urls: bool) -> str | None:
    """The URL a response gives for one stored file."""
    if base64_urls:
        return data_url(task_id, name)
    return signed_url(task_id, name)


def _resolve(task_id: str, value, base64_urls: bool):
    if isinstance(value, str) and value.startswith(FILE_REF_PREFIX):
        return file_url(task_id, value[len(FILE_REF_PREFIX):], base64_urls)
    return value


def resolve_output_urls(task_id: str, output: dict, include_chunks: bool, base64_urls: bool) -> dict:
    """A copy of a stored Output with its `file:<name>` references turned into URLs."""
    resolved = dict(output)
    resolved["pdf_url"] = _resolve(task_id, output.get("pdf_url"), base64_urls)
    resolved["pages"] = [
        {**page, "image": _resolve(task_id, page.get("image"), base64_urls)}
        for page in output.get("pages") or []
    ] if output.get("pages") is not None else None
    if not include_chunks:
        resolved["chunks"] = []
        return resolved
    resolved["chunks"] = [
        {**chunk, "segments": [
            {**segment, "image": _resolve(task_id, segment.get("image"), base64_urls)}
            for segment in chunk.get("segments", [])
        ]}
        for chunk in output.get("chunks") or []
    ]
    return resolved
