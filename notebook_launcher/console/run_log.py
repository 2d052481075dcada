"""A job run's log, read incrementally: `read_new()` gives the text added since the last call.

One path for both targets: a run logs to the OCI Logging log in its `logDetails`, read with
the Logging Search API (SearchLogs), on OCI and on the local service alike (which serves
SearchLogs over its runs' output). Entries reach search a little after they are written, so a
follower sees them late, never out of order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class OciLogAccount(Protocol):
    """What searching a run's Logging log needs (`console.target`'s targets provide it, so this
    module does not import the target module that makes them): an oci SDK config, the
    endpoint to search (None: the region's), and a call that translates errors."""

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def endpoint(self) -> str | None: ...

    def call(self, operation: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call one SDK operation; failures leave as ConsoleErrors."""
        ...


SEARCH_PAGE_LIMIT = 500


class RunLog(Protocol):
    """Where a run's log text comes from."""

    note: str | None  # why there is no log, when there is none

    def read_new(self) -> str:
        """The log text written since the previous call ("" when nothing new)."""
        ...


class UnavailableRunLog:
    """A run without a readable log; `note` says why."""

    def __init__(self, note: str) -> None:
        self.note: str | None = note

    def read_new(self) -> str:
        return ""


class OciRunLog:
    """The OCI Logging log of one run, searched from where the previous read stopped."""

    def __init__(self, target: OciLogAccount, run: Any, client: Any = None) -> None:
        self.target = target
        self.run = run
        self.note: str | None = None
        details = run.log_details
        self.query = (
            f'search "{run.compartment_id}/{details.log_group_id}/{details.log_id}" '
            "| sort by datetime asc"
        )
        accepted = run.time_accepted or dt.datetime.now(dt.UTC)
        self.since: dt.datetime = accepted - dt.timedelta(minutes=1)
        self.seen: set[str] = set()
        self._client = client  # a LogSearchClient, made on first use

    def read_new(self) -> str:
        import oci

        if self._client is None:
            endpoint = {"service_endpoint": self.target.endpoint} if self.target.endpoint else {}
            self._client = oci.loggingsearch.LogSearchClient(self.target.config, **endpoint)
        details = oci.loggingsearch.models.SearchLogsDetails(
            time_start=self.since,
            time_end=dt.datetime.now(dt.UTC),
            search_query=self.query,
            is_return_field_info=False,
        )
        lines: list[str] = []
        page: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": SEARCH_PAGE_LIMIT}
            if page:
                kwargs["page"] = page
            response = self.target.call("SearchLogs", self._client.search_logs, details, **kwargs)
            for result in response.data.results or []:
                lines.extend(self._take(result.data or {}))
            page = response.headers.get("opc-next-page")
            if not page:
                break
        return "".join(f"{line}\n" for line in lines)

    def _take(self, entry: dict[str, Any]) -> list[str]:
        content = entry.get("logContent") or {}
        key = str(content.get("id") or (entry.get("datetime"), content.get("data")))
        if key in self.seen:
            return []
        self.seen.add(key)
        stamp = entry.get("datetime")
        if isinstance(stamp, int | float):  # epoch milliseconds
            when = dt.datetime.fromtimestamp(stamp / 1000, dt.UTC)
            self.since = max(self.since, when - dt.timedelta(seconds=1))
        data = content.get("data") or {}
        message = data.get("message") if isinstance(data, dict) else data
        return [str(message)] if message is not None else []
