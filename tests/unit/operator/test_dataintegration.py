"""The Data Integration REST task: its expressions on real answers, the JSON-safe payload,
rendering, and the rendered task played as Data Integration plays it (tests/support/di_player)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import oci
import pytest
from click.testing import CliRunner

from notebook_launcher.operator import dataintegration as di
from notebook_launcher.operator.cli import operator
from tests.support import di_expressions as expr
from tests.support import di_player as play

FUNCTION_ID = "ocid1.fnfunc.oc1.iad.aaaaaaaafunction"
INVOKE_ENDPOINT = "https://abc123.us-ashburn-1.functions.oci.oraclecloud.com"
RUN_ID = "ocid1.datasciencejobrun.oc1.iad.aaaaaaaarun"
DS = "https://datascience.us-ashburn-1.oci.oraclecloud.com/20190101"


def settings(**overrides: Any) -> di.TaskSettings:
    base: dict[str, Any] = {
        "function_id": FUNCTION_ID,
        "invoke_endpoint": INVOKE_ENDPOINT,
        "project_key": "a1b2c3-project-key",
        "region": "us-ashburn-1",
    }
    base.update(overrides)
    return di.TaskSettings(**base)


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    return di.render_task(settings())


def ctx(status: int = 200, body: Any = "", **names: Any) -> expr.EvaluationContext:
    return expr.EvaluationContext(expr.Response.of(status, body), names)


def run_body(state: str, details: str | None = None) -> dict[str, Any]:
    """A GetJobRun response body as OCI returns it (camelCase)."""
    return {
        "id": RUN_ID,
        "displayName": "nightly-report",
        "jobId": "ocid1.datasciencejob.oc1.iad.aaaaaaaajob",
        "projectId": "ocid1.datascienceproject.oc1.iad.aaaaaaaaproject",
        "compartmentId": "ocid1.compartment.oc1..aaaaaaaacompartment",
        "createdBy": FUNCTION_ID,
        "timeAccepted": "2024-05-01T10:00:00.000Z",
        "timeStarted": None if state == "ACCEPTED" else "2024-05-01T10:04:10.000Z",
        "timeFinished": None,
        "lifecycleState": state,
        "lifecycleDetails": details,
        "jobConfigurationOverrideDetails": {"jobType": "DEFAULT", "maximumRuntimeInMinutes": 60},
        "logDetails": {
            "logGroupId": "ocid1.loggroup.oc1.iad.aaaa",
            "logId": "ocid1.log.oc1.iad.aaaa",
        },
        "freeformTags": {},
        "definedTags": {},
    }


def ok(state: str, details: str | None = None) -> expr.Response:
    return expr.Response.of(200, run_body(state, details))


LAUNCHED = expr.Response.of(
    200,
    {
        "id": RUN_ID,
        "jobId": "ocid1.datasciencejob.oc1.iad.aaaaaaaajob",
        "lifecycleState": "ACCEPTED",
        "jobReused": True,
        "runName": "nightly-report",
        "outputUri": "oci://out@ns/reports/" + RUN_ID,
        "pollUrl": f"{DS}/jobRuns/{RUN_ID}",
    },
)


# ================================================================================================
# The task's expressions
# ================================================================================================


def test_every_expression_in_the_task_parses(task: dict[str, Any]) -> None:
    for expression in play.named_expressions(task).values():
        expr.parse_expression(expression)
    expr.parse_expression(play.poll_condition(task))
    expr.parse_expression(play.success_condition(task))
    assert play.named_expressions(task) == {
        "RUN_ID": "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.id') AS String)",
        "FUNCTION_ERROR": "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.error.code') AS String)",
    }


# What the named expressions hold after the function launched a run.
LAUNCHED_NAMES = {"RUN_ID": RUN_ID, "FUNCTION_ERROR": None}


@pytest.mark.parametrize("state", ["ACCEPTED", "IN_PROGRESS", "CANCELING"])
def test_poll_condition_holds_while_the_run_is_unfinished(task: dict[str, Any], state: str) -> None:
    assert expr.evaluate_condition(
        play.poll_condition(task), ctx(200, run_body(state), **LAUNCHED_NAMES)
    )


@pytest.mark.parametrize("state", play.TERMINAL_STATES)
def test_poll_condition_stops_on_every_terminal_state(task: dict[str, Any], state: str) -> None:
    polled = ctx(200, run_body(state), **LAUNCHED_NAMES)
    assert not expr.evaluate_condition(play.poll_condition(task), polled)
    succeeded = expr.evaluate_condition(play.success_condition(task), polled)
    assert succeeded is (state == "SUCCEEDED")


@pytest.mark.parametrize(
    "names",
    [
        {"RUN_ID": None, "FUNCTION_ERROR": "InvalidRequest"},  # the function's error answer
        {"RUN_ID": None, "FUNCTION_ERROR": None},  # a 200 without id
        {"RUN_ID": RUN_ID, "FUNCTION_ERROR": "InvalidRequest"},  # never both, but still no
    ],
)
def test_without_a_run_id_or_with_an_error_nothing_polls_on_or_succeeds(
    task: dict[str, Any], names: dict[str, Any]
) -> None:
    """Even a poll answer that would otherwise succeed (or keep polling) cannot."""
    for answer in (ok("SUCCEEDED"), ok("IN_PROGRESS"), expr.Response.of(503, {"code": "x"})):
        polled = expr.EvaluationContext(answer, names)
        assert not expr.evaluate_condition(play.poll_condition(task), polled)
        assert not expr.evaluate_condition(play.success_condition(task), polled)


# ================================================================================================
# The payload: JSON-safe whatever the values hold
# ================================================================================================

NASTY = {
    "noteBook": 'oci://bucket@ns/reports/q"uarterly\\report.ipynb',
    "jobName": 'it\'s "quoted" and back\\slashed \\" twice',
    "runName": "Résumé — 日本語 ✓ 🚀",
    "parameters": {
        "sql": "SELECT * FROM t WHERE name = 'O''Brien' -- \"x\"",
        "path": "C:\\temp\\new",
        "template": "#{RUN_ID} ${REQUEST_BODY} {{name}}",
        "html": "</script><script>alert(1)</script>",
        "control": "line1\nline2\ttab\u0000nul",
        "nested": {"list": [1, 2.5, None, True, "ü"]},
    },
}


def test_request_body_is_ascii_json_that_parses_back() -> None:
    text = di.build_request_body(NASTY, max_runtime_minutes=45)
    assert text.isascii()
    assert json.loads(text) == {**NASTY, "maxRuntimeInMinutes": 45}


def test_what_the_task_sends_parses_back_to_the_request() -> None:
    task = di.render_task(settings(default_request=NASTY))
    # the task travels as JSON text (oci CLI, API) before Data Integration stores it
    stored = json.loads(json.dumps(task))
    call = play.execute_call(stored)
    assert call.method == "POST"
    assert call.url == f"{INVOKE_ENDPOINT}/20181201/functions/{FUNCTION_ID}/actions/invoke"
    assert json.loads(call.body) == {**NASTY, "maxRuntimeInMinutes": 60}

    # a run binds its own request to REQUEST_BODY: sent exactly as given
    other = {"noteBook": "https://example.com/n.ipynb", "jobName": 'a"b\\c', "runName": "Ωmega"}
    bound = di.build_request_body(other)
    call = play.execute_call(stored, {"REQUEST_BODY": bound})
    assert call.body == bound.encode("ascii")
    assert json.loads(call.body) == {**other, "maxRuntimeInMinutes": 60}


def test_payload_is_bound_to_the_parameter_not_spliced_into_text(task: dict[str, Any]) -> None:
    payload = task["executeRestCallConfig"]["configValues"]["configParamValues"]["requestPayload"]
    assert payload == {"parameterValue": di.REQUEST_BODY_PARAMETER}
    [parameter] = task["parameters"]
    assert parameter["key"] == parameter["name"] == di.REQUEST_BODY_PARAMETER
    assert parameter["typeName"] == "STRING" and parameter["isInput"] is True
    text = json.dumps(task)
    assert "${" not in text and "{{" not in text


def test_max_runtime_ties_the_body_to_the_polling_window() -> None:
    task = di.render_task(settings(max_runtime_minutes=120, provisioning_minutes=20))
    values = task["pollRestCallConfig"]["configValues"]["configParamValues"]
    assert values["pollMaxDuration"] == {"objectValue": 140}
    assert values["pollMaxDurationUnit"] == {"stringValue": "MINUTES"}
    assert values["pollInterval"] == {"objectValue": 30}
    assert values["pollIntervalUnit"] == {"stringValue": "SECONDS"}
    assert play.poll_limits(task) == (30.0, 140 * 60.0)
    assert json.loads(task["parameters"][0]["defaultValue"]) == {"maxRuntimeInMinutes": 120}

    assert json.loads(di.build_request_body({}, max_runtime_minutes=120)) == {
        "maxRuntimeInMinutes": 120
    }
    assert json.loads(di.build_request_body({"maxRuntimeInMinutes": 30}, max_runtime_minutes=120))
    with pytest.raises(di.TaskTemplateError, match="exceeds"):
        di.build_request_body({"maxRuntimeInMinutes": 121}, max_runtime_minutes=120)
    with pytest.raises(di.TaskTemplateError, match="exceeds"):
        di.render_task(settings(default_request={"maxRuntimeInMinutes": 61}))
    with pytest.raises(di.TaskTemplateError, match="positive integer"):
        di.build_request_body({"maxRuntimeInMinutes": "60"})


# ================================================================================================
# Rendering
# ================================================================================================


def test_rendered_task_shape(task: dict[str, Any]) -> None:
    assert task["modelType"] == "REST_TASK"
    assert task["apiCallMode"] == "ASYNC_GENERIC"
    assert task["authConfig"] == {
        "modelType": "OCI_RESOURCE_AUTH_CONFIG",
        "resourcePrincipalSource": "WORKSPACE",
    }
    assert task["registryMetadata"] == {"aggregatorKey": "a1b2c3-project-key"}
    poll = play.poll_call(task, {"RUN_ID": RUN_ID})
    assert (poll.method, poll.url) == ("GET", f"{DS}/jobRuns/{RUN_ID}")
    cancel = play.cancel_call(task, {"RUN_ID": RUN_ID})
    assert (cancel.method, cancel.url) == ("POST", f"{DS}/jobRuns/{RUN_ID}/actions/cancelJobRun")


def test_data_science_endpoint_can_replace_the_region() -> None:
    task = di.render_task(
        settings(region=None, datascience_endpoint="https://datascience.eu-frankfurt-1.oci.example")
    )
    assert play.poll_call(task, {"RUN_ID": "r"}).url == (
        "https://datascience.eu-frankfurt-1.oci.example/20190101/jobRuns/r"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"function_id": "ocid1.compartment.oc1..aaaa"}, "not a function OCID"),
        ({"invoke_endpoint": "http://abc.functions.example"}, "must be https"),
        ({"invoke_endpoint": INVOKE_ENDPOINT + "/20181201"}, "no path"),
        ({"region": None}, "give a region"),
        ({"region": "Ashburn"}, "not a region"),
        ({"project_key": 'x"}'}, "project key"),
        ({"identifier": "launch notebook"}, "identifier"),
        ({"max_runtime_minutes": 0}, "max runtime"),
        ({"poll_interval_seconds": 0}, "poll interval"),
    ],
)
def test_settings_are_checked(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(di.TaskTemplateError, match=message):
        settings(**overrides)


def test_unfilled_template_placeholder_is_refused() -> None:
    template = di.load_template()
    template["description"] = "for {{team}} by {{owner}}"
    with pytest.raises(di.TaskTemplateError, match=r"\{\{owner\}\}, \{\{team\}\}"):
        di.render_task(settings(), template)


def test_template_file_is_the_one_rendered() -> None:
    raw = json.loads(Path(di.TEMPLATE_PATH).read_text(encoding="utf-8"))
    assert raw["executeRestCallConfig"]["configValues"]["configParamValues"]["requestURL"] == {
        "stringValue": "{{invoke_endpoint}}/20181201/functions/{{function_id}}/actions/invoke"
    }


def test_oci_sdk_reads_the_task_as_a_rest_task(task: dict[str, Any]) -> None:
    """The SDK's own models take every field: a misspelt key would be dropped on the way back."""
    client = oci.data_integration.DataIntegrationClient(
        {"region": "us-ashburn-1"},
        signer=oci.auth.signers.InstancePrincipalsSecurityTokenSigner.__new__(
            oci.auth.signers.InstancePrincipalsSecurityTokenSigner
        ),
    )
    model = client.base_client.deserialize_response_data(
        json.dumps(task).encode("utf-8"), "CreateTaskDetails"
    )
    assert isinstance(model, oci.data_integration.models.CreateTaskFromRestTask)
    assert isinstance(model.auth_config, oci.data_integration.models.ResourcePrincipalAuthConfig)
    assert model.api_call_mode == "ASYNC_GENERIC"
    back = client.base_client.sanitize_for_serialization(model)
    expected = copy.deepcopy(task)
    # The SDK's TypedExpression sets modelType TYPED_EXPRESSION itself but its enum check does not
    # list it, so it reads it back as UNKNOWN_ENUM_VALUE.
    for expression in back["typedExpressions"]:
        assert expression["modelType"] == "UNKNOWN_ENUM_VALUE"
        expression["modelType"] = "TYPED_EXPRESSION"
    assert back == expected


