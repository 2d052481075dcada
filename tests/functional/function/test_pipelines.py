"""Pipeline launches through the function against the local service: a DAG with a fan-out,
a failing step and its re-run, cancel mid-run, bad DAGs refused, job and pipeline reuse."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.functional.function.conftest import FunctionUnderTest, notebook

ENDED = {"SUCCEEDED", "FAILED", "CANCELED"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def status(fn: FunctionUnderTest, run_id: str) -> dict[str, Any]:
    return fn.launch({"action": "status", "id": run_id})


def wait_pipeline(fn: FunctionUnderTest, run_id: str, timeout: float = 240) -> dict[str, Any]:
    """The pipeline run's status once it has ended (the function's own status action)."""
    client = fn.service.datascience_client()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if client.get_pipeline_run(run_id).data.lifecycle_state in ENDED:
            return status(fn, run_id)
        time.sleep(0.5)
    raise AssertionError(f"pipeline run {run_id} did not end in {timeout} s")


def by_name(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in answer["steps"]}


def create_calls(stats: dict[str, int]) -> dict[str, int]:
    return {op: n for op, n in stats.items() if op.startswith("Create") and n}


def test_fan_out_dag_runs_to_succeeded(fn: FunctionUnderTest) -> None:
    job = unique("regions")
    body = {
        "name": unique("pipe"),
        "steps": [
            {"name": "prepare", "noteBook": notebook("region_step.ipynb"), "jobName": job},
            {
                "name": "by-region",
                "noteBook": notebook("region_step.ipynb"),
                "jobName": job,
                "dependsOn": ["prepare"],
                "forEach": [{"region": "apac"}, {"region": "emea"}, {"region": "Amer"}],
            },
            {
                "name": "summary",
                "noteBook": notebook("region_step.ipynb"),
                "jobName": job,
                "parameters": {"region": "all"},
                "dependsOn": ["by-region"],
            },
        ],
    }
    answer = fn.launch(body)
    assert answer["pipelineRunId"].startswith("ocid1.datasciencepipelinerun.")
    assert answer["pipelineId"].startswith("ocid1.datasciencepipeline.")
    assert answer["pollUrl"].endswith(f"/20190101/pipelineRuns/{answer['pipelineRunId']}")
    names = [s["name"] for s in answer["steps"]]
    assert names == ["prepare", "by-region-apac", "by-region-emea", "by-region-amer", "summary"]
    assert len({s["jobId"] for s in answer["steps"]}) == 1  # one notebook, one job
    assert by_name(answer)["summary"]["dependsOn"] == [
        "by-region-apac",
        "by-region-emea",
        "by-region-amer",
    ]

    done = wait_pipeline(fn, answer["pipelineRunId"])
    assert done["lifecycleState"] == "SUCCEEDED", done
    steps = by_name(done)
    assert {s["lifecycleState"] for s in steps.values()} == {"SUCCEEDED"}
    assert steps["prepare"]["outputs"] == {"region": "global"}
    assert steps["by-region-apac"]["outputs"] == {"region": "apac"}
    assert steps["by-region-amer"]["outputs"] == {"region": "Amer"}
    assert steps["summary"]["outputs"] == {"region": "all"}
    assert all(s["jobRunId"].startswith("ocid1.datasciencejobrun.") for s in steps.values())
    # the DAG held: the summary started after every fanned-out step finished
    fanned = [steps[n]["timeFinished"] for n in names[1:4]]
    assert steps["summary"]["timeStarted"] >= max(fanned)
    assert min(steps[n]["timeStarted"] for n in names[1:4]) >= steps["prepare"]["timeFinished"]


def test_failed_step_and_rerun_of_only_it_and_downstream(
    fn: FunctionUnderTest, tmp_path: Path
) -> None:
    marker = tmp_path / "ready"
    job = unique("rerun")
    nb = notebook("region_step.ipynb")
    body = {
        "name": unique("pipe"),
        "steps": [
            {"name": "a", "noteBook": nb, "jobName": job, "parameters": {"region": "a"}},
            {
                "name": "b",
                "noteBook": nb,
                "jobName": job,
                "dependsOn": ["a"],
                "parameters": {"region": "b-value", "needs_file": str(marker)},
            },
            {"name": "c", "noteBook": nb, "jobName": job, "dependsOn": ["b"]},
            {"name": "d", "noteBook": nb, "jobName": job, "parameters": {"region": "d"}},
        ],
    }
    first = fn.launch(body)
    done = wait_pipeline(fn, first["pipelineRunId"])
    assert done["lifecycleState"] == "FAILED"
    steps = by_name(done)
    assert steps["a"]["lifecycleState"] == "SUCCEEDED"
    assert steps["d"]["lifecycleState"] == "SUCCEEDED"
    assert steps["b"]["lifecycleState"] == "FAILED"
    assert steps["c"]["lifecycleState"] == "SKIPPED"
    assert steps["b"]["failure"]["ename"] == "FileNotFoundError"

    marker.write_text("ok")
    fn.service.reset_stats()
    rerun = fn.launch({"action": "rerun", "id": first["pipelineRunId"]})
    stats = fn.service.stats()
    assert rerun["rerunOf"] == first["pipelineRunId"]
    assert [s["name"] for s in rerun["steps"]] == ["b", "c"]
    assert by_name(rerun)["c"]["dependsOn"] == ["b"] and by_name(rerun)["b"]["dependsOn"] == []
    assert rerun["pipelineId"] != first["pipelineId"]
    assert stats.get("CreatePipeline") == 1 and stats.get("CreatePipelineRun") == 1
    assert not stats.get("CreateJob")

    again = fn.launch({"action": "rerun", "id": first["pipelineRunId"]})
    assert again["pipelineRunId"] == rerun["pipelineRunId"]  # the same re-run, not another

    redone = wait_pipeline(fn, rerun["pipelineRunId"])
    assert redone["lifecycleState"] == "SUCCEEDED", redone
    assert set(by_name(redone)) == {"b", "c"}
    assert by_name(redone)["b"]["outputs"] == {"region": "b-value"}  # the same values
    assert by_name(redone)["c"]["outputs"] == {"region": "global"}


def test_cancel_mid_run(fn: FunctionUnderTest) -> None:
    job = unique("cancel")
    answer = fn.launch(
        {
            "name": unique("pipe"),
            "steps": [
                {"name": "sleeper", "noteBook": notebook("sleeps.ipynb"), "jobName": job},
                {
                    "name": "after",
                    "noteBook": notebook("region_step.ipynb"),
                    "jobName": job,
                    "dependsOn": ["sleeper"],
                },
            ],
        }
    )
    run_id = answer["pipelineRunId"]
    assert len({s["jobId"] for s in answer["steps"]}) == 2  # two notebooks, two jobs
    end = time.monotonic() + 120
    while by_name(status(fn, run_id))["sleeper"]["lifecycleState"] != "IN_PROGRESS":
        assert time.monotonic() < end, "the sleeper never started"
        time.sleep(0.5)
    canceled = fn.launch({"action": "cancel", "id": run_id})
    assert canceled["lifecycleState"] in ("CANCELING", "CANCELED")
    done = wait_pipeline(fn, run_id, timeout=120)
    assert done["lifecycleState"] == "CANCELED"
    steps = by_name(done)
    assert steps["sleeper"]["lifecycleState"] == "CANCELED"
    assert steps["after"]["lifecycleState"] in ("SKIPPED", "CANCELED")
    assert steps["after"]["jobRunId"] is None
    status_code, again = fn.invoke({"action": "cancel", "id": run_id}, gateway=True)
    assert status_code == 409 and again["error"]["code"] == "Conflict"


@pytest.mark.parametrize(
    ("steps", "field", "words"),
    [
        (
            [{"name": "a", "dependsOn": ["b"]}, {"name": "b", "dependsOn": ["a"]}],
            "steps[0].dependsOn",
            "cycle",
        ),
        ([{"name": "a", "dependsOn": ["nope"]}], "steps[0].dependsOn", "'nope', no such step"),
        ([{"name": "a"}, {"name": "a"}], "steps[1].name", "declared twice"),
        ([{"name": "a", "dependsOn": ["a"]}], "steps[0].dependsOn", "depends on itself"),
        ([{"name": "a", "shape": "nope"}], "steps[0].shape", "step 'a'"),
        (
            [{"name": "a", "forEach": [{"x": i} for i in range(101)]}],
            "steps[0].forEach",
            "parameter sets",
        ),
        ([{"name": "a", "forEach": [{"region": "x"}, {"1bad": 2}]}], "steps[0].parameters", "a"),
    ],
)
def test_bad_dags_are_refused_with_nothing_created(
    fn: FunctionUnderTest, steps: list[dict[str, Any]], field: str, words: str
) -> None:
    for step in steps:
        step.setdefault("noteBook", notebook("region_step.ipynb"))
    fn.service.reset_stats()
    code, answer = fn.invoke({"name": unique("bad"), "steps": steps}, gateway=True)
    assert code == 400, answer
    details = answer["error"]["details"]
    assert any(d["field"].startswith(field) and words in d["message"] for d in details), details
    assert create_calls(fn.service.stats()) == {}
    assert sum(fn.service.stats().values()) == 0  # nothing fetched from or asked of the service


def test_too_many_steps_after_fan_out_is_refused(fn: FunctionUnderTest) -> None:
    nb = notebook("region_step.ipynb")
    steps = [
        {"name": "wide", "noteBook": nb, "forEach": [{"region": f"r{i}"} for i in range(60)]},
        {"name": "wider", "noteBook": nb, "forEach": [{"region": f"r{i}"} for i in range(41)]},
    ]
    fn.service.reset_stats()
    code, answer = fn.invoke({"steps": steps}, gateway=True)
    assert code == 400
    assert any("101 steps" in d["message"] for d in answer["error"]["details"])
    assert sum(fn.service.stats().values()) == 0


def test_a_notebook_alone_and_in_a_pipeline_share_the_job(fn: FunctionUnderTest) -> None:
    job = unique("shared")
    single = fn.launch({"noteBook": notebook("region_step.ipynb"), "jobName": job})
    piped = fn.launch(
        {"steps": [{"name": "only", "noteBook": notebook("region_step.ipynb"), "jobName": job}]}
    )
    assert piped["steps"][0]["jobId"] == single["jobId"]
    assert piped["steps"][0]["jobReused"] is True
    assert fn.wait(single["id"]).lifecycle_state == "SUCCEEDED"
    assert wait_pipeline(fn, piped["pipelineRunId"])["lifecycleState"] == "SUCCEEDED"


def test_second_identical_launch_reuses_jobs_and_pipeline(fn: FunctionUnderTest) -> None:
    body = {
        "name": unique("recurring"),
        "steps": [
            {
                "name": "fan",
                "noteBook": notebook("region_step.ipynb"),
                "jobName": unique("recurring-job"),
                "forEach": [{"region": r} for r in ("apac", "emea", "amer", "latam")],
            },
            {"name": "end", "noteBook": notebook("hello.ipynb"), "dependsOn": ["fan"]},
        ],
    }
    first = fn.launch(body)
    assert first["pipelineReused"] is False
    fn.service.reset_stats()
    key = unique("k")
    second = fn.launch({**body, "idempotencyKey": key})
    stats = fn.service.stats()
    assert second["pipelineId"] == first["pipelineId"] and second["pipelineReused"] is True
    assert all(s["jobReused"] for s in second["steps"])
    # two notebooks: two ListJobs, one ListPipelines, one CreatePipelineRun
    assert stats == {"ListJobs": 2, "ListPipelines": 1, "CreatePipelineRun": 1}, stats
    retried = fn.launch({**body, "idempotencyKey": key})
    assert retried["pipelineRunId"] == second["pipelineRunId"]  # a retry: the same run
    other = fn.launch(body)
    assert other["pipelineRunId"] != second["pipelineRunId"]
