"""The Data Integration task's pipeline variant played against the local service: the execute
step's exact bytes to the real function (a pipeline request), the task's own GetPipelineRun
poll URL signed, its cancel URL; simulate() judges the real responses with the task's
expressions. A pipeline that succeeds, one with a failed step, one canceled."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.operator import dataintegration as di
from notebook_launcher.operator.dataintegration_pipeline import render_pipeline_task
from tests.functional.operator.test_di_task_against_local_service import (
    FUNCTION_ID,
    MAX_RUNTIME_MINUTES,
    collect_polls,
    function_env,  # noqa: F401 - the fixture, used by name
    invoke_function,
    run_id_of,
    send,
)
from tests.support import di_expressions as expr
from tests.support import di_player as play


@pytest.fixture
def task(local_service: EmbeddedService) -> dict[str, Any]:
    return render_pipeline_task(
        di.TaskSettings(
            function_id=FUNCTION_ID,
            invoke_endpoint="http://127.0.0.1:9",
            project_key="local-project",
            datascience_endpoint=local_service.endpoint,
            max_runtime_minutes=MAX_RUNTIME_MINUTES,
            allow_http=True,
        )
    )


def launch(task: dict[str, Any], steps: list[dict[str, Any]]) -> expr.Response:
    request = {"name": f"di-pipe-{uuid.uuid4().hex[:6]}", "steps": steps}
    body = di.build_request_body(request, max_runtime_minutes=MAX_RUNTIME_MINUTES)
    call = play.execute_call(task, {di.REQUEST_BODY_PARAMETER: body})
    return invoke_function(call.body)


@pytest.mark.usefixtures("function_env")
def test_a_pipeline_that_succeeds_ends_the_task_in_success(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    hello = str(notebooks / "hello.ipynb")
    execute = launch(
        task,
        [{"name": "first", "noteBook": hello}, {"name": "then", "noteBook": hello,
                                                "dependsOn": ["first"]}],
    )  # fmt: skip
    run_id = run_id_of(task, execute)
    assert run_id is not None and run_id.startswith("ocid1.datasciencepipelinerun."), execute.body
    polls = collect_polls(local_service, task, run_id, timeout=240)
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.final_state == "SUCCEEDED"
    assert outcome.poll_urls[0] == f"{local_service.endpoint}/20190101/pipelineRuns/{run_id}"
    assert [s["lifecycleState"] for s in json.loads(polls[-1].body)["stepRuns"]] == [
        "SUCCEEDED",
        "SUCCEEDED",
    ]


@pytest.mark.usefixtures("function_env")
def test_a_pipeline_with_a_failed_step_ends_the_task_in_failure(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    execute = launch(
        task,
        [{"name": "breaks", "noteBook": str(notebooks / "fails.ipynb")},
         {"name": "after", "noteBook": str(notebooks / "hello.ipynb"), "dependsOn": ["breaks"]}],
    )  # fmt: skip
    polls = collect_polls(local_service, task, run_id_of(task, execute), timeout=240)
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "FAILED"
    assert outcome.final_state == "FAILED"
    steps = {s["stepName"]: s["lifecycleState"] for s in json.loads(polls[-1].body)["stepRuns"]}
    assert steps == {"breaks": "FAILED", "after": "SKIPPED"}


@pytest.mark.usefixtures("function_env")
def test_a_canceled_pipeline_ends_the_task_in_failure(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    execute = launch(task, [{"name": "sleeper", "noteBook": str(notebooks / "sleeps.ipynb")}])
    run_id = run_id_of(task, execute)
    assert run_id is not None
    client = local_service.datascience_client()
    deadline = time.monotonic() + 120
    while client.get_pipeline_run(run_id).data.lifecycle_state != "IN_PROGRESS":
        assert time.monotonic() < deadline, "the pipeline run never started"
        time.sleep(0.3)
    cancel = play.cancel_call(task, {"RUN_ID": run_id})
    assert cancel.url.endswith(f"/pipelineRuns/{run_id}/actions/cancelPipelineRun")
    assert send(local_service, cancel).status in (200, 202, 204)
    polls = collect_polls(local_service, task, run_id, timeout=120)
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "FAILED"
    assert outcome.final_state == "CANCELED"
