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
    ("MAX_PAGES", "0"), ("MAX_PAGES", "1.5"), ("MAX_IMAGE_PIXELS", "0"), ("MAX_DOCUMENT_PIXELS", "-1"),
    ("OCR_PAGE_SECONDS", "0"), ("OCR_PAGE_SECONDS", "nan"),
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


def test_the_budgets_of_a_document_are_settings_with_the_pipelines_defaults():
    from pipeline.document import Limits

    defaults = Limits()
    assert (settings.DEFAULTS["MAX_PAGES"], settings.DEFAULTS["MAX_IMAGE_PIXELS"],
            settings.DEFAULTS["MAX_DOCUMENT_PIXELS"], settings.DEFAULTS["OCR_PAGE_SECONDS"]) == (
        defaults.max_pages, defaults.max_image_pixels, defaults.max_document_pixels, defaults.ocr_page_seconds)
    assert settings.from_environment({"MAX_PAGES": "300", "MAX_IMAGE_PIXELS": "100000000",
                                      "MAX_DOCUMENT_PIXELS": "5000000000", "OCR_PAGE_SECONDS": "30"}) == {
        "MAX_PAGES": 300, "MAX_IMAGE_PIXELS": 100_000_000, "MAX_DOCUMENT_PIXELS": 5_000_000_000,
        "OCR_PAGE_SECONDS": 30.0}


def test_the_budgets_travel_from_the_app_config_to_the_pipeline(tmp_path):
    from app import create_app
    from pipeline.document import Limits
    from worker.loop import document_limits

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'limits.sqlite3'}", "API_KEYS": "k",
                      "WORKER_THREADS": 0, "MAX_PAGES": 7, "OCR_PAGE_SECONDS": 2.5})
    assert document_limits(app.config) == Limits(max_pages=7, ocr_page_seconds=2.5)
