"""Real gunicorn, real sockets: clients that stall, web processes killed mid-task, a page image that
renders slowly. None of them may slow /health down, kill a process, or touch a running task."""
from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gunicorn_server import KEY, ROOT, free_port, gunicorn  # noqa: F401 - the fixture
from helpers import MARKDOWN, wait_until

from bench.hostile_files import pdf_from_objects
from web.server import READ_TIMEOUT_SECONDS

STALLED = 50  # connections of each kind


def stalled_headers(port: int) -> socket.socket:
    """A connection that sends the start of its headers, never the blank line that ends them."""
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    return connection


def stalled_body(port: int) -> socket.socket:
    """A create whose body stops far short of its Content-Length."""
    connection = socket.create_connection(("127.0.0.1", port))
    connection.sendall(b"POST /api/v1/task/parse HTTP/1.1\r\nHost: x\r\nAuthorization: " + KEY.encode()
                       + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"file\": \"")
    return connection


def health_seconds(server) -> float:
    """How long one GET /health took (on a fresh connection), asserting it answered 200."""
    start = time.monotonic()
    status, _, body = server.request("GET", "/health", timeout=30)
    assert status == 200, body
    return time.monotonic() - start


def until_closed(connection: socket.socket, deadline: float) -> bytes:
    """All the server sends on a connection until it closes it (fails past the deadline)."""
    received = b""
    while True:
        connection.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = connection.recv(65536)
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def test_stalled_clients_neither_slow_health_down_nor_get_a_process_killed(gunicorn):  # noqa: F811
    timeout = 3  # gunicorn's worker timeout, short here so that it passes during the test
    server = gunicorn(f"--timeout {timeout}")
    web, task_workers = server.web_pids(), server.task_worker_pid()
    opened = time.monotonic()
    held = [stalled_headers(server.port) for _ in range(STALLED)] + [stalled_body(server.port) for _ in range(STALLED)]
    try:
        latencies = []
        while time.monotonic() < opened + 2 * timeout + 1:  # gunicorn's timeout passes twice over
            latencies.append(health_seconds(server))
            time.sleep(0.1)  # the probes' interval
        print(f"/health: {len(latencies)} answers, the slowest in {max(latencies):.3f} s")
        assert max(latencies) < 1.0
        assert (server.web_pids(), server.task_worker_pid()) == (web, task_workers)
        assert "WORKER TIMEOUT" not in server.log()

        # Every stalled connection held a thread, which the read timeout gives back: the server
        # closes a connection stalled in its headers, and answers one stalled in its body 400.
        deadline = opened + READ_TIMEOUT_SECONDS + 10
        answers = [until_closed(connection, deadline) for connection in held]
        assert answers[:STALLED] == [b""] * STALLED
        assert all(answer.startswith(b"HTTP/1.1 400 ") and b"text/plain" in answer for answer in answers[STALLED:])
        assert all(answer.endswith(b"\r\n\r\nRequest body incomplete: the connection stopped before the whole "
                                   b"body arrived") for answer in answers[STALLED:])
        assert (server.web_pids(), server.task_worker_pid()) == (web, task_workers)
        assert "Traceback" not in server.log()
    finally:
        for connection in held:
            connection.close()


def test_a_task_runs_on_when_every_web_process_is_killed(gunicorn):  # noqa: F811
    server = gunicorn(PROCESSING_DELAY_SECONDS=4)
    task_workers = server.task_worker_pid()
    task_id = server.create(MARKDOWN, "notes.md")
    wait_until(lambda: server.task(task_id)["status"] == "Processing", 30, "the task Processing")
    killed = server.web_pids()
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: len(server.web_pids() - killed) == 2 and server.healthy(), 60, "two new web processes")
    task = wait_until(lambda: (task := server.task(task_id))["status"] not in ("Starting", "Processing") and task,
                      60, "the task finished")
    assert (task["status"], task["message"]) == ("Succeeded", "Task succeeded")
    assert server.row(task_id)["attempt"] == 1  # one run, never interrupted
    assert server.task_worker_pid() == task_workers


