"""Signed webhooks on both databases: a real receiver on localhost gets every status change of a
task, each signature checked with the `standardwebhooks` library; failed deliveries come back with
backoff up to a limit; the event row is committed with the transition; SSRF rules; CLI and routes."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update
from standardwebhooks import Webhook

from models import Task, WebhookDelivery, db
from tasks import claims, leases
from tests.helpers import MARKDOWN, b64, create
from webhooks import delivery, outbox
from worker.service import BackgroundWorkers

OTHER = {"Authorization": "other-key"}


class Receiver:
    """An HTTP server on a loopback port that records what it is sent and answers the codes it is told."""

    def __init__(self):
        self.received: list[dict] = []
        self.codes: list[int] = []  # answers to give, in order; 200 once they run out
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the handler API's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/slow":
                    time.sleep(1.5)
                with receiver.lock:
                    code = receiver.codes.pop(0) if receiver.codes else 200
                    receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "code": code, "at": time.monotonic()})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self, path: str | None = None) -> list[dict]:
        """The bodies received (on `path` only, if given), as JSON."""
        with self.lock:
            return [json.loads(hit["body"]) for hit in self.received if path is None or hit["path"] == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 30.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.events(path))} events of {count}: {self.events(path)}"
            time.sleep(0.02)
        return self.events(path)


@pytest.fixture
def receiver():
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()
    running.thread.join(timeout=10)


@pytest.fixture
def app_config(app_config):
    """Loopback receivers allowed; deliverers that look often and retry soon."""
    return {**app_config, "ALLOW_PRIVATE_URLS": True, "WEBHOOK_POLL_SECONDS": 0.05, "WEBHOOK_BACKOFF_SECONDS": 0.3,
            "WEBHOOK_TIMEOUT_SECONDS": 5.0, "WEBHOOK_MAX_ATTEMPTS": 3}


def register(client, auth, url: str) -> dict:
    response = client.post("/api/v1/webhooks", json={"url": url}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json


def verified(receiver: Receiver, secret: str, path: str | None = None) -> list[dict]:
    """Every request received (on `path`), its signature checked by the standardwebhooks library."""
    hook = Webhook(secret)
    with receiver.lock:
        hits = [hit for hit in receiver.received if path is None or hit["path"] == path]
    bodies = []
    for hit in hits:
        headers = {name.lower(): value for name, value in hit["headers"].items()}
        assert headers["webhook-id"].startswith("msg_")
        bodies.append(hook.verify(hit["body"], headers))  # raises on a bad signature or a stale timestamp
    return bodies


def deliver_all(app) -> int:
    """Run one deliverer pass in this thread, as the deliverer thread does."""
    with app.app_context():
        tried = delivery.deliver_due(app, threading.Event())
        db.session.remove()
    return tried


def deliveries(app, **where) -> list[WebhookDelivery]:
    with app.app_context():
        found = outbox.list_deliveries(None, limit=1000, **where)
        db.session.expunge_all()
        db.session.remove()
    return found


def wait_for_status(client, auth, task_id: str, status: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        task = client.get(f"/api/v1/task/{task_id}", headers=auth).json
        if task["status"] == status:
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def test_a_task_life_reaches_the_endpoint_signed(app, client, auth, receiver):
    """Starting, Processing, Succeeded for a task the workers run; Starting, Cancelled for a cancelled
    one; every signature verified, in Chunkr's body format."""
    endpoint = register(client, auth, receiver.url + "/hook")
    assert endpoint["secret"].startswith("whsec_") and endpoint["id"].startswith("ep_")
    cancelled = create(client, auth)["task_id"]
    assert client.get(f"/api/v1/task/{cancelled}/cancel", headers=auth).status_code == 200
    workers = BackgroundWorkers(app, 1).start()
    try:
        done = create(client, auth)["task_id"]
        wait_for_status(client, auth, done, "Succeeded")
        receiver.wait_for(5)
    finally:
        workers.stop()
    events = verified(receiver, endpoint["secret"])
    assert {event["event_type"] for event in events} == {"task.parse.updated"}
    of = {task: [(e["status"], e["message"]) for e in events if e["task_id"] == task] for task in (cancelled, done)}
    assert of[cancelled] == [("Starting", "Task queued"), ("Cancelled", "Task cancelled")]
    assert sorted(of[done]) == sorted([("Starting", "Task queued"), ("Processing", "Task started"),
                                       ("Succeeded", "Task succeeded")])
    assert all(set(event) == {"event_type", "task_id", "status", "message", "timestamp"} for event in events)
    assert all(event["timestamp"].endswith("Z") for event in events)
    assert {d.state for d in deliveries(app)} == {"delivered"}


