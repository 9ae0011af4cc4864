"""`gunicorn wsgi:app` as `make run` starts it (from the project root, with its gunicorn.conf.py), on
a free port and a SQLite file of its own, for tests that need real processes and real sockets."""
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import gone, wait_until

ROOT = Path(__file__).resolve().parent.parent
KEY = "gunicorn-test-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid`: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and not gone(int(entry.name)):
            found[int(entry.name)] = command
    return found


class Gunicorn:
    """One gunicorn master and its processes; `request` speaks HTTP to it."""

    def __init__(self, directory: Path, gunicorn_args: str = "", **settings):
        self.port = free_port()
        self.database = directory / "service.sqlite3"
        self.log_path = directory / "gunicorn.log"
        self.web_processes = int(settings.get("WEB_CONCURRENCY", os.environ.get("WEB_CONCURRENCY", "2")))
        # Its own control socket: two servers on one machine would share ~/.gunicorn/gunicorn.ctl.
        args = f"--control-socket {directory / 'gunicorn.ctl'} {gunicorn_args}".strip()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.database}", "API_KEYS": KEY,
               "SECRET_KEY": "test-secret", "BIND": f"127.0.0.1:{self.port}", "GUNICORN_CMD_ARGS": args,
               **{name: str(value) for name, value in settings.items()}}
        with open(self.log_path, "w") as log:
            self.master = subprocess.Popen([sys.executable, "-m", "gunicorn", "wsgi:app"], cwd=ROOT, env=env,
                                           stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.ready, 180, "gunicorn answering, with its web processes booted and its task workers running")

    def ready(self) -> bool:
        if self.master.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log()}")
        web = self.web_pids()
        # A web process has booted once post_worker_init has started its fork server.
        return (len(web) == self.web_processes and all(children(pid) for pid in web)
                and self.task_worker_pid() is not None and "Worker running" in self.log() and self.healthy())

    def healthy(self) -> bool:
        try:
            return self.request("GET", "/health", timeout=5)[0] == 200
        except OSError:
            return False

    def web_pids(self) -> set[int]:
        return {pid for pid, command in children(self.master.pid).items() if "gunicorn" in command}

    def task_worker_pid(self) -> int | None:
        found = [pid for pid, command in children(self.master.pid).items() if " worker --parent " in command]
        return found[0] if found else None

    def log(self) -> str:
        return self.log_path.read_text()

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30.0,
                key: bool = True) -> tuple[int, dict, bytes]:
        """(status, headers, body) of one request on a fresh connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Authorization": KEY} if key else {}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def create(self, document: bytes, file_name: str) -> str:
        status, _, body = self.request("POST", "/api/v1/task/parse",
                                       {"file": base64.b64encode(document).decode(), "file_name": file_name})
        assert status == 200, body
        return json.loads(body)["task_id"]

    def task(self, task_id: str) -> dict:
        status, _, body = self.request("GET", f"/api/v1/task/{task_id}")
        assert status == 200, body
        return json.loads(body)

    def row(self, task_id: str) -> dict:
        """The task's row as the database holds it."""
        with sqlite3.connect(self.database, timeout=30) as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return dict(row)

    def stop(self) -> None:
        """SIGTERM, as at a shutdown; SIGKILL to whatever is left after 60 s."""
        family = [self.master.pid, *children(self.master.pid)]
        if self.master.poll() is None:
            self.master.send_signal(signal.SIGTERM)
            try:
                self.master.wait(60)
            except subprocess.TimeoutExpired:
                pass
        for pid in family:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn servers (gunicorn_args for its command line, settings for the environment);
    all stopped at the end."""
    servers = []

    def start(gunicorn_args: str = "", **settings) -> Gunicorn:
        directory = tmp_path / f"server-{len(servers)}"
        directory.mkdir()
        servers.append(Gunicorn(directory, gunicorn_args, **settings))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
