"""The API's successes: create in every form, defaults echoed, URLs, list paging and filters."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from helpers import MARKDOWN, b64, create, finish, force

from models import now_utc
from schemas import SEGMENT_TYPES


def test_create_fills_every_default(client, auth):
    """A bare create answers Starting / Task queued with the full default configuration."""
    task = create(client, auth)
    assert (task["status"], task["message"], task["output"]) == ("Starting", "Task queued", None)
    assert task["created_at"].endswith("Z") and task["started_at"] is None
    configuration = task["configuration"]
    assert configuration["chunk_processing"] == {"target_length": 4096, "tokenizer": {"Enum": "Cl100kBase"},
                                                 "ignore_headers_and_footers": True}
    assert (configuration["ocr_strategy"], configuration["segmentation_strategy"]) == ("All", "LayoutAnalysis")
    assert (configuration["high_resolution"], configuration["error_handling"]) == (True, "Fail")
    assert configuration["expires_in"] is None and configuration["pipeline"] is None
    assert configuration["llm_processing"] == {"model_id": None, "fallback_strategy": "Default",
                                               "max_completion_tokens": None, "temperature": 0.0}
    assert sorted(configuration["segment_processing"]) == sorted(SEGMENT_TYPES)
    assert configuration["segment_processing"]["Table"]["format"] == "Html"
    assert configuration["segment_processing"]["Picture"] == {
        "format": "Markdown", "strategy": "LLM", "crop_image": "All", "extended_context": False,
        "description": False, "embed_sources": ["Markdown"]}


@pytest.mark.parametrize("file", [b64(MARKDOWN), "https://example.com/report.pdf"], ids=["inline", "url"])
def test_create_answers_what_a_get_then_reads(client, auth, file):
    """Create builds its answer from the values it wrote (nothing is read back): it must be the
    stored task, field for field, but for the freshly signed input URL."""
    created = client.post("/api/v1/task/parse", json={"file": file, "expires_in": 60,
                                                      "chunk_processing": {"target_length": 99}}, headers=auth).json
    fetched = client.get(f"/api/v1/task/{created['task_id']}", headers=auth).json
    if not file.startswith("http"):  # a stored document's URL is signed afresh by each answer
        for task in (created, fetched):
            task["configuration"].pop("input_file_url")
    assert created == fetched


def test_create_accepts_snake_case_and_upstream_spellings(client, auth):
    """Segment keys in snake_case are echoed PascalCase; `Off` means Auto; a bare tokenizer name works."""
    task = create(client, auth, segment_processing={"list_item": {"strategy": "Ignore"}, "table": {"format": "Markdown"}},
                  ocr_strategy="Off", chunk_processing={"tokenizer": "Word"}, pipeline="Azure")
    configuration = task["configuration"]
    assert configuration["segment_processing"]["ListItem"]["strategy"] == "Ignore"
    assert configuration["segment_processing"]["Table"] == {**configuration["segment_processing"]["Table"],
                                                             "format": "Markdown", "strategy": "LLM"}
    assert configuration["ocr_strategy"] == "Auto"
    assert configuration["chunk_processing"]["tokenizer"] == {"Enum": "Word"}
    assert configuration["pipeline"] == "Azure"


def test_default_expires_in_setting(app, client, auth):
    """DEFAULT_EXPIRES_IN fills expires_in when the request leaves it out."""
    app.config["DEFAULT_EXPIRES_IN"] = 600
    assert create(client, auth)["configuration"]["expires_in"] == 600
    assert create(client, auth, expires_in=None)["configuration"]["expires_in"] is None


def test_data_url_and_multipart_create(client, auth):
    """A data URL and a multipart upload both create tasks with the detected type and name."""
    data_url = "data:text/markdown;base64," + b64(MARKDOWN)
    task = client.post("/task/parse", json={"file": data_url, "file_name": "a.md"}, headers=auth).json
    assert task["status"] == "Starting"
    upload = client.post("/api/v1/task", headers=auth, content_type="multipart/form-data", data={
        "file": (io.BytesIO(MARKDOWN), "notes.md"), "chunk_processing": '{"target_length": 64}',
        "ocr_strategy": "Auto"})
    assert upload.status_code == 200, upload.text
    assert upload.json["configuration"]["chunk_processing"]["target_length"] == 64
    assert upload.json["configuration"]["ocr_strategy"] == "Auto"


def test_input_file_url_signed_or_data(client, auth):
    """input_file_url is a signed URL of this service serving the bytes, or a data: URL on request."""
    task = create(client, auth)
    url = task["configuration"]["input_file_url"]
    assert url.startswith("http://localhost/files/") and "signature=" in url
    served = client.get(url.removeprefix("http://localhost"))
    assert served.status_code == 200 and served.data == MARKDOWN
    inline = client.get(f"/task/{task['task_id']}?base64_urls=true", headers=auth).json
    assert inline["configuration"]["input_file_url"] == "data:text/markdown;base64," + b64(MARKDOWN)


def test_url_input_is_kept_for_the_worker(client, auth):
    """A URL input answers at once; the URL is echoed and its name taken from the path."""
    task = client.post("/task/parse", json={"file": "https://example.com/docs/report.pdf"}, headers=auth).json
    assert task["status"] == "Starting"
    assert task["configuration"]["input_file_url"] == "https://example.com/docs/report.pdf"


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
def test_task_url_follows_the_prefix_and_public_url(app, client, auth, prefix):
    """task_url is absolute, under the prefix used, and under PUBLIC_URL when set."""
    task = create(client, auth, prefix=prefix)
    assert task["task_url"] == f"http://localhost{prefix}/task/{task['task_id']}"
    app.config["PUBLIC_URL"] = "https://chunkr.example/base/"
    task = create(client, auth, prefix=prefix)
    assert task["task_url"] == f"https://chunkr.example/base{prefix}/task/{task['task_id']}"
    assert task["configuration"]["input_file_url"].startswith("https://chunkr.example/base/files/")


def test_chunks_only_when_succeeded_and_asked(app, client, auth):
    """Chunks appear for a Succeeded task unless include_chunks=false; output keys are always there."""
    task_id = create(client, auth)["task_id"]
    finish(app, task_id)
    full = client.get(f"/task/{task_id}", headers=auth).json["output"]
    assert len(full["chunks"]) == 1 and full["chunks"][0]["segments"][0]["confidence"] is None
    bare = client.get(f"/task/{task_id}?include_chunks=false", headers=auth).json["output"]
    assert bare["chunks"] == [] and {"file_name", "page_count", "pdf_url"} <= set(bare)


def test_list_pages_filters_and_isolation(app, client, auth):
    """List: newest first, limit and page, start/end, status filter, only the caller's live tasks."""
    ids = [create(client, auth)["task_id"] for _ in range(5)]
    other = create(client, {"Authorization": "other-key"})["task_id"]
    expired = create(client, auth)["task_id"]
    finish(app, expired)
    force(app, expired, expires_at=now_utc() - timedelta(seconds=1))
    listed = [task["task_id"] for task in client.get("/tasks", headers=auth).json]
    assert listed == ids[::-1]
    assert other not in listed and expired not in listed
    assert [t["task_id"] for t in client.get("/tasks?limit=2", headers=auth).json] == [ids[4], ids[3]]
    assert [t["task_id"] for t in client.get("/api/v1/tasks?page=2&limit=2", headers=auth).json] == [ids[2], ids[1]]
    assert [t["task_id"] for t in client.get("/tasks?page=3&limit=2", headers=auth).json] == [ids[0]]
    client.get(f"/task/{ids[0]}/cancel", headers=auth)
    cancelled = client.get("/tasks?status=Cancelled", headers=auth).json
    assert [t["task_id"] for t in cancelled] == [ids[0]]
    starting = client.get("/tasks?status=Starting,Processing", headers=auth).json
    assert len(starting) == 4
    created = client.get(f"/task/{ids[2]}", headers=auth).json["created_at"]
    window = client.get(f"/tasks?start={created}&end={created}", headers=auth).json
    assert [t["task_id"] for t in window] == [ids[2]]
    lowercase = created.replace("T", "t").replace("Z", "z")  # RFC 3339 allows both cases
    assert [t["task_id"] for t in client.get(f"/tasks?start={lowercase}&end={lowercase}", headers=auth).json] == [ids[2]]
    assert client.get("/tasks?start=2999-01-01T00:00:00Z", headers=auth).json == []
    assert all(task["output"] is None for task in client.get("/tasks?include_chunks=true", headers=auth).json)


def test_health_needs_no_key(client):
    """Health answers in plain text with the version."""
    response = client.get("/health")
    assert response.status_code == 200 and response.text.startswith("OK - Version ")


def test_json_responses_are_compact_with_a_newline_even_beyond_64_bit_integers(app):
    """orjson writes responses; an integer orjson cannot write falls back to the json module,
    with the same compact form and trailing newline."""
    with app.test_request_context():
        fast = app.json.response({"a": "é", "n": 1})
        slow = app.json.response({"a": "é", "n": 2 ** 70})
    assert fast.mimetype == slow.mimetype == "application/json"
    assert fast.get_data() == '{"a":"é","n":1}\n'.encode()
    assert slow.get_data() == b'{"a":"\\u00e9","n":1180591620717411303424}\n'


def test_requests_open_no_session(app, client, auth):
    """The API is stateless: a request never reads a session cookie (even a forged one) and no
    response sets one."""
    from flask import session
    from flask.sessions import NullSession

    with app.test_request_context(headers={"Cookie": "session=forged.value.here"}):
        assert isinstance(session, NullSession)
    response = client.post("/api/v1/task/parse", json={"file": b64(MARKDOWN)}, headers=auth)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
