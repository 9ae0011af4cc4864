"""The viewer's plain routes: `/` by content negotiation, the pages' security headers, the static files."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import app as app_module

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
STATIC = Path(__file__).resolve().parent.parent / "viewer" / "static"


@pytest.fixture
def database_url(tmp_path):
    """SQLite only: these routes never touch the database."""
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "application/json", "text/plain, text/html;q=0.5"])
def test_root_answers_other_clients_with_a_plain_text_index(client, accept):
    response = client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "Accept" in response.vary
    text = response.text
    assert text.startswith(f"chunkr-selfhost {app_module.VERSION}\n")
    for path in ("/api/v1/task/parse", "/docs", "/openapi.json", "/health", "/ui/"):
        assert path in text


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "text/html"])
def test_root_sends_a_browser_to_the_viewer(client, accept):
    response = client.get("/", headers={"Accept": accept})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/"
    assert "Accept" in response.vary


@pytest.mark.parametrize("path", ["/ui/", "/ui/task/3b7f0c1e-0000-4000-8000-000000000000"])
def test_viewer_pages_carry_a_strict_csp_and_the_usual_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("Set-Cookie") is None


def test_pages_have_no_inline_script_style_or_handler(client):
    for path in ("/ui/", "/ui/task/x"):
        page = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", page), "inline event handler"
        assert not re.search(r"<style|\sstyle\s*=", page), "inline style"


def test_every_control_has_a_label(client):
    for path in ("/ui/", "/ui/task/x"):
        page = client.get(path).text
        labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page))
        for control_id in re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page):
            assert control_id in labelled, f"{path}: #{control_id} has no label"


def test_task_page_escapes_its_task_id(client):
    page = client.get('/ui/task/"><img src=x onerror=alert(1)>').text
    assert "<img src=x" not in page
    assert "&#34;&gt;&lt;img src=x" in page


def test_public_url_origin_may_serve_page_images(app, client):
    app.config["PUBLIC_URL"] = "https://docs.example.org/chunkr"
    policy = client.get("/ui/").headers["Content-Security-Policy"]
    assert "img-src 'self' https://docs.example.org;" in policy


@pytest.mark.parametrize("name, mimetype", [
    ("viewer.css", "text/css"), ("js/common.js", "text/javascript"), ("js/list.js", "text/javascript"),
    ("js/task.js", "text/javascript"), ("js/segments.js", "text/javascript"), ("favicon.svg", "image/svg+xml"),
])
def test_static_files_are_served_with_the_security_headers(client, name, mimetype):
    response = client.get(f"/ui/static/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
    response.close()


def test_a_missing_viewer_path_is_a_plain_text_404(client):
    response = client.get("/ui/static/nothing.js")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


def test_scripts_never_write_html_or_evaluate_text():
    """Data from documents reaches the page as text only: no HTML sinks, no eval."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                       r"setAttribute\(\s*['\"]on|\.on[a-z]+\s*=")
    scripts = sorted(STATIC.rglob("*.js"))
    assert scripts
    for script in scripts:
        for number, line in enumerate(script.read_text().splitlines(), 1):
            assert not sinks.search(line), f"{script.name}:{number}: {line.strip()}"


def test_the_key_goes_in_the_authorization_header_only():
    """sessionStorage, never localStorage or a cookie; never in a URL."""
    code = "\n".join(path.read_text() for path in STATIC.rglob("*.js"))
    assert "sessionStorage" in code
    assert "localStorage" not in code
    assert "document.cookie" not in code
    assert "Authorization: key" in code


def test_the_key_field_could_never_be_submitted_into_a_url(client):
    page = client.get("/ui/").text
    field = re.search(r'<input id="api-key"[^>]*>', page).group(0)
    assert " name=" not in field
    assert "form-action 'none'" in client.get("/ui/").headers["Content-Security-Policy"]


def test_behind_a_prefix_the_pages_link_under_it(client):
    """Mounted at /chunkr by a proxy (SCRIPT_NAME): the scripts call the API and link pages under it."""
    page = client.get("/ui/", base_url="http://localhost/chunkr/").text
    assert 'data-root="/chunkr"' in page
    assert 'src="/chunkr/ui/static/js/list.js"' in page
    assert 'href="/chunkr/ui/static/viewer.css"' in page
