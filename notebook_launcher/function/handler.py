"""The function's core entry point, independent of fdk: bytes and headers in, status and JSON out.

Nothing escapes: known errors keep their code and status, anything else is logged with its
traceback and call id (`failure_line`, no request values) and answered as a generic internal
error. One structured log line per invocation
(call id, action, job id, run id, reused, duration), never a payload value.
"""

from __future__ import annotations

import errno
import json
import logging
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.actions import dispatch
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import FieldProblem, InvalidRequestError, LauncherError
from notebook_launcher.function.launcher import Launcher
from notebook_launcher.function.oci_edge import OciEdge, load_auth
from notebook_launcher.function.pipeline_request import parse_any
from notebook_launcher.function.request import RETRY_TOKEN_RE
from notebook_launcher.function.settings import KEYS, Settings
from notebook_launcher.function.warm_memory import WarmMemory

logger = logging.getLogger("notebook_launcher.invocation")

IDEMPOTENCY_HEADERS = ("idempotency-key", "opc-retry-token")
# How much of an unexpected failure's traceback is logged: the innermost frames of each of
# the first chained exceptions.
MAX_FRAMES = 40
MAX_CHAINED = 5


@dataclass(frozen=True)
class Invocation:
    """One call of the function, as the platform delivered it."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, str] = field(default_factory=dict)
    deadline: str | None = None
    call_id: str | None = None


@dataclass
class _Warm:
    """What a warm function instance keeps between invocations."""

    key: tuple[tuple[str, str], ...] | None = None
    settings: Settings | None = None
    edge: OciEdge | None = None
    # Job ids by digest, for this configuration only (started afresh with the edge).
    memory: WarmMemory = field(default_factory=WarmMemory)


_warm = _Warm()


def _settings_and_edge(config: Mapping[str, str]) -> tuple[Settings, OciEdge | None]:
    key = tuple(sorted((k, v) for k, v in config.items() if k in KEYS or k.startswith("OCI_")))
    if _warm.key != key or _warm.settings is None:
        _warm.key, _warm.settings, _warm.edge = key, Settings.from_config(config), None
        _warm.memory = WarmMemory()
    return _warm.settings, _warm.edge


def _edge(settings: Settings, config: Mapping[str, str]) -> OciEdge:
    if _warm.edge is None:
        _warm.edge = OciEdge(settings, load_auth(settings, config))
    return _warm.edge


def _idempotency_key(body_key: str | None, headers: Mapping[str, str]) -> str | None:
    if body_key:
        return body_key
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in IDEMPOTENCY_HEADERS:
        value = lowered.get(name)
        if value:
            if not RETRY_TOKEN_RE.fullmatch(value):
                raise InvalidRequestError(
                    f"The {name} header is invalid.",
                    details=[
                        FieldProblem(f"header:{name}", "1-64 characters: letters, digits, . _ : -")
                    ],
                )
            return value
    return None


def failure_line(call_id: str, exc: BaseException) -> str:
    """An unexpected failure as one JSON line: the call id, the exception's type and its
    traceback (file, line, function and source line of each frame, every chained exception
    included), and never its message or any local value, which may hold request values (an
    OSError gives its errno name, which holds none).

    The invocation logger prints a record's message bare (runtime_env), so the traceback is in
    the message itself; one line keeps it one entry in OCI Logging, found by the call id."""
    chain: list[dict[str, Any]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAINED:
        seen.add(id(current))
        kind = type(current)
        link: dict[str, Any] = {"exception": f"{kind.__module__}.{kind.__qualname__}"}
        code = current.errno if isinstance(current, OSError) else None
        if code is not None and code in errno.errorcode:
            link["errno"] = errno.errorcode[code]
        link["traceback"] = [
            f"{frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"
            for frame in traceback.extract_tb(current.__traceback__)[-MAX_FRAMES:]
        ]
        chain.append(link)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return json.dumps(
        {"callId": call_id, "failure": "unexpected", "error": "InternalError", "chain": chain},
        sort_keys=True,
    )


def invoke(invocation: Invocation) -> tuple[int, dict[str, Any]]:
    """Handle one invocation; returns the true HTTP status and the JSON body."""
    started = time.monotonic()
    call_id = invocation.call_id or f"local-{uuid.uuid4().hex}"
    record: dict[str, Any] = {"callId": call_id, "action": None}
    try:
        settings, _ = _settings_and_edge(invocation.config)
        request = parse_any(invocation.body, settings)
        record["action"] = request.action
        key = _idempotency_key(request.idempotencyKey, invocation.headers)
        deadline = Deadline.from_iso(invocation.deadline, settings.deadline_margin_seconds)
        edge = _edge(settings, invocation.config)
        edge.calls = []
        outcome = dispatch(request, Launcher(settings, edge, memory=_warm.memory), deadline, key)
        record.update(
            jobId=outcome.job_id,
            runId=outcome.run_id,
            reused=outcome.reused,
            apiCalls=len(edge.calls),
            dryRun=request.dryRun or None,
        )
        status, body = 200, outcome.body
    except LauncherError as exc:
        status = exc.status
        if exc.opc_request_id is None:
            exc.opc_request_id = call_id
        body = exc.to_dict()
        record["error"] = exc.code
    except Exception as exc:  # noqa: BLE001 (nothing escapes: logged with its traceback)
        logger.error(failure_line(call_id, exc))
        status = 500
        body = {
            "error": {
                "code": "InternalError",
                "message": "The function failed unexpectedly; see its logs for this call id.",
                "details": [],
                "opcRequestId": call_id,
            }
        }
        record["error"] = "InternalError"
    record["status"] = status
    record["durationMs"] = round((time.monotonic() - started) * 1000, 1)
    logger.info(json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True))
    return status, body
