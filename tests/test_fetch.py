"""URL downloads (fetch.py) against a loopback server: redirects, size caps, the deadline, a stop."""
from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import trickle

import outbound
from pipeline.document import DocumentError
from sandbox.pool import Abandoned
from worker import fetch

BODY = b"# Title\n\n" + b"word " * 20_000


class _Server(BaseHTTPRequestHandler):
    seen: list[str] = []  # the Host header of every request, in order

    def do_GET(self):  # noqa: N802 - the handler API's name
        self.seen.append(self.headers.get("Host", ""))
        if self.path.startswith("/bad-location"):
            self.send_response(302)
            self.send_header("Location", "http://[::1/x" if self.path.endswith("1") else "http://host:port/x")
            self.end_headers()
            return
        if self.path.startswith("/hop"):
            hops = int(self.path[4:] or 0)
            self.send_response(302)
            self.send_header("Location", f"/hop{hops - 1}" if hops > 1 else "/doc.md")
            self.end_headers()
            return
        self.send_response(200)
        if self.path == "/gzip.md":
            self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(gzip.compress(BODY))
        elif self.path == "/declared.md":
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/empty.md":
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/silent.md":  # headers, then nothing for a second
            self.end_headers()
            self.wfile.flush()
            time.sleep(1)
            self.wfile.write(b"late")
        elif self.path == "/slow.md":
            self.end_headers()
            trickle(self, 100, 0.05)
        else:  # no length: read to the end of the stream
            self.end_headers()
            self.wfile.write(BODY)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_redirects_are_followed_up_to_the_limit(server):
    _Server.seen.clear()
    assert fetch.download(f"{server}/hop{fetch.MAX_REDIRECTS}", 10**7, True)[0] == BODY
    assert _Server.seen == [server.split("//")[1]] * (fetch.MAX_REDIRECTS + 1)  # the Host header, every hop
    with pytest.raises(DocumentError, match=f"^Failed to download file: more than {fetch.MAX_REDIRECTS} redirects$"):
        fetch.download(f"{server}/hop{fetch.MAX_REDIRECTS + 1}", 10**7, True)


def test_the_body_is_decoded_and_capped_whether_its_length_is_declared_or_not(server):
    assert fetch.download(f"{server}/gzip.md", 10**7, True)[0] == BODY
    for path in ("/declared.md", "/stream.md", "/gzip.md"):
        with pytest.raises(DocumentError, match="^Failed to download file: larger than the limit of 1000 bytes$"):
            fetch.download(f"{server}{path}", 1000, True)


def test_a_slow_body_ends_at_the_deadline_and_a_stop_ends_it_at_once(server, monkeypatch):
    monkeypatch.setattr(fetch, "TIMEOUT_SECONDS", 1)
    started = time.monotonic()
    with pytest.raises(DocumentError, match="^Failed to download file: timed out after 1 s$"):
        fetch.download(f"{server}/slow.md", 10**7, True)
    assert time.monotonic() - started < 2
    asked = []
    with pytest.raises(Abandoned):
        fetch.download(f"{server}/slow.md", 10**7, True, should_stop=lambda: asked.append(1) or len(asked) >= 3)
    assert len(asked) == 3


def test_loopback_is_refused_unless_allowed(server):
    with pytest.raises(DocumentError, match="non-public address .*ALLOW_PRIVATE_URLS=true"):
        fetch.download(f"{server}/doc.md", 10**7, False)
    with pytest.raises(DocumentError, match="^Failed to download file: not an http"):
        fetch.download("file:///etc/passwd", 10**7, True)


