"""The Data Integration REST task: expressions, the JSON-safe payload, rendering, simulate()."""

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


def ctx(status: int = 200, body: Any = "", **names: Any) -> di.EvaluationContext:
    return di.EvaluationContext(di.Response.of(status, body), names)


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


def ok(state: str, details: str | None = None) -> di.Response:
    return di.Response.of(200, run_body(state, details))


LAUNCHED = di.Response.of(
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
# Expressions
# ================================================================================================


def test_tokenizer() -> None:
    tokens = di.tokenize("json_path(SYS.RESPONSE_PAYLOAD, 'it''s') != #{RUN_ID} and 42 <= 7")
    assert [(t.kind, t.value) for t in tokens] == [
        ("NAME", "json_path"),
        ("LPAREN", "("),
        ("NAME", "SYS.RESPONSE_PAYLOAD"),
        ("COMMA", ","),
        ("STRING", "it's"),
        ("RPAREN", ")"),
        ("OP", "!="),
        ("PARAM", "RUN_ID"),
        ("NAME", "AND"),
        ("INT", "42"),
        ("OP", "<="),
        ("INT", "7"),
        ("EOF", ""),
    ]
    with pytest.raises(di.ExpressionError, match="unterminated"):
        di.tokenize("'open")
    with pytest.raises(di.ExpressionError, match="unexpected character"):
        di.tokenize("1 + 1")
    with pytest.raises(di.ExpressionError, match="malformed"):
        di.tokenize("#{not closed")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # AND binds tighter than OR
        ("1 = 1 OR 1 = 2 AND 1 = 2", True),
        ("(1 = 1 OR 1 = 2) AND 1 = 2", False),
        # NOT binds tighter than AND, looser than comparison
        ("NOT 1 = 2 AND 1 = 1", True),
        ("NOT (1 = 1 AND 1 = 2)", True),
        ("NOT NOT 1 = 1", True),
        ("1 = 2 OR NOT 1 = 2 AND 2 > 1", True),
        # comparisons
        ("3 < 4 AND 4 > 3 AND 3 <= 3 AND 3 >= 3 AND 3 != 4 AND 3 <> 4", True),
        ("'abc' < 'abd'", True),
        ("'SUCCEEDED' = 'succeeded'", False),  # case-sensitive values
        # keywords in any case
        ("sys.response_status = 200 and not sys.response_status = 500", True),
    ],
)
def test_precedence_and_comparisons(expression: str, expected: bool) -> None:
    assert di.evaluate_expression(expression, ctx(200)) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing')", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x'", None),
        ("NOT json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x'", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' OR 1 = 1", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' OR 1 = 2", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' AND 1 = 2", False),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' AND 1 = 1", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') IS NULL", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b') IS NOT NULL", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.nothing') IS NOT NULL", False),
        ("CAST(NULL AS String) IS NULL", True),
        ("NULL = NULL", None),
    ],
)
def test_null_is_unknown(expression: str, expected: bool | None) -> None:
    assert (
        di.evaluate_expression(expression, ctx(200, {"a": {"b": 1}, "nothing": None})) is expected
    )


def test_unknown_conditions_are_false() -> None:
    body = {"lifecycleState": None}
    assert not di.evaluate_condition(
        "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) != 'SUCCEEDED'",
        ctx(200, body),
    )
    assert not di.evaluate_condition(
        "NOT CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) = 'SUCCEEDED'",
        ctx(200, body),
    )


def test_json_path_subset() -> None:
    document = {"a": {"b": [10, {"c d": "deep"}]}, "n": 5, "t": True, "o": {"k": "v"}}
    c = ctx(200, document)
    assert di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[0]')", c) == 10
    assert di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[1][''c d'']')", c) == (
        "deep"
    )
    assert di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[7]')", c) is None
    assert di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.n.deeper')", c) is None
    assert di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$')", c) == document
    # a body that is not JSON has no values in it
    assert (
        di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.id')", ctx(502, "<html>"))
        is None
    )
    with pytest.raises(di.ExpressionError, match="starting with"):
        di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, 'id')", c)
    with pytest.raises(di.ExpressionError, match="unsupported json_path step"):
        di.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$..id')", c)


