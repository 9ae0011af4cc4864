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

_HTML_START = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b",
                         re.I | re.S)
# A fragment (no <html>): an opening tag whose closing tag follows, taken for HTML only when no
# Markdown block (heading, list, table, fence, quote) is in it, since many Markdown files open
# with a <div> or <p> of their own.
_HTML_FRAGMENT_START = re.compile(r"^\s*(<!--.*?-->\s*)*<(table|div|p|h[1-6]|ul|ol|dl|section|article|main|"
                                  r"header|nav|form|pre|blockquote|span|a)(?=[\s>/])", re.I | re.S)
_MARKDOWN_HINT = re.compile(r"^(#{1,6} |\s*[-*+] |\s*\d+\. |\|.*\||```|> )", re.M)
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")
TEXT_SAMPLE_BYTES = 65536  # how much of a document its encoding and kind are judged by
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def detect_mime_type(data: bytes, file_name: str | None = None) -> str:
    """The MIME type of a document; `text/*` only for text without control bytes (UTF-8, UTF-16
    or UTF-32 with a byte order mark, or else Windows-1252)."""
    kind = filetype.guess(data[:8192])
    if kind is not None:
        return kind.mime
    text = _as_text(data)
    if text is None:
        return "text/html" if _HTML_START.match(data[:4096].decode("latin-1")) else "application/octet-stream"
    name = (file_name or "").lower()
    head = text[:20000]
    if _HTML_START.match(head):
        return "text/html"
    if name.endswith(_MARKDOWN_NAMES):
        return "text/markdown"
    if name.endswith((".html", ".htm")):
        return "text/html"
    if _MARKDOWN_HINT.search(head):
        return "text/markdown"
    fragment = _HTML_FRAGMENT_START.match(head)
    if fragment and re.search(rf"</{fragment.group(2)}\s*>", head, re.I):
        return "text/html"
    return "text/plain"


def text_encoding(data: bytes) -> tuple[str, int]:
    """(encoding, bytes of byte order mark) of a text document without a declared charset: its
    BOM's; else UTF-8 when its first 64 kB are UTF-8, or hold UTF-8 characters beside a few bad
    bytes (those become U+FFFD rather than the whole text turning into mojibake); else
    Windows-1252, which reads Latin-1 too."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding, len(bom)
    sample = data[:TEXT_SAMPLE_BYTES].decode("utf-8", errors="replace")
    if len(data) > TEXT_SAMPLE_BYTES and sample.endswith("\ufffd"):
        sample = sample[:-1]  # a character cut by the end of the sample
    if "\ufffd" not in sample or any(ord(char) > 127 and char != "\ufffd" for char in sample):
        return "utf-8", 0
    return "cp1252", 0


def _as_text(data: bytes) -> str | None:
    """The start of the bytes as text when they read as text, else None."""
    encoding, skip = text_encoding(data)
    sample = data[skip:skip + TEXT_SAMPLE_BYTES]
    try:
        text = sample.decode(encoding, errors="replace" if encoding == "utf-8" else "strict")
    except UnicodeDecodeError:  # a byte Windows-1252 leaves undefined, or a UTF-16/32 sample cut mid-character
        if encoding == "cp1252":
            return None
        text = sample.decode(encoding, errors="replace")
    if any((ord(ch) < 32 and ch not in "\t\n\r\f") or 0x80 <= ord(ch) < 0xA0 for ch in text[:20000]):
        return None
    return text


def extension_for(mime_type: str | None) -> str:
    """The usual file name extension of a MIME type."""
    return EXTENSIONS.get(mime_type or "", "bin")
