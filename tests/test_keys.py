"""API keys: the CLI, hashed storage, the first key created at start, and migrations."""
from __future__ import annotations

import logging

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from app import create_app
from models import ApiKey, db


def test_keys_create_list_revoke(app, client, runner):
    """A created key works and is scoped to its owner; list never shows it; revoke stops it."""
    created = runner.invoke(args=["keys", "create", "--owner", "alice", "--name", "laptop"])
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    headers = {"Authorization": key}
    assert client.get("/tasks", headers=headers).json == []
    assert client.get("/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = runner.invoke(args=["keys", "list"]).output
    assert "alice" in listed and "laptop" in listed and key not in listed and key[:8] in listed
    with app.app_context():
        stored = db.session.execute(select(ApiKey).where(ApiKey.owner == "alice")).scalar_one()
        assert stored.key_hash != key and key not in (stored.prefix, stored.name)
        key_id = stored.id
        db.session.remove()
    duplicate = runner.invoke(args=["keys", "create", "--owner", "bob", "--name", "laptop"])
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    revoked = runner.invoke(args=["keys", "revoke", str(key_id)])
    assert revoked.exit_code == 0 and f"Revoked key {key_id}" in revoked.output
    response = client.get("/tasks", headers=headers)
    assert (response.status_code, response.text) == (401, "Invalid or inactive API key")
    again = runner.invoke(args=["keys", "revoke", key])
    assert again.exit_code != 0 and "No such active key" in again.output


def test_database_keys_are_isolated_by_owner(client, runner):
    """A task made with one owner's key is not found with another owner's key."""
    alice = {"Authorization": runner.invoke(args=["keys", "create", "--owner", "alice"]).output.strip()}
    bob = {"Authorization": runner.invoke(args=["keys", "create", "--owner", "bob"]).output.strip()}
    task_id = client.post("/task/parse", json={"file": "aGVsbG8gd29ybGQ="}, headers=alice).json["task_id"]
    assert client.get(f"/task/{task_id}", headers=bob).text == "Task not found"
    assert client.get(f"/task/{task_id}", headers=alice).status_code == 200


def test_first_start_creates_one_key_and_logs_it(app_config, caplog):
    """With no key anywhere, the first start creates one and logs it; later starts do not."""
    config = {**app_config, "API_KEYS": ""}
    with caplog.at_level(logging.INFO):
        first = create_app(config)
    logged = [r.getMessage() for r in caplog.records if "one was made for owner 'default'" in r.getMessage()]
    assert len(logged) == 1
    banner = logged[0].splitlines()
    assert banner[1] == banner[-1] == "=" * 72  # it stands out in the log
    key = next(line.strip() for line in banner if line.strip().startswith("ck_"))
    assert first.test_client().get("/tasks", headers={"Authorization": key}).status_code == 200
    caplog.clear()
    with caplog.at_level(logging.INFO):
        second = create_app(config)
    assert not [r for r in caplog.records if "one was made" in r.getMessage()]
    assert [r.getMessage() for r in caplog.records if "API key(s) active" in r.getMessage()] == [
        "1 API key(s) active; make another with `.venv/bin/flask --app app keys create --owner NAME`"]
    for application in (first, second):
        with application.app_context():
            assert db.session.execute(select(ApiKey)).scalars().all()[0].name == "initial"
            assert len(db.session.execute(select(ApiKey)).scalars().all()) == 1
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def test_migrations_match_the_models(app):
    """The schema the migrations build is the one the models describe."""
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []


def test_a_start_with_every_key_revoked_creates_none_and_says_so(app_config, caplog):
    """Revoking every key is not undone by the next start: no new key, and a warning that says
    how to create one."""
    config = {**app_config, "API_KEYS": ""}
    with caplog.at_level(logging.WARNING):
        first = create_app(config)
    banner = [r.getMessage() for r in caplog.records if "one was made" in r.getMessage()][0]
    key = next(line.strip() for line in banner.splitlines() if line.strip().startswith("ck_"))
    revoked = first.test_cli_runner().invoke(args=["keys", "revoke", key])
    assert revoked.exit_code == 0, revoked.output
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        second = create_app(config)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "one was made" in m]
    assert [m for m in messages if m.startswith("Every API key is revoked") and "keys create" in m]
    response = second.test_client().get("/tasks", headers={"Authorization": key})
    assert (response.status_code, response.text) == (401, "Invalid or inactive API key")
    for application in (first, second):
        with application.app_context():
            assert len(db.session.execute(select(ApiKey)).scalars().all()) == 1
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()
