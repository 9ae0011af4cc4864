"""SPEC.md §4 row by row: every status × every operation, with exact codes and bodies."""
from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import create, finish, force

from models import now_utc

STATUSES = ["Starting", "Starting (queued update)", "Processing", "Succeeded", "Failed", "Cancelled"]

# (status, operation) -> (code, body); a body of None means a JSON TaskResponse.
TABLE = {
    ("Starting", "get"): (200, None),
    ("Starting", "cancel"): (200, "Task cancelled"),
    ("Starting", "delete"): (400, "Task cannot be deleted: status is Starting"),
    ("Starting", "update"): (400, "Task cannot be updated: status is Starting"),
    ("Starting (queued update)", "get"): (200, None),
    ("Starting (queued update)", "cancel"): (200, "Task cancelled"),
    ("Starting (queued update)", "delete"): (400, "Task cannot be deleted: status is Starting"),
    ("Starting (queued update)", "update"): (400, "Task cannot be updated: status is Starting"),
    ("Processing", "get"): (200, None),
    ("Processing", "cancel"): (400, "Task cannot be cancelled: status is Processing"),
    ("Processing", "delete"): (400, "Task cannot be deleted: status is Processing"),
    ("Processing", "update"): (400, "Task cannot be updated: status is Processing"),
    ("Succeeded", "get"): (200, None),
    ("Succeeded", "cancel"): (400, "Task cannot be cancelled: status is Succeeded"),
    ("Succeeded", "delete"): (200, "Task deleted"),
    ("Succeeded", "update"): (200, None),
    ("Failed", "get"): (200, None),
    ("Failed", "cancel"): (400, "Task cannot be cancelled: status is Failed"),
    ("Failed", "delete"): (200, "Task deleted"),
    ("Failed", "update"): (200, None),
    ("Cancelled", "get"): (200, None),
    ("Cancelled", "cancel"): (400, "Task cannot be cancelled: status is Cancelled"),
    ("Cancelled", "delete"): (200, "Task deleted"),
    ("Cancelled", "update"): (400, "Task cannot be updated: status is Cancelled"),
}


def put_in_status(app, client, auth, status: str) -> str:
    """A task of the caller in the given status; returns its id."""
    task_id = create(client, auth)["task_id"]
    if status == "Starting":
        return task_id
    if status == "Processing":
        force(app, task_id, status="Processing", message="Task started", started_at=now_utc(),
              worker_id="w", attempt=1, lease_expires_at=now_utc() + timedelta(seconds=60))
    elif status == "Cancelled":
        assert client.get(f"/task/{task_id}/cancel", headers=auth).status_code == 200
    elif status == "Starting (queued update)":
        finish(app, task_id)
        assert client.patch(f"/task/{task_id}/parse", json={}, headers=auth).status_code == 200
    else:
        finish(app, task_id, status=status)
    return task_id


def call(client, auth, operation: str, task_id: str, prefix: str = ""):
    """Perform one operation of the table."""
    if operation == "get":
        return client.get(f"{prefix}/task/{task_id}", headers=auth)
    if operation == "cancel":
        return client.get(f"{prefix}/task/{task_id}/cancel", headers=auth)
    if operation == "delete":
        return client.delete(f"{prefix}/task/{task_id}", headers=auth)
    return client.patch(f"{prefix}/task/{task_id}/parse", json={"high_resolution": False}, headers=auth)


