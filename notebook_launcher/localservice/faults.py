"""Call counting and fault injection, for tests and benchmarks.

`CallStats` counts calls per OCI operation name. `FaultInjector` answers the next N calls
of an operation with an error status and/or a delay; it is reachable over HTTP only when the
service was started with `--fault-injection`.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

FAULT_STATUSES = (429, 500, 503)


@dataclass
class Fault:
    """The next `remaining` calls of `operation` wait `delay_seconds`, then fail with `status`."""

    operation: str
    status: int | None
    remaining: int
    delay_seconds: float


class CallStats:
    """Thread-safe counts of calls per operation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class FaultInjector:
    """Queued faults per operation, consumed one call at a time in the order added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, operation: str, *, status: int | None, count: int, delay_seconds: float) -> Fault:
        if status is not None and status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(map(str, FAULT_STATUSES))}")
        if count < 1:
            raise ValueError("count must be at least 1")
        if delay_seconds < 0:
            raise ValueError("delaySeconds must not be negative")
        if status is None and delay_seconds == 0:
            raise ValueError("give a status, a delaySeconds, or both")
        fault = Fault(operation, status, count, delay_seconds)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operation: str) -> Fault | None:
        """The fault for this call of `operation`, if one is pending (and use it up)."""
        with self._lock:
            for fault in self._faults:
                if fault.operation == operation:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return Fault(operation, fault.status, 1, fault.delay_seconds)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
