"""The sandbox under faults: a document that hangs, crashes its child or eats memory fails alone,
the worker goes on with a fresh child; the child holds no secret; children are recycled."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import sandbox_jobs as jobs
from helpers import MARKDOWN, create, gone, wait_until
from test_worker import LONG_MARKDOWN

from pipeline.document import DocumentError
from sandbox.child import MEMORY_ERROR
from sandbox.pool import Abandoned, Sandbox, TaskTimeout
from worker import loop
from worker.loop import INLINE_TEXT_BYTES, Worker

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 ** 2
assert len(LONG_MARKDOWN) > INLINE_TEXT_BYTES  # it goes to the sandbox, not the worker's thread


@pytest.fixture
def sandboxes():
    """Make sandboxes; every child is stopped after the test."""
    made = []

    def make(**settings) -> Sandbox:
        made.append(Sandbox(**settings))
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.close()


@pytest.fixture
def worker(app):
    """A worker of this test's app, run by hand with run_once(); its child stopped after."""
    stop = threading.Event()
    made = Worker(app, stop, name="sandboxed")
    yield made
    stop.set()  # its heartbeat thread ends
    made.sandbox.close()


def child_of(worker: Worker) -> int:
    """Start the worker's sandbox child now; its pid."""
    worker.sandbox.warm_up()
    return wait_until(worker.sandbox.child_pids, 30, "a sandbox child")[0]


def task(client, auth, task_id: str) -> tuple[str, str]:
    answer = client.get(f"/task/{task_id}", headers=auth).json
    return answer["status"], answer["message"]


# a. A document that hangs.

def test_a_hanging_job_is_killed_at_its_deadline_even_ignoring_sigterm(sandboxes):
    sandbox = sandboxes()
    child = sandbox.run(jobs.pid, (), timeout=30)
    started = time.monotonic()
    with pytest.raises(TaskTimeout):
        sandbox.run(jobs.hang_ignoring_sigterm, (), timeout=1)
    # pebble's deadline, then SIGTERM, 3 s for it to work, then SIGKILL.
    assert 1 <= time.monotonic() - started < 15
    assert gone(child)
    assert sandbox.run(jobs.pid, (), timeout=30) not in (child, None)


def test_a_document_that_hangs_fails_timed_out_and_the_next_succeeds(app, client, auth, worker, monkeypatch):
    monkeypatch.setattr(loop, "parse_document", jobs.hostile_parse)
    app.config["TASK_TIMEOUT"] = 1
    child = child_of(worker)
    hung = create(client, auth, b"#!hang\n" + LONG_MARKDOWN, file_name="hang.md")["task_id"]
    started = time.monotonic()
    assert worker.run_once()
    assert 1 <= time.monotonic() - started < 15
    assert task(client, auth, hung) == ("Failed", "Task timed out")
    assert gone(child)
    app.config["TASK_TIMEOUT"] = 60
    good = create(client, auth, LONG_MARKDOWN, file_name="long.md")["task_id"]
    assert worker.run_once()
    assert task(client, auth, good) == ("Succeeded", "Task succeeded")
    assert worker.sandbox.child_pids() not in ([], [child])


# b. A child that crashes.

@pytest.mark.parametrize("fault, exit_code", [(b"#!exit 7", 7), (b"#!segfault", -11)], ids=["exit-7", "sigsegv"])
def test_a_crashing_child_fails_its_task_and_the_next_gets_a_fresh_child(app, client, auth, worker, monkeypatch,
                                                                        fault, exit_code):
    monkeypatch.setattr(loop, "parse_document", jobs.hostile_parse)
    child = child_of(worker)
    crashed = create(client, auth, fault + b"\n" + LONG_MARKDOWN, file_name="crash.md")["task_id"]
    assert worker.run_once()
    assert task(client, auth, crashed) == (
        "Failed", f"Failed to process the document: the document parser died (exit code {exit_code})")
    assert gone(child)
    good = create(client, auth, LONG_MARKDOWN, file_name="long.md")["task_id"]
    assert worker.run_once()  # the same worker, alive
    assert task(client, auth, good) == ("Succeeded", "Task succeeded")
    fresh = worker.sandbox.child_pids()
    assert len(fresh) == 1 and fresh[0] != child