@pytest.mark.parametrize("prefix", ["", "/api/v1"])
@pytest.mark.parametrize("operation", ["get", "cancel", "delete", "update"])
@pytest.mark.parametrize("status", STATUSES)
def test_transition_table(app, client, auth, status, operation, prefix):
    """Each cell answers its code and body, and the status moves only when the cell says so."""
    task_id = put_in_status(app, client, auth, status)
    before = client.get(f"/task/{task_id}", headers=auth).json
    response = call(client, auth, operation, task_id, prefix)
    code, body = TABLE[(status.split(" (")[0] if "queued" not in status else status, operation)]
    assert response.status_code == code, response.text
    if body is None:
        assert response.mimetype == "application/json"
        assert response.json["task_id"] == task_id
    else:
        assert response.mimetype == "text/plain"
        assert response.text == body
    after = client.get(f"/task/{task_id}", headers=auth)
    if code == 400:
        assert after.json["status"] == before["status"]
        assert after.json["message"] == before["message"]
    elif operation == "delete":
        assert after.status_code == 404
    elif operation == "update":
        assert after.json["status"] == "Starting"
        assert after.json["message"] == "Task queued for update"
        assert after.json["configuration"]["high_resolution"] is False
    elif operation == "cancel" and status == "Starting":
        assert after.json["status"] == "Cancelled"
        assert after.json["message"] == "Task cancelled"
        assert after.json["finished_at"] is not None


@pytest.mark.parametrize("operation", ["get", "cancel", "delete", "update"])
@pytest.mark.parametrize("absence", ["no such id", "another owner", "expired"])
def test_not_found_row(app, client, auth, operation, absence):
    """A missing, foreign or expired task is `404 Task not found` in every operation."""
    task_id = create(client, auth)["task_id"]
    if absence == "no such id":
        task_id = "00000000-0000-4000-8000-000000000000"
    elif absence == "another owner":
        auth = {"Authorization": "other-key"}
    else:
        finish(app, task_id, status="Succeeded")
        force(app, task_id, expires_at=now_utc() - timedelta(seconds=1))
    response = call(client, auth, operation, task_id)
    assert (response.status_code, response.text) == (404, "Task not found")
    assert response.mimetype == "text/plain"


def test_cancel_of_queued_update_restores_previous_state(app, client, auth):
    """Cancelling a queued update brings back status, message, configuration, times and output."""
    task_id = create(client, auth, chunk_processing={"target_length": 300})["task_id"]
    finish(app, task_id, status="Succeeded", message="Task succeeded", expires_in_seconds=3600)
    before = client.get(f"/task/{task_id}", headers=auth).json
    patched = client.patch(f"/task/{task_id}/parse", headers=auth,
                           json={"chunk_processing": {"target_length": 50}, "ocr_strategy": "Auto"})
    assert patched.status_code == 200
    assert patched.json["status"] == "Starting"
    assert patched.json["message"] == "Task queued for update"
    assert patched.json["configuration"]["chunk_processing"]["target_length"] == 50
    assert patched.json["finished_at"] is None and patched.json["expires_at"] is None

    cancelled = client.get(f"/task/{task_id}/cancel", headers=auth)
    assert (cancelled.status_code, cancelled.text) == (200, "Task cancelled")
    after = client.get(f"/task/{task_id}", headers=auth).json
    for field in ("status", "message", "configuration", "started_at", "finished_at", "expires_at", "output"):
        if field == "configuration":
            assert {k: v for k, v in after[field].items() if k != "input_file_url"} == \
                   {k: v for k, v in before[field].items() if k != "input_file_url"}
        else:
            assert after[field] == before[field], field
    # The revert is complete: the task can be updated again, and cancelled a second time.
    again = client.patch(f"/task/{task_id}/parse", json={}, headers=auth)
    assert again.status_code == 200
    assert client.get(f"/task/{task_id}/cancel", headers=auth).text == "Task cancelled"
    assert client.get(f"/task/{task_id}", headers=auth).json["status"] == "Succeeded"


def test_cancel_sets_expiry_from_expires_in(app, client, auth):
    """A cancelled task expires `expires_in` seconds after it finished, then is gone."""
    task_id = create(client, auth, expires_in=3600)["task_id"]
    assert client.post(f"/task/{task_id}/cancel", headers=auth).text == "Task cancelled"
    task = client.get(f"/task/{task_id}", headers=auth).json
    assert task["expires_at"] is not None and task["expires_at"] > task["finished_at"]
    zero = create(client, auth, expires_in=0)["task_id"]
    assert client.post(f"/task/{zero}/cancel", headers=auth).text == "Task cancelled"
    assert client.get(f"/task/{zero}", headers=auth).status_code == 404
    listed = [t["task_id"] for t in client.get("/tasks", headers=auth).json]
    assert task_id in listed and zero not in listed


