"""Downloads a task's URL input: size cap, timeout, few redirects, no private addresses."""
from __future__ import annotations

import time
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

import outbound
from pipeline.document import DocumentError
from sandbox.pool import Abandoned
from schemas import MAX_FILE_NAME

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30  # the whole download, redirects included
READ_SECONDS = 10  # one connect or read (no data for longer fails it); also how late a stop is noticed


def _refuse(reason: str) -> DocumentError:
    return DocumentError(f"Failed to download file: {reason}")


def check_address(url: str, allow_private: bool) -> str | None:
    """outbound.check_address, refusing as a download failure (the task's message)."""
    try:
        return outbound.check_address(url, allow_private)
    except outbound.RefusedAddress as error:
        raise _refuse(str(error)) from None


def download(url: str, max_bytes: int, allow_private: bool,
             should_stop: Callable[[], bool] = lambda: False) -> tuple[bytes, str | None]:
    """The body of a URL (following redirects, each hop checked) and its file name if it gave one.

    The whole download, redirects included, must end within TIMEOUT_SECONDS (a server trickling
    bytes cannot hold a worker); `should_stop` is asked between reads, and a True answer ends it
    with Abandoned (the worker is shutting down)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            target, headers = outbound.pinned(session, url, check_address(url, allow_private))
            try:
                response = session.get(target, headers=headers, stream=True, allow_redirects=False,
                                       timeout=_read_timeout(deadline))
            except requests.Timeout:
                raise _refuse(_timed_out(deadline)) from None
            except requests.RequestException as error:
                raise _refuse(type(error).__name__) from None
            except ValueError as error:
                # requests reads a redirect's Location as it answers; the URL itself was checked
                raise _refuse(f"the server redirected to a malformed address ({error})") from None
            with response:
                if response.is_redirect:
                    url = _redirect_target(url, response.headers.get("Location", ""))
                    continue
                if response.status_code >= 400:
                    raise _refuse(f"HTTP {response.status_code}")
                return _read_capped(response, max_bytes, deadline, should_stop), _disposition_name(response)
        raise _refuse(f"more than {MAX_REDIRECTS} redirects")


def _redirect_target(url: str, location: str) -> str:
    """Where a redirect leads, or a clear refusal when its Location is not a usable URL."""
    try:
        target = urljoin(url, location.strip())
        urlsplit(target).port  # a malformed host or port raises here
    except ValueError:
        target = None
    if not location.strip() or target is None:
        raise _refuse(f"the server redirected to a malformed address: {location[:200]!r}")
    return target


def _read_timeout(deadline: float) -> float:
    """How long one connect or read may wait: what is left of the deadline, at most READ_SECONDS."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _refuse(_timed_out(deadline))
    return min(left, READ_SECONDS)


def _timed_out(deadline: float) -> str:
    """Why a wait ended: the whole download's deadline, or a server silent for READ_SECONDS."""
    if time.monotonic() >= deadline - 0.05:
        return f"timed out after {TIMEOUT_SECONDS} s"
    return f"no data for {READ_SECONDS} s"


def _read_capped(response: requests.Response, max_bytes: int, deadline: float,
                 should_stop: Callable[[], bool]) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _refuse(f"larger than the limit of {max_bytes} bytes")
    body = bytearray()
    try:
        # read1: what has arrived, at once (iter_content would wait for a whole 64 kB chunk, so a
        # trickle would never come back to the deadline and stop checks between its reads).
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            body += chunk
            if len(body) > max_bytes:
                raise _refuse(f"larger than the limit of {max_bytes} bytes")
            if should_stop():
                raise Abandoned()
            _read_timeout(deadline)  # past the deadline: refused now, not after the body ends
    except urllib3.exceptions.ReadTimeoutError:
        raise _refuse(_timed_out(deadline)) from None
    except urllib3.exceptions.HTTPError as error:
        raise _refuse(type(error).__name__) from None
    if not body:
        raise _refuse("the file is empty")  # as an inline document would be refused (400 File is empty)
    return bytes(body)


def _disposition_name(response: requests.Response) -> str | None:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"').replace("\x00", "")[-MAX_FILE_NAME:] or None  # shortened, not refused
    return None
