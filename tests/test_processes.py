"""Real worker processes: cancels racing two workers, kill -9, SIGTERM, gunicorn's task-worker process;
nothing lost or run twice."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gunicorn_server import gunicorn  # noqa: F401 - the fixture
from helpers import MARKDOWN, create, gone, wait_until

from models import Task, db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spawn_worker(app_config, tmp_path):
    """Start `flask --app app worker` processes on the test database; all killed at the end."""
    processes = []

    def spawn(**settings) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": app_config["DATABASE_URL"], "API_KEYS": "unused",
               "SECRET_KEY": "test-secret", **{k: str(v) for k, v in settings.items()}}
        with open(tmp_path / f"worker-{len(processes)}.log", "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "1"],
                                       cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def task_row(app, task_id) -> Task:
    """The task's row, read fresh."""
    with app.app_context():
        task = db.session.get(Task, task_id)
        db.session.expunge_all()
        db.session.remove()
        return task


def wait_row(app, task_id, predicate, timeout=60.0) -> Task:
    """Poll a task's row until predicate(row) holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = task_row(app, task_id)
        if predicate(row):
            return row
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} stuck at {row.status}: {row.message}")


def test_cancels_racing_two_worker_processes(app, client, auth, spawn_worker, tmp_path):
    """200 tasks, two worker processes, a cancel for each: 200 means never started, 400 means
    processed; both happen."""
    spawn_worker()
    spawn_worker()
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    wait_until(lambda: all("Worker running" in log.read_text() for log in logs), 60, "both workers running")
    probe = create(client, auth)["task_id"]  # and polling the database
    wait_row(app, probe, lambda r: r.status == "Succeeded")

    def cancel(task_id):
        return task_id, app.test_client().get(f"/task/{task_id}/cancel", headers=auth)

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cancel, create(client, auth)["task_id"]) for _ in range(200)]
        answers = [future.result() for future in futures]
    outcomes = {"cancelled": 0, "processed": 0}
    for task_id, response in answers:
        if response.status_code == 200:
            assert response.text == "Task cancelled"
            row = task_row(app, task_id)
            assert (row.status, row.started_at, row.output, row.attempt) == ("Cancelled", None, None, 0)
            outcomes["cancelled"] += 1
        else:
            assert response.status_code == 400, response.text
            assert response.text in ("Task cannot be cancelled: status is Processing",
                                     "Task cannot be cancelled: status is Succeeded")
            row = wait_row(app, task_id, lambda r: r.status != "Processing")
            assert (row.status, row.attempt) == ("Succeeded", 1)
            assert row.output["chunks"]
            outcomes["processed"] += 1
    print(outcomes)
    assert sum(outcomes.values()) == 200
    assert outcomes["cancelled"] >= 1 and outcomes["processed"] >= 1, "no race: one side always won"


def test_kill_9_mid_task_is_retried_by_another_worker(app, client, auth, spawn_worker):
    """A worker killed mid-task loses its lease; another worker retries the task and succeeds."""
    doomed = spawn_worker(PROCESSING_DELAY_SECONDS=60, LEASE_SECONDS=1)
    task_id = create(client, auth)["task_id"]
    wait_row(app, task_id, lambda r: r.status == "Processing")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    spawn_worker(LEASE_SECONDS=1)
    row = wait_row(app, task_id, lambda r: r.status not in ("Starting", "Processing"))
    assert (row.status, row.message, row.attempt) == ("Succeeded", "Task succeeded", 2)
    assert row.output["chunks"]


def test_kill_9_with_one_attempt_fails_clearly(app, client, auth, spawn_worker):
    """With MAX_ATTEMPTS=1 a lost worker fails the task with a message that says so."""
    doomed = spawn_worker(PROCESSING_DELAY_SECONDS=60, LEASE_SECONDS=1, MAX_ATTEMPTS=1)
    task_id = create(client, auth)["task_id"]
    wait_row(app, task_id, lambda r: r.status == "Processing")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    spawn_worker(LEASE_SECONDS=1, MAX_ATTEMPTS=1)
    row = wait_row(app, task_id, lambda r: r.status not in ("Starting", "Processing"))
    assert (row.status, row.message) == ("Failed", "Task failed: the worker running it was lost (attempt 1/1)")


def test_sigterm_mid_task_hands_it_back(app, client, auth, spawn_worker):
    """SIGTERM while a task runs: the worker exits and the task is Starting again, not Processing."""
    stopping = spawn_worker(PROCESSING_DELAY_SECONDS=60)
    task_id = create(client, auth)["task_id"]
    wait_row(app, task_id, lambda r: r.status == "Processing")
    stopping.send_signal(signal.SIGTERM)
    assert stopping.wait(20) == 0
    row = task_row(app, task_id)
    assert (row.status, row.message, row.attempt, row.worker_id) == ("Starting", "Task queued", 0, None)
    spawn_worker()
    row = wait_row(app, task_id, lambda r: r.status == "Succeeded")
    assert row.attempt == 1


# gunicorn's master keeps the task-worker process (worker/embedded.py): SQLite only, real processes.

def test_gunicorn_restarts_its_task_worker_process_when_it_dies(gunicorn):  # noqa: F811
    server = gunicorn(LEASE_SECONDS=1)
    first = server.task_worker_pid()
    os.kill(first, signal.SIGKILL)
    second = wait_until(lambda: (pid := server.task_worker_pid()) not in (None, first) and pid, 120,
                        "a new task-worker process")
    assert "Task workers (pid: %d) exited (killed by signal 9" % first in server.log() or \
        "Task workers (pid: %d) exited (exit code 0" % first in server.log()  # the master may reap it first
    task_id = server.create(MARKDOWN, "notes.md")
    wait_until(lambda: server.task(task_id)["status"] == "Succeeded", 120, "the task done by the new process")
    assert server.task_worker_pid() == second


def test_the_task_worker_process_hands_its_task_back_when_gunicorn_s_master_is_killed(gunicorn):  # noqa: F811
    server = gunicorn(PROCESSING_DELAY_SECONDS=60)
    task_workers = server.task_worker_pid()
    task_id = server.create(MARKDOWN, "notes.md")
    wait_until(lambda: server.row(task_id)["status"] == "Processing", 60, "the task Processing")
    os.kill(server.master.pid, signal.SIGKILL)
    server.master.wait(10)
    wait_until(lambda: gone(task_workers), 30, "the task workers gone with their master")
    row = server.row(task_id)
    assert (row["status"], row["message"], row["attempt"]) == ("Starting", "Task queued", 0)


def test_sigterm_to_gunicorn_hands_a_running_task_back_and_stops_everything(gunicorn):  # noqa: F811
    server = gunicorn(PROCESSING_DELAY_SECONDS=60)
    family = [server.master.pid, *server.web_pids(), server.task_worker_pid()]
    task_id = server.create(MARKDOWN, "notes.md")
    wait_until(lambda: server.row(task_id)["status"] == "Processing", 60, "the task Processing")
    server.master.send_signal(signal.SIGTERM)
    assert server.master.wait(60) == 0
    assert all(gone(pid) for pid in family)
    row = server.row(task_id)
    assert (row["status"], row["message"], row["attempt"]) == ("Starting", "Task queued", 0)
