"""Metrics and logs: /metrics behind its own token, a line per request and per transition, no secrets."""
from __future__ import annotations

import io
import json
import logging
import re
import threading

import pytest
from gunicorn_server import gunicorn  # noqa: F401 - the fixture
from helpers import MARKDOWN, b64, create
from prometheus_client import REGISTRY

from observability import logs
from worker.loop import Worker

TOKEN = "scrape-me"


@pytest.fixture
def metrics_app(app):
    app.config["METRICS_TOKEN"] = TOKEN
    return app


def sample(text: str, name: str, **labels) -> float | None:
    """A sample's value in Prometheus's text format."""
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")):
            if all(f'{key}="{value}"' in line for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_are_off_without_a_token_and_refuse_a_wrong_one(app, client, auth):
    off = client.get("/metrics")
    assert off.status_code == 404 and off.text == "Not found: metrics are off; set METRICS_TOKEN to serve them"
    app.config["METRICS_TOKEN"] = TOKEN
    for headers in ({}, {"Authorization": "Bearer wrong"}, auth):  # an API key is not the metrics token
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.mimetype == "text/plain"
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 200


def test_metrics_count_requests_tasks_and_the_queue(metrics_app, client, auth):
    scrape = {"Authorization": f"Bearer {TOKEN}"}
    before = client.get("/metrics", headers=scrape).text
    created_before = sample(before, "chunkr_tasks_created_total") or 0
    task = create(client, auth)
    client.get(f"/api/v1/task/{task['task_id']}", headers=auth)
    text = client.get("/metrics", headers=scrape).text
    assert sample(text, "chunkr_tasks_created_total") == created_before + 1
    assert sample(text, "chunkr_queue_depth", status="Starting") == 1
    assert sample(text, "chunkr_queue_depth", status="Succeeded") == 0
    assert sample(text, "chunkr_oldest_waiting_task_seconds") >= 0
    # Labelled by the route's rule, never by the path with its task id.
    assert sample(text, "chunkr_http_requests_total", method="GET", route="/api/v1/task/<task_id>", status="200") >= 1
    assert task["task_id"] not in text
    assert sample(text, "chunkr_http_request_duration_seconds_count", method="POST", route="/api/v1/task/parse") >= 1


def test_a_worker_run_is_counted_and_logged_with_worker_and_attempt(metrics_app, client, auth, caplog):
    scrape = {"Authorization": f"Bearer {TOKEN}"}
    finished_before = sample(client.get("/metrics", headers=scrape).text, "chunkr_tasks_finished_total",
                             status="Succeeded") or 0
    task = create(client, auth)
    with caplog.at_level(logging.INFO, logger="chunkr.tasks"):
        assert Worker(metrics_app, threading.Event(), name="w-log").run_once()
    events = [(record.fields["event"], record.fields) for record in caplog.records
              if record.name == "chunkr.tasks" and record.fields["event"] != "created"]
    assert [event for event, _ in events] == ["claimed", "finished"]
    assert events[0][1]["worker"] == "w-log" and events[0][1]["attempt"] == 1
    assert events[1][1]["status"] == "Succeeded" and events[1][1]["task_id"] == task["task_id"]
    text = client.get("/metrics", headers=scrape).text
    assert sample(text, "chunkr_tasks_finished_total", status="Succeeded") == finished_before + 1
    assert sample(text, "chunkr_task_duration_seconds_count", document_type="text") >= 1


def test_one_access_line_per_request_without_query_keys_or_content(client, auth, caplog):
    secret_text = b"# Private\n\nThe launch code is 0000.\n"
    with caplog.at_level(logging.INFO):
        task = create(client, auth, secret_text)
        url = task["configuration"]["input_file_url"].removeprefix("http://localhost")
        assert client.get(url).status_code == 200  # a signed URL: its signature is in the query
        client.get("/tasks?limit=1", headers=auth)
    lines = [record for record in caplog.records if record.name == "chunkr.access"]
    assert [(r.fields["method"], r.fields["status"]) for r in lines] == [("POST", 200), ("GET", 200), ("GET", 200)]
    assert lines[0].fields["task_id"] == task["task_id"] and lines[0].fields["owner"] == "default"
    assert lines[1].fields["path"] == url.split("?")[0]
    everything = "\n".join(logging.Formatter().format(r) + json.dumps(getattr(r, "fields", {}), default=str)
                           for r in caplog.records)
    assert "signature" not in everything and "test-key" not in everything
    assert "launch code" not in everything and b64(secret_text) not in everything


def test_json_lines_when_asked():
    record = logging.LogRecord("chunkr.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", "/health", 200), None)
    record.fields = {"method": "GET", "status": 200, "owner": None}
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["message"] == "GET /health 200" and line["level"] == "INFO" and line["status"] == 200
    assert line["time"].endswith("Z")
    text = logs.TextFormatter().format(record)
    assert text.endswith("GET /health 200 method=GET status=200")  # no in_message on this record: all fields
    record.in_message = ("method", "status")
    assert logs.TextFormatter().format(record).endswith("chunkr.access: GET /health 200")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_access_line_seen_only_by_the_service_handler_is_written_directly_as_logging_would(
        app, client, auth, log_format, monkeypatch):
    logs.configure(log_format)
    handler = next(h for h in logging.root.handlers if getattr(h, "chunkr", False))
    formatter = handler.formatter
    monkeypatch.setattr(handler, "stream", io.StringIO())
    monkeypatch.setattr(logging.root, "handlers", [handler])  # pytest's capture handlers gone: the fast path
    slow = []
    monkeypatch.setattr(logs.ACCESS, "info", lambda *args, **kwargs: slow.append(args))
    try:
        task = create(client, auth)
        assert client.get(f"/api/v1/task/{task['task_id']}", headers=auth).status_code == 200
    finally:
        logs.configure(app.config["LOG_FORMAT"])
    access = [line for line in handler.stream.getvalue().splitlines() if "chunkr.access" in line]
    assert slow == [] and len(access) == 2
    path = f"/api/v1/task/{task['task_id']}"
    # The same parts through the formatter's own format() must give the same text.
    record = logging.LogRecord("chunkr.access", logging.INFO, __file__, 1, "%s %s %s", ("GET", path, 200), None)
    if log_format == "json":
        written = json.loads(access[1])
        record.created, record.msecs = 0.0, 0.0
        record.fields = {key: written[key] for key in ("method", "path", "status", "duration_ms", "owner", "task_id")}
        expected = json.loads(formatter.format(record))
        assert {**written, "time": None} == {**expected, "time": None}
        assert written["owner"] == "default" and written["task_id"] == task["task_id"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", written["time"])
    else:
        stamp, _, rest = access[1].partition(" INFO ")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", stamp)
        duration = re.search(r" duration_ms=([\d.]+)", rest).group(1)
        record.fields = {"method": "GET", "path": path, "status": 200, "duration_ms": float(duration),
                         "owner": "default", "task_id": task["task_id"]}
        record.in_message = logs.ACCESS_SAID
        assert formatter.format(record).partition(" INFO ")[2] == rest
        assert rest == f"chunkr.access: GET {path} 200 duration_ms={duration} owner=default task_id={task['task_id']}"


def test_a_bad_log_format_stops_the_start():
    import settings

    with pytest.raises(RuntimeError, match="Invalid LOG_FORMAT='xml': expected one of text, json"):
        settings.from_environment({"LOG_FORMAT": "xml"})


def test_sandbox_restarts_are_counted_by_reason():
    from sandbox.pool import Sandbox

    def restarts(reason):
        return REGISTRY.get_sample_value("chunkr_sandbox_child_restarts_total", {"reason": reason}) or 0

    before = restarts("max_documents")
    sandbox = Sandbox(max_documents=1)
    try:
        from worker.loop import run_document

        run_document(sandbox, MARKDOWN * 200, "text/markdown", "a.md", {}, progress=lambda m: None,
                     timeout=60, should_abandon=lambda: False)
    finally:
        sandbox.close()
    assert restarts("max_documents") == before + 1


def test_under_gunicorn_metrics_add_up_every_process(gunicorn):  # noqa: F811
    """Requests served by both web processes and the run done by the task-worker process are all
    in one scrape (prometheus-client's multiprocess mode, set up by gunicorn.conf.py)."""
    import http.client

    from helpers import wait_until

    server = gunicorn(METRICS_TOKEN=TOKEN)
    task_id = server.create(MARKDOWN, "notes.md")
    wait_until(lambda: server.task(task_id)["status"] == "Succeeded", 60, "the task done")
    for _ in range(20):  # spread over both web processes (each takes connections as it can)
        server.request("GET", f"/api/v1/task/{task_id}")

    def scrape() -> str:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()

    text = scrape()
    assert sample(text, "chunkr_tasks_created_total") == 1
    assert sample(text, "chunkr_tasks_finished_total", status="Succeeded") == 1  # counted in the worker process
    assert sample(text, "chunkr_pages_processed_total", document_type="text") == 1
    assert sample(text, "chunkr_http_requests_total", method="GET", route="/api/v1/task/<task_id>", status="200") >= 21
    assert sample(text, "chunkr_queue_depth", status="Succeeded") == 1


def test_access_lines_and_request_metrics_can_be_turned_off(app, client, auth, caplog):
    app.config["ACCESS_LOG"] = False
    with caplog.at_level(logging.INFO):
        client.get("/tasks", headers=auth)
    assert not [record for record in caplog.records if record.name == "chunkr.access"]
    before = REGISTRY.get_sample_value("chunkr_http_requests_total", {"method": "GET", "route": "/tasks", "status": "200"})
    client.get("/tasks", headers=auth)  # no METRICS_TOKEN: nothing could read the count, none is made
    assert REGISTRY.get_sample_value("chunkr_http_requests_total",
                                     {"method": "GET", "route": "/tasks", "status": "200"}) == before
