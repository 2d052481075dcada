"""The status-polling variant of the Data Integration REST task, played against the local
service: the execute call and every poll go to the real function handler (through fdk, as a
direct invoke), with exactly the bodies the task sends; simulate() plays the task's own
conditions on those responses, and the last one carries the run report."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.operator import dataintegration as di
from notebook_launcher.operator.dataintegration_status import render_status_task
from tests.functional.operator.test_di_task_against_local_service import (
    FUNCTION_ID,
    MAX_RUNTIME_MINUTES,
    function_env,  # noqa: F401 - the fixture, used by name
    invoke_function,
    run_id_of,
    send,
)
from tests.support import di_expressions as expr
from tests.support import di_player as play


@pytest.fixture
def task(local_service: EmbeddedService) -> dict[str, Any]:
    return render_status_task(
        di.TaskSettings(
            function_id=FUNCTION_ID,
            invoke_endpoint="http://127.0.0.1:9",  # the handler is called in-process below
            project_key="local-project",
            datascience_endpoint=local_service.endpoint,
            max_runtime_minutes=MAX_RUNTIME_MINUTES,
            allow_http=True,
        )
    )


def execute(task: dict[str, Any], notebook: Path, **extra: Any) -> expr.Response:
    request = {"noteBook": str(notebook), "jobName": f"di-st-{uuid.uuid4().hex[:6]}", **extra}
    body = di.build_request_body(request, max_runtime_minutes=MAX_RUNTIME_MINUTES)
    return invoke_function(play.execute_call(task, {di.REQUEST_BODY_PARAMETER: body}).body)


def poll_until_ended(task: dict[str, Any], run_id: str | None, timeout: float = 180) -> list[Any]:
    call = play.status_poll_call(task, {"RUN_ID": run_id})
    assert call.method == "POST" and call.url.endswith(f"/functions/{FUNCTION_ID}/actions/invoke")
    assert json.loads(call.body) == {"action": "status", "id": run_id}
    seen: list[expr.Response] = []
    end = time.monotonic() + timeout
    while True:
        response = invoke_function(call.body)
        state = expr.json_path(response.body, "$.lifecycleState")
        if not seen or expr.json_path(seen[-1].body, "$.lifecycleState") != state:
            seen.append(response)
        if response.status != 200 or state in play.TERMINAL_STATES:
            seen[-1] = response
            return seen
        assert time.monotonic() < end, f"run {run_id} still {state}"
        time.sleep(0.3)


@pytest.mark.usefixtures("function_env")
def test_the_last_poll_carries_the_outputs_of_a_run_that_succeeds(
    task: dict[str, Any], notebooks: Path
) -> None:
    launched = execute(task, notebooks / "records_outputs.ipynb", parameters={"rows": 2})
    assert launched.status == 200, launched.body
    run_id = run_id_of(task, launched)
    polls = poll_until_ended(task, run_id)
    outcome = play.simulate(task, launched, polls)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.polls == len(polls)
    last = json.loads(polls[-1].body)
    assert last["outputs"] == {
        "region": "emea",
        "rows": 4,
        "names": ["a", "b", "emea"],
        "summary": {"rows": 2, "ok": True, "ratio": 0.25, "none": None},
    }
    assert (
        expr.json_path(polls[-1].body, "$.outputs.rows") == 4
    )  # as the task's expressions read it
    assert last["failure"] is None and last["htmlUri"].endswith("/records_outputs.html")


@pytest.mark.usefixtures("function_env")
def test_the_last_poll_carries_the_failure_of_a_run_that_fails(
    task: dict[str, Any], notebooks: Path
) -> None:
    launched = execute(task, notebooks / "fails_keyerror.ipynb")
    polls = poll_until_ended(task, run_id_of(task, launched))
    outcome = play.simulate(task, launched, polls)
    assert outcome.status == "FAILED" and outcome.final_state == "FAILED"
    assert expr.json_path(polls[-1].body, "$.failure.ename") == "KeyError"
    assert expr.json_path(polls[-1].body, "$.failure.sourceCellIndex") == 2


@pytest.mark.usefixtures("function_env")
def test_a_canceled_run_ends_the_task_in_failure_and_says_why_there_is_no_report(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    launched = execute(task, notebooks / "sleeps.ipynb")
    run_id = run_id_of(task, launched)
    client = local_service.datascience_client()
    end = time.monotonic() + 120
    while client.get_job_run(run_id).data.lifecycle_state != "IN_PROGRESS":
        assert time.monotonic() < end
        time.sleep(0.3)
    cancelled = send(local_service, play.cancel_call(task, {"RUN_ID": run_id}))
    assert cancelled.status == 202, cancelled.body  # CancelJobRun: accepted
    polls = poll_until_ended(task, run_id)
    outcome = play.simulate(task, launched, polls)
    assert outcome.status == "FAILED" and outcome.final_state == "CANCELED"
    assert "canceled" in json.loads(polls[-1].body)["reportUnavailable"]


def test_poll_condition_keeps_polling_only_through_transient_answers(
    task: dict[str, Any],
) -> None:
    condition = play.poll_condition(task)
    launched = {"RUN_ID": "ocid1.datasciencejobrun.oc1.iad.x", "FUNCTION_ERROR": None}

    def polls_on(status: int, body: Any, names: dict[str, Any] = launched) -> bool:
        response = expr.Response.of(status, body)
        return expr.evaluate_condition(condition, expr.EvaluationContext(response, names))

    assert polls_on(200, {"lifecycleState": "IN_PROGRESS"})
    assert polls_on(429, "")
    assert polls_on(504, "")
    # On a direct invoke the function answers its errors 200 with the error body.
    assert polls_on(200, {"error": {"code": "ServiceUnavailable", "message": "try again"}})
    assert polls_on(200, {"error": {"code": "TooManyRequests", "message": "slow down"}})
    assert not polls_on(200, {"error": {"code": "NotFound", "message": "no such run"}})
    # A 502 is the Fn agent's own "function failed" (the function's body is dropped).
    assert not polls_on(502, {"code": "FunctionInvokeExecutionFailed", "message": "failed"})
    # A launch that answered an error never polls.
    assert not polls_on(200, {"lifecycleState": "IN_PROGRESS"}, {**launched, "RUN_ID": None})
    assert not polls_on(
        200, {"lifecycleState": "IN_PROGRESS"}, {**launched, "FUNCTION_ERROR": "InvalidRequest"}
    )
    assert not polls_on(200, {"lifecycleState": "SUCCEEDED", "outputs": {}})