def test_casts() -> None:
    c = ctx(200, {"n": 5, "t": True, "o": {"k": "v"}, "s": "12", "bad": "twelve", "f": 2.0})
    assert (
        di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.n') AS String)", c) == "5"
    )
    assert di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.t') AS String)", c) == (
        "true"
    )
    assert di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.o') AS String)", c) == (
        '{"k":"v"}'
    )
    assert (
        di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.s') AS Integer)", c) == 12
    )
    assert di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.f') AS integer)", c) == 2
    assert di.evaluate_expression("CAST(SYS.RESPONSE_STATUS AS String) = '200'", c) is True
    with pytest.raises(di.ExpressionError, match="cannot CAST"):
        di.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.bad') AS Integer)", c)
    with pytest.raises(di.ExpressionError, match="unknown CAST type"):
        di.parse_expression("CAST(SYS.RESPONSE_STATUS AS Date)")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("NVL(json_path(SYS.RESPONSE_PAYLOAD, '$.id'), 'x') = 'x'", "unknown function 'NVL'"),
        ("UPPER('a') = 'A'", "unknown function 'UPPER'"),
        ("SYS.RESPONSE_HEADERS = 1", "unknown identifier"),
        ("lifecycleState = 'SUCCEEDED'", "unknown identifier"),
        ("SYS.RESPONSE_STATUS = '200'", "cannot compare int"),
        ("#{UNDEFINED} = 'x'", "not defined"),
        ("1 = 1 1", "unexpected"),
        ("1 = 1 AND", "unexpected"),
        ("(1 = 1", "expected RPAREN"),
        ("1 AND 1 = 1", "AND needs a condition"),
        ("json_path(SYS.RESPONSE_PAYLOAD) IS NULL", "2 arguments"),
        ("SYS.RESPONSE_STATUS IS 200", "expected NULL"),
    ],
)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(di.ExpressionError, match=message):
        di.evaluate_expression(expression, ctx(200, {"id": "x"}))


def test_named_values_and_url_substitution() -> None:
    assert di.evaluate_condition("#{RUN_ID} = 'r1' AND #{RUN_ID} IS NOT NULL", ctx(RUN_ID="r1"))
    assert di.substitute_names("/jobRuns/#{RUN_ID}/x", {"RUN_ID": "r1"}) == "/jobRuns/r1/x"
    assert di.substitute_names("/jobRuns/#{RUN_ID}", {"RUN_ID": None}) == "/jobRuns/"
    with pytest.raises(di.ExpressionError):
        di.substitute_names("/jobRuns/#{OTHER}", {"RUN_ID": "r1"})


def test_every_expression_in_the_task_parses(task: dict[str, Any]) -> None:
    for expression in di.named_expressions(task).values():
        di.parse_expression(expression)
    di.parse_expression(di.poll_condition(task))
    di.parse_expression(di.success_condition(task))
    assert di.named_expressions(task) == {
        "RUN_ID": "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.id') AS String)",
        "FUNCTION_ERROR": "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.error.code') AS String)",
    }


# What the named expressions hold after the function launched a run.
LAUNCHED_NAMES = {"RUN_ID": RUN_ID, "FUNCTION_ERROR": None}


@pytest.mark.parametrize("state", ["ACCEPTED", "IN_PROGRESS", "CANCELING"])
def test_poll_condition_holds_while_the_run_is_unfinished(task: dict[str, Any], state: str) -> None:
    assert di.evaluate_condition(
        di.poll_condition(task), ctx(200, run_body(state), **LAUNCHED_NAMES)
    )


