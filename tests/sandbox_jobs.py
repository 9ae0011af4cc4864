"""Jobs for tests/test_sandbox.py, run in a sandbox child.

A job goes to the child pickled by reference (its module and name), so it must be a top-level
function of a module the child can import: this one, with nothing heavy to import. Each takes
its arguments and then the `progress` callback, as Sandbox.run passes them.
"""
from __future__ import annotations

import os
import resource
import signal
import time

from sandbox.child import parse_document


def pid(progress) -> int:
    """The child's pid."""
    return os.getpid()


def hang(progress) -> None:
    """Never return (a parser stuck in a loop)."""
    progress(f"hanging in {os.getpid()}")
    while True:
        signal.pause()


def hang_ignoring_sigterm(progress) -> None:
    """Never return, and ignore SIGTERM: only a SIGKILL ends it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    hang(progress)


def exit_with(code: int, progress) -> None:
    """The child exits at once, as a C library calling exit() would."""
    os._exit(code)


def segfault(progress) -> None:
    """The child dies of SIGSEGV, as a crashing PDFium would."""
    os.kill(os.getpid(), signal.SIGSEGV)


def grow(limit: int, progress) -> int:
    """Allocate (and touch) 64 MiB at a time until `limit` bytes are held."""
    held, chunk = [], 64 * 1024 * 1024
    while len(held) * chunk < limit:
        held.append(bytearray(chunk))
    return len(held) * chunk


def report_until_heard(marker: str, progress) -> int:
    """Report progress, then wait until the parent's progress callback made `marker` exist."""
    deadline = time.monotonic() + 30
    while not os.path.exists(marker):
        if time.monotonic() > deadline:
            raise RuntimeError("the progress message never reached the parent")
        progress(f"working in {os.getpid()}")
        time.sleep(0.05)  # a poll of the file system, not a wait for time to pass
    return os.getpid()


def environment(progress) -> dict:
    """What the child can see of its environment and its limits."""
    with open("/proc/self/environ", "rb") as own:
        environ = own.read()
    with open(f"/proc/{os.getppid()}/environ", "rb") as parent:  # the fork server's
        server_environ = parent.read()
    return {"os_environ": dict(os.environ), "proc_environ": environ.decode("latin-1"),
            "server_environ": server_environ.decode("latin-1"),
            "rlimit_as": list(resource.getrlimit(resource.RLIMIT_AS))}


def hostile_parse(document: bytes, mime_type: str, file_name: str | None, configuration: dict, progress):
    """The worker's parse_document, unless the document's first line asks for a fault."""
    first_line = document.split(b"\n", 1)[0]
    if first_line == b"#!hang":
        hang(progress)
    if first_line.startswith(b"#!exit "):
        exit_with(int(first_line.split()[1]), progress)
    if first_line == b"#!segfault":
        segfault(progress)
    return parse_document(document, mime_type, file_name, configuration, progress)


def system_exit(progress) -> None:
    """A job that raises SystemExit, as a library's sys.exit() would."""
    raise SystemExit(3)
