"""HTTP throughput of the service against a bare Flask hello-world, on SQLite and PostgreSQL.

Starts gunicorn (2 workers) on the service and on bench/hello.py, drives each with wrk
(`apt-get install wrk`) at the same concurrency, and prints requests/s and p99 latency of
GET task, cancel and create as ratios to the bare endpoint. `--hot-statements on,off` serves
each database once per setting of HOT_STATEMENTS (tasks/statements.py), to show what the fast
path of the hot statements is worth. Run from the root: `.venv/bin/python -m bench.api`.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import scratch_database

ROOT = Path(__file__).resolve().parent.parent

KEY = "bench-key"
DOCUMENT = base64.b64encode(b"# Bench\n\nA small document.\n").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(target: str, env: dict, port: int) -> subprocess.Popen:
    """gunicorn with 2 web processes on a loopback port; waits until it answers."""
    # The service reads gunicorn.conf.py (which starts task workers); the baseline reads no config.
    # Both on the service's own worker class (gthread with read timeouts, web/server.py).
    config = [] if "wsgi" in target else ["--config", "/dev/null", "--worker-class", "web.server.ThreadWorker",
                                          "--threads", "64", "--worker-connections", "64", "--keep-alive", "0"]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *config, "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", target],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health" if "wsgi" in target
                                   else f"http://127.0.0.1:{port}/hello", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn {target} did not start")


def api(port: int, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wrk(url: str, seconds: int, connections: int, script: str | None = None) -> tuple[float, float, int]:
    """Requests/s, p99 latency in ms, and non-2xx count of one wrk run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    if script:
        command[1:1] = ["-s", lua.name]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    os.unlink(lua.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99_value, p99_unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()
    p99 = float(p99_value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rate, p99, int(errors.group(1)) if errors else 0


def lua_headers(method: str = "GET", body: str | None = None) -> str:
    lines = [f'wrk.method = "{method}"', f'wrk.headers["Authorization"] = "{KEY}"']
    if body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {json.dumps(body)}"]
    return "\n".join(lines) + "\n"


def lua_cancel_each(ids: list[str]) -> str:
    """A wrk script that cancels a different Starting task on every request."""
    table = ",".join(f'"{task_id}"' for task_id in ids)
    return lua_headers() + f"""
local ids = {{{table}}}
local next_id = 0
request = function()
  next_id = next_id + 1
  return wrk.format(nil, "/api/v1/task/" .. ids[(next_id - 1) % #ids + 1] .. "/cancel")
end
"""


def seed_tasks(database_url: str, count: int) -> list[str]:
    """Insert Starting tasks directly, for the cancel run."""
    from app import create_app
    from schemas import default_configuration
    from tasks.lifecycle import create_task

    app = create_app({"DATABASE_URL": database_url, "API_KEYS": KEY, "WORKER_THREADS": 0})
    with app.app_context():
        configuration = default_configuration(None)
        return [create_task("default", configuration, "bench.md", "text/markdown", None, b"# Bench\n").task_id
                for _ in range(count)]


def bench_engine(engine_name: str, hot_statements: str, seconds: int, connections: int, hello_port: int,
                 operations: list[str], observability: str = "on") -> list[tuple]:
    """Each operation measured between two runs of the bare endpoint, so load drift cancels out."""
    rows = []
    with scratch_database(engine_name) as database_url:
        env = {"DATABASE_URL": database_url, "API_KEYS": KEY, "WORKER_THREADS": "0", "SECRET_KEY": "bench",
               "HOT_STATEMENTS": hot_statements,
               # on: request metrics counted and an access line per request (to /dev/null here); off: neither
               **({"METRICS_TOKEN": "bench-metrics", "ACCESS_LOG": "true"} if observability == "on"
                  else {"METRICS_TOKEN": "", "ACCESS_LOG": "false"})}
        seeded = (seed_tasks(database_url, 40_000 if engine_name == "postgresql" else 20_000)
                  if "cancel" in operations else [])
        port = free_port()
        server = start_gunicorn("wsgi:app", env, port)
        try:
            task_id = api(port, "POST", "/api/v1/task/parse", {"file": DOCUMENT})["task_id"]
            tag = urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/task/{task_id}", headers={"Authorization": KEY}),
                timeout=30).headers["ETag"]
            base, bare_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hello_port}/hello"
            runs = {
                "GET task": (f"{base}/api/v1/task/{task_id}", lua_headers(), None),
                # A poll that has the current ETag: 304, the output never read (routes.py).
                "GET 304": (f"{base}/api/v1/task/{task_id}",
                            lua_headers() + f"wrk.headers[\"If-None-Match\"] = {json.dumps(tag)}\n", None),
                "cancel": (base, lua_cancel_each(seeded), None),
                "create": (f"{base}/api/v1/task/parse", lua_headers("POST", json.dumps({"file": DOCUMENT})),
                           lua_headers("POST", json.dumps({"file": DOCUMENT}))),
            }
            for name in operations:
                url, script, bare_script = runs[name]
                before = wrk(bare_url, seconds, connections, bare_script)
                rate, p99, errors = wrk(url, seconds, connections, script)
                after = wrk(bare_url, seconds, connections, bare_script)
                bare_rate, bare_p99 = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
                rows.append((engine_name, hot_statements, name, rate, p99, errors, bare_rate, bare_p99,
                             rate / bare_rate, p99 / bare_p99))
        finally:
            server.terminate()
            server.wait(30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--operations", default="GET task,cancel,create",
                        help="comma-separated, from: GET task, GET 304, cancel, create")
    parser.add_argument("--hot-statements", default="on",
                        help="comma-separated settings of HOT_STATEMENTS to serve with, from: on, core, off")
    parser.add_argument("--observability", default="on",
                        help="comma-separated, from: on (request metrics and access lines), off")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat everything this many times, interleaved, and print the median ratios")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    hello_port = free_port()
    hello = start_gunicorn("bench.hello:app", {}, hello_port)
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s; gunicorn, 2 gthread web processes each; "
          "bare = bench/hello.py measured just before and after each operation (GET, or POST for create)")
    print(f"{'engine':<11}{'hot':<5}{'operation':<10}{'req/s':>8}{'p99 ms':>8}{'non-2xx':>8}"
          f"{'bare r/s':>9}{'bare p99':>9}{'rate/bare':>10}{'p99/bare':>9}")
    ratios: dict[tuple, list[tuple[float, float]]] = {}
    try:
        for _ in range(args.rounds):
            for engine_name in args.engines.split(","):
                for hot_statements in args.hot_statements.split(","):
                    for observed in args.observability.split(","):
                        for row in bench_engine(engine_name, hot_statements, args.seconds, args.connections,
                                                hello_port, args.operations.split(","), observed):
                            engine, hot, name, rate, p99, errors, bare_rate, bare_p99, rate_ratio, p99_ratio = row
                            name = f"{name}{'' if observed == 'on' else ' (obs off)'}"
                            print(f"{engine:<11}{hot:<5}{name:<10}{rate:>8.0f}{p99:>8.2f}{errors:>8}{bare_rate:>9.0f}"
                                  f"{bare_p99:>9.2f}{rate_ratio:>10.2f}{p99_ratio:>9.2f}", flush=True)
                            ratios.setdefault((engine, hot, name), []).append((rate_ratio, p99_ratio))
        if args.rounds > 1:
            # A shared machine's load drifts between runs: the median of interleaved rounds holds better.
            print(f"median of {args.rounds} rounds")
            for (engine, hot, name), values in ratios.items():
                print(f"{engine:<11}{hot:<5}{name:<10}{'':>50}{statistics.median(v[0] for v in values):>10.2f}"
                      f"{statistics.median(v[1] for v in values):>9.2f}")
    finally:
        hello.terminate()
        hello.wait(30)


if __name__ == "__main__":
    main()
