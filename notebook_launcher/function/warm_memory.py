"""What a warm function instance remembers between invocations: the job a digest resolved to.

A repeat launch of the same notebook then needs no ListJobs: one CreateJobRun on the job
remembered. The memory holds ids only (never notebooks, parameters or secrets), lives in one
function instance (`function.handler` keeps one per configuration and starts afresh when the
configuration changes), and is bounded both in entries (the least recently used goes first)
and in age. An entry is keyed by everything that makes an id mean the same resource: the
kind, the Data Science endpoint (region and realm), the compartment, the project and the
digest, so it can never answer for another tenancy or configuration. A remembered job may
since have been deleted: the launcher forgets the entry and looks the job up again
(`Launcher._launch`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENTRIES = 256
# Long enough for a schedule firing every few minutes to stay on the one-call path; short
# enough that an instance does not trust an id for hours (a stale one costs one failed call).
MAX_AGE_SECONDS = 900.0


@dataclass(frozen=True)
class MemoryKey:
    """What a remembered id answers for."""

    kind: str  # "job"
    endpoint: str
    compartment_id: str
    project_id: str
    digest: str


class WarmMemory:
    """A bounded map from MemoryKey to a resource id, within one function instance."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        max_age_seconds: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._entries: OrderedDict[MemoryKey, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: MemoryKey) -> str | None:
        """The id remembered for key, unless it is older than max_age_seconds."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        resource_id, since = entry
        if self._clock() - since > self.max_age_seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return resource_id

    def remember(self, key: MemoryKey, resource_id: str) -> None:
        """Remember resource_id for key (its age starts now), evicting the least recently used
        entry when full."""
        self._entries[key] = (resource_id, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: MemoryKey) -> None:
        self._entries.pop(key, None)