# c. A child that grows past its memory limit.

def test_a_child_past_its_memory_limit_fails_the_job_and_the_next_runs(sandboxes):
    parent_limit = resource.getrlimit(resource.RLIMIT_AS)
    sandbox = sandboxes(memory_limit=512 * MiB)
    child = sandbox.run(jobs.pid, (), timeout=30)
    with pytest.raises(DocumentError) as failure:
        sandbox.run(jobs.grow, (2 * 1024 * MiB,), timeout=60)
    message = str(failure.value)
    assert message == MEMORY_ERROR or message.startswith(
        "Failed to process the document: the document parser died"), message
    assert resource.getrlimit(resource.RLIMIT_AS) == parent_limit  # the cap was the child's alone
    assert gone(child)  # a failed run's child is replaced
    assert sandbox.run(jobs.grow, (128 * MiB,), timeout=60) == 128 * MiB  # under the cap: fine
    assert sandbox.run(jobs.pid, (), timeout=30) != child


# d. A text document past its timeout: killed in the child, nothing left in the worker.

def test_a_text_document_past_its_timeout_leaves_no_thread_and_no_child(app, client, auth, worker):
    first = create(client, auth, MARKDOWN, file_name="small.md")["task_id"]
    assert worker.run_once()  # inline: starts the heartbeat thread the worker keeps
    assert task(client, auth, first)[0] == "Succeeded"
    before = set(threading.enumerate())
    app.config["TASK_TIMEOUT"] = 1
    child = child_of(worker)
    # Markdown of nothing but "[": markdown-it's link scan takes about 75 µs a byte, so 512 KiB
    # would take about 40 s.
    hostile = create(client, auth, b"[" * (512 * 1024), file_name="brackets.md")["task_id"]
    started = time.monotonic()
    assert worker.run_once()
    assert time.monotonic() - started < 15
    assert task(client, auth, hostile) == ("Failed", "Task timed out")
    assert gone(child)
    assert set(threading.enumerate()) <= before, set(threading.enumerate()) - before
    pipeline_dir = str(ROOT / "pipeline")
    for thread_id, frame in sys._current_frames().items():
        while frame is not None:
            assert not frame.f_code.co_filename.startswith(pipeline_dir), (thread_id, frame)
            frame = frame.f_back


# e. The child's environment holds no secret, and its address space is capped.

CHILD_ENVIRONMENT = """
import json, os, sys
sys.path[:0] = [{root!r}, {tests!r}]
import sandbox_jobs
from sandbox.pool import Sandbox
sandbox = Sandbox(memory_limit={limit})
try:
    seen = sandbox.run(sandbox_jobs.environment, (), timeout=60)
finally:
    sandbox.close()
seen["parent_after"] = {{name: os.environ.get(name) for name in ("SECRET_KEY", "API_KEYS", "DATABASE_URL")}}
print(json.dumps(seen))
"""


def test_the_child_sees_no_secret_and_is_capped():
    limit = 768 * MiB
    secrets = {"SECRET_KEY": f"secret-{uuid.uuid4().hex}", "API_KEYS": f"key-{uuid.uuid4().hex}",
               "DATABASE_URL": f"postgresql://user:pw-{uuid.uuid4().hex}@db.invalid/tasks"}
    env = {**os.environ, **secrets}
    script = CHILD_ENVIRONMENT.format(root=str(ROOT), tests=str(ROOT / "tests"), limit=limit)
    finished = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    seen = json.loads(finished.stdout.strip().splitlines()[-1])
    for name, value in secrets.items():
        assert name not in seen["os_environ"]
        assert value not in json.dumps(seen["os_environ"])
        assert value not in seen["proc_environ"] and name + "=" not in seen["proc_environ"]
        assert value not in seen["server_environ"]  # the fork server was started without them too
    assert seen["parent_after"] == secrets  # hidden from the server's start only, then put back
    assert seen["rlimit_as"] == [limit, limit]


