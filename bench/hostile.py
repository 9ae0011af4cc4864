"""The hostile inputs of issue 13, each made and sent, with the time and peak memory it costs.

Run from the project root: `.venv/bin/python -m bench.hostile [--tree DIR] [--timeout 120] [--only NAME ...]`
(or `make hostile`).

1. Documents: each file is run through the pipeline (`pipeline.run.run_pipeline`, the service's
   default configuration) in a fresh Python process started in `--tree` (default: this checkout,
   so the same script measures an older checkout for a "before" figure). Reported: wall time, the
   process's peak RSS (from os.wait4), and what came out: the output's JSON size, the largest
   chunk's `chunk_length`, or the failure message. A run past `--timeout` is killed and says so.
2. HTTP: a real gunicorn started in `--tree` with its own gunicorn.conf.py (as `make run`
   starts it; SQLite in a temporary folder): /health's latency while 50 connections hold
   half-sent headers and 50 hold half-sent bodies; whether any gunicorn worker process was
   replaced meanwhile; two concurrent GETs of a slow page image and /health during them; a
   multipart create whose config part is nested 100,000 deep.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

from bench import hostile_files as files

DOCUMENTS = {
    "tiff-6x59MP": (files.big_frames_tiff, "image/tiff", "fax.tiff"),
    "png-59MP": (files.huge_png, "image/png", "huge.png"),
    "pdf-4999-blank": (files.blank_pages_pdf, "application/pdf", "blank.pdf"),
    "tiff-3000-blank-frames": (files.blank_frames_tiff, "image/tiff", "blank.tiff"),
    "tiff-3000-marked-frames": (files.tiny_frames_tiff, "image/tiff", "frames.tiff"),
    "text-50MB-one-line": (files.one_line_text, "text/plain", "line.txt"),
    "pdf-million-strokes": (files.million_strokes_pdf, "application/pdf", "strokes.pdf"),
}

# Run in the tree under test: only what every layout has (run_pipeline and its default configuration).
CHILD = """
import json, sys
from schemas import default_configuration
from pipeline.run import run_pipeline
from pipeline.document import DocumentError
path, mime, name = sys.argv[1:4]
try:
    result = run_pipeline(open(path, "rb").read(), mime, name, default_configuration(None))
except DocumentError as error:
    print(json.dumps({"failed": str(error)}))
else:
    chunks = result.output["chunks"]
    print(json.dumps({"output_bytes": len(json.dumps(result.output)), "chunks": len(chunks),
                      "largest_chunk": max((c["chunk_length"] for c in chunks), default=0)}))
"""


def run_document(tree: str, name: str, timeout: float) -> dict:
    make, mime, file_name = DOCUMENTS[name]
    data = make()
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(file_name)[1]) as handle:
        handle.write(data)
        handle.flush()
        started = time.monotonic()
        process = subprocess.Popen([sys.executable, "-c", CHILD, handle.name, mime, file_name], cwd=tree,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": tree})
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        out = process.stdout.read()
        err = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        killer.cancel()
        process.returncode = status  # reaped here: Popen must not wait for it again
    row = {"file": name, "input_bytes": len(data), "seconds": round(time.monotonic() - started, 1),
           "peak_mb": round(usage.ru_maxrss / 1024)}
    if os.WIFSIGNALED(status):
        row["result"] = f"killed at {timeout:.0f} s" if os.WTERMSIG(status) == signal.SIGKILL else \
            f"died of signal {os.WTERMSIG(status)}"
    elif out.strip():
        row.update(json.loads(out.decode().strip().splitlines()[-1]))
    else:
        row["result"] = "crashed: " + err.decode(errors="replace").strip().splitlines()[-1][:200]
    return row


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn started in a tree with its own config, on SQLite in a temporary folder."""

    def __init__(self, tree: str, key: str = "bench-key"):
        self.folder = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": key}
        env = {**os.environ, "BIND": f"127.0.0.1:{self.port}", "API_KEYS": key, "SECRET_KEY": "bench",
               "DATABASE_URL": f"sqlite:///{self.folder.name}/bench.sqlite3", "PYTHONPATH": tree}
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.process = subprocess.Popen([gunicorn, "--config", "gunicorn.conf.py", "wsgi:app"], cwd=tree, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def workers(self) -> set[int]:
        listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return {int(pid) for pid in listed.stdout.split()}

    def health_seconds(self, limit: float = 5.0) -> str:
        started = time.monotonic()
        try:
            requests.get(self.base + "/health", timeout=limit).raise_for_status()
        except requests.RequestException as error:
            return f"failed after {time.monotonic() - started:.1f} s ({type(error).__name__})"
        return f"{time.monotonic() - started:.3f} s"

    def close(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.folder.cleanup()


def half_sent(port: int, count: int, body: bool) -> list[socket.socket]:
    """`count` connections that send part of a request and then nothing."""
    sockets = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port))
        if body:
            connection.sendall(b"POST /api/v1/task/parse HTTP/1.1\r\nHost: x\r\nAuthorization: bench-key\r\n"
                               b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"file\": \"")
        else:
            connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        sockets.append(connection)
    return sockets


