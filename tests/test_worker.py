"""Workers on both databases: real runs reach every status, updates, expiry, leases, URL inputs."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import create, force, trickle, wait_until

from models import Task, db, now_utc
from tasks import leases
from tasks.claims import claim_next_task
from worker import loop
from worker.loop import Worker
from worker.service import BackgroundWorkers

LONG_MARKDOWN = b"# Report\n\n" + b"\n\n".join(
    b"## Part %d\n\n" % n + b"Words of part %d. " % n * 40 for n in range(6))


def wait_for(client, auth, task_id, statuses=("Succeeded", "Failed", "Cancelled"), timeout=30.0) -> dict:
    """Poll a task until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = client.get(f"/task/{task_id}", headers=auth).json
        if task["status"] in statuses:
            return task
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} stayed {task['status']}: {task['message']}")


@pytest.fixture
def workers(app):
    """Two worker threads in this process, stopped after the test."""
    running = BackgroundWorkers(app, 2).start()
    yield running
    running.stop()


def test_markdown_task_succeeds_with_chunks(app, client, auth, workers):
    """Starting → Processing → Succeeded, with typed segments and chunks."""
    task = wait_for(client, auth, create(client, auth, file_name="doc.md")["task_id"])
    assert (task["status"], task["message"]) == ("Succeeded", "Task succeeded")
    assert task["started_at"] and task["finished_at"] and task["expires_at"] is None
    segments = [s for chunk in task["output"]["chunks"] for s in chunk["segments"]]
    assert [s["segment_type"] for s in segments][:2] == ["Title", "Text"]
    assert {"SectionHeader", "ListItem"} <= {s["segment_type"] for s in segments}
    assert task["output"]["file_name"] == "doc.md" and task["output"]["page_count"] == 1
    without = client.get(f"/task/{task['task_id']}?include_chunks=false", headers=auth).json
    assert without["output"]["chunks"] == []


def test_processing_cells_are_real(app_config, app, client, auth):
    """While a worker holds a task it is Processing, and cancel/delete/update answer 400."""
    app.config["PROCESSING_DELAY_SECONDS"] = 2.0
    running = BackgroundWorkers(app, 1).start()
    try:
        task_id = create(client, auth)["task_id"]
        task = wait_for(client, auth, task_id, statuses=("Processing",))
        assert task["message"] == "Task started"
        for response, verb in ((client.get(f"/task/{task_id}/cancel", headers=auth), "cancelled"),
                               (client.delete(f"/task/{task_id}", headers=auth), "deleted"),
                               (client.patch(f"/task/{task_id}/parse", json={}, headers=auth), "updated")):
            assert (response.status_code, response.text) == (400, f"Task cannot be {verb}: status is Processing")
        assert wait_for(client, auth, task_id)["status"] == "Succeeded"
    finally:
        running.stop()


def test_unsupported_url_download_fails_task(app, client, auth, workers, file_server):
    """A URL whose body is of an unsupported type fails with `Unsupported file type: ...`."""
    app.config["ALLOW_PRIVATE_URLS"] = True
    response = client.post("/task/parse", json={"file": f"{file_server}/archive.zip"}, headers=auth)
    task = wait_for(client, auth, response.json["task_id"])
    assert (task["status"], task["message"]) == ("Failed", "Unsupported file type: application/zip")
    assert client.delete(f"/task/{task['task_id']}", headers=auth).text == "Task deleted"


def test_url_input_is_downloaded_and_processed(app, client, auth, workers, file_server):
    """A URL input is fetched by the worker, stored and served back; a 404 fails clearly."""
    app.config["ALLOW_PRIVATE_URLS"] = True
    created = client.post("/task/parse", json={"file": f"{file_server}/notes.md"}, headers=auth).json
    assert created["configuration"]["input_file_url"] == f"{file_server}/notes.md"
    task = wait_for(client, auth, created["task_id"])
    assert task["status"] == "Succeeded" and task["output"]["file_name"] == "notes.md"
    assert "/files/" in task["configuration"]["input_file_url"]
    missing = client.post("/task/parse", json={"file": f"{file_server}/missing.pdf"}, headers=auth).json
    assert wait_for(client, auth, missing["task_id"])["message"] == "Failed to download file: HTTP 404"


