"""The settings of SPEC.md §9: defaults, read from the environment, checked at start."""
from __future__ import annotations

import os
from typing import Callable

DEFAULTS = {
    "DATABASE_URL": None,  # None: a SQLite file in the instance folder
    "API_KEYS": "",
    "PUBLIC_URL": None,
    "WORKER_THREADS": 2,
    "LEASE_SECONDS": 60.0,
    "MAX_ATTEMPTS": 3,
    "TASK_TIMEOUT": 600.0,
    "DEFAULT_EXPIRES_IN": None,
    "MAX_FILE_BYTES": 104_857_600,
    "ALLOW_PRIVATE_URLS": False,
    "SECRET_KEY": None,
    "PROCESSING_DELAY_SECONDS": 0.0,
    "FILE_URL_SECONDS": 3600,
    "SWEEP_INTERVAL_SECONDS": 30.0,
}


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _optional_int(value: str) -> int | None:
    return None if value.strip() == "" else _non_negative(int)(value)


def _non_negative(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(value: str):
        number = kind(value)
        if number < 0:
            raise ValueError("must not be negative")
        return number
    return parse


PARSERS: dict[str, Callable[[str], object]] = {
    "DATABASE_URL": str, "API_KEYS": str, "PUBLIC_URL": str, "SECRET_KEY": str,
    "WORKER_THREADS": _non_negative(int), "LEASE_SECONDS": _non_negative(float),
    "MAX_ATTEMPTS": _non_negative(int), "TASK_TIMEOUT": _non_negative(float),
    "DEFAULT_EXPIRES_IN": _optional_int, "MAX_FILE_BYTES": _non_negative(int),
    "ALLOW_PRIVATE_URLS": _boolean, "PROCESSING_DELAY_SECONDS": _non_negative(float),
    "FILE_URL_SECONDS": _non_negative(int), "SWEEP_INTERVAL_SECONDS": _non_negative(float),
}


def from_environment(environ=os.environ) -> dict:
    """The settings given in the environment, parsed; a bad value stops the start with its name."""
    settings = {}
    for name, parse in PARSERS.items():
        if name not in environ:
            continue
        try:
            settings[name] = parse(environ[name])
        except ValueError as error:
            raise RuntimeError(f"Invalid {name}={environ[name]!r}: {error}") from None
    return settings


def database_uri(url: str | None, instance_path: str) -> str:
    """A SQLAlchemy URL for DATABASE_URL (postgres:// accepted; psycopg 3 is the driver)."""
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "chunkr.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
