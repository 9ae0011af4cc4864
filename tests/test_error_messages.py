"""Errors that say the fix: the wrong body for a route names the right route, and so on."""
from __future__ import annotations

import io

import pytest
from helpers import MARKDOWN, b64, create, finish


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_json_sent_to_the_upload_route_names_the_json_route(client, auth, prefix):
    response = client.post(f"{prefix}/task", json={"file": b64(MARKDOWN)}, headers=auth)
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert response.text.startswith("Missing multipart part: file")
    assert f"POST it to {prefix}/task/parse" in response.text


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_an_upload_sent_to_the_json_route_names_the_upload_route(client, auth, prefix):
    response = client.post(f"{prefix}/task/parse", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(MARKDOWN), "a.md")})
    assert response.status_code == 400
    assert response.text.startswith("Request body must be valid JSON")
    assert response.text.endswith(f"POST it to {prefix}/task")


def test_a_config_part_that_is_not_json_says_it_must_be(client, auth):
    response = client.post("/api/v1/task", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(MARKDOWN), "a.md"), "chunk_processing": "{target_length: 5}"})
    assert response.status_code == 400
    assert response.text.startswith("Multipart part chunk_processing must be a JSON value (")
    bare = client.post("/api/v1/task", headers=auth, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(MARKDOWN), "a.md"), "ocr_strategy": "Auto"})
    assert bare.status_code == 200, bare.text  # a bare enum value is still taken as a string


def test_a_file_that_is_none_of_the_accepted_forms_says_what_is_accepted(client, auth):
    response = client.post("/api/v1/task/parse", json={"file": "ftp://example.com/a.pdf"}, headers=auth)
    assert response.status_code == 400
    assert response.text == ("Invalid base64 data: file must be base64, a data URL (data:<type>;base64,...) "
                             "or an http(s):// URL")


@pytest.mark.parametrize(("path", "meant"), [
    ("/tasks/", "/tasks"), ("/api/v1//tasks", "/api/v1/tasks"), ("/api/v1/tasks/", "/api/v1/tasks"),
    ("/health/", "/health"), ("/api/v1/task//parse", "/api/v1/task/parse"),
])
def test_doubled_or_trailing_slashes_get_a_plain_404_naming_the_path(client, auth, path, meant):
    method = "POST" if path.endswith("parse") else "GET"
    response = client.open(path, method=method, headers=auth, json={})
    assert response.status_code == 404 and response.mimetype == "text/plain"
    assert response.text == f"Not found: did you mean {meant}?"
    assert "Location" not in response.headers
    assert client.get("/nothing/here/", headers=auth).text == "Not found"


def test_unknown_fields_are_accepted_and_named_in_a_warning_header(app, client, auth):
    created = client.post("/api/v1/task/parse", headers=auth,
                          json={"file": b64(MARKDOWN), "colour": "blue", "target_lenght": 5})
    assert created.status_code == 200
    assert created.headers["Warning"] == '299 - "Unknown fields ignored: colour, target_lenght"'
    uploaded = client.post("/api/v1/task", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(MARKDOWN), "a.md"), "file_name": "b.md", "col\u00e9our": "1"})
    assert uploaded.status_code == 200 and uploaded.headers["Warning"] == '299 - "Unknown fields ignored: colour"'
    task = create(client, auth)
    finish(app, task["task_id"])
    updated = client.patch(f"/api/v1/task/{task['task_id']}/parse", headers=auth, json={"speed": "fast"})
    assert updated.status_code == 200 and updated.headers["Warning"] == '299 - "Unknown fields ignored: speed"'
    plain = client.post("/api/v1/task/parse", headers=auth, json={"file": b64(MARKDOWN), "expires_in": 60})
    assert "Warning" not in plain.headers
