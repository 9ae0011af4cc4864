"""Serves stored files at signed, expiring URLs; the signature is the credential, not a key."""
from __future__ import annotations

import time

from flask import Blueprint, Response, request

from models import db
from tasks.lifecycle import task_exists
from web.errors import plain
from web.page_images import PageImageError, RenderUnavailable
from web.storage import render_unavailable, signature_is_valid, task_file

bp = Blueprint("files", __name__)


@bp.get("/files/<task_id>/<name>")
def get_file(task_id: str, name: str):
    """One file of a task, if the URL's signature is good and not expired."""
    try:
        expires = int(request.args.get("expires", ""))
    except ValueError:
        return plain("Missing or invalid expires parameter", 403)
    if not signature_is_valid(task_id, name, expires, request.args.get("signature", "")):
        return plain("Invalid signature", 403)
    if expires < time.time():
        return plain("URL expired", 403)
    exists = task_exists(task_id)
    db.session.close()  # the check is done: no transaction stays open while a page image renders
    try:
        stored = task_file(task_id, name) if exists else None
    except RenderUnavailable as error:  # may render later: 503 and when to ask again
        return render_unavailable(error)
    except PageImageError as error:
        return plain(f"Could not render the page image: {error}", 500)
    if stored is None:
        return plain("File not found", 404)
    return Response(stored.data, mimetype=stored.mime_type, headers=file_headers(stored.mime_type))


# Shown in a page as they are (an <img> of a page image); anything else is saved, never rendered.
INLINE_TYPES = frozenset({"image/jpeg", "image/png"})


def file_headers(mime_type: str) -> dict[str, str]:
    """Headers that keep a stored file from running as a page of this origin: an uploaded HTML or
    SVG document is downloaded, not displayed; no type is guessed; were it displayed anyway, it is
    sandboxed (no script, its own origin)."""
    return {"Cache-Control": "private, max-age=300",
            "Content-Disposition": "inline" if mime_type in INLINE_TYPES else "attachment",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'"}