def test_a_task_webhook_url_is_signed_with_the_owner_secret(app, client, auth, receiver):
    """Both create routes take `webhook_url`; its events are signed with the owner's secret."""
    secret = client.get("/api/v1/webhooks/secret", headers=auth).json["secret"]
    assert secret.startswith("whsec_")
    assert client.get("/api/v1/webhooks/secret", headers=auth).json["secret"] == secret  # made once
    by_json = create(client, auth, webhook_url=receiver.url + "/json")["task_id"]
    upload = client.post("/api/v1/task", headers=auth, data={
        "file": (__import__("io").BytesIO(MARKDOWN), "doc.md"), "webhook_url": receiver.url + "/upload"})
    assert upload.status_code == 200, upload.text
    assert "Warning" not in upload.headers
    plain = create(client, auth)["task_id"]  # no webhook_url, no endpoint: no event at all
    deliver_all(app)
    assert [e["task_id"] for e in verified(receiver, secret, "/json")] == [by_json]
    assert [e["task_id"] for e in verified(receiver, secret, "/upload")] == [upload.json["task_id"]]
    assert deliveries(app, task_id=plain) == []
    assert "webhook_url" not in client.get(f"/api/v1/task/{by_json}", headers=auth).json["configuration"]


def test_a_failed_delivery_is_retried_with_backoff(app, client, auth, receiver):
    """500 then 200: the same event (same webhook-id) is sent again after the backoff, then delivered."""
    endpoint = register(client, auth, receiver.url)
    receiver.codes = [500]
    create(client, auth)
    deliver_all(app)
    [first] = deliveries(app)
    assert (first.state, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
    assert deliver_all(app) == 0  # not due yet
    time.sleep(0.4)
    assert deliver_all(app) == 1
    [done] = deliveries(app)
    assert (done.state, done.attempts, done.last_error) == ("delivered", 2, None)
    first_try, second_try = receiver.received
    assert second_try["at"] - first_try["at"] >= 0.3
    assert first_try["headers"]["webhook-id"] == second_try["headers"]["webhook-id"]
    assert len(verified(receiver, endpoint["secret"])) == 2


def test_a_delivery_gives_up_after_the_retry_limit(app, client, auth, receiver, runner):
    """WEBHOOK_MAX_ATTEMPTS failed attempts end as failed, with the last error kept and shown."""
    register(client, auth, receiver.url)
    receiver.codes = [500, 502, 503, 200]
    task_id = create(client, auth)["task_id"]
    deadline = time.monotonic() + 20
    while deliveries(app)[0].state == "pending":
        assert time.monotonic() < deadline
        deliver_all(app)
        time.sleep(0.05)
    [gone] = deliveries(app)
    assert (gone.state, gone.attempts, gone.last_error) == ("failed", 3, "HTTP 503")
    assert len(receiver.received) == 3
    shown = client.get("/api/v1/webhooks/deliveries?state=failed", headers=auth).json
    assert [(d["task_id"], d["attempts"], d["last_error"], d["next_attempt_at"]) for d in shown] == \
        [(task_id, 3, "HTTP 503", None)]
    listed = runner.invoke(args=["webhooks", "deliveries", "--state", "failed"])
    assert listed.exit_code == 0 and "HTTP 503" in listed.output and task_id in listed.output


def test_an_unreachable_endpoint_and_a_timeout_are_errors_kept(app, client, auth, receiver):
    register(client, auth, "http://127.0.0.1:9/nobody")  # the discard port: nothing listens
    create(client, auth)
    deliver_all(app)
    [failed] = deliveries(app)
    assert failed.state == "pending" and "cannot reach http://127.0.0.1:9/nobody" in failed.last_error


def test_an_attempt_past_its_timeout_is_a_failure(app, client, auth, receiver):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    register(client, auth, receiver.url + "/slow")
    create(client, auth)
    started = time.monotonic()
    deliver_all(app)
    assert time.monotonic() - started < 1.4
    [slow] = deliveries(app)
    assert (slow.state, slow.attempts, slow.last_error) == ("pending", 1, "timed out after 0.5 s")


def test_a_deliverer_that_dies_mid_attempt_only_delays_the_delivery(app, client, auth, receiver):
    """A claimed delivery whose deliverer never records the outcome is claimed again once its hold ends."""
    register(client, auth, receiver.url)
    create(client, auth)
    with app.app_context():
        assert outbox.claim_due_delivery(hold_seconds=0.3) is not None  # then the deliverer "dies"
        db.session.remove()
    assert deliver_all(app) == 0  # held
    time.sleep(0.4)
    assert deliver_all(app) == 1
    assert [(d.state, d.attempts) for d in deliveries(app)] == [("delivered", 2)]
    assert len(receiver.received) == 1


def test_the_event_is_committed_with_the_transition(app, client, auth, receiver):
    """No deliverer runs (it "crashed"): every transition's event row is there once the transition
    committed, whichever code path wrote it (the API, a worker's hot claim, a finish chained with the
    next claim, a failure); a progress message is no event; a transition rolled back leaves none; a
    deliverer started later sends them all."""
    register(client, auth, receiver.url)
    first = create(client, auth)["task_id"]
    second = create(client, auth)["task_id"]
    with app.app_context():
        claimed = claims.claim_next_task("worker-x", 60)
        assert claimed.task_id == first
        assert leases.report_progress(claimed, "Chunking")
        following = leases.finish_and_claim(claimed, {"chunks": []}, {}, "Task succeeded", 60)
        if following is None:  # SQLite chains nothing: the claim is its own statement
            following = claims.claim_next_task("worker-x", 60)
        assert following.task_id == second
        assert leases.fail_task(following, "Unsupported file type: application/zip")
        db.session.execute(update(Task).where(Task.task_id == first).values(status="Failed"))
        db.session.rollback()  # never happened: no event
        db.session.remove()
    expected = [(first, "Starting"), (second, "Starting"), (first, "Processing"), (first, "Succeeded"),
                (second, "Processing"), (second, "Failed")]
    assert sorted((d.task_id, d.status) for d in deliveries(app)) == sorted(expected)
    assert receiver.received == []
    deliver_all(app)
    assert sorted((e["task_id"], e["status"]) for e in receiver.events()) == sorted(expected)
    assert [e["message"] for e in receiver.events() if e["status"] == "Failed"] == \
        ["Unsupported file type: application/zip"]


def test_an_owner_without_endpoints_writes_no_event(app, client, auth, receiver):
    register(client, OTHER, receiver.url)
    task_id = create(client, auth)["task_id"]
    client.get(f"/api/v1/task/{task_id}/cancel", headers=auth)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(WebhookDelivery)).scalar() == 0


