"""The time schedules run on: the system's, or one the tests move.

Only the scheduler reads it (when a schedule is due, what its next fire time is); records'
own timestamps (timeCreated, timeAccepted, ...) are always the system's. A service started
with `--controlled-clock` keeps time that moves only when told, through the developer API
(`POST /_local/clock`), so a test sees an hourly schedule fire without waiting an hour:

- it starts at the system time, or where the last process left it (`<data-dir>/clock.json`,
  written atomically on every change), so a restarted or killed service never goes back;
- it never goes backwards;
- `set` calls its listeners (the scheduler) before returning, so whatever became due has
  fired by the time the developer API answers.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from notebook_launcher.localservice.ids import format_time, utc_now

logger = logging.getLogger(__name__)

Listener = Callable[[datetime], None]


class Clock(Protocol):
    """What the scheduler needs of a time source."""

    @property
    def controlled(self) -> bool: ...

    def now(self) -> datetime: ...

    def on_change(self, listener: Listener) -> None: ...


class SystemClock:
    """Real time (UTC); changes on its own, so it never calls its listeners."""

    controlled = False

    def now(self) -> datetime:
        return utc_now()

    def on_change(self, listener: Listener) -> None:
        return None


class ClockError(ValueError):
    """A controlled clock was asked to go backwards."""


class ControlledClock:
    """Time that moves only when `set` or `advance` is called, persisted in `path`."""

    controlled = True

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._now = _load(path) or utc_now()
        self._save()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def set(self, moment: datetime) -> datetime:
        """Move to `moment` (an aware time, not before now), then run the listeners."""
        if moment.tzinfo is None:
            raise ClockError("the time must carry a time zone (e.g. a trailing Z)")
        with self._lock:
            if moment < self._now:
                raise ClockError(
                    f"the clock is at {format_time(self._now)} and cannot go back"
                    f" to {format_time(moment)}"
                )
            self._now = moment
            self._save()
        logger.info("controlled clock set to %s", format_time(moment))
        for listener in self._listeners:
            listener(moment)
        return moment

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ClockError("the clock cannot go back")
        return self.set(self.now() + timedelta(seconds=seconds))

    def _save(self) -> None:
        staged = self._path.with_name(f".{self._path.name}.tmp")
        staged.write_text(json.dumps({"time": self._now.isoformat()}) + "\n", encoding="utf-8")
        os.replace(staged, self._path)


def _load(path: Path) -> datetime | None:
    try:
        moment = datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return moment if moment.tzinfo is not None else None
