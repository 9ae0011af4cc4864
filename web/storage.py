"""Files kept with tasks, and the signed or `data:` URLs that hand them out."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from urllib.parse import quote

from flask import Response, current_app, request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from models import Setting, TaskFile, db
from tasks.statements import Prepared
from web import page_images

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


def task_file(task_id: str, name: str):
    """A file of a task (`mime_type`, `data`): stored, or a page image rendered now from the
    task's PDF and stored (page_images.py); None when there is no such file. Raises
    page_images.PageImageError when a page image cannot be rendered (RenderUnavailable when it
    may be later: the renderer busy, or past its deadline)."""
    stored = load_file(task_id, name)
    if stored is not None or not page_images.is_page_image(name):
        return stored
    rendered, failed = page_images.render_missing(task_id, [name])
    if name in failed:
        raise failed[name]
    return page_images.RenderedFile("image/jpeg", rendered[name]) if name in rendered else None


def render_unavailable(error) -> Response:
    """503, plain text, with Retry-After: a page image that may render later (SPEC.md §10: 5xx is
    what clients retry)."""
    response = Response(f"Could not render the page image now: {error}", status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(error.retry_after)
    return response


def _signature(key: bytes, task_id: str, name: str, expires: int) -> str:
    signer = _SIGNERS.get(key)
    if signer is None:
        signer = _SIGNERS[key] = hmac.new(key, digestmod=hashlib.sha256)
    # A copy of a keyed HMAC: the digest is not looked up again on each of a GET's URLs.
    signing = signer.copy()
    signing.update(f"{task_id}/{name}/{expires}".encode())
    return signing.hexdigest()


_SIGNERS: dict[bytes, hmac.HMAC] = {}  # by URL_SIGNING_KEY: one per process in practice


def signature_is_valid(task_id: str, name: str, expires: int, signature: str) -> bool:
    """Whether a file URL's signature matches (the expiry is checked separately)."""
    key = current_app.config["URL_SIGNING_KEY"].encode()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a URL can carry.
    return hmac.compare_digest(_signature(key, task_id, name, expires).encode(), signature.encode())


def service_root() -> str:
    """The URL clients reach this service's root at: PUBLIC_URL, else the request's, with its script root."""
    public = current_app.config.get("PUBLIC_URL")
    base = public.rstrip("/") if public else f"{request.scheme}://{request.host}"
    return f"{base}{request.script_root}"


class FileLinks:
    """How one response hands out a task's files: signed, expiring URLs of this service, or
    `data:` URLs. Built once per response, so the request and settings are read once."""

    def __init__(self, base64_urls: bool):
        config = current_app.config
        self.base64_urls = base64_urls
        # One deadline for all the page images a response renders, however many tasks it lists.
        self.render_deadline = time.monotonic() + page_images.RENDER_SECONDS
        self.root = service_root()
        self._key = config["URL_SIGNING_KEY"].encode()
        self._expires = int(time.time()) + config["FILE_URL_SECONDS"]

    def url(self, task_id: str, name: str) -> str | None:
        """The URL of one stored file (None when a `data:` URL is asked for and it is missing)."""
        if self.base64_urls:
            return data_url(task_id, name)
        expires = self._expires
        signature = _signature(self._key, task_id, name, expires)
        return f"{self.root}/files/{task_id}/{quote(name, safe='')}?expires={expires}&signature={signature}"

    def resolve(self, task_id: str, value):
        """A stored `file:<name>` reference as its URL; any other value as it is."""
        if isinstance(value, str) and value.startswith(FILE_REF_PREFIX):
            return self.url(task_id, value[len(FILE_REF_PREFIX):])
        return value


def data_url(task_id: str, name: str) -> str | None:
    """The stored file as a `data:` URL, or None when it is missing."""
    stored = load_file(task_id, name)
    if stored is None:
        return None
    return f"data:{stored.mime_type};base64,{base64.b64encode(stored.data).decode()}"


def render_missing_page_images(task_id: str, output: dict, deadline: float) -> None:
    """Render and keep the output's page images not made yet, for `data:` URLs (one pass over
    the PDF, until the response's deadline; a page left out answers null this time)."""
    names = [page["image"][len(FILE_REF_PREFIX):] for page in output.get("pages") or []
             if isinstance(page.get("image"), str) and page["image"].startswith(FILE_REF_PREFIX)]
    try:
        page_images.render_missing(task_id, names, deadline)
    except page_images.PageImageError:
        pass  # logged where it failed; the rest of the response still goes out


def resolve_output_urls(task_id: str, output: dict, include_chunks: bool, links: FileLinks) -> dict:
    """A copy of a stored Output with its `file:<name>` references turned into URLs."""
    resolve = links.resolve
    if links.base64_urls:
        render_missing_page_images(task_id, output, links.render_deadline)
    resolved = dict(output)
    resolved["pdf_url"] = resolve(task_id, output.get("pdf_url"))
    resolved["pages"] = [
        {**page, "image": resolve(task_id, page.get("image"))}
        for page in output.get("pages") or []
    ] if output.get("pages") is not None else None
    if not include_chunks:
        resolved["chunks"] = []
        return resolved
    resolved["chunks"] = [
        {**chunk, "segments": [
            {**segment, "image": resolve(task_id, segment.get("image"))}
            for segment in chunk.get("segments", [])
        ]}
        for chunk in output.get("chunks") or []
    ]
    return resolved
