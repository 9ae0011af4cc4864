"""The web viewer: HTML, CSS and plain JavaScript under /ui, a client of the public API like any other.

It holds no data and no key of its own: the browser signs in with an API key kept in the tab's
sessionStorage and calls /api/v1 with it in the Authorization header. Its pages carry a strict
Content-Security-Policy (scripts and styles from this origin only, no inline script), so text
that comes from a document can never run as code here.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Request, current_app, render_template

from schemas import STATUSES, TOKENIZERS

bp = Blueprint("viewer", __name__, url_prefix="/ui", static_folder="static", template_folder="templates")

def wants_html(request: Request) -> bool:
    """Whether the client asks for HTML rather than text: a browser, not curl or a client library."""
    accepted = request.accept_mimetypes
    return accepted.best_match(["text/plain", "text/html"]) == "text/html" and accepted["text/html"] > accepted["text/plain"]


def content_security_policy() -> str:
    """The viewer's CSP: everything from this origin, nothing inline, no frames, no plugins.

    Page images are signed URLs of this service; with PUBLIC_URL set they may name another
    origin than the one the browser came in on, so that origin may serve images too."""
    images = ["'self'"]
    public = current_app.config.get("PUBLIC_URL")
    if public:
        parts = urlsplit(public)
        if parts.scheme in ("http", "https") and parts.netloc:
            images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"img-src {' '.join(images)}",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


@bp.after_request
def add_security_headers(response):
    """Every viewer response, pages and static files alike, carries the CSP and the usual headers."""
    response.headers["Content-Security-Policy"] = content_security_policy()
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
def list_page():
    """The task list, the upload form and the sign-in form."""
    return render_template("list.html", statuses=STATUSES, tokenizers=TOKENIZERS)


@bp.get("/task/<task_id>")
def task_page(task_id: str):
    """One task: its status, pages with their segments drawn, chunks and actions."""
    return render_template("task.html", task_id=task_id, statuses=STATUSES, tokenizers=TOKENIZERS)