def test_private_addresses_are_refused_at_registration_and_at_delivery(app, client, auth, receiver, runner):
    app.config["ALLOW_PRIVATE_URLS"] = False
    refused = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=auth)
    assert refused.status_code == 400 and refused.mimetype == "text/plain"
    assert refused.text.startswith("url: host 127.0.0.1 resolves to a non-public address")
    by_create = client.post("/api/v1/task/parse", json={"file": b64(MARKDOWN), "webhook_url": receiver.url + "/x"},
                            headers=auth)
    assert by_create.status_code == 400 and by_create.text.startswith("webhook_url: host 127.0.0.1")
    not_http = client.post("/api/v1/webhooks", json={"url": "file:///etc/passwd"}, headers=auth)
    assert not_http.status_code == 400 and "url" in not_http.text
    by_cli = runner.invoke(args=["webhooks", "add", "--owner", "default", "http://10.0.0.1/hook"])
    assert by_cli.exit_code != 0 and "non-public" in by_cli.output
    # Allowed when registered, refused when delivered (as a name that now resolves elsewhere would be).
    app.config["ALLOW_PRIVATE_URLS"] = True
    register(client, auth, receiver.url)
    create(client, auth)
    app.config["ALLOW_PRIVATE_URLS"] = False
    deliver_all(app)
    [refused_delivery] = deliveries(app)
    assert refused_delivery.last_error.startswith("refused: host 127.0.0.1 resolves to a non-public address")
    assert receiver.received == []


