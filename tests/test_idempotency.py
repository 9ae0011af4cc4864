"""Idempotent creates: one task per Idempotency-Key and request, on both databases."""
from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
import requests
from helpers import MARKDOWN, b64
from sqlalchemy import func, insert, select

from models import IdempotencyKey, Task, db, now_utc

BODY = {"file": b64(MARKDOWN), "file_name": "doc.md"}


def task_count(app) -> int:
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(Task)).scalar_one()
        db.session.remove()
        return count


def keyed(auth, key):
    return {**auth, "Idempotency-Key": key}


def test_a_retried_create_returns_the_task_it_made(app, client, auth):
    first = client.post("/api/v1/task/parse", json=BODY, headers=keyed(auth, "k-1"))
    again = client.post("/api/v1/task/parse", json=dict(reversed(list(BODY.items()))), headers=keyed(auth, "k-1"))
    assert first.status_code == again.status_code == 200
    assert again.json["task_id"] == first.json["task_id"] and again.headers["Idempotent-Replayed"] == "true"
    assert {k: v for k, v in again.json.items() if k != "configuration"} == \
           {k: v for k, v in first.json.items() if k != "configuration"}
    assert "Idempotent-Replayed" not in first.headers
    assert task_count(app) == 1
    other = client.post("/api/v1/task/parse", json=BODY, headers=keyed(auth, "k-2"))
    assert other.json["task_id"] != first.json["task_id"] and task_count(app) == 2


def test_the_same_key_for_another_request_is_a_422(client, auth):
    assert client.post("/task/parse", json=BODY, headers=keyed(auth, "k")).status_code == 200
    changed = client.post("/task/parse", json={**BODY, "expires_in": 60}, headers=keyed(auth, "k"))
    assert changed.status_code == 422 and changed.mimetype == "text/plain"
    assert changed.text.startswith("Idempotency-Key was already used for a different request")
    upload = client.post("/task", headers=keyed(auth, "k"), content_type="multipart/form-data",
                         data={"file": (io.BytesIO(MARKDOWN), "doc.md")})
    assert upload.status_code == 422  # the other create route is another request


def test_multipart_retries_match_whatever_their_boundaries(app, client, auth):
    def upload():
        return client.post("/api/v1/task", headers=keyed(auth, "up"), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(MARKDOWN), "doc.md"), "expires_in": "600"})
    first, again = upload(), upload()
    assert first.status_code == again.status_code == 200 and again.json["task_id"] == first.json["task_id"]
    assert task_count(app) == 1


def test_keys_belong_to_their_owner(app, client, auth):
    mine = client.post("/task/parse", json=BODY, headers=keyed(auth, "shared"))
    theirs = client.post("/task/parse", json=BODY, headers={"Authorization": "other-key", "Idempotency-Key": "shared"})
    assert mine.status_code == theirs.status_code == 200 and mine.json["task_id"] != theirs.json["task_id"]


def put_key(app, key, created_at, task_id=None, fingerprint="x" * 64):
    with app.app_context():
        db.session.execute(insert(IdempotencyKey).values(owner="default", key=key, fingerprint=fingerprint,
                                                         task_id=task_id, created_at=created_at))
        db.session.commit()
        db.session.remove()


def test_a_retry_while_the_first_is_handled_is_a_409_and_a_lost_first_is_taken_over(app, client, auth, monkeypatch):
    import routes

    seen = []
    original = routes.fingerprint
    monkeypatch.setattr(routes, "fingerprint", lambda *args: seen.append(original(*args)) or seen[-1])
    assert client.post("/task/parse", json=BODY, headers=keyed(auth, "probe")).status_code == 200

    put_key(app, "busy", now_utc(), fingerprint=seen[0])  # a first request being handled now
    busy = client.post("/task/parse", json=BODY, headers=keyed(auth, "busy"))
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "1"
    assert busy.text == "A request with this Idempotency-Key is still being handled; retry it shortly"
    assert task_count(app) == 1

    # A first request whose process died: its key is taken over after a while.
    put_key(app, "lost", now_utc() - timedelta(minutes=5), fingerprint=seen[0])
    taken = client.post("/task/parse", json=BODY, headers=keyed(auth, "lost"))
    assert taken.status_code == 200 and "Idempotent-Replayed" not in taken.headers
    replay = client.post("/task/parse", json=BODY, headers=keyed(auth, "lost"))
    assert replay.json["task_id"] == taken.json["task_id"] and task_count(app) == 2


def test_a_key_older_than_a_day_is_forgotten(app, client, auth):
    first = client.post("/task/parse", json=BODY, headers=keyed(auth, "old")).json
    with app.app_context():
        db.session.execute(IdempotencyKey.__table__.update().values(created_at=now_utc() - timedelta(hours=25)))
        db.session.commit()
        db.session.remove()
    again = client.post("/task/parse", json=BODY, headers=keyed(auth, "old"))
    assert again.status_code == 200 and again.json["task_id"] != first["task_id"]
    with app.app_context():
        from tasks import idempotency

        db.session.execute(IdempotencyKey.__table__.update().values(created_at=now_utc() - timedelta(hours=25)))
        db.session.commit()
        assert idempotency.sweep_expired() == 1
        assert db.session.execute(select(func.count()).select_from(IdempotencyKey)).scalar_one() == 0
        db.session.remove()


@pytest.mark.parametrize("key", ["", " ", "k" * 256, "caf\u00e9", "a\x01b"])
def test_a_malformed_key_is_a_400(client, auth, key):
    response = client.post("/task/parse", json=BODY, headers=keyed(auth, key))
    assert response.status_code == 400
    assert response.text == "Idempotency-Key must be 1 to 255 printable ASCII characters"


def test_a_create_that_fails_lets_go_of_its_key(app, client, auth, monkeypatch):
    from tasks import lifecycle

    real = lifecycle.create_task

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(lifecycle, "create_task", broken)
    assert client.post("/task/parse", json=BODY, headers=keyed(auth, "retry-me")).status_code == 500
    monkeypatch.setattr(lifecycle, "create_task", real)
    retried = client.post("/task/parse", json=BODY, headers=keyed(auth, "retry-me"))
    assert retried.status_code == 200 and task_count(app) == 1


def test_concurrent_retries_with_one_key_make_exactly_one_task(app, live_server, auth):
    """Rounds of 8 simultaneous identical creates with one key: one task each round, every 200
    naming it, the others told to retry (409)."""
    for round_number in range(3):
        key = f"race-{round_number}"
        start = threading.Barrier(8)
        answers = []

        def send():
            start.wait()
            response = requests.post(f"{live_server}/api/v1/task/parse", json=BODY, timeout=60,
                                     headers=keyed(auth, key))
            answers.append((response.status_code, response.json()["task_id"] if response.status_code == 200 else None))

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {status for status, _ in answers} <= {200, 409} and len(answers) == 8
        made = {task_id for status, task_id in answers if status == 200}
        assert len(made) == 1, answers
        assert task_count(app) == round_number + 1
