"""A worker's heartbeat: one long-lived thread per worker renews the lease of the task it holds."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from models import db
from tasks import leases
from tasks.claims import ClaimedTask

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the lease of the task its worker holds, from one long-lived thread per worker."""

    def __init__(self, app: Flask, stop: threading.Event):
        self.app, self.stop = app, stop
        self.interval = max(app.config["LEASE_SECONDS"] / 3, 0.05)
        self.lost = threading.Event()
        self._lock = threading.Lock()
        self._held: ClaimedTask | None = None
        self._renewed_at = 0.0
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def hold(self, claimed: ClaimedTask | None) -> None:
        """Start beating for a newly claimed task (None: stop beating)."""
        with self._lock:
            self._held, self._renewed_at = claimed, time.monotonic()
            self.lost.clear()
        if claimed is not None and not self._thread.is_alive() and not self.stop.is_set():
            self._thread.start()

    def _beat(self) -> None:
        """Renew while a task is held, through shutdown's grace period too (a lease that lapsed
        while the run finished would throw its result away); end once stopped with none held."""
        with self.app.app_context():
            while True:
                if self.stop.is_set():
                    time.sleep(self.interval / 2)  # the set event no longer paces the loop
                else:
                    self.stop.wait(self.interval / 2)
                with self._lock:
                    claimed = self._held
                    due = claimed is not None and time.monotonic() - self._renewed_at >= self.interval
                if claimed is None and self.stop.is_set():
                    break
                if due:
                    self._renew(claimed)
            db.session.remove()

    def _renew(self, claimed: ClaimedTask) -> None:
        try:
            kept = leases.renew_lease(claimed, self.app.config["LEASE_SECONDS"])
        except Exception:  # noqa: BLE001 - a missed beat is retried; the lease has slack
            db.session.rollback()
            log.exception("Heartbeat of %s failed", claimed.task_id)
            return
        with self._lock:
            if self._held is claimed:  # a beat for a task already let go must not mark the next one
                self._renewed_at = time.monotonic()
                if not kept:
                    self.lost.set()