# f. Recycling, progress and abandoning.

def test_a_child_is_recycled_after_max_documents(sandboxes):
    sandbox = sandboxes(max_documents=2)
    pids = [sandbox.run(jobs.pid, (), timeout=30) for _ in range(5)]
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert gone(pids[0]) and gone(pids[2])


def test_a_child_holding_more_than_max_resident_is_replaced_after_each_job(sandboxes):
    sandbox = sandboxes(max_resident=1)
    pids = [sandbox.run(jobs.pid, (), timeout=30) for _ in range(3)]
    assert len(set(pids)) == 3
    assert gone(pids[0]) and gone(pids[1])
    # The clean-up after a job measures the child; it is replaced when the next job comes.
    assert sandbox.child_pids() == [pids[2]]


def test_an_idle_child_is_let_go(sandboxes):
    sandbox = sandboxes(idle_seconds=0)
    child = sandbox.run(jobs.pid, (), timeout=30)
    sandbox.close_idle()
    assert gone(child) and sandbox.child_pids() == []
    assert sandbox.run(jobs.pid, (), timeout=30) != child


def test_progress_from_the_child_reaches_the_callback(sandboxes, tmp_path):
    sandbox = sandboxes()
    marker, heard = tmp_path / "heard", []

    def progress(message: str) -> None:
        heard.append(message)
        marker.touch()  # the job ends once it sees this

    child = sandbox.run(jobs.report_until_heard, (str(marker),), timeout=30, progress=progress)
    assert heard and set(heard) == {f"working in {child}"}


def test_should_abandon_kills_the_child_and_raises_abandoned(sandboxes):
    sandbox = sandboxes()
    heard = []
    started = time.monotonic()
    with pytest.raises(Abandoned):
        sandbox.run(jobs.hang, (), timeout=60, progress=heard.append, should_abandon=lambda: bool(heard))
    assert time.monotonic() - started < 15  # given up long before its deadline
    child = int(heard[0].removeprefix("hanging in "))
    assert gone(child)
    assert sandbox.run(jobs.pid, (), timeout=30) != child


def test_a_child_killed_between_jobs_is_replaced_at_the_next_job(sandboxes):
    """An idle child killed (the OOM killer, an operator) breaks pebble's pool: the next job
    gets a fresh pool and child, not an error."""
    import signal

    sandbox = sandboxes()
    first = sandbox.run(jobs.pid, (), timeout=30)
    wait_until(lambda: sandbox._clean_up is not None and sandbox._clean_up.done(), 30)
    os.kill(first, signal.SIGKILL)
    assert wait_until(lambda: gone(first), 10)
    second = sandbox.run(jobs.pid, (), timeout=30)
    assert second != first
    assert sandbox.run(jobs.pid, (), timeout=30) == second


def test_a_job_raising_system_exit_fails_only_itself(sandboxes):
    sandbox = sandboxes()
    with pytest.raises(DocumentError, match="^Failed to process the document: SystemExit: 3$"):
        sandbox.run(jobs.system_exit, (), timeout=30)
    assert sandbox.run(jobs.pid, (), timeout=30) > 0


def test_a_job_never_waits_for_its_predecessor_s_clean_up(sandboxes, monkeypatch):
    """A clean-up still running when the next job comes costs that job nothing: the child is
    replaced."""
    from sandbox import pool

    sandbox = sandboxes()
    first = sandbox.run(jobs.pid, (), timeout=30)
    monkeypatch.setattr(pool, "clean_up", jobs.hang)  # the next clean-up never ends
    assert sandbox.run(jobs.pid, (), timeout=30) == first
    started = time.monotonic()
    third = sandbox.run(jobs.pid, (), timeout=30)
    assert third != first and time.monotonic() - started < 10
    assert wait_until(lambda: gone(first), 10)