@pytest.mark.parametrize("state", di.TERMINAL_STATES)
def test_poll_condition_stops_on_every_terminal_state(task: dict[str, Any], state: str) -> None:
    polled = ctx(200, run_body(state), **LAUNCHED_NAMES)
    assert not di.evaluate_condition(di.poll_condition(task), polled)
    succeeded = di.evaluate_condition(di.success_condition(task), polled)
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
    for answer in (ok("SUCCEEDED"), ok("IN_PROGRESS"), di.Response.of(503, {"code": "x"})):
        polled = di.EvaluationContext(answer, names)
        assert not di.evaluate_condition(di.poll_condition(task), polled)
        assert not di.evaluate_condition(di.success_condition(task), polled)


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
    call = di.execute_call(stored)
    assert call.method == "POST"
    assert call.url == f"{INVOKE_ENDPOINT}/20181201/functions/{FUNCTION_ID}/actions/invoke"
    assert json.loads(call.body) == {**NASTY, "maxRuntimeInMinutes": 60}

    # a run binds its own request to REQUEST_BODY: sent exactly as given
    other = {"noteBook": "https://example.com/n.ipynb", "jobName": 'a"b\\c', "runName": "Ωmega"}
    bound = di.build_request_body(other)
    call = di.execute_call(stored, {"REQUEST_BODY": bound})
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
    assert di.poll_limits(task) == (30.0, 140 * 60.0)
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
    poll = di.poll_call(task, {"RUN_ID": RUN_ID})
    assert (poll.method, poll.url) == ("GET", f"{DS}/jobRuns/{RUN_ID}")
    cancel = di.cancel_call(task, {"RUN_ID": RUN_ID})
    assert (cancel.method, cancel.url) == ("POST", f"{DS}/jobRuns/{RUN_ID}/actions/cancelJobRun")


def test_data_science_endpoint_can_replace_the_region() -> None:
    task = di.render_task(
        settings(region=None, datascience_endpoint="https://datascience.eu-frankfurt-1.oci.example")
    )
    assert di.poll_call(task, {"RUN_ID": "r"}).url == (
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
    outcome = di.simulate(task, LAUNCHED, [ok("ACCEPTED"), ok("IN_PROGRESS"), ok("SUCCEEDED")])
    assert outcome.status == "SUCCESS"
    assert outcome.run_id == RUN_ID
    assert outcome.final_state == "SUCCEEDED"
    assert outcome.polls == 3
    assert outcome.poll_urls == (f"{DS}/jobRuns/{RUN_ID}",) * 3
    assert outcome.cancel is None


def test_a_run_that_fails(task: dict[str, Any]) -> None:
    details = "Job run artifact execution failed with exit code 1."
    outcome = di.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("FAILED", details)])
    assert outcome.status == "FAILED"
    assert outcome.final_state == "FAILED"
    assert details in outcome.reason


def test_a_cancelled_run(task: dict[str, Any]) -> None:
    outcome = di.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("CANCELING"), ok("CANCELED")])
    assert (outcome.status, outcome.final_state, outcome.polls) == ("FAILED", "CANCELED", 3)


@pytest.mark.parametrize("state", ["NEEDS_ATTENTION", "DELETED"])
def test_needs_attention_and_deleted_stop_polling_and_fail(
    task: dict[str, Any], state: str
) -> None:
    # more responses than needed: polling must stop at the first terminal state
    outcome = di.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok(state), ok("SUCCEEDED")])
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
    error = di.Response.of(200, FUNCTION_ERROR_BODY)
    listing = di.Response.of(400, {"code": "MissingParameter", "message": "compartmentId"})
    for first_poll in (ok("SUCCEEDED"), listing):
        outcome = di.simulate(task, error, [first_poll, ok("SUCCEEDED")])
        assert outcome.status == "FAILED"
        assert outcome.polls == 1 and outcome.run_id is None
        assert outcome.poll_urls == (f"{DS}/jobRuns/",)
        assert "the function answered an error" in outcome.reason
        assert "InvalidRequest" in outcome.reason and "noteBook" in outcome.reason


