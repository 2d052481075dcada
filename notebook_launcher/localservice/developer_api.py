"""The local-only developer endpoints under `/_local`: run logs, call statistics, faults.

Not OCI operations (so neither counted nor subject to faults), but signed like every other
request. Fault injection answers only when the service was started with `--fault-injection`;
`EmbeddedService` (embedded.py) is their client.

    GET    /_local/jobRuns/{jobRunId}/logs?offset=N  a run's output from byte N (x-next-offset)
    GET    /_local/transitions/{resourceId}          every lifecycle state the resource and its
                                                     step runs were stored in, oldest first
    GET    /_local/stats                             calls per operation since start or reset
    POST   /_local/stats/reset
    POST   /_local/faults  {"operation", "status", "count", "delaySeconds"}
    DELETE /_local/faults
    GET    /_local/clock                             the schedules' clock {"time", "controlled"}
    POST   /_local/clock   {"time"} or {"advanceSeconds"}  move a controlled clock forward;
                                                     answers once the fires now due are made

The clock routes that move time answer only when the service was started with
`--controlled-clock` (clock.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.clock import ClockError, ControlledClock
from notebook_launcher.localservice.errors import (
    CannotParseRequestError,
    InvalidParameterError,
    NotFoundError,
)
from notebook_launcher.localservice.faults import CallStats, FaultInjector
from notebook_launcher.localservice.ids import JOB_RUN, format_time, is_ocid, utc_now
from notebook_launcher.localservice.layout import DataDir
from notebook_launcher.localservice.rest import json_body
from notebook_launcher.localservice.schedules.triggers import parse_time
from notebook_launcher.localservice.store import JOB_RUNS, Store


@dataclass(frozen=True)
class DeveloperApi:
    """What the `/_local` routes read and change."""

    layout: DataDir
    store: Store
    stats: CallStats
    faults: FaultInjector | None
    operations: frozenset[str]  # the names faults may target
    clock: ControlledClock | None = None  # set with --controlled-clock

    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
            ("GET", "/_local/jobRuns/{jobRunId}/logs", self.run_logs),
            ("GET", "/_local/transitions/{resourceId}", self.get_transitions),
            ("GET", "/_local/stats", self.get_stats),
            ("POST", "/_local/stats/reset", self.reset_stats),
            ("GET", "/_local/clock", self.get_clock),
        ]
        if self.clock is not None:
            table.append(("POST", "/_local/clock", self.set_clock))
        if self.faults is not None:
            table += [
                ("POST", "/_local/faults", self.add_fault),
                ("DELETE", "/_local/faults", self.clear_faults),
            ]
        return [Route(path, handler, methods=[method]) for method, path, handler in table]

    async def run_logs(self, request: Request) -> Response:
        run_id = request.path_params["jobRunId"]
        if not is_ocid(run_id, JOB_RUN) or self.store.get(JOB_RUNS, run_id) is None:
            raise NotFoundError()
        offset = validation.small_integer(request.query_params.get("offset", "0"))
        if offset is None:
            raise InvalidParameterError("offset must be a non-negative integer (bytes).")
        try:
            with open(self.layout.log_path(run_id), "rb") as log:
                log.seek(offset)
                chunk = log.read()
        except FileNotFoundError:
            chunk = b""
        next_offset = offset + len(chunk)
        return PlainTextResponse(
            chunk.decode("utf-8", errors="replace"), headers={"x-next-offset": str(next_offset)}
        )

    async def get_transitions(self, request: Request) -> Response:
        """{"items": [{"stepName", "lifecycleState", "time"}]}: stepName is null for the
        resource's own state. Unknown ids (nothing ever stored) are 404."""
        resource_id = request.path_params["resourceId"]
        with self.store.transaction() as tx:
            found = tx.transitions(resource_id)
        if not found:
            raise NotFoundError()
        items = [
            {"stepName": t.step, "lifecycleState": t.lifecycle_state, "time": t.time} for t in found
        ]
        return JSONResponse({"items": items})

    async def get_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.snapshot())

    async def reset_stats(self, request: Request) -> Response:
        self.stats.reset()
        return Response(status_code=204)

    async def add_fault(self, request: Request) -> Response:
        assert self.faults is not None
        body = await json_body(request)
        if not isinstance(body, dict):
            raise CannotParseRequestError("The request body must be a JSON object.")
        name = body.get("operation")
        if name not in self.operations:
            raise InvalidParameterError(
                f"operation must be one of {', '.join(sorted(self.operations))}."
            )
        status, count, delay = body.get("status"), body.get("count", 1), body.get("delaySeconds", 0)
        if not (status is None or isinstance(status, int)) or not isinstance(count, int):
            raise InvalidParameterError("status and count must be integers.")
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise InvalidParameterError("delaySeconds must be a number.")
        try:
            fault = self.faults.add(
                str(name), status=status, count=count, delay_seconds=float(delay)
            )
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from None
        return JSONResponse(
            {
                "operation": fault.operation,
                "status": fault.status,
                "count": fault.remaining,
                "delaySeconds": fault.delay_seconds,
            }
        )

    async def clear_faults(self, request: Request) -> Response:
        assert self.faults is not None
        self.faults.clear()
        return Response(status_code=204)

    async def get_clock(self, request: Request) -> Response:
        now = self.clock.now() if self.clock is not None else utc_now()
        return JSONResponse({"time": format_time(now), "controlled": self.clock is not None})

    async def set_clock(self, request: Request) -> Response:
        assert self.clock is not None
        body = await json_body(request)
        if not isinstance(body, dict) or len(body) != 1:
            raise CannotParseRequestError(
                'The body must be {"time": "<RFC 3339>"} or {"advanceSeconds": <number>}.'
            )
        clock = self.clock
        try:
            if "time" in body:
                moment = parse_time(body["time"], "time")
                now = await run_in_threadpool(clock.set, moment)
            else:
                seconds = body.get("advanceSeconds")
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise InvalidParameterError("advanceSeconds must be a number.")
                now = await run_in_threadpool(clock.advance, float(seconds))
        except ClockError as exc:
            raise InvalidParameterError(f"time: {exc}.") from None
        return JSONResponse({"time": format_time(now), "controlled": True})