def test_private_addresses_are_refused_by_default(app, client, auth, workers, file_server):
    """Without ALLOW_PRIVATE_URLS a loopback URL fails with the reason."""
    created = client.post("/task/parse", json={"file": f"{file_server}/notes.md"}, headers=auth).json
    task = wait_for(client, auth, created["task_id"])
    assert task["status"] == "Failed"
    assert task["message"].startswith("Failed to download file: host 127.0.0.1 resolves to a non-public address")


def test_update_then_cancel_restores_real_output(app, client, auth, workers):
    """A real run, an update queued behind a busy worker, then cancel: everything comes back."""
    task_id = create(client, auth, file_name="doc.md")["task_id"]
    before = wait_for(client, auth, task_id)
    workers.stop()
    patched = client.patch(f"/task/{task_id}/parse", json={"chunk_processing": {"target_length": 5}}, headers=auth)
    assert patched.json["status"] == "Starting"
    assert client.get(f"/task/{task_id}/cancel", headers=auth).text == "Task cancelled"
    after = client.get(f"/task/{task_id}", headers=auth).json
    for field in ("status", "message", "started_at", "finished_at", "expires_at", "output"):
        assert after[field] == before[field], field
    assert after["configuration"]["chunk_processing"] == before["configuration"]["chunk_processing"]


def test_update_run_replaces_output(app, client, auth, workers):
    """An update's successful run replaces the output: a smaller target gives more chunks."""
    task_id = create(client, auth, document=LONG_MARKDOWN, file_name="long.md")["task_id"]
    first = wait_for(client, auth, task_id)
    client.patch(f"/task/{task_id}/parse", json={"chunk_processing": {"target_length": 30}}, headers=auth)
    second = wait_for(client, auth, task_id)
    assert second["status"] == "Succeeded"
    assert len(second["output"]["chunks"]) > len(first["output"]["chunks"])
    assert all(chunk["chunk_length"] <= 30 or len(chunk["segments"]) == 1 for chunk in second["output"]["chunks"])


def test_failed_update_restores_previous_state(app, client, auth):
    """An update whose run fails brings back the previous state, saying the update failed."""
    task_id = create(client, auth)["task_id"]
    worker = Worker(app, threading.Event(), name="w1")
    assert worker.run_once()
    before = client.get(f"/task/{task_id}", headers=auth).json
    client.patch(f"/task/{task_id}/parse", json={"expires_in": 60}, headers=auth)
    with app.app_context():
        claimed = claim_next_task("w2", 60)
        assert leases.fail_task(claimed, "Task timed out")
        db.session.remove()
    after = client.get(f"/task/{task_id}", headers=auth).json
    assert after["status"] == "Succeeded"
    assert after["message"] == "Update failed: Task timed out"
    assert after["output"] == before["output"] and after["configuration"]["expires_in"] is None


def test_expiry_after_success(app, client, auth, workers):
    """A succeeded task with expires_in gets expires_at; once past it is gone, and swept."""
    task_id = create(client, auth, expires_in=1)["task_id"]
    task = wait_for(client, auth, task_id)
    assert task["expires_at"] is not None
    wait_until(lambda: client.get(f"/task/{task_id}", headers=auth).text == "Task not found", 10, "expired")
    from tasks.lifecycle import sweep_expired
    with app.app_context():
        sweep_expired()
        assert db.session.get(Task, task_id) is None
        db.session.remove()