def test_the_platforms_own_502_fails_the_task_without_polling(task: dict[str, Any]) -> None:
    """When the function itself fails (it crashed, fdk answered 502), OCI answers its own error."""
    failed = di.Response.of(
        502, {"code": "FunctionInvokeExecutionFailed", "message": "function failed"}
    )
    outcome = di.simulate(task, failed, [ok("SUCCEEDED")])
    assert outcome.status == "FAILED"
    assert outcome.polls == 0 and outcome.run_id is None
    assert "HTTP 502" in outcome.reason and "FunctionInvokeExecutionFailed" in outcome.reason


def test_a_200_without_id_still_fails(task: dict[str, Any]) -> None:
    """Defence in depth: with no run id, the poll URL names no run and the task cannot succeed."""
    outcome = di.simulate(
        task,
        di.Response.of(200, {"unexpected": True}),
        [di.Response.of(404, {"code": "NotAuthorizedOrNotFound", "message": "Not found"})],
    )
    assert outcome.status == "FAILED"
    assert outcome.run_id is None
    assert outcome.poll_urls == (f"{DS}/jobRuns/",)
    assert "NotAuthorizedOrNotFound" in outcome.reason


def test_transient_poll_errors_keep_polling(task: dict[str, Any]) -> None:
    throttled = di.Response.of(429, {"code": "TooManyRequests", "message": "slow down"})
    unavailable = di.Response.of(503, {"code": "ServiceUnavailable", "message": "later"})
    outcome = di.simulate(task, LAUNCHED, [ok("ACCEPTED"), throttled, unavailable, ok("SUCCEEDED")])
    assert (outcome.status, outcome.polls) == ("SUCCESS", 4)


def test_a_missing_policy_on_poll_fails(task: dict[str, Any]) -> None:
    denied = di.Response.of(
        404,
        {
            "code": "NotAuthorizedOrNotFound",
            "message": "Authorization failed or requested resource not found.",
        },
    )
    outcome = di.simulate(task, LAUNCHED, [denied, ok("SUCCEEDED")])
    assert (outcome.status, outcome.polls) == ("FAILED", 1)
    assert "NotAuthorizedOrNotFound" in outcome.reason


def test_polling_times_out_with_the_run_and_cancels_it() -> None:
    task = di.render_task(
        settings(max_runtime_minutes=1, provisioning_minutes=0, poll_interval_seconds=20)
    )
    # 60 s of polling every 20 s: three polls, then Data Integration gives up
    outcome = di.simulate(task, LAUNCHED, [ok("IN_PROGRESS")] * 5)
    assert outcome.status == "FAILED"
    assert outcome.polls == 3
    assert "timed out" in outcome.reason
    assert outcome.cancel == di.HttpCall("POST", f"{DS}/jobRuns/{RUN_ID}/actions/cancelJobRun")
    # a run that ends within the window succeeds
    within = di.simulate(task, LAUNCHED, [ok("IN_PROGRESS"), ok("IN_PROGRESS"), ok("SUCCEEDED")])
    assert within.status == "SUCCESS"


def test_running_out_of_responses_is_a_test_error(task: dict[str, Any]) -> None:
    with pytest.raises(di.SimulationError, match="ran out"):
        di.simulate(task, LAUNCHED, [ok("ACCEPTED")])


def test_default_success_condition_when_the_task_sets_none(task: dict[str, Any]) -> None:
    bare = copy.deepcopy(task)
    del bare["opConfigValues"]
    assert di.success_condition(bare) == di.EXECUTE_ACCEPTED
    # with the default, a FAILED run would pass: the task's own condition is what stops that
    assert di.simulate(bare, LAUNCHED, [ok("FAILED")]).status == "SUCCESS"
    assert di.simulate(task, LAUNCHED, [ok("FAILED")]).status == "FAILED"


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
    assert json.loads(di.execute_call(task).body) == {
        "noteBook": "oci://b@ns/n.ipynb",
        "jobName": 'q"',
        "maxRuntimeInMinutes": 90,
    }
    assert di.poll_limits(task) == (30.0, 120 * 60.0)

    bad = CliRunner().invoke(operator, [*args[:2], "ocid1.compartment.oc1..x", *args[3:]])
    assert bad.exit_code == 2
    assert "not a function OCID" in bad.output