# ================================================================================================
# simulate(): the task played as Data Integration plays it
# ================================================================================================


def test_a_run_that_succeeds(task: dict[str, Any]) -> None:
    outcome = play.simulate(task, LAUNCHED, [ok("ACCEPTED"), ok("IN_PROGRESS"), ok("SUCCEEDED")])
    assert outcome.status == "SUCCESS"
    assert outcome.run_id == RUN_ID
    assert outcome.final_state == "SUCCEEDED"
    assert outcome.polls == 3
    assert outcome.poll_urls == (f"{DS}/jobRuns/{RUN_ID}",) * 3
    assert outcome.cancel is None


def test_a_run_that_fails(task: dict[str, Any]) -> None:
    details = "Job run artifact execution failed with exit code 1."
    outcome = play.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("FAILED", details)])
    assert outcome.status == "FAILED"
    assert outcome.final_state == "FAILED"
    assert details in outcome.reason


def test_a_cancelled_run(task: dict[str, Any]) -> None:
    outcome = play.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("CANCELING"), ok("CANCELED")])
    assert (outcome.status, outcome.final_state, outcome.polls) == ("FAILED", "CANCELED", 3)


@pytest.mark.parametrize("state", ["NEEDS_ATTENTION", "DELETED"])
def test_needs_attention_and_deleted_stop_polling_and_fail(
    task: dict[str, Any], state: str
) -> None:
    # more responses than needed: polling must stop at the first terminal state
    outcome = play.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok(state), ok("SUCCEEDED")])
    assert (outcome.status, outcome.final_state, outcome.polls) == ("FAILED", state, 2)


