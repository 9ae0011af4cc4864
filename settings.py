"""The settings of SPEC.md §9: defaults, read from the environment, checked at start."""
from __future__ import annotations

import math
import os
from typing import Callable

from pipeline.document import Limits
from schemas import MAX_SECONDS  # the longest duration any setting may take, as `expires_in`

_LIMITS = Limits()  # the pipeline's own defaults for the budgets of a document

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
    # Operations (docs/operations.md): the token a Prometheus scraper sends for GET /metrics (unset:
    # no metrics route), and the log lines' format, `text` or `json`.
    "METRICS_TOKEN": None,
    "LOG_FORMAT": "text",
    "ACCESS_LOG": True,  # a line per request (observability/logs.py)
    # Webhooks (webhooks/, docs/operations.md#webhooks): attempts of one delivery before it is
    # given up; one attempt's connect and wait for the answer; the wait after the first failure,
    # doubled after each next one up to the longest wait; an idle deliverer's poll; how long
    # delivered and failed deliveries stay listed.
    "WEBHOOK_MAX_ATTEMPTS": 10,
    "WEBHOOK_TIMEOUT_SECONDS": 10.0,
    "WEBHOOK_BACKOFF_SECONDS": 10.0,
    "WEBHOOK_BACKOFF_MAX_SECONDS": 3600.0,
    "WEBHOOK_POLL_SECONDS": 1.0,
    "WEBHOOK_KEEP_SECONDS": 7 * 24 * 3600.0,
    # The sandbox a worker runs documents in (sandbox/pool.py): the address space one child may
    # map while it runs a document, and how many documents a child runs before a fresh one.
    "SANDBOX_MEMORY_BYTES": 4 * 1024 ** 3,
    "SANDBOX_MAX_DOCUMENTS": 200,
    # Budgets of one document (pipeline.document.Limits), enforced while it runs; a document past
    # one fails with a message naming the setting that raises it. Pages (or frames) per document;
    # pixels of one image or frame; pixels decoded and rendered in all (every frame at full size,
    # every PDF page rendered for OCR); seconds of OCR for one page.
    "MAX_PAGES": _LIMITS.max_pages,
    "MAX_IMAGE_PIXELS": _LIMITS.max_image_pixels,
    "MAX_DOCUMENT_PIXELS": _LIMITS.max_document_pixels,
    "OCR_PAGE_SECONDS": _LIMITS.ocr_page_seconds,
}



def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _choice(*choices: str) -> Callable[[str], str]:
    """A parser of one of `choices` (any case)."""
    def parse(value: str) -> str:
        chosen = value.strip().lower()
        if chosen not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return chosen
    return parse


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _number(kind: Callable[[str], float], minimum: float, maximum: float = MAX_SECONDS,
            optional: bool = False) -> Callable[[str], float | None]:
    """A parser of a finite number from `minimum` to `maximum` (an empty value: None, if optional)."""
    def parse(value: str):
        if optional and value.strip() == "":
            return None
        number = kind(value)
        if not math.isfinite(number) or not minimum <= number <= maximum:
            raise ValueError(f"expected a number from {_shown(minimum)} to {_shown(maximum)}")
        return number
    return parse


PARSERS: dict[str, Callable[[str], object]] = {
    "DATABASE_URL": str, "API_KEYS": str, "PUBLIC_URL": str, "SECRET_KEY": str,
    "METRICS_TOKEN": lambda value: value.strip() or None, "LOG_FORMAT": _choice("text", "json"), "ACCESS_LOG": _boolean,
    "WEBHOOK_MAX_ATTEMPTS": _number(int, 1, 1000), "WEBHOOK_TIMEOUT_SECONDS": _number(float, 0.1, 600),
    "WEBHOOK_BACKOFF_SECONDS": _number(float, 0.01), "WEBHOOK_BACKOFF_MAX_SECONDS": _number(float, 0.01),
    "WEBHOOK_POLL_SECONDS": _number(float, 0.01, 3600), "WEBHOOK_KEEP_SECONDS": _number(float, 1),
    "WORKER_THREADS": _number(int, 0, 256),
    "LEASE_SECONDS": _number(float, 0.1), "MAX_ATTEMPTS": _number(int, 1, 1000),
    "TASK_TIMEOUT": _number(float, 0.1), "DEFAULT_EXPIRES_IN": _number(int, 0, optional=True),
    "MAX_FILE_BYTES": _number(int, 1, 2**62), "ALLOW_PRIVATE_URLS": _boolean,
    "PROCESSING_DELAY_SECONDS": _number(float, 0), "FILE_URL_SECONDS": _number(int, 1),
    "SWEEP_INTERVAL_SECONDS": _number(float, 0.1),
    "SANDBOX_MEMORY_BYTES": _number(int, 256 * 1024 ** 2, 2**62), "SANDBOX_MAX_DOCUMENTS": _number(int, 1, 10**6),
    "MAX_PAGES": _number(int, 1, 10**6), "MAX_IMAGE_PIXELS": _number(int, 1, 2**40),
    "MAX_DOCUMENT_PIXELS": _number(int, 1, 2**50), "OCR_PAGE_SECONDS": _number(float, 0.1),
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