def test_a_name_that_answers_differently_the_second_time_cannot_reach_loopback(server, monkeypatch):
    """DNS rebinding: the checked (public) address is the one connected to, so a second lookup
    answering 127.0.0.1 never happens; the Host header keeps the name."""
    import socket

    port = int(server.rsplit(":", 1)[1])
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"] + ["127.0.0.1"] * 10)

    def rebinding(host, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (next(answers), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.setattr(fetch, "READ_SECONDS", 0.5)  # the public address is not reachable from here
    _Server.seen.clear()
    with pytest.raises(DocumentError, match="^Failed to download file: "):
        fetch.download(f"http://rebind.example:{port}/doc.md", 10**7, False)
    assert _Server.seen == []  # nothing reached the loopback server


def test_a_pinned_request_goes_to_the_address_with_the_name_in_host():
    import requests

    with requests.Session() as session:
        assert outbound.pinned(session, "http://example.com:8080/a?b=1", "93.184.216.34") == (
            "http://93.184.216.34:8080/a?b=1", {"Host": "example.com:8080"})
        assert outbound.pinned(session, "https://example.com/a", "2606:2800:220:1::1") == (
            "https://[2606:2800:220:1::1]/a", {"Host": "example.com"})
        adapter = session.get_adapter("https://[2606:2800:220:1::1]/a")
        assert isinstance(adapter, outbound.PinnedTLS) and adapter.hostname == "example.com"
        assert outbound.pinned(session, "http://localhost/x", None) == ("http://localhost/x", {})
        assert outbound.pinned(session, "http://user:pw@example.com/x", "93.184.216.34") == (
            "http://user:pw@93.184.216.34/x", {"Host": "example.com"})


def test_through_a_proxy_nothing_is_pinned(monkeypatch):
    import requests

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with requests.Session() as session:
        assert outbound.pinned(session, "https://example.com/a", "93.184.216.34") == ("https://example.com/a", {})


def test_an_empty_body_is_refused_as_an_empty_inline_file_is(server):
    with pytest.raises(DocumentError, match="^Failed to download file: the file is empty$"):
        fetch.download(f"{server}/empty.md", 10**7, True)


def test_a_server_silent_longer_than_a_read_may_wait_fails_saying_so(server, monkeypatch):
    monkeypatch.setattr(fetch, "READ_SECONDS", 0.3)
    with pytest.raises(DocumentError, match="^Failed to download file: no data for 0.3 s$"):
        fetch.download(f"{server}/silent.md", 10**7, True)
    monkeypatch.setattr(fetch, "READ_SECONDS", 3)
    assert fetch.download(f"{server}/silent.md", 10**7, True)[0] == b"late"


@pytest.mark.parametrize("literal", [
    "[64:ff9b::7f00:1]",  # NAT64's well-known prefix around 127.0.0.1
    "[64:ff9b:1::a00:1]",  # a local NAT64 prefix (RFC 8215)
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "[::127.0.0.1]",  # IPv4-compatible
    "[::ffff:0:7f00:1]",  # IPv4-translated (SIIT)
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",  # mapped 169.254.169.254, the cloud metadata address
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "[2002:a00:1::]",  # 6to4 of 10.0.0.1
    "[::1]", "127.1", "0x7f.1", "2130706433", "0.0.0.0",
])
def test_every_form_of_a_private_ipv4_address_is_refused(literal):
    with pytest.raises(DocumentError, match="non-public address"):
        fetch.check_address(f"http://{literal}/doc.md", allow_private=False)


def test_public_ipv6_and_ipv4_inside_ipv6_forms_of_public_addresses_pass():
    import ipaddress

    for literal in ("2606:2800:220:1::1", "64:ff9b::5db8:d822", "2002:5db8:d822::", "::ffff:93.184.216.34"):
        assert outbound.is_public(ipaddress.ip_address(literal)), literal


@pytest.mark.parametrize("url", ["http://[::1/doc.md", "http://host:port/doc.md", "http://[zz::1]/x"])
def test_a_malformed_url_is_a_clear_download_failure(url):
    with pytest.raises(DocumentError, match="^Failed to download file: malformed URL"):
        fetch.download(url, 10**7, True)


@pytest.mark.parametrize("path", ["/bad-location1", "/bad-location2"])
def test_a_malformed_redirect_is_a_clear_download_failure(server, path):
    with pytest.raises(DocumentError, match="^Failed to download file: the server redirected to a malformed address"):
        fetch.download(f"{server}{path}", 10**7, True)