def slow_clients(server: Server, hold: float) -> dict:
    before = server.workers()
    idle = server.health_seconds()
    held = half_sent(server.port, 50, body=False) + half_sent(server.port, 50, body=True)
    try:
        time.sleep(0.5)  # the connections are accepted and their requests begun
        during = server.health_seconds()
        time.sleep(hold)
        later = server.health_seconds()
    finally:
        for connection in held:
            connection.close()
    return {"health idle": idle, "health with 100 half-sent requests": during,
            f"health after {hold:.0f} s more": later,
            "web worker processes replaced": len(before - server.workers())}


def slow_page_image(server: Server) -> dict:
    document = base64.b64encode(files.million_strokes_pdf()).decode()
    created = requests.post(server.base + "/api/v1/task/parse", headers=server.headers, timeout=60,
                            json={"file": document, "file_name": "strokes.pdf"}).json()
    task_url = f"{server.base}/api/v1/task/{created['task_id']}"
    deadline = time.monotonic() + 300
    while (task := requests.get(task_url, headers=server.headers, timeout=30).json())["status"] in ("Starting", "Processing"):
        if time.monotonic() > deadline:
            return {"page image": "task did not finish in 300 s"}
        time.sleep(0.5)
    pages = (task.get("output") or {}).get("pages") or []
    if not pages or not pages[0].get("image"):
        return {"page image": f"task {task['status']}: no page image ({task.get('message')})"}
    answers = []

    def fetch() -> None:
        started = time.monotonic()
        try:
            response = requests.get(pages[0]["image"], timeout=60)
            answers.append(f"{response.status_code} in {time.monotonic() - started:.1f} s")
        except requests.RequestException as error:
            answers.append(f"{type(error).__name__} after {time.monotonic() - started:.1f} s")

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    health = server.health_seconds(30)
    for thread in threads:
        thread.join()
    return {"page image GETs": ", ".join(answers), "health during them": health}


def nested_multipart(server: Server) -> dict:
    started = time.monotonic()
    response = requests.post(server.base + "/api/v1/task", headers=server.headers, timeout=60,
                             files={"file": ("a.md", b"# A\n\ntext\n", "text/markdown")},
                             data={"chunk_processing": files.nested_multipart_value()})
    return {"nested multipart": f"{response.status_code} {response.text[:80]!r} in {time.monotonic() - started:.1f} s"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", default=os.getcwd(), help="the checkout to measure (default: this one)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a document run is killed")
    parser.add_argument("--hold", type=float, default=35.0, help="seconds the half-sent requests are held")
    parser.add_argument("--only", nargs="*", help="document names to run (default all), or 'http'")
    args = parser.parse_args()
    tree = os.path.abspath(args.tree)
    names = args.only if args.only is not None else [*DOCUMENTS, "http"]
    print("| file | input | seconds | peak MB | result |\n|---|---:|---:|---:|---|")
    for name in names:
        if name == "http":
            continue
        row = run_document(tree, name, args.timeout)
        result = row.get("result") or (f"failed: {row['failed']}" if "failed" in row else
                                       f"{row['chunks']} chunks, largest {row['largest_chunk']} tokens, "
                                       f"output {row['output_bytes'] / 2**20:.1f} MB")
        print(f"| {name} | {row['input_bytes'] / 1024:.0f} KB | {row['seconds']} | {row['peak_mb']} | {result} |", flush=True)
    if "http" in names:
        server = Server(tree)
        try:
            for part in (slow_clients(server, args.hold), slow_page_image(server), nested_multipart(server)):
                for key, value in part.items():
                    print(f"- {key}: {value}", flush=True)
        finally:
            server.close()


if __name__ == "__main__":
    main()