def test_lost_lease_is_retried_then_fails(app, client, auth):
    """An expired lease goes back to Starting (`Retrying task 2/3`), then fails at MAX_ATTEMPTS."""
    task_id = create(client, auth)["task_id"]
    with app.app_context():
        for attempt in (1, 2, 3):
            claimed = claim_next_task(f"lost-{attempt}", 60)
            assert claimed.attempt == attempt
            force(app, task_id, lease_expires_at=now_utc() - timedelta(seconds=1))
            assert leases.reap_lost_tasks(3, 600, 60) == 1
            # The lost worker's late writes change nothing.
            assert not leases.finish_task(claimed, {"chunks": []}, {})
            if attempt < 3:
                task = client.get(f"/task/{task_id}", headers=auth).json
                assert (task["status"], task["message"]) == ("Starting", f"Retrying task {attempt + 1}/3")
        db.session.remove()
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert task["status"] == "Failed"
    assert task["message"] == "Task failed: the worker running it was lost (attempt 3/3)"


def test_heartbeat_keeps_lease_and_release_does_not_count(app, client, auth):
    """Heartbeats push the lease out; a release hands the task back without spending an attempt."""
    task_id = create(client, auth)["task_id"]
    with app.app_context():
        claimed = claim_next_task("w", 1)
        first = db.session.get(Task, task_id).lease_expires_at
        db.session.rollback()
        assert leases.renew_lease(claimed, 60)  # 60 s from now: past the claim's 1 s
        assert db.session.get(Task, task_id).lease_expires_at > first
        assert leases.release_task(claimed)
        task = db.session.get(Task, task_id)
        assert (task.status, task.message, task.attempt) == ("Starting", "Task queued", 0)
        assert not leases.renew_lease(claimed, 60)
        db.session.remove()