FUNCTION_ERROR_BODY = {
    "error": {
        "code": "InvalidRequest",
        "message": "The request is invalid (noteBook).",
        "details": [{"field": "noteBook", "message": "must be an https:// or oci:// URI"}],
        "opcRequestId": "ABC123",
    }
}


def test_a_function_error_fails_the_task_and_names_the_error(task: dict[str, Any]) -> None:
    """On a direct invoke the function answers an error 200 with its body (the platform would
    replace a 502's body with "function failed"). The execute call is accepted, RUN_ID is null,
    FUNCTION_ERROR holds the code: the first poll answer, whatever it is, ends polling and the
    task fails with the function's own error as the reason."""
    error = expr.Response.of(200, FUNCTION_ERROR_BODY)
    listing = expr.Response.of(400, {"code": "MissingParameter", "message": "compartmentId"})
    for first_poll in (ok("SUCCEEDED"), listing):
        outcome = play.simulate(task, error, [first_poll, ok("SUCCEEDED")])
        assert outcome.status == "FAILED"
        assert outcome.polls == 1 and outcome.run_id is None
        assert outcome.poll_urls == (f"{DS}/jobRuns/",)
        assert "the function answered an error" in outcome.reason
        assert "InvalidRequest" in outcome.reason and "noteBook" in outcome.reason


