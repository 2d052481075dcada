"""The function's time budget, and a retry strategy for the oci SDK that respects it.

ADS's default retry strategy may retry for 600 s; a function has at most 300 s. Every SDK
call here gets `DeadlineRetryStrategy`: it retries throttling, server errors and network
failures with jittered exponential backoff, but never sleeps or starts an attempt past the
invocation's deadline, so the function answers "try again" before it is killed.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MIN_ATTEMPT_SECONDS = 1.0


@dataclass(frozen=True)
class Deadline:
    """A point in monotonic time by which the function must have answered."""

    at: float

    @classmethod
    def from_iso(cls, iso: str | None, margin: float, fallback_seconds: float = 30.0) -> Deadline:
        """From fdk's `ctx.Deadline()` (ISO 8601), keeping `margin` seconds back."""
        seconds = fallback_seconds
        if iso:
            try:
                when = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.UTC)
                seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
            except ValueError:
                logger.warning("unparsable fn deadline; using %ss", fallback_seconds)
        return cls(time.monotonic() + seconds - margin)

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()


class DeadlineExceeded(Exception):
    """Raised when no attempt could be made (or retried) within the deadline."""

    def __init__(self, last_error: BaseException | None) -> None:
        super().__init__("deadline exceeded")
        self.last_error = last_error


def is_retryable(exc: BaseException) -> bool:
    """Throttling, server errors and network failures are retryable; client errors are not."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and hasattr(exc, "code"):
        return status in RETRYABLE_STATUSES
    name = type(exc).__name__
    return name in {
        "RequestException",
        "ConnectTimeout",
        "ReadTimeout",
        "ConnectionError",
        "Timeout",
        "TimeoutError",
    } or isinstance(exc, ConnectionError | TimeoutError)


class DeadlineRetryStrategy:
    """An oci SDK retry strategy (duck-typed: `make_retrying_call`) bounded by a Deadline."""

    def __init__(
        self,
        deadline: Deadline,
        *,
        base_sleep: float = 0.25,
        max_sleep: float = 4.0,
        on_attempt: Callable[[int], None] | None = None,
    ) -> None:
        self.deadline = deadline
        self.base_sleep = base_sleep
        self.max_sleep = max_sleep
        self.on_attempt = on_attempt
        self.attempts = 0

    def add_circuit_breaker_callback(self, callback: Any) -> None:
        """The SDK hands strategies its circuit-breaker hook; this strategy needs none."""

    def make_retrying_call(self, func_ref: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        last: BaseException | None = None
        while True:
            if self.deadline.remaining() < MIN_ATTEMPT_SECONDS:
                raise DeadlineExceeded(last)
            self.attempts += 1
            if self.on_attempt:
                self.on_attempt(self.attempts)
            try:
                return func_ref(*args, **kwargs)
            except Exception as exc:
                if not is_retryable(exc):
                    raise
                last = exc
            sleep = random.uniform(0, min(self.max_sleep, self.base_sleep * 2**self.attempts))  # noqa: S311
            if self.deadline.remaining() - sleep < MIN_ATTEMPT_SECONDS:
                raise DeadlineExceeded(last)
            logger.info("retrying after %s (attempt %d)", type(last).__name__, self.attempts)
            time.sleep(sleep)