class _Files(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the handler API's name
        if self.path == "/trickle.md":  # a byte every 0.1 s, for up to a minute
            self.send_response(200)
            self.send_header("Content-Type", "text/markdown")
            self.end_headers()
            trickle(self, 600, 0.1)
            return
        bodies = {"/notes.md": (b"# Notes\n\nDownloaded text.\n", "text/markdown"),
                  "/archive.zip": (b"PK\x03\x04" + b"\x00" * 60, "application/zip")}
        if self.path not in bodies:
            self.send_error(404)
            return
        body, mime = bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    """A loopback HTTP server with a few documents."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_task_timeout_fails_the_run(app, client, auth, monkeypatch):
    """A run longer than TASK_TIMEOUT fails with `Task timed out`, and the worker goes on."""
    from pipeline import run as pipeline

    real = pipeline.run_pipeline
    # A parse that really takes 3 s (inline Markdown runs on the worker's thread, so the patch reaches it).
    monkeypatch.setattr(pipeline, "run_pipeline", lambda *args, **kwargs: time.sleep(3) or real(*args, **kwargs))
    app.config["TASK_TIMEOUT"] = 0.5
    worker = Worker(app, threading.Event(), name="slow")
    task_id = create(client, auth)["task_id"]
    assert worker.run_once()
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert (task["status"], task["message"]) == ("Failed", "Task timed out")
    monkeypatch.setattr(pipeline, "run_pipeline", real)
    app.config["TASK_TIMEOUT"] = 600
    second = create(client, auth)["task_id"]
    assert worker.run_once()
    assert client.get(f"/task/{second}", headers=auth).json["status"] == "Succeeded"


def test_a_task_queued_here_wakes_idle_workers_at_once(app, client, auth, monkeypatch):
    """A create or an update in this process wakes its idle workers, without waiting for their poll."""
    from worker import loop as worker

    monkeypatch.setattr(worker, "IDLE_SECONDS", 30.0)  # a poll would take 30 s to find the task
    real_wait, idle = worker.wait_for_work, threading.Event()

    def wait_for_work(timeout):
        idle.set()  # the worker found nothing and waits until its next poll
        try:
            return real_wait(timeout)
        finally:
            idle.clear()

    monkeypatch.setattr(worker, "wait_for_work", wait_for_work)
    running = BackgroundWorkers(app, 1).start()
    try:
        assert idle.wait(30)
        task_id = create(client, auth, file_name="doc.md")["task_id"]
        assert wait_for(client, auth, task_id, timeout=10)["status"] == "Succeeded"
        assert idle.wait(30)  # cleared when it woke for the task, set when it went idle again
        updated = client.patch(f"/task/{task_id}/parse", json={"chunk_processing": {"target_length": 64}},
                               headers=auth)
        assert updated.status_code == 200 and updated.json["status"] == "Starting"
        task = wait_for(client, auth, task_id, timeout=10)
        assert task["status"] == "Succeeded" and task["configuration"]["chunk_processing"]["target_length"] == 64
    finally:
        began = time.monotonic()
        running.stop()
        assert time.monotonic() - began < 5  # stopping wakes idle workers too


def _row(app, task_id: str) -> dict:
    with app.app_context():
        task = db.session.get(Task, task_id)
        row = {"status": task.status, "worker_id": task.worker_id, "attempt": task.attempt,
               "message": task.message}
        db.session.remove()
    return row


def test_a_success_claims_the_next_task_in_the_same_statement_on_postgresql(app, client, auth):
    """PostgreSQL: run_once finishes its task and holds the next oldest one, claimed by that
    same statement; SQLite finishes alone and leaves the next task Starting."""
    first, second = (create(client, auth)["task_id"] for _ in range(2))
    worker = Worker(app, threading.Event(), name="chain")
    assert worker.run_once()
    assert _row(app, first)["status"] == "Succeeded"
    held = _row(app, second)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert (held["status"], held["worker_id"], held["attempt"]) == ("Processing", "chain", 1)
        assert worker._next is not None and worker._next.task_id == second
        assert worker._next.document is not None  # the claim brought the input with it
    else:
        assert held["status"] == "Starting" and worker._next is None
    assert worker.run_once()  # the held task runs next, without another claim
    assert client.get(f"/task/{second}", headers=auth).json["status"] == "Succeeded"
    assert worker._next is None and not worker.run_once()


def test_a_task_claimed_with_the_last_finish_goes_back_when_the_worker_stops(app, client, auth):
    """A worker stopped while holding a task it has not started hands it back, not as an attempt;
    another worker then runs it to success."""
    first, second = (create(client, auth)["task_id"] for _ in range(2))
    stop = threading.Event()
    worker = Worker(app, stop, name="stopping")
    assert worker.run_once()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert worker._next is not None and _row(app, second)["status"] == "Processing"
    stop.set()
    worker.run()  # the loop sees the stop at once and hands back what it holds
    held = _row(app, second)
    assert (held["status"], held["worker_id"], held["attempt"]) == ("Starting", None, 0)
    assert held["message"] == "Task queued"
    assert Worker(app, threading.Event(), name="other").run_once()
    assert client.get(f"/task/{second}", headers=auth).json["status"] == "Succeeded"
    assert _row(app, first)["status"] == "Succeeded"


def test_a_stopping_worker_claims_nothing_with_its_last_finish(app, client, auth, monkeypatch):
    """Once stop is set, a success is written alone: the next task stays Starting, untouched."""
    first, second = (create(client, auth)["task_id"] for _ in range(2))
    stop = threading.Event()
    worker = Worker(app, stop, name="last")
    real_run = loop.run_document
    ran = []

    def run_then_stop(*args, **kwargs):  # the stop comes while the document runs (inline or in the sandbox)
        result = real_run(*args, **kwargs)
        ran.append(stop.set())
        return result

    monkeypatch.setattr(loop, "run_document", run_then_stop)
    assert worker.run_once()
    assert ran  # the patch was in the path the document took
    assert _row(app, first)["status"] == "Succeeded"
    assert worker._next is None
    untouched = _row(app, second)
    assert (untouched["status"], untouched["worker_id"], untouched["attempt"]) == ("Starting", None, 0)


def test_a_finish_that_lost_its_lease_changes_nothing_but_still_claims(app, client, auth):
    """The finish in front of the claim is fenced: once the task was reaped and claimed again by
    another worker, the old claim's finish writes nothing, and the claim takes the next task."""
    lost_task = create(client, auth)["task_id"]
    with app.app_context():
        claimed = claim_next_task("lost", 60)
        db.session.remove()
    force(app, lost_task, status="Starting", worker_id=None, message="Retrying task 2/3")  # reaped
    with app.app_context():
        assert claim_next_task("thief", 60).task_id == lost_task  # attempt 2, another worker
        db.session.remove()
    waiting = create(client, auth)["task_id"]
    with app.app_context():
        nxt = leases.finish_and_claim(claimed, {"chunks": []}, {}, leases.SUCCEEDED, 60)
        db.session.remove()
        task = db.session.get(Task, lost_task)
        assert (task.status, task.worker_id, task.attempt) == ("Processing", "thief", 2)
        assert task.output is None and task.finished_at is None
        db.session.remove()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert nxt is not None and nxt.task_id == waiting
        assert (_row(app, waiting)["status"], _row(app, waiting)["worker_id"]) == ("Processing", "lost")
    else:
        assert nxt is None and _row(app, waiting)["status"] == "Starting"


def test_the_lease_is_renewed_through_the_shutdown_grace_period(app, client, auth, monkeypatch):
    """A run that finishes within the grace period after SIGTERM keeps its lease meanwhile: a
    reaper running all along does not take the task away, and it ends Succeeded."""
    from pipeline import run as pipeline

    real = pipeline.run_pipeline
    running = threading.Event()

    def slow_run(*args, **kwargs):
        running.set()
        time.sleep(3)  # a run longer than the lease: what the heartbeat must cover
        return real(*args, **kwargs)

    # The lease (1.2 s, a beat every 0.4 s) lapses well within the 3 s run unless renewed after the
    # stop, and has room for a late beat on a loaded machine.
    monkeypatch.setattr(pipeline, "run_pipeline", slow_run)
    app.config["LEASE_SECONDS"] = 1.2
    stop = threading.Event()
    worker = Worker(app, stop, name="graceful")
    task_id = create(client, auth)["task_id"]
    thread = threading.Thread(target=worker.run)
    thread.start()
    # Processing is set by the claim, before the run starts: a stop before the run hands the task back.
    assert running.wait(30)
    stop.set()  # shutdown begins while the run has over two seconds to go
    reaped = 0
    while thread.is_alive():
        with app.app_context():
            reaped += leases.reap_lost_tasks(3, 600, 1.2)
            db.session.remove()
        time.sleep(0.1)  # the reaper's cadence while the run goes on, not a wait for a state
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert (task["status"], task["message"], reaped) == ("Succeeded", "Task succeeded", 0)


def test_a_trickling_download_fails_at_the_overall_deadline(app, client, auth, file_server, monkeypatch):
    """A server sending a byte now and then cannot hold a worker: the whole download has a deadline."""
    from worker import fetch

    monkeypatch.setattr(fetch, "TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(fetch, "READ_SECONDS", 0.5)
    app.config["ALLOW_PRIVATE_URLS"] = True
    task_id = client.post("/task/parse", json={"file": f"{file_server}/trickle.md"}, headers=auth).json["task_id"]
    started = time.monotonic()
    assert Worker(app, threading.Event(), name="patient").run_once()
    assert time.monotonic() - started < 5
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert (task["status"], task["message"]) == ("Failed", "Failed to download file: timed out after 1 s")


def test_shutdown_during_a_download_hands_the_task_back(app, client, auth, file_server, monkeypatch):
    """A stop during a slow download ends it after the grace period: the task goes back to the
    queue (Starting, attempt not counted), not Processing until the process dies."""
    from worker import loop as worker_module

    monkeypatch.setattr(worker_module, "SHUTDOWN_GRACE_SECONDS", 0.3)
    app.config["ALLOW_PRIVATE_URLS"] = True
    task_id = client.post("/task/parse", json={"file": f"{file_server}/trickle.md"}, headers=auth).json["task_id"]
    stop = threading.Event()
    thread = threading.Thread(target=Worker(app, stop, name="stopping").run)
    thread.start()
    wait_for(client, auth, task_id, statuses=("Processing",))
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert (task["status"], task["message"]) == ("Starting", "Task queued")