def test_the_platforms_own_502_fails_the_task_without_polling(task: dict[str, Any]) -> None:
    """When the function itself fails (it crashed, fdk answered 502), OCI answers its own error."""
    failed = expr.Response.of(
        502, {"code": "FunctionInvokeExecutionFailed", "message": "function failed"}
    )
    outcome = play.simulate(task, failed, [ok("SUCCEEDED")])
    assert outcome.status == "FAILED"
    assert outcome.polls == 0 and outcome.run_id is None
    assert "HTTP 502" in outcome.reason and "FunctionInvokeExecutionFailed" in outcome.reason


def test_a_200_without_id_still_fails(task: dict[str, Any]) -> None:
    """Defence in depth: with no run id, the poll URL names no run and the task cannot succeed."""
    outcome = play.simulate(
        task,
        expr.Response.of(200, {"unexpected": True}),
        [expr.Response.of(404, {"code": "NotAuthorizedOrNotFound", "message": "Not found"})],
    )
    assert outcome.status == "FAILED"
    assert outcome.run_id is None
    assert outcome.poll_urls == (f"{DS}/jobRuns/",)
    assert "NotAuthorizedOrNotFound" in outcome.reason


def test_transient_poll_errors_keep_polling(task: dict[str, Any]) -> None:
    throttled = expr.Response.of(429, {"code": "TooManyRequests", "message": "slow down"})
    unavailable = expr.Response.of(503, {"code": "ServiceUnavailable", "message": "later"})
    outcome = play.simulate(
        task, LAUNCHED, [ok("ACCEPTED"), throttled, unavailable, ok("SUCCEEDED")]
    )
    assert (outcome.status, outcome.polls) == ("SUCCESS", 4)


