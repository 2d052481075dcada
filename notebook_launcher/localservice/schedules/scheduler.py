"""The scheduler: fires due schedules as time passes.

A thread wakes at the earliest next fire time (at most every `MAX_SLEEP_SECONDS`, and at
once when a schedule is created, updated or activated) and calls `Schedules.fire_due`. With
a controlled clock the clock's `set` calls `fire_due` itself before returning, so a test
that moves the clock sees the fires made. One lock serialises both paths; each fire is
also guarded in its own transaction (it re-reads the schedule and fires only if still due),
so the two can never fire one schedule twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from notebook_launcher.localservice.clock import Clock
from notebook_launcher.localservice.schedules.models import Schedules

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 30.0


class Scheduler:
    """Fires `schedules` on `clock`; `start` once the executor has recovered its runs."""

    def __init__(self, schedules: Schedules, clock: Clock) -> None:
        self._schedules = schedules
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        schedules.on_change(self._wake.set)

    def start(self) -> None:
        self._clock.on_change(self.run_due)
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_due(self, now: datetime | None = None) -> None:
        """Fire what is due at `now` (the clock's time by default)."""
        with self._lock:
            if self._stopping.is_set():
                return
            try:
                self._schedules.fire_due(now or self._clock.now())
            except Exception:  # the loop must survive a bad record; the next pass retries
                logger.exception("firing due schedules failed")

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.run_due()
            self._wake.wait(self._sleep_seconds())
            self._wake.clear()

    def _sleep_seconds(self) -> float:
        if self._clock.controlled:
            return MAX_SLEEP_SECONDS  # the clock's own `set` runs the fires
        following = self._schedules.next_fire_time()
        if following is None:
            return MAX_SLEEP_SECONDS
        wait = (following - self._clock.now()).total_seconds()
        return min(MAX_SLEEP_SECONDS, max(0.0, wait))
