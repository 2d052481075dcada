"""The function's core entry point, independent of fdk: bytes and headers in, status and JSON out.

Nothing escapes: known errors keep their code and status, anything else is logged with its
traceback and answered as a generic internal error. One structured log line per invocation
(call id, action, job id, run id, reused, duration), never a payload value.
"""

from __future__ import annotations

import json
import logging
import time
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

logger = logging.getLogger("notebook_launcher.invocation")

IDEMPOTENCY_HEADERS = ("idempotency-key", "opc-retry-token")


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


_warm = _Warm()


def _settings_and_edge(config: Mapping[str, str]) -> tuple[Settings, OciEdge | None]:
    key = tuple(sorted((k, v) for k, v in config.items() if k in KEYS or k.startswith("OCI_")))
    if _warm.key != key or _warm.settings is None:
        _warm.key, _warm.settings, _warm.edge = key, Settings.from_config(config), None
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
        outcome = dispatch(request, Launcher(settings, edge), deadline, key)
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
    except Exception:
        logger.exception("unexpected failure")
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
