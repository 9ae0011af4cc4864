"""What kind of document a byte string is, told from its bytes (and its name for text)."""
from __future__ import annotations

import re

import filetype

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SUPPORTED = frozenset({
    PDF, "image/png", "image/jpeg", "image/tiff",
    "text/plain", "text/markdown", "text/html", DOCX, PPTX, XLSX,
})

EXTENSIONS = {
    PDF: "pdf", "image/png": "png", "image/jpeg": "jpg", "image/tiff": "tiff",
    "text/plain": "txt", "text/markdown": "md", "text/html": "html",
    DOCX: "docx", PPTX: "pptx", XLSX: "xlsx",
}

_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_MARKDOWN_HINT = re.compile(r"^(#{1,6} |\s*[-*+] |\s*\d+\. |\|.*\||```|> )", re.M)
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")


def detect_mime_type(data: bytes, file_name: str | None = None) -> str:
    """The MIME type of a document; `text/*` only for valid UTF-8 without control bytes."""
    kind = filetype.guess(data[:8192])
    if kind is not None:
        return kind.mime
    if _HTML_START.match(data[:4096]):
        return "text/html"
    text = _as_text(data)
    if text is None:
        return "application/octet-stream"
    name = (file_name or "").lower()
    if name.endswith(_MARKDOWN_NAMES):
        return "text/markdown"
    if name.endswith((".html", ".htm")):
        return "text/html"
    if _MARKDOWN_HINT.search(text[:20000]):
        return "text/markdown"
    return "text/plain"


def _as_text(data: bytes) -> str | None:
    """The bytes as text when they read as UTF-8 text, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text[:20000]):
        return None
    return text


def extension_for(mime_type: str | None) -> str:
    """The usual file name extension of a MIME type."""
    return EXTENSIONS.get(mime_type or "", "bin")
