"""The reliability suite's harness: func.handler through fdk's fixtures, against local services.

`FunctionClient` invokes the real `func.handler` the way OCI Functions does (fdk's request
handling, direct or through API Gateway, with a deadline), with the function's configuration
set as environment variables for the duration of the call only, so that one client can serve
a whole hypothesis run. It fails the test if an exception escapes the handler or the answer
is not a JSON object.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oci
import pytest
from fdk import fixtures

import func
from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SHARED_NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
FINISHED = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "DELETED"})
# The operations that create or change something in Data Science.
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Cancel")


@dataclass(frozen=True)
class Answer:
    """One invocation's outcome as the caller sees it."""

    status: int
    body: dict[str, Any]
    elapsed: float

    @property
    def error(self) -> dict[str, Any]:
        error = self.body.get("error")
        assert isinstance(error, dict), f"not an error answer: {self.body}"
        return error


def _reject_constant(name: str) -> None:
    raise AssertionError(f"the answer holds {name}, which is not JSON")


class FunctionClient:
    """Invokes func.handler through fdk with `config` as the function's configuration."""

    def __init__(self, config: dict[str, str]) -> None:
        self.config = dict(config)

    def with_config(self, **changes: str) -> FunctionClient:
        return FunctionClient({**self.config, **changes})

    def invoke(
        self,
        body: dict[str, Any] | bytes,
        *,
        gateway: bool = False,
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Answer:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)).isoformat()
        escaped: list[BaseException] = []

        def watched(ctx: Any, data: io.BytesIO | None = None) -> Any:
            try:
                return func.handler(ctx, data)
            except BaseException as exc:
                escaped.append(exc)
                raise

        async def run() -> tuple[Any, Any, Any]:
            coro = await fixtures.setup_fn_call(
                watched,
                content=io.BytesIO(raw),
                headers=headers,
                gateway=gateway,
                deadline=deadline,
            )
            return await coro

        started = time.monotonic()
        with pytest.MonkeyPatch.context() as env:
            for key, value in self.config.items():
                env.setenv(key, value)
            data, status, response_headers = asyncio.run(run())
        elapsed = time.monotonic() - started
        if escaped:
            raise AssertionError(f"an exception escaped func.handler: {escaped[0]!r}")
        if gateway:
            status = int(response_headers.get("fn-http-status", status))
        text = data.decode() if isinstance(data, bytes) else str(data)
        parsed = json.loads(text, parse_constant=_reject_constant)
        assert isinstance(parsed, dict), f"the answer is not a JSON object: {text[:200]}"
        return Answer(int(status), parsed, elapsed)


def function_config(service: EmbeddedService, project_id: str, **changes: str) -> dict[str, str]:
    """The function's configuration for `service` (the local profile), with changes."""
    config = local_function_config(service, project_id, service_namespace(service.data_dir))
    config.update(changes)
    return config


@pytest.fixture(scope="session")
def function(local_service: EmbeddedService, project_id: str) -> FunctionClient:
    """The function configured for the session's local service (local notebooks allowed)."""
    return FunctionClient(function_config(local_service, project_id))


@pytest.fixture
def service(local_service: EmbeddedService) -> Iterator[EmbeddedService]:
    """The session's service with no injected fault left over, before or after a test."""
    local_service.clear_faults()
    yield local_service
    local_service.clear_faults()


def mutating_calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls of creating or changing operations between two `stats()` snapshots."""
    return {
        op: after[op] - before.get(op, 0)
        for op in after
        if op.startswith(MUTATING_PREFIXES) and after[op] != before.get(op, 0)
    }


def all_records(service: EmbeddedService) -> dict[str, dict[str, str]]:
    """Every project, job and run in the tenancy (id -> lifecycle state), deleted ones too."""
    client = service.datascience_client()
    found: dict[str, dict[str, str]] = {}
    for kind, method in (
        ("projects", client.list_projects),
        ("jobs", client.list_jobs),
        ("runs", client.list_job_runs),
    ):
        found[kind] = {}
        # Lists leave deleted resources out unless a lifecycleState filter asks for them.
        for state in (None, "DELETED"):
            filters = {"lifecycle_state": state} if state else {}
            items = oci.pagination.list_call_get_all_results(
                method, compartment_id=service.tenancy_id, **filters
            ).data
            found[kind].update({item.id: item.lifecycle_state for item in items})
    return found


def wait_for_run(service: EmbeddedService, run_id: str, timeout: float = 60) -> Any:
    client = service.datascience_client()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        run = client.get_job_run(run_id).data
        if run.lifecycle_state in FINISHED:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")
