"""The Data Integration REST task played against the local service, end to end.

The execute step sends exactly the bytes Data Integration would send (the task's REQUEST_BODY,
with quotes, backslashes and non-ASCII text in it) to the real function handler, through fdk as
OCI Functions calls it. The function creates the job and run with the real ADS and oci SDK on
the local service. The poll step GETs the task's own poll URL, signed, and keeps every distinct
raw GetJobRun response (status and body). The cancel step POSTs to the task's cancel URL.
simulate() then plays the task's conditions on those real responses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest
import requests

from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.operator import dataintegration as di
from tests.functional.fn_client import as_the_caller_sees_it
from tests.support import di_expressions as expr
from tests.support import di_player as play

fdk_fixtures = pytest.importorskip("fdk.fixtures")
local_profile = pytest.importorskip("notebook_launcher.local_profile")
func = pytest.importorskip("func")

FUNCTION_ID = "ocid1.fnfunc.oc1.iad.aaaaaaaalocalfunction"
MAX_RUNTIME_MINUTES = 30


@pytest.fixture
def task(local_service: EmbeddedService) -> dict[str, Any]:
    """The REST task rendered for the local service's Data Science endpoint."""
    return di.render_task(
        di.TaskSettings(
            function_id=FUNCTION_ID,
            invoke_endpoint="http://127.0.0.1:9",  # the handler is called in-process below
            project_key="local-project",
            datascience_endpoint=local_service.endpoint,
            max_runtime_minutes=MAX_RUNTIME_MINUTES,
            allow_http=True,
        )
    )


@pytest.fixture
def function_env(
    local_service: EmbeddedService, project_id: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The function's configuration for the local service, as OCI Functions passes it."""
    config = local_profile.local_function_config(
        local_service,
        project_id,
        local_profile.service_namespace(Path(local_service.data_dir)),
    )
    for key in ("OCI_RESOURCE_PRINCIPAL_VERSION", "NB_SESSION_OCID", "OCI_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in config.items():
        monkeypatch.setenv(key, value)
    local_service.clear_faults()
    yield
    local_service.clear_faults()


def invoke_function(body: bytes) -> expr.Response:
    """func.handler on a direct invoke (no API Gateway): the status and body a caller sees."""
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)).isoformat()

    async def call() -> tuple[Any, Any, Any]:
        coroutine = await fdk_fixtures.setup_fn_call(
            func.handler, content=io.BytesIO(body), deadline=deadline
        )
        answer: tuple[Any, Any, Any] = await coroutine
        return answer

    data, status, _headers = asyncio.run(call())
    text = data.decode("utf-8") if isinstance(data, bytes) else str(data)
    return expr.Response(*as_the_caller_sees_it(int(status), text, gateway=False))


def signer(service: EmbeddedService) -> oci.signer.Signer:
    config = service.oci_config()
    return oci.signer.Signer(
        tenancy=config["tenancy"],
        user=config["user"],
        fingerprint=config["fingerprint"],
        private_key_file_location=config["key_file"],
    )


def send(service: EmbeddedService, call: play.HttpCall) -> expr.Response:
    """A signed HTTP request to the service, as the workspace's principal would send it."""
    answer = requests.request(
        call.method, call.url, data=call.body or None, auth=signer(service), timeout=30
    )
    return expr.Response(answer.status_code, answer.text)


def run_id_of(task: dict[str, Any], execute: expr.Response) -> str | None:
    value = expr.evaluate_expression(
        play.named_expressions(task)["RUN_ID"], expr.EvaluationContext(execute)
    )
    assert value is None or isinstance(value, str)
    return value


def collect_polls(
    service: EmbeddedService, task: dict[str, Any], run_id: str | None, timeout: float = 180
) -> list[expr.Response]:
    """GET the task's poll URL until the run is in a terminal state (judged from the raw body,
    not by the task's condition), keeping each distinct state's first response and the last."""
    url_call = play.poll_call(task, {"RUN_ID": run_id})
    seen: list[expr.Response] = []
    deadline = time.monotonic() + timeout
    while True:
        response = send(service, url_call)
        state = expr.json_path(response.body, "$.lifecycleState")
        if not seen or expr.json_path(seen[-1].body, "$.lifecycleState") != state:
            seen.append(response)
        if response.status != 200 or state in play.TERMINAL_STATES:
            seen[-1] = response
            return seen
        assert time.monotonic() < deadline, f"run {run_id} still {state} after {timeout} s"
        time.sleep(0.3)


def launch(
    task: dict[str, Any], notebook: Path, **extra: Any
) -> tuple[expr.Response, dict[str, Any]]:
    request = {
        "noteBook": str(notebook),
        "jobName": f"di-{notebook.stem}-{uuid.uuid4().hex[:6]}",
        "runName": 'DI run: "quoted", back\\slash, ünïcödé ✓',
        **extra,
    }
    body = di.build_request_body(request, max_runtime_minutes=MAX_RUNTIME_MINUTES)
    call = play.execute_call(task, {di.REQUEST_BODY_PARAMETER: body})
    assert json.loads(call.body) == {**request, "maxRuntimeInMinutes": MAX_RUNTIME_MINUTES}
    return invoke_function(call.body), request


