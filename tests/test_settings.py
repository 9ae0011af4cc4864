"""Settings from the environment (SPEC.md §9): parsed, bounded, and refused by name when wrong."""
from __future__ import annotations

import pytest

import settings


def test_values_are_parsed_and_absent_ones_left_to_the_defaults():
    parsed = settings.from_environment({"LEASE_SECONDS": "0.5", "WORKER_THREADS": "0", "MAX_ATTEMPTS": "1",
                                        "DEFAULT_EXPIRES_IN": "", "ALLOW_PRIVATE_URLS": "yes",
                                        "FILE_URL_SECONDS": "60", "UNRELATED": "x"})
    assert parsed == {"LEASE_SECONDS": 0.5, "WORKER_THREADS": 0, "MAX_ATTEMPTS": 1, "DEFAULT_EXPIRES_IN": None,
                      "ALLOW_PRIVATE_URLS": True, "FILE_URL_SECONDS": 60}
    assert settings.from_environment({"DEFAULT_EXPIRES_IN": str(settings.MAX_SECONDS)}) == {
        "DEFAULT_EXPIRES_IN": settings.MAX_SECONDS}


@pytest.mark.parametrize("name, value", [
    ("LEASE_SECONDS", "nan"), ("LEASE_SECONDS", "0"), ("LEASE_SECONDS", "-1"),
    ("TASK_TIMEOUT", "inf"), ("TASK_TIMEOUT", "0"),
    ("MAX_ATTEMPTS", "0"), ("MAX_ATTEMPTS", "2.5"),
    ("DEFAULT_EXPIRES_IN", str(10**12)), ("DEFAULT_EXPIRES_IN", "-5"),
    ("MAX_FILE_BYTES", "0"), ("MAX_FILE_BYTES", "ten"),
    ("WORKER_THREADS", "-1"), ("FILE_URL_SECONDS", "0"), ("SWEEP_INTERVAL_SECONDS", "nan"),
    ("PROCESSING_DELAY_SECONDS", "1e300"), ("ALLOW_PRIVATE_URLS", "maybe"),
])
def test_a_value_that_would_break_the_service_stops_the_start_with_its_name(name, value):
    """Out of range, not finite or not a number: refused at start, not a failure much later
    (a huge DEFAULT_EXPIRES_IN overflowed every expiry date; LEASE_SECONDS=nan broke every claim)."""
    with pytest.raises(RuntimeError, match=f"^Invalid {name}="):
        settings.from_environment({name: value})


def test_the_app_does_not_start_on_a_bad_setting(monkeypatch, tmp_path):
    from app import create_app

    monkeypatch.setenv("LEASE_SECONDS", "nan")
    with pytest.raises(RuntimeError, match="Invalid LEASE_SECONDS='nan'"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'bad.sqlite3'}", "API_KEYS": "k", "WORKER_THREADS": 0})
