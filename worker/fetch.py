"""Downloads a task's URL input: size cap, timeout, few redirects, no private addresses."""
from __future__ import annotations

import ipaddress
import socket
import time
from typing import Callable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from pipeline.document import DocumentError
from sandbox.pool import Abandoned
from schemas import MAX_FILE_NAME

MAX_REDIRECTS = 5
TIMEOUT_SECONDS = 30  # the whole download, redirects included
READ_SECONDS = 10  # one connect or read (no data for longer fails it); also how late a stop is noticed


def _refuse(reason: str) -> DocumentError:
    return DocumentError(f"Failed to download file: {reason}")


def check_address(url: str, allow_private: bool) -> str | None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address; the
    address to connect to (None when private addresses are allowed: no need to pin one)."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port  # a bad port or bracketed host raises here
    except ValueError:
        raise _refuse(f"malformed URL: {url[:200]}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise _refuse(f"not an http(s) URL: {url[:200]}")
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise _refuse(f"cannot resolve host {hostname}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not is_public(address):
            raise _refuse(f"host {hostname} resolves to a non-public address ({address}); "
                          "set ALLOW_PRIVATE_URLS=true to allow it")
    return infos[0][4][0]


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translators
SIIT = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765's IPv4-translated form
COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291's deprecated IPv4-compatible form


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, translated, NAT64, 6to4,
    Teredo): a connection to it may reach them, so they are checked too."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in NAT64 or address in SIIT or (address in COMPATIBLE and int(address) > 1):
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # the relay server and the (de-obfuscated) client
    return found


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address, and every IPv4 address inside it, is a global unicast one."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL:
            return False  # where it leads depends on the local network: never public
        return all(is_public(inner) for inner in embedded_ipv4(address))
    return True


class _PinnedTLS(HTTPAdapter):
    """HTTPS to an address given as an IP: the TLS name (SNI) and the certificate check stay the host's."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, server_hostname=self.hostname, assert_hostname=self.hostname, **kwargs)


def _pinned(session: requests.Session, url: str, address: str | None) -> tuple[str, dict]:
    """The URL to request and its headers: to the checked address itself, so that a second DNS
    answer (a rebinding name) cannot send the request elsewhere; the Host header keeps the name."""
    if address is None or requests.utils.get_environ_proxies(url):
        return url, {}  # through a proxy (HTTP(S)_PROXY), the proxy connects: nothing to pin
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + (f"{host}:{parts.port}" if parts.port else host)
    if parts.scheme == "https":
        session.mount(f"https://{netloc.rpartition('@')[2]}/", _PinnedTLS(parts.hostname))
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = f"{name}:{parts.port}" if parts.port else name
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}


def download(url: str, max_bytes: int, allow_private: bool,
             should_stop: Callable[[], bool] = lambda: False) -> tuple[bytes, str | None]:
    """The body of a URL (following redirects, each hop checked) and its file name if it gave one.

    The whole download, redirects included, must end within TIMEOUT_SECONDS (a server trickling
    bytes cannot hold a worker); `should_stop` is asked between reads, and a True answer ends it
    with Abandoned (the worker is shutting down)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            target, headers = _pinned(session, url, check_address(url, allow_private))
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
