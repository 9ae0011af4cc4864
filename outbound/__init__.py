"""Requests this service makes to addresses its users give (URL inputs, webhook endpoints): which
addresses they may reach, and a connection pinned to the address that was checked."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class RefusedAddress(ValueError):
    """A URL this service will not request; its text says why."""


def check_address(url: str, allow_private: bool) -> str | None:
    """Refuse URLs that are not http(s) or whose host resolves to a non-public address; the
    address to connect to (None when private addresses are allowed: no need to pin one). Raises
    RefusedAddress."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port  # a bad port or bracketed host raises here
    except ValueError:
        raise RefusedAddress(f"malformed URL: {url[:200]}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise RefusedAddress(f"not an http(s) URL: {url[:200]}")
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(hostname, port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedAddress(f"cannot resolve host {hostname}: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not is_public(address):
            raise RefusedAddress(f"host {hostname} resolves to a non-public address ({address}); "
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


class PinnedTLS(HTTPAdapter):
    """HTTPS to an address given as an IP: the TLS name (SNI) and the certificate check stay the host's."""

    def __init__(self, hostname: str):
        self.hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, server_hostname=self.hostname, assert_hostname=self.hostname, **kwargs)


def pinned(session: requests.Session, url: str, address: str | None) -> tuple[str, dict]:
    """The URL to request and its headers: to the checked address itself, so that a second DNS
    answer (a rebinding name) cannot send the request elsewhere; the Host header keeps the name."""
    if address is None or requests.utils.get_environ_proxies(url):
        return url, {}  # through a proxy (HTTP(S)_PROXY), the proxy connects: nothing to pin
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + (f"{host}:{parts.port}" if parts.port else host)
    if parts.scheme == "https":
        session.mount(f"https://{netloc.rpartition('@')[2]}/", PinnedTLS(parts.hostname))
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = f"{name}:{parts.port}" if parts.port else name
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}
