"""Cheap polling: a task GET carries an ETag, and If-None-Match with the current one answers 304."""
from __future__ import annotations

from helpers import create, finish, force

OTHER = {"Authorization": "other-key"}


def test_a_repeated_get_with_the_etag_answers_304_until_the_task_changes(app, client, auth):
    task = create(client, auth)
    url = f"/api/v1/task/{task['task_id']}"
    first = client.get(url, headers=auth)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('W/"')

    polled = client.get(url, headers={**auth, "If-None-Match": tag})
    assert polled.status_code == 304 and polled.data == b"" and polled.headers["ETag"] == tag
    assert client.get(url, headers={**auth, "If-None-Match": f'"other", {tag}'}).status_code == 304

    force(app, task["task_id"], status="Processing", message="Running OCR")  # a worker's progress
    moved = client.get(url, headers={**auth, "If-None-Match": tag})
    assert moved.status_code == 200 and moved.json["message"] == "Running OCR"
    assert moved.headers["ETag"] != tag

    finish(app, task["task_id"])
    done = client.get(url, headers={**auth, "If-None-Match": moved.headers["ETag"]})
    assert done.status_code == 200 and done.json["status"] == "Succeeded"
    again = client.get(url, headers={**auth, "If-None-Match": done.headers["ETag"]})
    assert again.status_code == 304


def test_the_etag_depends_on_what_was_asked(client, auth):
    task = create(client, auth)
    url = f"/task/{task['task_id']}"
    tags = {client.get(f"{url}{query}", headers=auth).headers["ETag"]
            for query in ("", "?include_chunks=false", "?base64_urls=true")}
    assert len(tags) == 3
    full = client.get(url, headers=auth).headers["ETag"]
    assert client.get(f"{url}?include_chunks=false", headers={**auth, "If-None-Match": full}).status_code == 200


def test_an_etag_opens_nothing_for_another_owner_or_a_missing_task(client, auth):
    task = create(client, auth)
    url = f"/task/{task['task_id']}"
    tag = client.get(url, headers=auth).headers["ETag"]
    stranger = client.get(url, headers={**OTHER, "If-None-Match": tag})
    assert stranger.status_code == 404 and stranger.text == "Task not found"
    missing = client.get("/task/00000000-0000-4000-8000-000000000000", headers={**auth, "If-None-Match": tag})
    assert missing.status_code == 404 and missing.text == "Task not found"
    assert client.get(url, headers={**auth, "If-None-Match": "*"}).status_code == 304


def test_urls_kept_by_a_304_poll_stay_valid_for_half_their_time(app, client, auth, monkeypatch):
    import routes

    task = create(client, auth)
    url = f"/task/{task['task_id']}"
    tag = client.get(url, headers=auth).headers["ETag"]
    seconds = app.config["FILE_URL_SECONDS"]
    now = routes.time.time()
    monkeypatch.setattr(routes.time, "time", lambda: now + seconds / 2 + 1)  # past the URL window
    assert client.get(url, headers={**auth, "If-None-Match": tag}).status_code == 200