def stroke_pdf(strokes: int) -> bytes:
    """One page with one line of text (so the pipeline has no page to render) and `strokes`
    page-wide dashed lines, each stroked on its own: about 3 s of PDFium's rendering per 10,000 at
    the page image's 108 DPI on this kind of machine (plain lines, about 1 s, put 100,000 too close
    to the 10 s render deadline on a quiet machine), while reading them costs no more."""
    content = (b"BT /F1 12 Tf 72 720 Td (One line of text above many strokes.) Tj ET\n[0.5 0.5] 0 d\n"
               + b"0 0 m 612 792 l S\n" * strokes)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    return pdf_from_objects(objects)


def test_a_page_image_that_renders_slowly_is_a_503_and_holds_no_one_up(gunicorn):  # noqa: F811
    server = gunicorn()
    web = server.web_pids()
    task_id = server.create(stroke_pdf(100_000), "strokes.pdf")  # well past the render deadline
    task = wait_until(lambda: (task := server.task(task_id))["status"] not in ("Starting", "Processing") and task,
                      120, "the task finished")
    assert task["status"] == "Succeeded", task["message"]
    image = task["output"]["pages"][0]["image"].split(str(server.port), 1)[1]

    with ThreadPoolExecutor(2) as pool:
        renders = [pool.submit(server.request, "GET", image, None, 60, False) for _ in range(2)]
        latencies = []
        while not all(render.done() for render in renders):
            latencies.append(health_seconds(server))
            time.sleep(0.1)  # the probes' interval
        answers = [render.result() for render in renders]
    print(f"/health: {len(latencies)} answers, the slowest in {max(latencies):.3f} s")
    assert max(latencies) < 1.0
    for status, headers, body in answers:
        assert (status, headers["Content-Type"]) == (503, "text/plain; charset=utf-8"), body
        assert int(headers["Retry-After"]) >= 1
        assert body.startswith(b"Could not render the page image now: "), body
    assert any(b"rendering took longer than" in body for _, _, body in answers)
    status, headers, body = server.request("GET", image, key=False)  # remembered: answered at once
    assert (status, body) == (503, answers[0][2]) or b"rendering took longer than" in body
    assert server.web_pids() == web


NGINX = shutil.which("nginx") or next((path for path in ("/usr/sbin/nginx",) if os.path.exists(path)), None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian: apt-get install nginx); "
                                                      "deploy/nginx.conf is not checked")


def nginx_config(tmp_path, listen: int, upstream: int) -> Path:
    """deploy/nginx.conf listening on `listen` and proxying to gunicorn on `upstream`."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    assert text.count("listen 80;") == 1 and text.count("server 127.0.0.1:8000;") == 1
    config = tmp_path / "nginx.conf"
    config.write_text(text.replace("listen 80;", f"listen 127.0.0.1:{listen};")
                      .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};"))
    return config


@needs_nginx
def test_the_nginx_config_is_valid(tmp_path):
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-c", str(ROOT / "deploy" / "nginx.conf")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


@needs_nginx
def test_behind_nginx_stalled_clients_never_reach_gunicorn(gunicorn, tmp_path):  # noqa: F811
    server = gunicorn()
    port = free_port()
    proxy = subprocess.Popen([NGINX, "-g", "daemon off;", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                              "-c", str(nginx_config(tmp_path, port, server.port))],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        through = copy.copy(server)
        through.port = port  # the same requests, sent to nginx
        wait_until(through.healthy, 30, "nginx answering")
        held = [stalled_headers(port) for _ in range(STALLED)] + [stalled_body(port) for _ in range(STALLED)]
        try:
            latencies = [health_seconds(through) for _ in range(20)]
            assert max(latencies) < 1.0
            task_id = through.create(MARKDOWN, "notes.md")  # a whole request goes through
            assert wait_until(lambda: through.task(task_id)["status"] == "Succeeded", 60, "the task done")
        finally:
            for connection in held:
                connection.close()
    finally:
        proxy.terminate()
        proxy.wait(30)
