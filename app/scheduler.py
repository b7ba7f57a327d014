"""The SLA scheduler: a thread per app process escalating overdue cases on a timer.

Every ``sla_interval_seconds`` it runs one escalation pass in its own transaction. Several
processes may run one each: the store claims cases with ``SKIP LOCKED``, so none is
escalated twice. A database error costs one pass, never the thread.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import Engine

from app.settings import Settings
from geo_data.sla import escalate_overdue

log = logging.getLogger(__name__)


class SlaScheduler:
    """Escalates cases overdue beyond the grace time, every interval, until stopped."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.interval = settings.sla_interval_seconds
        self.grace = timedelta(minutes=settings.sla_grace_minutes)
        self.batch = settings.sla_batch
        self.passes = 0  # completed passes, for tests and health checks
        self.escalated = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once); the first pass runs at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sla-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop after the pass under way, if any, and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> int:
        """One pass in its own transaction; returns how many cases it escalated."""
        with self.engine.begin() as conn:
            results = escalate_overdue(conn, grace=self.grace, limit=self.batch)
        if results:
            log.info("SLA: escalated %d overdue case(s)", len(results))
        self.escalated += len(results)
        return len(results)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("SLA pass failed; retrying in %gs", self.interval)
            self.passes += 1
            self._stop.wait(self.interval)
