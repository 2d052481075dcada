"""Parameter names checked against the notebook's `parameters` cell, through the function on
the local service: a misspelt name warns (and the run goes ahead), `strictParameters` and
NL_STRICT_PARAMETERS refuse it with nothing created, for a notebook, a folder and pipeline steps."""

from __future__ import annotations

import json
import uuid
from typing import Any

import oci

from tests.functional.function.conftest import FunctionUnderTest, notebook
from tests.functional.function.test_notebook_sources import Bucket, source_files
from tests.functional.function.test_pipelines import create_calls, wait_pipeline


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def counts(fn: FunctionUnderTest) -> dict[str, int]:
    """Every job, job run, pipeline, pipeline run and schedule in the compartment."""
    client = fn.service.datascience_client()
    compartment = fn.config["NL_COMPARTMENT_ID"]
    listings = {
        "jobs": client.list_jobs,
        "jobRuns": client.list_job_runs,
        "pipelines": client.list_pipelines,
        "pipelineRuns": client.list_pipeline_runs,
        "schedules": client.list_schedules,
    }
    return {
        kind: len(oci.pagination.list_call_get_all_results(list_, compartment_id=compartment).data)
        for kind, list_ in listings.items()
    }


def warning_on(answer: dict[str, Any], field: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [w for w in answer.get("warnings", []) if w["field"] == field]
    assert len(found) == 1, answer.get("warnings")
    return found[0]


def refused_fields(fn: FunctionUnderTest, body: dict[str, Any]) -> set[str]:
    """Launch body through API Gateway; assert a 400 with nothing created; the fields named."""
    before = counts(fn)
    fn.service.reset_stats()
    status, answer = fn.invoke(body, gateway=True)
    assert status == 400 and answer["error"]["code"] == "InvalidRequest", answer
    assert create_calls(fn.service.stats()) == {}
    assert counts(fn) == before
    return {detail["field"] for detail in answer["error"]["details"]}


def test_a_misspelt_parameter_warns_with_a_suggestion_and_the_run_goes_ahead(
    fn: FunctionUnderTest,
) -> None:
    answer = fn.launch(
        {
            "noteBook": notebook("region_step.ipynb"),
            "jobName": unique("misspelt"),
            "parameters": {"regoin": "apac", "needs_file": ""},
        }
    )
    warning = warning_on(answer, "parameters.regoin")
    assert warning["didYouMean"] == "region" and "did you mean 'region'?" in warning["message"]
    assert len(answer["warnings"]) == 1  # needs_file is declared: no warning for it
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"  # on the default region
    # The run says so too: in its report, and at the top of its log (before the notebook ran).
    report = json.loads(fn.output_file(answer["outputUri"], "report.json").read_text())
    assert report["warnings"] == answer["warnings"]
    log = fn.service.logs(answer["id"])
    line = "notebook-launcher: WARNING parameters.regoin: 'regoin' is not assigned"
    assert line in log and "did you mean 'region'?" in log
    assert log.index(line) < log.index("step done for global")

    correct = fn.launch(
        {
            "noteBook": notebook("region_step.ipynb"),
            "parameters": {"region": "apac"},
            "dryRun": True,
        }
    )
    assert "warnings" not in correct


def test_strict_parameters_refuses_a_misspelt_name_and_creates_nothing(
    fn: FunctionUnderTest,
) -> None:
    body = {
        "noteBook": notebook("region_step.ipynb"),
        "jobName": unique("strict"),
        "parameters": {"regoin": "apac", "region": "emea"},
        "strictParameters": True,
    }
    assert refused_fields(fn, body) == {"parameters.regoin"}


def test_the_setting_makes_every_launch_strict_and_the_field_overrides_it(
    fn: FunctionUnderTest,
) -> None:
    strict = FunctionUnderTest(
        fn.service, {**fn.config, "NL_STRICT_PARAMETERS": "true"}, fn.monkeypatch
    )
    body = {
        "noteBook": notebook("region_step.ipynb"),
        "jobName": unique("setting"),
        "parameters": {"regoin": "apac"},
    }
    assert refused_fields(strict, body) == {"parameters.regoin"}
    answer = strict.launch({**body, "strictParameters": False, "dryRun": True})
    assert warning_on(answer, "parameters.regoin")["didYouMean"] == "region"


def test_a_folder_notebook_is_checked_like_a_single_one(fn: FunctionUnderTest) -> None:
    location = Bucket(fn).put(f"team/{unique('names')}/sales/", source_files())
    body = {"noteBook": location, "jobName": unique("folder"), "parameters": {"regio": "apac"}}
    preview = fn.launch({**body, "dryRun": True})
    assert warning_on(preview, "parameters.regio")["didYouMean"] == "region"
    assert refused_fields(fn, {**body, "strictParameters": True}) == {"parameters.regio"}


def test_a_notebook_without_a_parameters_cell_warns_and_is_never_refused(
    fn: FunctionUnderTest,
) -> None:
    answer = fn.launch(
        {
            "noteBook": notebook("no_params_cell.ipynb"),
            "parameters": {"value": 41},
            "strictParameters": True,
            "dryRun": True,
        }
    )
    assert "no cell tagged 'parameters'" in warning_on(answer, "parameters")["message"]


def test_strict_parameters_with_job_id_is_refused_as_unchecked(fn: FunctionUnderTest) -> None:
    job = "ocid1.datasciencejob.oc1.iad.notread"
    body = {"jobId": job, "parameters": {"regoin": "x"}, "strictParameters": True}
    assert refused_fields(fn, body) == {"strictParameters"}


def test_a_pipeline_step_with_a_misspelt_parameter(fn: FunctionUnderTest) -> None:
    job = unique("piped")
    steps: list[dict[str, Any]] = [
        {"name": "good", "noteBook": notebook("region_step.ipynb"), "jobName": job},
        {
            "name": "typo",
            "noteBook": notebook("region_step.ipynb"),
            "jobName": job,
            "dependsOn": ["good"],
            "forEach": [{"regoin": "apac"}, {"regoin": "emea"}],
        },
    ]
    body = {"name": unique("pipe"), "steps": steps}
    assert refused_fields(fn, {**body, "strictParameters": True}) == {"steps[1].parameters.regoin"}
    # A step's own strictParameters is enough; the other steps stay unchecked-but-warned.
    strict_step = [steps[0], {**steps[1], "strictParameters": True}]
    assert refused_fields(fn, {**body, "steps": strict_step}) == {"steps[1].parameters.regoin"}

    answer = fn.launch(body)
    assert answer["warnings"] == [
        {
            "field": "steps[1].parameters.regoin",
            "message": answer["warnings"][0]["message"],
            "didYouMean": "region",
        }
    ]  # one warning for the fanned-out step, not one per set
    assert answer["warnings"][0]["message"].startswith("step 'typo': ")
    assert wait_pipeline(fn, answer["pipelineRunId"])["lifecycleState"] == "SUCCEEDED"


def test_a_schedule_is_checked_like_a_launch(fn: FunctionUnderTest) -> None:
    body = {
        "action": "schedule",
        "noteBook": notebook("region_step.ipynb"),
        "jobName": unique("scheduled"),
        "parameters": {"regoin": "apac"},
        "schedule": {"cron": "0 6 * * 1"},
    }
    preview = fn.launch({**body, "dryRun": True})
    assert warning_on(preview, "parameters.regoin")["didYouMean"] == "region"
    assert refused_fields(fn, {**body, "strictParameters": True}) == {"parameters.regoin"}
