"""The web side of observability: a metric and a log line per request, and `GET /metrics`.

`/metrics` answers only with METRICS_TOKEN (`Authorization: Bearer <token>`), a credential of
its own: API keys belong to owners, while metrics count every owner's tasks together, and a
scraper should hold no key that can read or create tasks. Unset, the route is off (404).
"""
from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from models import Task, db, now_utc
from observability import logs, metrics

bp = Blueprint("observability", __name__)
QUIET_PATHS = frozenset({"/health", "/metrics"})  # polled by machines every few seconds: counted, not logged


def init_app(app: Flask) -> None:
    """Count and log every request of this app; serve /metrics."""
    logs.configure(app.config.get("LOG_FORMAT", "text"))
    app.before_request(_start_clock)
    app.after_request(_count_and_log)
    app.register_blueprint(bp)


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _count_and_log(response: Response) -> Response:
    """The request's metrics (when something can read them: METRICS_TOKEN) and its access line
    (unless ACCESS_LOG is off). Every request runs it: the request, `g` and the config are each
    looked up once, and the labelled metrics are kept per label values."""
    context = g._get_current_object()
    started = getattr(context, "request_started", None)
    if started is None:
        return response
    seconds = time.perf_counter() - started
    config = current_app.config
    current = request._get_current_object()
    method, path, status = current.method, current.path, response.status_code
    if config.get("METRICS_TOKEN"):
        rule = current.url_rule
        route = rule.rule if rule is not None else "unmatched"
        key = (method, route, status)
        counted = _REQUEST_METRICS.get(key)
        if counted is None:
            counted = _REQUEST_METRICS[key] = (metrics.REQUESTS.labels(method, route, status),
                                               metrics.REQUEST_SECONDS.labels(method, route))
        counted[0].inc()
        counted[1].observe(seconds)
    if config.get("ACCESS_LOG", True) and path not in QUIET_PATHS:
        task_id = (current.view_args or {}).get("task_id") or getattr(context, "created_task_id", None)
        logs.access(method, path, status, seconds, getattr(context, "owner", None), task_id)
    return response


# (method, route, status) -> its request counter and latency histogram, labelled once.
_REQUEST_METRICS: dict[tuple, tuple] = {}


class QueueDepth:
    """Tasks by status and the age of the oldest waiting one, read from the database at scrape
    time (the database is shared: every server would report the same numbers)."""

    def collect(self):
        depth = GaugeMetricFamily("chunkr_queue_depth", "Tasks in the database by status", labels=["status"])
        counts = dict(db.session.execute(select(Task.status, func.count()).group_by(Task.status)).all())
        for status in ("Starting", "Processing", "Succeeded", "Failed", "Cancelled"):
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        oldest = db.session.execute(select(func.min(Task.created_at)).where(Task.status == "Starting")).scalar()
        age = GaugeMetricFamily("chunkr_oldest_waiting_task_seconds", "Age of the oldest Starting task (0: none)")
        age.add_metric([], (now_utc() - oldest).total_seconds() if oldest is not None else 0.0)
        yield age


class ThisProcess:
    """The metrics this process has counted (no multiprocess directory: tests, `flask run`)."""

    def collect(self):
        yield from REGISTRY.collect()


def _registry() -> CollectorRegistry:
    """Every process's samples (multiprocess mode), or this process's, and the queue."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(ThisProcess())
    registry.register(QueueDepth())
    return registry


@bp.get("/metrics")
def metrics_page():
    """Prometheus's text format, for a scraper holding METRICS_TOKEN."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return Response("Not found: metrics are off; set METRICS_TOKEN to serve them", 404, mimetype="text/plain")
    given = request.headers.get("Authorization", "").strip(" \t")
    if given.lower().startswith("bearer "):
        given = given[7:].strip(" \t")
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Response("Invalid or missing metrics token (Authorization: Bearer <METRICS_TOKEN>)", 401,
                        mimetype="text/plain")
    body = generate_latest(_registry())
    db.session.remove()
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
