"""Downloads a task's URL input: size cap, timeout, few redirects, no private addresses."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import requests

from document import DocumentError

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30


def _refuse(reason: str) -> DocumentError:
    return DocumentError(f"Failed to download file: {reason}")


def check_address(url: str, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(f"not an http(s) URL: {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise _refuse(f"cannot resolve host {parts.hostname}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise _refuse(f"host {parts.hostname} resolves to a non-public address ({address}); "
                          "set ALLOW_PRIVATE_URLS=true to allow it")


def download(url: str, max_bytes: int, allow_private: bool) -> tuple[bytes, str | None]:
    """The body of a URL (following redirects, each hop checked) and its file name if it gave one."""
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_address(url, allow_private)
            try:
                response = session.get(url, stream=True, allow_redirects=False, timeout=TIMEOUT_SECONDS)
            except requests.RequestException as error:
                raise _refuse(type(error).__name__) from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code >= 400:
                    raise _refuse(f"HTTP {response.status_code}")
                return _read_capped(response, max_bytes), _disposition_name(response)
        raise _refuse(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _refuse(f"larger than the limit of {max_bytes} bytes")
    body = bytearray()
    try:
        for chunk in response.iter_content(64 * 1024):
            body += chunk
            if len(body) > max_bytes:
                raise _refuse(f"larger than the limit of {max_bytes} bytes")
    except requests.RequestException as error:
        raise _refuse(type(error).__name__) from None
    return bytes(body)


def _disposition_name(response: requests.Response) -> str | None:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"') or None
    return None
