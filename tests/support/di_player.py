"""Play a rendered Data Integration REST task the way Data Integration runs it: for tests.

Reads what a rendered task (``notebook_launcher.operator.dataintegration.render_task``) asks
for: its execute, poll and cancel calls, named expressions, conditions and polling limits; and
``simulate`` plays the whole task against given responses: execute, extract the run id, poll
while the poll condition holds (within the poll time limit), then judge the last response by
the success condition. The expressions are evaluated with ``di_expressions``.

A model of Data Integration's runtime from its documentation, kept with the tests: see the
docstring of ``notebook_launcher/operator/dataintegration.py`` for why it is not a product
command.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# The run states at which the task stops polling (the task's poll condition lists them).
from notebook_launcher.operator import dataintegration as di
from tests.support.di_expressions import (
    EvaluationContext,
    Response,
    evaluate_condition,
    evaluate_expression,
    json_path,
    substitute_names,
)

# The run states at which the task stops polling (its poll condition is spelled from them).
TERMINAL_STATES = di.TERMINAL_STATES
# Data Integration fails a REST task whose execute call answers with an HTTP error, before any
# polling; this is that rule, written in the task's own expression language.
EXECUTE_ACCEPTED = "SYS.RESPONSE_STATUS >= 200 AND SYS.RESPONSE_STATUS < 300"
_UNIT_SECONDS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600}


class SimulationError(Exception):
    """simulate() was given a task or responses it cannot play."""


# --- reading a rendered task -------------------------------------------------------------------


def _param_values(config: Mapping[str, Any]) -> dict[str, Any]:
    try:
        values = config["configValues"]["configParamValues"]
    except (KeyError, TypeError):
        raise SimulationError("REST call config without configValues.configParamValues") from None
    if not isinstance(values, dict):
        raise SimulationError("configParamValues is not an object")
    return values


def _config(task: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    config = task.get(key)
    if not isinstance(config, dict):
        raise SimulationError(f"task has no {key}")
    return config


def _expression_text(value: Mapping[str, Any], what: str) -> str:
    ref = value.get("refValue")
    if isinstance(ref, dict) and isinstance(ref.get("exprString"), str):
        return ref["exprString"]  # type: ignore[no-any-return]
    if isinstance(value.get("stringValue"), str):
        return value["stringValue"]  # type: ignore[no-any-return]
    raise SimulationError(f"{what} holds no expression")


def success_condition(task: Mapping[str, Any]) -> str:
    """The task's success condition, or Data Integration's default when it sets none."""
    values = (task.get("opConfigValues") or {}).get("configParamValues") or {}
    if "successCondition" not in values:
        return EXECUTE_ACCEPTED
    return _expression_text(values["successCondition"], "successCondition")


def poll_condition(task: Mapping[str, Any]) -> str:
    """The expression that keeps polling going while it holds."""
    values = _param_values(_config(task, "pollRestCallConfig"))
    return _expression_text(values["pollCondition"], "pollCondition")


def named_expressions(task: Mapping[str, Any]) -> dict[str, str]:
    """The task's typed expressions, name to expression text."""
    return {e["name"]: e["expression"] for e in task.get("typedExpressions") or []}


def _duration_seconds(values: Mapping[str, Any], amount_key: str, unit_key: str) -> float:
    amount = values[amount_key].get("objectValue")
    unit = values[unit_key].get("stringValue")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise SimulationError(f"{amount_key} must be a positive number, got {amount!r}")
    if unit not in _UNIT_SECONDS:
        raise SimulationError(f"{unit_key} must be one of {sorted(_UNIT_SECONDS)}, got {unit!r}")
    return float(amount) * _UNIT_SECONDS[unit]


def poll_limits(task: Mapping[str, Any]) -> tuple[float, float]:
    """(poll interval, maximum polling duration), in seconds."""
    values = _param_values(_config(task, "pollRestCallConfig"))
    return (
        _duration_seconds(values, "pollInterval", "pollIntervalUnit"),
        _duration_seconds(values, "pollMaxDuration", "pollMaxDurationUnit"),
    )


@dataclass(frozen=True)
class HttpCall:
    """A request the task makes: method, URL and body."""

    method: str
    url: str
    body: bytes = b""


def execute_call(task: Mapping[str, Any], bindings: Mapping[str, str] | None = None) -> HttpCall:
    """The execute request exactly as Data Integration sends it, with parameter bindings.

    A payload bound to a parameter is that parameter's value (the run's binding, else the
    default), sent unchanged as UTF-8.
    """
    config = _config(task, "executeRestCallConfig")
    values = _param_values(config)
    url = values["requestURL"]["stringValue"]
    payload = values.get("requestPayload") or {}
    if "parameterValue" in payload:
        key = payload["parameterValue"]
        parameters = {p.get("key"): p for p in task.get("parameters") or []}
        if key not in parameters:
            raise SimulationError(f"requestPayload names parameter {key!r}, which the task lacks")
        text = (bindings or {}).get(key, parameters[key].get("defaultValue"))
    else:
        ref = payload.get("refValue") or {}
        text = _param_values(ref).get("dataParam", {}).get("stringValue", "")
    if not isinstance(text, str):
        raise SimulationError("request payload is not text")
    return HttpCall(config["methodType"], url, text.encode("utf-8"))


