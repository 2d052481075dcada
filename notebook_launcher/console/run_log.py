"""A job run's log, read incrementally: `read_new()` gives the text added since the last call.

The local service keeps each run's output in a file and serves it from
`GET /_local/jobRuns/{id}/logs?offset=N` (signed like any other call). On OCI the run logs
to the OCI Logging log in its `logDetails`, read with the Logging Search API; entries reach
search a little after they are written, so a follower sees them late, never out of order.

The readers need only a little of the target they read from, named by the protocols
`LocalLogEndpoint` and `OciLogAccount` (`console.target`'s LocalTarget and OciTarget provide
them), so this module does not import the target module that makes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

LOG_READ_TIMEOUT = (5, 30)
SEARCH_PAGE_LIMIT = 500

T = TypeVar("T")


class LocalLogEndpoint(Protocol):
    """What reading the local service's log needs: where it is, how to sign, how to fail."""

    @property
    def endpoint(self) -> str: ...

    @property
    def signer(self) -> Any:
        """A requests auth that signs with the service's OCI config."""
        ...

    def describe(self) -> str:
        """Where the service is, for messages."""
        ...

    def unreachable(self, reason: str) -> Exception:
        """The error for a service that does not answer."""
        ...


class OciLogAccount(Protocol):
    """What searching OCI Logging needs: an oci SDK config and a call that translates errors."""

    @property
    def config(self) -> dict[str, Any]: ...

    def call(self, operation: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call one SDK operation; failures leave as ConsoleErrors."""
        ...


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


class LocalRunLog:
    """The local service's log of one run, read from an offset."""

    def __init__(self, target: LocalLogEndpoint, run_id: str) -> None:
        self.target = target
        self.run_id = run_id
        self.offset = 0
        self.note: str | None = None
        self._signer: Any = None

    def read_new(self) -> str:
        import requests

        if self._signer is None:
            self._signer = self.target.signer
        url = f"{self.target.endpoint}/_local/jobRuns/{self.run_id}/logs"
        try:
            response = requests.get(
                url,
                params={"offset": self.offset},
                auth=self._signer,
                timeout=LOG_READ_TIMEOUT,
            )
        except requests.exceptions.RequestException as exc:
            raise self.target.unreachable(f"reading the run's log: {type(exc).__name__}") from None
        if response.status_code >= 400:
            from notebook_launcher.console.errors import ServiceRefusedError

            raise ServiceRefusedError(
                f"reading the log of {self.run_id} failed at {self.target.describe()}: "
                f"{response.status_code} {response.text[:200]}"
            )
        text = response.text
        next_offset = response.headers.get("x-next-offset", "")
        self.offset = (
            int(next_offset) if next_offset.isdigit() else self.offset + len(text.encode())
        )
        return text


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
            self._client = oci.loggingsearch.LogSearchClient(self.target.config)
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
