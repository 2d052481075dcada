"""The pipeline-run state machine (`orchestrator.advance`) and the step job-run builder, pure."""

from __future__ import annotations

from typing import Any

from notebook_launcher.localservice.pipelines.bodies import dependency_cycle
from notebook_launcher.localservice.pipelines.orchestrator import (
    JobRunView,
    Step,
    advance,
    step_job_run_details,
    steps_of,
)

NOW = "2026-12-01T00:00:00.000Z"
# a >> (b, c) >> d
DAG = [Step("a", ()), Step("b", ("a",)), Step("c", ("a",)), Step("d", ("b", "c"))]


def waiting(*names: str) -> list[dict[str, Any]]:
    return [{"stepType": "ML_JOB", "stepName": n, "lifecycleState": "WAITING"} for n in names]


def with_job_runs(runs: list[dict[str, Any]], **states: str) -> tuple[list[Any], dict[str, Any]]:
    views: dict[str, JobRunView | None] = {}
    for run in runs:
        if run["stepName"] in states:
            run["jobRunId"] = f"jr-{run['stepName']}"
            views[run["jobRunId"]] = JobRunView(states[run["stepName"]], None, NOW, None)
    return runs, views


def test_a_new_run_starts_only_the_steps_without_dependencies() -> None:
    plan = advance(DAG, waiting("a", "b", "c", "d"), {}, canceling=False, now=NOW)
    assert plan.start == ["a"]
    assert plan.run_state == "IN_PROGRESS"


def test_dependents_start_once_every_dependency_succeeded() -> None:
    runs, views = with_job_runs(waiting("a", "b", "c", "d"), a="SUCCEEDED")
    assert advance(DAG, runs, views, canceling=False, now=NOW).start == ["b", "c"]
    runs, views = with_job_runs(waiting("a", "b", "c", "d"), a="SUCCEEDED", b="SUCCEEDED")
    views["jr-c"] = JobRunView("IN_PROGRESS", None, NOW, None)
    runs[2]["jobRunId"] = "jr-c"
    plan = advance(DAG, runs, views, canceling=False, now=NOW)
    assert plan.start == []
    assert [r["lifecycleState"] for r in plan.step_runs] == [
        "SUCCEEDED",
        "SUCCEEDED",
        "IN_PROGRESS",
        "WAITING",
    ]


def test_a_failed_step_skips_everything_downstream_and_the_run_fails_at_the_end() -> None:
    runs, views = with_job_runs(
        waiting("a", "b", "c", "d"), a="SUCCEEDED", b="FAILED", c="IN_PROGRESS"
    )
    plan = advance(DAG, runs, views, canceling=False, now=NOW)
    states = {r["stepName"]: r["lifecycleState"] for r in plan.step_runs}
    assert states == {"a": "SUCCEEDED", "b": "FAILED", "c": "IN_PROGRESS", "d": "SKIPPED"}
    assert plan.run_state == "IN_PROGRESS"  # c still runs
    views["jr-c"] = JobRunView("SUCCEEDED", None, NOW, NOW)
    final = advance(DAG, plan.step_runs, views, canceling=False, now=NOW)
    assert final.run_state == "FAILED"
    assert final.run_details is not None and "b" in final.run_details


def test_cancel_cancels_started_job_runs_skips_waiting_steps_then_ends_canceled() -> None:
    runs, views = with_job_runs(
        waiting("a", "b", "c", "d"), a="SUCCEEDED", b="IN_PROGRESS", c="ACCEPTED"
    )
    plan = advance(DAG, runs, views, canceling=True, now=NOW)
    assert plan.cancel == ["jr-b", "jr-c"]
    assert plan.start == []
    assert plan.step_runs[3]["lifecycleState"] == "SKIPPED"
    assert plan.run_state == "CANCELING"
    views["jr-b"] = JobRunView("CANCELED", "Job run canceled.", NOW, NOW)
    views["jr-c"] = JobRunView("CANCELED", "Job run canceled.", None, NOW)
    assert advance(DAG, plan.step_runs, views, canceling=True, now=NOW).run_state == "CANCELED"


def test_all_steps_succeeded_is_a_succeeded_run_and_a_missing_job_run_a_failed_step() -> None:
    runs, views = with_job_runs(
        waiting("a", "b", "c", "d"), a="SUCCEEDED", b="SUCCEEDED", c="SUCCEEDED", d="SUCCEEDED"
    )
    assert advance(DAG, runs, views, canceling=False, now=NOW).run_state == "SUCCEEDED"
    views["jr-d"] = None
    plan = advance(DAG, runs, views, canceling=False, now=NOW)
    assert plan.run_state == "FAILED"
    assert plan.step_runs[3]["lifecycleState"] == "FAILED"


def test_steps_of_orders_steps_after_their_dependencies_and_cycles_are_found() -> None:
    pipeline = {
        "stepDetails": [
            {"stepName": "d", "dependsOn": ["b", "c"]},
            {"stepName": "c", "dependsOn": ["a"]},
            {"stepName": "b", "dependsOn": ["a"]},
            {"stepName": "a", "dependsOn": []},
        ]
    }
    assert [s.name for s in steps_of(pipeline)] == ["a", "b", "c", "d"]
    assert dependency_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]
    assert dependency_cycle({"a": [], "b": ["a"]}) is None


def test_step_job_runs_merge_configuration_weakest_first_and_carry_pipeline_variables() -> None:
    pipeline = {
        "id": "p",
        "compartmentId": "c",
        "projectId": "pr",
        "configurationDetails": {
            "type": "DEFAULT",
            "maximumRuntimeInMinutes": 600,
            "environmentVariables": {"A": "pipeline", "B": "pipeline", "C": "pipeline"},
            "commandLineArguments": "--pipeline",
        },
        "stepDetails": [
            {
                "stepName": "s",
                "jobId": "j",
                "stepConfigurationDetails": {
                    "environmentVariables": {"B": "step", "C": "step"},
                    "maximumRuntimeInMinutes": 5,
                },
            }
        ],
    }
    run = {
        "id": "r",
        "compartmentId": "rc",
        "projectId": "rp",
        "displayName": "nightly",
        "stepOverrideDetails": [
            {"stepName": "s", "stepConfigurationDetails": {"environmentVariables": {"C": "run"}}}
        ],
    }
    details = step_job_run_details(pipeline, run, "s")
    override = details["jobConfigurationOverrideDetails"]
    assert override["environmentVariables"]["A"] == "pipeline"
    assert override["environmentVariables"]["B"] == "step"
    assert override["environmentVariables"]["C"] == "run"
    assert override["environmentVariables"]["PIPELINE_RUN_OCID"] == "r"
    assert override["environmentVariables"]["PIPELINE_STEP_NAME"] == "s"
    assert override["commandLineArguments"] == "--pipeline"
    assert override["maximumRuntimeInMinutes"] == 5  # the pipeline's bounds the run, not a step
    assert (details["jobId"], details["projectId"], details["displayName"]) == (
        "j",
        "rp",
        "nightly-s",
    )