def poll_call(task: Mapping[str, Any], names: Mapping[str, str | int | None]) -> HttpCall:
    """The poll request for these named values (RUN_ID)."""
    config = _config(task, "pollRestCallConfig")
    url = _param_values(config)["requestURL"]["stringValue"]
    return HttpCall(config["methodType"], substitute_names(url, names))


def cancel_call(task: Mapping[str, Any], names: Mapping[str, str | int | None]) -> HttpCall:
    """The request Data Integration sends to stop the run when the task is stopped."""
    config = _config(task, "cancelRestCallConfig")
    url = _param_values(config)["requestURL"]["stringValue"]
    return HttpCall(config["methodType"], substitute_names(url, names))


def status_poll_call(task: Mapping[str, Any], names: Mapping[str, str | int | None]) -> HttpCall:
    """The status variant's poll request with its body, as Data Integration would send it."""
    config = task["pollRestCallConfig"]
    values = config["configValues"]["configParamValues"]
    url = substitute_names(values["requestURL"]["stringValue"], names)
    payload = values["requestPayload"]["refValue"]["configValues"]["configParamValues"]
    body = substitute_names(payload["dataParam"]["stringValue"], names)
    return HttpCall(config["methodType"], url, body.encode("utf-8"))


# --- playing the task --------------------------------------------------------------------------


OutcomeStatus = Literal["SUCCESS", "FAILED"]


@dataclass(frozen=True)
class Outcome:
    """How Data Integration would end the task, and why."""

    status: OutcomeStatus
    reason: str
    run_id: str | None = None
    final_state: str | None = None
    polls: int = 0
    poll_urls: tuple[str, ...] = ()
    cancel: HttpCall | None = None


def _describe(response: Response) -> str:
    """A short account of a response body: an error's code and message, a run's state."""
    try:
        body = json.loads(response.body) if response.body else None
    except ValueError:
        return f"HTTP {response.status}, body not JSON"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"HTTP {response.status}, error {error.get('code')}: {error.get('message')}"
        if "code" in body and "message" in body:
            return f"HTTP {response.status}, {body['code']}: {body['message']}"
        if "lifecycleState" in body:
            details = body.get("lifecycleDetails")
            suffix = f" ({details})" if details else ""
            return f"HTTP {response.status}, run {body['lifecycleState']}{suffix}"
    return f"HTTP {response.status}"


def _state(response: Response) -> str | None:
    value = json_path(response.body, "$.lifecycleState")
    return value if isinstance(value, str) else None


def simulate(
    task: Mapping[str, Any],
    execute_response: Response,
    poll_responses: Sequence[Response],
) -> Outcome:
    """Play the task as Data Integration does, against given responses.

    1. The execute call must be accepted (HTTP 2xx), else the task fails without polling.
    2. The named expressions (RUN_ID, FUNCTION_ERROR) are evaluated on the execute response.
       The function answers its errors 200 with ``{"error": ...}`` on a direct invoke, so the
       task's conditions require a RUN_ID and no FUNCTION_ERROR: such an answer stops polling at
       the first response and fails the task, with the function's error as the reason.
    3. Poll responses are consumed one per poll interval while the poll condition holds; when
       the maximum polling duration is used up first, the task fails (timed out) and the cancel
       call is sent.
    4. The success condition, on the last poll response, decides SUCCESS or FAILED.

    Raises SimulationError when the poll responses run out while the task would still poll.
    """
    interval, max_duration = poll_limits(task)
    max_polls = max(1, math.floor(max_duration / interval))
    accepted = EvaluationContext(execute_response)

    if not evaluate_condition(EXECUTE_ACCEPTED, accepted):
        return Outcome("FAILED", f"execute call failed: {_describe(execute_response)}")

    names: dict[str, str | int | None] = {}
    for name, expression in named_expressions(task).items():
        value = evaluate_expression(expression, EvaluationContext(execute_response, names))
        if isinstance(value, bool | list | dict):
            raise SimulationError(f"named expression {name} gave {value!r}, not a scalar")
        names[name] = value
    run_id = names.get("RUN_ID")
    run_id = run_id if isinstance(run_id, str) else None

    condition = poll_condition(task)
    urls: list[str] = []
    final: Response | None = None
    for response in poll_responses[:max_polls]:
        urls.append(poll_call(task, names).url)
        if not evaluate_condition(condition, EvaluationContext(response, names)):
            final = response
            break
    if final is None:
        if len(poll_responses) < max_polls:
            raise SimulationError(
                f"poll responses ran out after {len(poll_responses)} while the poll condition holds"
            )
        last_state = _state(poll_responses[max_polls - 1])
        return Outcome(
            "FAILED",
            f"polling timed out after {max_duration / 60:g} minutes ({max_polls} polls) with the "
            f"run still {last_state or 'unknown'}; the cancel call is sent",
            run_id,
            last_state,
            len(urls),
            tuple(urls),
            cancel_call(task, names),
        )

    state = _state(final)
    if evaluate_condition(success_condition(task), EvaluationContext(final, names)):
        return Outcome("SUCCESS", _describe(final), run_id, state, len(urls), tuple(urls))
    if json_path(execute_response.body, "$.error") is not None:
        reason = f"the function answered an error: {_describe(execute_response)}"
    else:
        reason = f"run ended unsuccessfully: {_describe(final)}"
    return Outcome(
        "FAILED",
        reason,
        run_id,
        state,
        len(urls),
        tuple(urls),
    )
