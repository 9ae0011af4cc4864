"""Issue 13's small attacks, each reproduced as it was found, asserting the behaviour after the fix."""
from __future__ import annotations

import io
import os
import stat

import pytest
from gunicorn_server import gunicorn  # noqa: F401 - the fixture
from helpers import b64, create

from app import create_app
from bench.hostile_files import nested_multipart_value
from schemas import DEFAULT_LIST_LIMIT, MAX_FILE_NAME, MAX_LIST_LIMIT

HTML = b"<html><body><p>hello</p><script>document.title = 'ran'</script></body></html>"


def test_the_sqlite_file_and_its_wal_are_readable_by_their_owner_only(tmp_path):
    """The database holds documents, outputs and the signing secret: 0600, however the umask is."""
    old = os.umask(0o022)
    try:
        database = tmp_path / "fresh.sqlite3"
        app = create_app({"DATABASE_URL": f"sqlite:///{database}", "API_KEYS": "k", "WORKER_THREADS": 0})
        response = app.test_client().post("/task/parse", json={"file": b64(b"# A\n")}, headers={"Authorization": "k"})
        assert response.status_code == 200
        created = [database, tmp_path / "fresh.sqlite3-wal", tmp_path / "fresh.sqlite3-shm"]
        assert all(path.exists() for path in created)  # WAL mode: a write made them
        assert {oct(stat.S_IMODE(path.stat().st_mode)) for path in created} == {oct(0o600)}

        older = tmp_path / "older.sqlite3"  # made by an earlier version, world-readable
        older.touch(mode=0o644)
        os.chmod(older, 0o644)
        create_app({"DATABASE_URL": f"sqlite:///{older}", "API_KEYS": "k", "WORKER_THREADS": 0})
        assert stat.S_IMODE(older.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_an_over_limit_chunked_json_body_is_413_not_400(app, client, auth):
    app.config["MAX_CONTENT_LENGTH"] = 10_000
    body = b'{"file": "' + b"A" * 50_000 + b'"}'
    response = client.post("/api/v1/task/parse", input_stream=io.BytesIO(body),
                           headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413 and response.mimetype == "text/plain"
    assert response.text.startswith("Request too large")
    small = b'{"file": "' + b64(b"# A\n").encode() + b'"}'  # a chunked body under the limit still works
    response = client.post("/api/v1/task/parse", input_stream=io.BytesIO(small),
                           headers={**auth, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 200, response.text


def test_a_multipart_config_part_nested_100000_deep_is_a_400(client, auth):
    response = client.post("/api/v1/task", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"# A\n"), "a.md"),
                                 "chunk_processing": nested_multipart_value(100_000)})
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert response.text == "Multipart part chunk_processing is not usable JSON: nested too deeply"


@pytest.mark.parametrize("route", ["json", "multipart-part", "multipart-filename"])
def test_one_file_name_limit_on_every_route(client, auth, route):
    long_name = "a" * (MAX_FILE_NAME - 3) + ".md"
    for name, expected in ((long_name, 200), ("b" + long_name, 400)):
        if route == "json":
            response = client.post("/task/parse", json={"file": b64(b"# A\n"), "file_name": name}, headers=auth)
        else:
            upload = {"file": (io.BytesIO(b"# A\n"), name if route == "multipart-filename" else "a.md")}
            if route == "multipart-part":
                upload["file_name"] = name
            response = client.post("/task", headers=auth, content_type="multipart/form-data", data=upload)
        assert response.status_code == expected, (name[:5], response.text)
        if expected == 400:
            assert response.text == f"file_name: Longer than maximum length {MAX_FILE_NAME}."


def test_a_stored_html_input_is_an_attachment_that_cannot_run(client, auth):
    task = create(client, auth, HTML, file_name="page.html")
    served = client.get(task["configuration"]["input_file_url"].removeprefix("http://localhost"))
    assert served.status_code == 200 and served.data == HTML
    assert served.headers["Content-Disposition"] == "attachment"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Security-Policy"].split(";")[0] == "sandbox"


@pytest.mark.parametrize("header", ["test-key\u00a0", "\u00a0test-key", "test-key\u2003", "Bearer test-key\u00a0"])
def test_a_key_with_a_unicode_space_is_another_key(client, header):
    response = client.get("/tasks", headers={"Authorization": header})
    assert response.status_code == 401 and response.text == "Invalid or inactive API key"


@pytest.mark.parametrize("header", [" test-key\t", "Bearer  test-key ", "bearer test-key"])
def test_ascii_spaces_around_a_key_are_trimmed(client, header):
    assert client.get("/tasks", headers={"Authorization": header}).status_code == 200


def test_a_repeated_status_is_merged_and_another_repeat_refused(app, client, auth):
    from helpers import finish

    ids = [create(client, auth)["task_id"] for _ in range(3)]
    finish(app, ids[0], "Failed")
    finish(app, ids[1], "Cancelled")
    merged = client.get("/tasks?status=Failed&status=Cancelled", headers=auth)
    assert merged.status_code == 200
    assert sorted(task["task_id"] for task in merged.json) == sorted(ids[:2])
    refused = client.get("/tasks?limit=1&limit=2", headers=auth)
    assert refused.status_code == 400 and refused.text == "Query parameter limit given more than once"


def test_the_list_has_a_default_and_a_maximum_limit(app, client, auth):
    from sqlalchemy import insert

    from models import Task, db, now_utc

    model = create(client, auth)
    with app.app_context():  # more tasks than a page, written at once, each like the one created
        configuration = db.session.get(Task, model["task_id"]).configuration
        rows = [{"task_id": f"bulk-{n:04d}", "owner": "default", "status": "Starting", "configuration": configuration,
                 "message": "Task created", "created_at": now_utc()} for n in range(DEFAULT_LIST_LIMIT + 4)]
        db.session.execute(insert(Task), rows)
        db.session.commit()
    assert len(client.get("/tasks", headers=auth).json) == DEFAULT_LIST_LIMIT
    assert len(client.get(f"/tasks?limit={DEFAULT_LIST_LIMIT + 5}", headers=auth).json) == DEFAULT_LIST_LIMIT + 5
    assert len(client.get(f"/tasks?page=2&limit={DEFAULT_LIST_LIMIT}", headers=auth).json) == 5
    too_many = client.get(f"/tasks?limit={MAX_LIST_LIMIT + 1}", headers=auth)
    assert too_many.status_code == 400 and too_many.text.startswith("limit:")


def test_what_gunicorn_refuses_itself_is_plain_text_too(gunicorn):  # noqa: F811
    """A NUL in a header (400) and too many header fields (431) never reach the app: gunicorn's own
    answer is plain text as well (web/server.py)."""
    import socket

    server = gunicorn()

    def raw(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
            connection.sendall(request)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
        return answer

    nul = raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n")
    many = raw(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % n for n in range(200)) + b"\r\n")
    for answer, status in ((nul, b"400"), (many, b"431")):
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == status, answer[:200]
        assert b"Content-Type: text/plain" in head and b"<html" not in body.lower() and body

