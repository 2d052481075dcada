"""The status-polling variant of the REST task: rendered from its own template, read by the
oci SDK's own models, the same execute and cancel calls as the GetJobRun variant."""

from __future__ import annotations

import copy
import json
from typing import Any

import oci
from click.testing import CliRunner

from notebook_launcher.cli import main
from notebook_launcher.operator import dataintegration as di
from notebook_launcher.operator.dataintegration_status import render_status_task
from tests.support import di_player as play

FUNCTION_ID = "ocid1.fnfunc.oc1.iad.aaaaexample"
INVOKE = "https://abc.us-ashburn-1.functions.oci.oraclecloud.com"
RUN_ID = "ocid1.datasciencejobrun.oc1.iad.aaaarun"


def settings() -> di.TaskSettings:
    return di.TaskSettings(
        function_id=FUNCTION_ID, invoke_endpoint=INVOKE, project_key="p", region="us-ashburn-1"
    )


def test_only_the_poll_call_differs_from_the_jobrun_variant() -> None:
    status_task, jobrun_task = render_status_task(settings()), di.render_task(settings())
    for key in ("executeRestCallConfig", "cancelRestCallConfig", "typedExpressions", "parameters"):
        assert status_task[key] == jobrun_task[key], key
    assert play.success_condition(status_task) == play.success_condition(jobrun_task)
    assert play.poll_limits(status_task) == play.poll_limits(jobrun_task)
    call = play.status_poll_call(status_task, {"RUN_ID": RUN_ID})
    assert call.method == "POST"
    assert call.url == f"{INVOKE}/20181201/functions/{FUNCTION_ID}/actions/invoke"
    assert json.loads(call.body) == {"action": "status", "id": RUN_ID}


def test_oci_sdk_reads_the_status_variant_as_a_rest_task() -> None:
    task = render_status_task(settings())
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
    assert model.poll_rest_call_config.method_type == "POST"
    back: dict[str, Any] = client.base_client.sanitize_for_serialization(model)
    for expression in back["typedExpressions"]:
        expression["modelType"] = "TYPED_EXPRESSION"  # see test_dataintegration
    assert back == copy.deepcopy(task)


def test_di_task_cli_renders_the_variant_on_request() -> None:
    args = [
        "di-task",
        "--function-id",
        FUNCTION_ID,
        "--invoke-endpoint",
        INVOKE,
        "--region",
        "us-ashburn-1",
        "--project-key",
        "p",
    ]
    default = CliRunner().invoke(main, args)
    chosen = CliRunner().invoke(main, [*args, "--poll", "function"])
    assert default.exit_code == 0 and chosen.exit_code == 0, chosen.output
    assert json.loads(default.output)["pollRestCallConfig"]["methodType"] == "GET"
    assert json.loads(chosen.output) == render_status_task(settings())
