"""Invoking the real func.handler the way OCI Functions does, for the functional tests.

`FunctionClient` goes through fdk's request handling (direct or through API Gateway, with a
deadline), sets the function's configuration as environment variables for the duration of
the call only, and fails the test if an exception escapes the handler or the answer is not a
JSON object. `as_the_caller_sees_it` applies what fdk's socket server and the Fn agent do to
the answer on a direct invoke, which fdk's test fixtures skip.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fdk import fixtures

import func
from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES

FINISHED = frozenset(JOB_RUN_TERMINAL_STATES)


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


# fdk/constants.py FN_ENFORCED_RESPONSE_CODES, applied in fdk/event_handler.py
FDK_STATUSES = (200, 502, 504)
# fnproject/fn api/agent/agent.go hotSlot.writeResp: a 502 from the container becomes
# models.ErrFunctionFailed ("function failed"), the container's body is not copied; OCI Functions
# answers it as FunctionInvokeExecutionFailed.
AGENT_502_BODY = {"code": "FunctionInvokeExecutionFailed", "message": "function failed"}


def as_the_caller_sees_it(status: int, text: str, *, gateway: bool) -> tuple[int, str]:
    """The status and body a caller gets for what func.handler answered through fdk."""
    if status not in FDK_STATUSES:
        status = 200
    if not gateway and status == 502:
        return 502, json.dumps(AGENT_502_BODY)
    return status, text


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
            answer: tuple[Any, Any, Any] = await coro
            return answer

        started = time.monotonic()
        with pytest.MonkeyPatch.context() as env:
            for key, value in self.config.items():
                env.setenv(key, value)
            data, status, response_headers = asyncio.run(run())
        elapsed = time.monotonic() - started
        if escaped:
            raise AssertionError(f"an exception escaped func.handler: {escaped[0]!r}")
        text = data.decode() if isinstance(data, bytes) else str(data)
        status, text = as_the_caller_sees_it(int(status), text, gateway=gateway)
        if gateway:
            status = int(response_headers.get("fn-http-status", status))
        parsed = json.loads(text, parse_constant=_reject_constant)
        assert isinstance(parsed, dict), f"the answer is not a JSON object: {text[:200]}"
        return Answer(int(status), parsed, elapsed)


def wait_for_run(service: EmbeddedService, run_id: str, timeout: float = 60) -> Any:
    client = service.datascience_client()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        run = client.get_job_run(run_id).data
        if run.lifecycle_state in FINISHED:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish within {timeout} s")