def test_a_missing_policy_on_poll_fails(task: dict[str, Any]) -> None:
    denied = expr.Response.of(
        404,
        {
            "code": "NotAuthorizedOrNotFound",
            "message": "Authorization failed or requested resource not found.",
        },
    )
    outcome = play.simulate(task, LAUNCHED, [denied, ok("SUCCEEDED")])
    assert (outcome.status, outcome.polls) == ("FAILED", 1)
    assert "NotAuthorizedOrNotFound" in outcome.reason


def test_polling_times_out_with_the_run_and_cancels_it() -> None:
    task = di.render_task(
        settings(max_runtime_minutes=1, provisioning_minutes=0, poll_interval_seconds=20)
    )
    # 60 s of polling every 20 s: three polls, then Data Integration gives up
    outcome = play.simulate(task, LAUNCHED, [ok("IN_PROGRESS")] * 5)
    assert outcome.status == "FAILED"
    assert outcome.polls == 3
    assert "timed out" in outcome.reason
    assert outcome.cancel == play.HttpCall("POST", f"{DS}/jobRuns/{RUN_ID}/actions/cancelJobRun")
    # a run that ends within the window succeeds
    within = play.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("IN_PROGRESS"), ok("SUCCEEDED")])
    assert within.status == "SUCCESS"


def test_running_out_of_responses_is_a_test_error(task: dict[str, Any]) -> None:
    with pytest.raises(play.SimulationError, match="ran out"):
        play.simulate(task, LAUNCHED, [ok("ACCEPTED")])


def test_default_success_condition_when_the_task_sets_none(task: dict[str, Any]) -> None:
    bare = copy.deepcopy(task)
    del bare["opConfigValues"]
    assert play.success_condition(bare) == play.EXECUTE_ACCEPTED
    # with the default, a FAILED run would pass: the task's own condition is what stops that
    assert play.simulate(bare, LAUNCHED, [ok("FAILED")]).status == "SUCCESS"
    assert play.simulate(task, LAUNCHED, [ok("FAILED")]).status == "FAILED"


# ================================================================================================
# The command
# ================================================================================================


def test_di_task_command(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"noteBook": "oci://b@ns/n.ipynb", "jobName": 'q"'}), "utf-8")
    args = [
        "di-task",
        "--function-id",
        FUNCTION_ID,
        "--invoke-endpoint",
        INVOKE_ENDPOINT + "/",
        "--project-key",
        "pk",
        "--region",
        "us-ashburn-1",
        "--max-runtime-minutes",
        "90",
        "--default-request",
        str(request),
    ]
    result = CliRunner().invoke(operator, args)
    assert result.exit_code == 0, result.output
    task = json.loads(result.output)
    assert json.loads(play.execute_call(task).body) == {
        "noteBook": "oci://b@ns/n.ipynb",
        "jobName": 'q"',
        "maxRuntimeInMinutes": 90,
    }
    assert play.poll_limits(task) == (30.0, 120 * 60.0)

    bad = CliRunner().invoke(operator, [*args[:2], "ocid1.compartment.oc1..x", *args[3:]])
    assert bad.exit_code == 2
    assert "not a function OCID" in bad.output