@pytest.mark.usefixtures("function_env")
def test_a_run_that_succeeds_ends_the_task_in_success(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    execute, request = launch(task, notebooks / "hello.ipynb")
    assert execute.status == 200, execute.body
    answer = json.loads(execute.body)
    assert answer["runName"] == request["runName"]  # the value crossed intact

    run_id = run_id_of(task, execute)
    assert run_id is not None and run_id.startswith("ocid1.datasciencejobrun.")
    polls = collect_polls(local_service, task, run_id)
    outcome = play.simulate(task, execute, polls)

    assert outcome.status == "SUCCESS", outcome.reason
    assert outcome.final_state == "SUCCEEDED"
    assert outcome.run_id == run_id
    assert outcome.polls == len(polls)  # polled through every unfinished state, stopped at the end
    assert outcome.poll_urls[0] == f"{local_service.endpoint}/20190101/jobRuns/{run_id}"
    assert json.loads(polls[-1].body)["id"] == run_id


@pytest.mark.usefixtures("function_env")
def test_a_run_that_fails_ends_the_task_in_failure(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    execute, _ = launch(task, notebooks / "fails.ipynb")
    assert execute.status == 200, execute.body
    polls = collect_polls(local_service, task, run_id_of(task, execute))
    outcome = play.simulate(task, execute, polls)

    assert outcome.status == "FAILED"
    assert outcome.final_state == "FAILED"
    assert outcome.polls == len(polls)
    assert "exit code 1" in outcome.reason


@pytest.mark.usefixtures("function_env")
def test_a_cancelled_run_ends_the_task_in_failure(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    execute, _ = launch(task, notebooks / "sleeps.ipynb")
    assert execute.status == 200, execute.body
    run_id = run_id_of(task, execute)

    client = local_service.datascience_client()
    deadline = time.monotonic() + 120
    while client.get_job_run(run_id).data.lifecycle_state != "IN_PROGRESS":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.3)
    before = send(local_service, play.poll_call(task, {"RUN_ID": run_id}))
    names: dict[str, Any] = {
        name: expr.evaluate_expression(expression, expr.EvaluationContext(execute))
        for name, expression in play.named_expressions(task).items()
    }
    assert names == {"RUN_ID": run_id, "FUNCTION_ERROR": None}
    assert expr.evaluate_condition(play.poll_condition(task), expr.EvaluationContext(before, names))

    # the task is stopped: Data Integration sends the cancel call, a POST, and the run stays
    cancel = play.cancel_call(task, {"RUN_ID": run_id})
    assert cancel.method == "POST" and cancel.url.endswith(
        f"/jobRuns/{run_id}/actions/cancelJobRun"
    )
    answer = send(local_service, cancel)
    assert answer.status in (200, 202, 204), answer.body

    polls = [before, *collect_polls(local_service, task, run_id)]
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "FAILED"
    assert outcome.final_state == "CANCELED"
    assert client.get_job_run(run_id).data.lifecycle_state == "CANCELED"  # cancelled, not deleted


@pytest.mark.usefixtures("function_env")
def test_a_function_error_fails_the_task_with_the_functions_error(
    local_service: EmbeddedService, task: dict[str, Any], notebooks: Path
) -> None:
    """The function answers a typo 200 with its error body (the Fn agent would replace a 502's
    body with "function failed"); the task takes no run id, stops at the first poll answer
    (the real one the service gives for a URL without a run) and fails naming the field."""
    execute, _ = launch(task, notebooks / "hello.ipynb", noteBookk="typo")
    assert execute.status == 200
    error = json.loads(execute.body)["error"]
    assert error["code"] == "InvalidRequest" and "noteBookk" in json.dumps(error["details"])
    assert run_id_of(task, execute) is None

    polls = collect_polls(local_service, task, None)
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "FAILED" and outcome.polls == 1
    assert "the function answered an error" in outcome.reason
    assert "InvalidRequest" in outcome.reason


def test_an_unknown_run_fails_the_task(
    local_service: EmbeddedService, task: dict[str, Any]
) -> None:
    """The real 404 GetJobRun gives (as with a missing policy) stops polling and fails."""
    missing = "ocid1.datasciencejobrun.oc1.iad.aaaaaaaanosuchrun"
    execute = expr.Response.of(200, {"id": missing, "lifecycleState": "ACCEPTED"})
    polls = collect_polls(local_service, task, missing)
    assert [p.status for p in polls] == [404]
    outcome = play.simulate(task, execute, polls)
    assert outcome.status == "FAILED"
    assert "NotAuthorizedOrNotFound" in outcome.reason