def test_the_cli_adds_lists_and_removes_endpoints(app, client, runner, receiver):
    added = runner.invoke(args=["webhooks", "add", "--owner", "alice", receiver.url + "/a"])
    assert added.exit_code == 0, added.output
    endpoint_id, secret = added.output.split()
    assert endpoint_id.startswith("ep_") and secret.startswith("whsec_")
    listed = runner.invoke(args=["webhooks", "list"])
    assert endpoint_id in listed.output and "alice" in listed.output and secret not in listed.output
    assert runner.invoke(args=["webhooks", "list", "--owner", "bob"]).output == ""
    owner_secret = runner.invoke(args=["webhooks", "secret", "--owner", "alice"]).output.strip()
    assert owner_secret.startswith("whsec_")
    rotated = runner.invoke(args=["webhooks", "secret", "--owner", "alice", "--rotate"]).output.strip()
    assert rotated.startswith("whsec_") and rotated != owner_secret
    assert runner.invoke(args=["webhooks", "remove", endpoint_id]).exit_code == 0
    assert endpoint_id not in runner.invoke(args=["webhooks", "list"]).output
    again = runner.invoke(args=["webhooks", "remove", endpoint_id])
    assert again.exit_code != 0 and "No webhook endpoint" in again.output


def test_routes_are_scoped_to_the_owner(app, client, auth, receiver):
    mine = register(client, auth, receiver.url + "/mine")
    theirs = register(client, OTHER, receiver.url + "/theirs")
    assert [e["id"] for e in client.get("/api/v1/webhooks", headers=auth).json] == [mine["id"]]
    assert "secret" not in client.get("/api/v1/webhooks", headers=auth).json[0]
    assert client.get("/api/v1/webhooks", headers={}).status_code == 401
    task_id = create(client, auth)["task_id"]
    deliver_all(app)
    assert [e["task_id"] for e in receiver.events("/mine")] == [task_id] and receiver.events("/theirs") == []
    assert len(client.get("/api/v1/webhooks/deliveries", headers=auth).json) == 1
    assert client.get("/api/v1/webhooks/deliveries", headers=OTHER).json == []
    gone = client.delete(f"/api/v1/webhooks/{theirs['id']}", headers=auth)
    assert (gone.status_code, gone.text) == (404, "Webhook endpoint not found")
    assert client.delete("/api/v1/webhooks/ep_%00", headers=auth).text == "Webhook endpoint not found"
    assert client.get("/api/v1/webhooks/deliveries?task_id=%00", headers=auth).status_code == 400
    assert client.delete(f"/api/v1/webhooks/{mine['id']}", headers=auth).text == "Webhook endpoint deleted"
    assert client.get("/api/v1/webhooks", headers=auth).json == []
    assert [e["id"] for e in client.get("/api/v1/webhooks", headers=OTHER).json] == [theirs["id"]]
    assert client.get("/api/v1/webhooks/secret", headers=auth).json != \
        client.get("/api/v1/webhooks/secret", headers=OTHER).json


def test_removing_an_endpoint_ends_its_pending_deliveries(app, client, auth, receiver):
    endpoint = register(client, auth, receiver.url)
    create(client, auth)
    client.delete(f"/api/v1/webhooks/{endpoint['id']}", headers=auth)
    assert [(d.state, d.last_error) for d in deliveries(app)] == [("failed", "endpoint removed")]
    assert deliver_all(app) == 0 and receiver.received == []


def test_concurrent_deliverers_send_each_event_once(app, client, auth, receiver):
    """Four deliverer threads, 20 events: each sent exactly once."""
    register(client, auth, receiver.url)
    for _ in range(20):
        create(client, auth)
    threads = [threading.Thread(target=deliver_all, args=(app,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = [hit["headers"]["webhook-id"] for hit in receiver.received]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert {(d.state, d.attempts) for d in deliveries(app)} == {("delivered", 1)}