def test_update_merges_configuration(app, client, auth):
    """PATCH replaces given fields, merges nested objects and segment types, keeps the rest."""
    task_id = create(client, auth, chunk_processing={"tokenizer": "Word", "target_length": 100},
                     segment_processing={"Table": {"format": "Markdown"}})["task_id"]
    finish(app, task_id)
    response = client.patch(f"/api/v1/task/{task_id}/parse", headers=auth, json={
        "chunk_processing": {"target_length": 20}, "segment_processing": {"list_item": {"strategy": "Ignore"}},
        "expires_in": 60, "not_a_field": 1})
    assert response.status_code == 200
    configuration = response.json["configuration"]
    assert configuration["chunk_processing"] == {"target_length": 20, "tokenizer": {"Enum": "Word"},
                                                 "ignore_headers_and_footers": True}
    assert configuration["segment_processing"]["Table"]["format"] == "Markdown"
    assert configuration["segment_processing"]["ListItem"]["strategy"] == "Ignore"
    assert configuration["expires_in"] == 60
    assert "not_a_field" not in configuration


@pytest.mark.parametrize("body", [{"high_resolution": "yes"}, None, b"{not json"],
                         ids=["bad-field", "no-body", "malformed-json"])
def test_update_of_a_missing_task_is_a_404_whatever_its_body(client, auth, body):
    """The task is looked up before the body is read: a missing task is a 404 in every operation."""
    missing = "00000000-0000-4000-8000-000000000000"
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body} if body else {}
    response = client.patch(f"/task/{missing}/parse", headers=auth, **kwargs)
    assert (response.status_code, response.text) == (404, "Task not found")


@pytest.mark.parametrize("status", ["Starting", "Processing", "Cancelled"])
def test_update_refused_by_status_says_so_before_judging_the_body(app, client, auth, status):
    task_id = put_in_status(app, client, auth, status)
    for kwargs in ({}, {"json": {"high_resolution": "yes"}}):
        response = client.patch(f"/task/{task_id}/parse", headers=auth, **kwargs)
        assert (response.status_code, response.text) == (400, f"Task cannot be updated: status is {status}")


def test_update_without_a_body_runs_the_task_again_as_it_was(app, client, auth):
    """Every field of an update is optional, the body too."""
    task_id = create(client, auth)["task_id"]
    finish(app, task_id)
    before = client.get(f"/task/{task_id}", headers=auth).json
    response = client.patch(f"/task/{task_id}/parse", headers=auth)
    assert response.status_code == 200, response.text
    assert (response.json["status"], response.json["message"]) == ("Starting", "Task queued for update")
    assert ({k: v for k, v in response.json["configuration"].items() if k != "input_file_url"}
            == {k: v for k, v in before["configuration"].items() if k != "input_file_url"})


def test_update_answers_the_state_it_wrote_even_if_a_worker_claims_at_once(app, client, auth, monkeypatch):
    """The response is the row the update's own write returned: a worker claiming the task right
    after the commit (before the response is built) does not turn the answer into Processing."""
    from models import db
    from tasks import claims

    task_id = create(client, auth)["task_id"]
    finish(app, task_id)
    commit = db.session.commit
    claimed = []

    def commit_then_a_worker_claims():
        commit()
        claimed.append(claims.claim_next_task("racer", 60))

    monkeypatch.setattr(db.session, "commit", commit_then_a_worker_claims)
    response = client.patch(f"/task/{task_id}/parse", json={"high_resolution": False}, headers=auth)
    monkeypatch.undo()
    assert claimed and claimed[0] is not None and claimed[0].task_id == task_id
    assert (response.json["status"], response.json["message"]) == ("Starting", "Task queued for update")
    assert response.json["configuration"]["high_resolution"] is False
    assert client.get(f"/task/{task_id}", headers=auth).json["status"] == "Processing"
