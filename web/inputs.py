"""The `file` of a create request: a URL kept for the worker, or inline bytes checked now."""
from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from pipeline.doctype import SUPPORTED, detect_mime_type
from schemas import MAX_FILE_NAME
from web.errors import BadInput

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,", re.I)
_WHITESPACE = re.compile(r"\s+")
_URLSAFE = str.maketrans("-_", "+/")


@dataclass
class InputDocument:
    """A checked input: either `url` (fetched later) or `data` with its detected `mime_type`."""

    url: str | None = None
    data: bytes | None = None
    mime_type: str | None = None
    file_name: str | None = None


def read_file_field(value: str, file_name: str | None, max_bytes: int) -> InputDocument:
    """Check a create request's `file` value (URL, data URL or base64)."""
    if value.startswith(("http://", "https://")):
        return InputDocument(url=_checked_url(value), file_name=file_name or _name_from_url(value))
    declared = None
    match = _DATA_URL.match(value)
    if match:
        declared = (match.group("mime") or "").lower() or None
        if not match.group("b64"):
            raise BadInput("Invalid data URL: only base64 data URLs are accepted")
        value = value[match.end():]
    if len(value) * 3 // 4 > max_bytes + 3:
        raise file_too_large(max_bytes)
    data = _decode_base64(value)
    return checked_document(data, file_name, max_bytes, declared)


def checked_document(data: bytes, file_name: str | None, max_bytes: int,
                     declared: str | None = None) -> InputDocument:
    """Inline bytes with their type checked (SPEC.md §5: unsupported inline types fail at create)."""
    if len(data) > max_bytes:
        raise file_too_large(max_bytes)
    if file_name and "\x00" in file_name:
        raise BadInput("file_name: Must not contain NUL characters.")
    if file_name and len(file_name) > MAX_FILE_NAME:  # as the JSON route's schema says it
        raise BadInput(f"file_name: Longer than maximum length {MAX_FILE_NAME}.")
    if not data:
        raise BadInput("File is empty")
    mime_type = detect_mime_type(data, file_name)
    if mime_type.startswith("text/") and declared in ("text/plain", "text/markdown", "text/html"):
        mime_type = declared  # the bytes are text; the sender knows which kind
    if mime_type not in SUPPORTED:
        raise BadInput(f"Unsupported file type: {mime_type}")
    return InputDocument(data=data, mime_type=mime_type, file_name=file_name)


def file_too_large(max_bytes: int) -> BadInput:
    """The 413 for a document over MAX_FILE_BYTES."""
    return BadInput(f"File too large: the limit is {max_bytes} bytes", status=413)


def _decode_base64(value: str) -> bytes:
    compact = _WHITESPACE.sub("", value).translate(_URLSAFE)  # accept the URL-safe alphabet too
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput("Invalid base64 data: file must be base64, a data URL (data:<type>;base64,...) "
                       "or an http(s):// URL") from None


def _checked_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # raises on a malformed port
    except ValueError:
        raise BadInput("Invalid file URL") from None
    if not parts.hostname or len(url) > 8192 or "\x00" in url:
        raise BadInput("Invalid file URL")
    return url


def _name_from_url(url: str) -> str | None:
    name = os.path.basename(unquote(urlsplit(url).path)).replace("\x00", "")
    return name[-MAX_FILE_NAME:] or None  # a name taken from a URL is shortened, not refused
