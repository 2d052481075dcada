"""Pipelines against the local service through real clients: the oci SDK, ADS and the oci CLI.

Each step is a real job run of its job (GetJobRun, logs), started when the steps it depends
on SUCCEEDED; a failed step skips its dependents; cancel stops the running steps; bad DAGs
are refused with nothing stored; the executor's concurrency bound holds across steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    MODELS,
    create_script_job,
    job_details,
    wait_for_log,
)
from tests.functional.localservice.test_logging import create_log_group, logging_client
from tests.functional.localservice.test_notebook_runs import notebook_job, output_folder
from tests.functional.localservice.test_run_control import gone, pids_in

SESSION_CONCURRENCY = 3  # tests/functional/conftest.py starts the session's service with it
RUN_FINISHED = {"SUCCEEDED", "FAILED", "CANCELED", "DELETED"}

# One job for most steps: what it prints and how it ends come from its environment, so the
# steps' configuration and the run's overrides decide (and show) what each step did.
STEP_SCRIPT = """\
import os, pathlib, sys, time
print(f"step={os.environ.get('PIPELINE_STEP_NAME')} greeting={os.environ.get('GREETING')}"
      f" run={os.environ.get('PIPELINE_RUN_OCID')} pid={os.getpid()}", flush=True)
marker = os.environ.get("MARKER")
while marker and not pathlib.Path(marker).exists():
    time.sleep(0.05)
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT", "0")))
"""


@pytest.fixture(scope="module")
def step_job(client: Any, project_id: str, compartment_id: str) -> str:
    return create_script_job(
        client, project_id, compartment_id, STEP_SCRIPT, env={"GREETING": "job"}, name="step"
    )


def ml_job_step(
    name: str,
    job_id: str,
    depends_on: Iterable[str] = (),
    env: dict[str, str] | None = None,
) -> Any:
    return MODELS.PipelineMLJobStepDetails(
        step_name=name,
        job_id=job_id,
        depends_on=list(depends_on),
        step_configuration_details=(
            MODELS.PipelineStepConfigurationDetails(environment_variables=env) if env else None
        ),
    )


def create_pipeline(
    client: Any, project_id: str, compartment_id: str, steps: list[Any], **details: Any
) -> Any:
    return client.create_pipeline(
        MODELS.CreatePipelineDetails(
            project_id=project_id,
            compartment_id=compartment_id,
            display_name=f"pipeline-{uuid.uuid4().hex[:6]}",
            step_details=steps,
            **details,
        )
    ).data


def run_pipeline(
    client: Any,
    compartment_id: str,
    pipeline_id: str,
    overrides: dict[str, dict[str, str]] | None = None,
    token: str | None = None,
    **details: Any,
) -> Any:
    step_overrides = [
        MODELS.PipelineStepOverrideDetails(
            step_name=name,
            step_configuration_details=MODELS.PipelineStepConfigurationDetails(
                environment_variables=env
            ),
        )
        for name, env in (overrides or {}).items()
    ]
    return client.create_pipeline_run(
        MODELS.CreatePipelineRunDetails(
            compartment_id=compartment_id,
            pipeline_id=pipeline_id,
            step_override_details=step_overrides or None,
            **details,
        ),
        **({"opc_retry_token": token} if token else {}),
    ).data


def wait_for_pipeline_run(
    client: Any, run_id: str, states: Iterable[str] = RUN_FINISHED, timeout: float = 120
) -> Any:
    wanted = set(states)
    deadline = time.monotonic() + timeout
    run = client.get_pipeline_run(run_id).data
    while run.lifecycle_state not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pipeline run {run_id} is {run.lifecycle_state} after {timeout} s"
            )
        time.sleep(0.2)
        run = client.get_pipeline_run(run_id).data
    return run


def wait_for_step(
    client: Any, run_id: str, step: str, states: set[str], timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_pipeline_run(run_id).data
        step_run = steps_by_name(run)[step]
        if step_run.lifecycle_state in states:
            return step_run
        if time.monotonic() > deadline:
            raise AssertionError(f"step {step} is {step_run.lifecycle_state} after {timeout} s")
        time.sleep(0.1)


def steps_by_name(run: Any) -> dict[str, Any]:
    return {step.step_name: step for step in run.step_runs}


def oci_cli(service: EmbeddedService, *arguments: str) -> Any:
    """Run the real oci CLI against the service; its JSON output."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OCI_", "NB_"))}
    env["OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING"] = "True"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("oci")),
            *arguments,
            "--config-file",
            str(service.config_file),
            "--endpoint",
            service.endpoint,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- a DAG that succeeds


def wait_for_free_slots(client: Any, compartment_id: str, timeout: float = 120) -> None:
    """Until no job run of the compartment is ACCEPTED or IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while any(
        client.list_job_runs(compartment_id=compartment_id, lifecycle_state=state).data
        for state in ("ACCEPTED", "IN_PROGRESS")
    ):
        assert time.monotonic() < deadline, "earlier runs still hold the service's slots"
        time.sleep(0.2)


def test_fan_out_runs_in_dependency_order_with_each_step_a_real_job_run(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    steps = [
        ml_job_step("a", step_job),
        ml_job_step("b", step_job, ["a"], env={"GREETING": "step", "SLEEP": "0.3"}),
        ml_job_step("c", step_job, ["a"], env={"GREETING": "step"}),
        ml_job_step("d", step_job, ["b", "c"]),
    ]
    pipeline = create_pipeline(client, project_id, compartment_id, steps)
    assert pipeline.id.startswith("ocid1.datasciencepipeline.oc1.iad.")
    assert pipeline.lifecycle_state == "ACTIVE"
    # b and c must be able to run side by side: wait until runs that earlier tests left going
    # in this session's service no longer hold its concurrency slots.
    wait_for_free_slots(client, compartment_id)
    token = uuid.uuid4().hex
    run = run_pipeline(
        client, compartment_id, pipeline.id, {"b": {"GREETING": "override"}}, token=token
    )
    assert run.lifecycle_state == "ACCEPTED"
    assert [s.lifecycle_state for s in run.step_runs] == ["WAITING"] * 4
    again = run_pipeline(
        client, compartment_id, pipeline.id, {"b": {"GREETING": "override"}}, token=token
    )
    assert again.id == run.id  # the retry token replays the first run

    done = wait_for_pipeline_run(client, run.id)

    assert done.lifecycle_state == "SUCCEEDED", done.lifecycle_details
    assert done.project_id == project_id
    assert done.time_started is not None and done.time_finished is not None
    by_name = steps_by_name(done)
    assert [s.step_name for s in done.step_runs] == ["a", "b", "c", "d"]
    for name, step in by_name.items():
        assert step.lifecycle_state == "SUCCEEDED", (name, step.lifecycle_details)
        assert step.step_type == "ML_JOB"
        job_run = client.get_job_run(step.job_run_id).data
        assert job_run.lifecycle_state == "SUCCEEDED"
        assert job_run.job_id == step_job
        assert (job_run.time_started, job_run.time_finished) == (
            step.time_started,
            step.time_finished,
        )
    a, b, c, d = (by_name[n] for n in "abcd")
    assert b.time_started >= a.time_finished and c.time_started >= a.time_finished
    assert d.time_started >= max(b.time_finished, c.time_finished)
    assert b.time_started < c.time_finished and c.time_started < b.time_finished  # in parallel
    greetings = {"a": "job", "b": "override", "c": "step", "d": "job"}
    for name, greeting in greetings.items():
        log = service.logs(by_name[name].job_run_id)
        assert f"step={name} greeting={greeting} run={run.id}" in log, log

    runs = client.list_pipeline_runs(compartment_id, pipeline_id=pipeline.id).data
    assert [r.id for r in runs] == [run.id]
    assert not hasattr(runs[0], "step_runs") or runs[0].step_runs is None
    listed = client.list_pipelines(compartment_id, project_id=project_id).data
    assert pipeline.id in {p.id for p in listed}
    got = client.get_pipeline(pipeline.id).data
    assert [(s.step_name, s.depends_on) for s in got.step_details] == [
        ("a", []),
        ("b", ["a"]),
        ("c", ["a"]),
        ("d", ["b", "c"]),
    ]

    cli = oci_cli(service, "data-science", "pipeline-run", "get", "--pipeline-run-id", run.id)
    assert cli["data"]["lifecycle-state"] == "SUCCEEDED"
    assert {s["step-name"]: s["job-run-id"] for s in cli["data"]["step-runs"]} == {
        name: step.job_run_id for name, step in by_name.items()
    }


# --------------------------------------------------------------------------- failure and cancel


def test_a_failed_step_skips_its_dependents_while_independent_steps_finish(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    steps = [
        ml_job_step("a", step_job),
        ml_job_step("b", step_job, ["a"], env={"EXIT": "3"}),
        ml_job_step("c", step_job, ["a"], env={"SLEEP": "1.5"}),
        ml_job_step("d", step_job, ["b"]),
        ml_job_step("e", step_job, ["d", "c"]),
        ml_job_step("f", step_job, ["c"]),
    ]
    pipeline = create_pipeline(client, project_id, compartment_id, steps)
    run = run_pipeline(client, compartment_id, pipeline.id)

    done = wait_for_pipeline_run(client, run.id)

    assert done.lifecycle_state == "FAILED"
    assert "b" in done.lifecycle_details
    by_name = steps_by_name(done)
    states = {name: step.lifecycle_state for name, step in by_name.items()}
    assert states == {
        "a": "SUCCEEDED",
        "b": "FAILED",
        "c": "SUCCEEDED",
        "d": "SKIPPED",
        "e": "SKIPPED",
        "f": "SUCCEEDED",
    }
    assert by_name["b"].lifecycle_details == "Job run artifact execution failed with exit code 3."
    assert client.get_job_run(by_name["b"].job_run_id).data.lifecycle_state == "FAILED"
    for skipped in ("d", "e"):
        assert by_name[skipped].job_run_id is None
        assert "did not succeed" in by_name[skipped].lifecycle_details
    # c was still running when b failed, and went on to finish
    assert by_name["c"].time_finished > by_name["b"].time_finished
    assert by_name["f"].time_started >= by_name["c"].time_finished


def test_cancel_mid_run_cancels_running_steps_and_skips_waiting_ones(
    service: EmbeddedService,
    client: Any,
    project_id: str,
    compartment_id: str,
    step_job: str,
    tmp_path: Path,
) -> None:
    hold = {"MARKER": str(tmp_path / "never")}
    steps = [
        ml_job_step("slow", step_job, env=hold),
        ml_job_step("also-slow", step_job, env=hold),
        ml_job_step("after", step_job, ["slow"]),
    ]
    pipeline = create_pipeline(client, project_id, compartment_id, steps)
    run = run_pipeline(client, compartment_id, pipeline.id)
    slow = wait_for_step(client, run.id, "slow", {"IN_PROGRESS"})
    log = wait_for_log(service, slow.job_run_id, "pid=")
    (pid,) = pids_in(log, r"pid=(\d+)")

    client.cancel_pipeline_run(run.id)
    assert client.get_pipeline_run(run.id).data.lifecycle_state in ("CANCELING", "CANCELED")
    done = wait_for_pipeline_run(client, run.id)

    assert (done.lifecycle_state, done.lifecycle_details) == ("CANCELED", "Pipeline run canceled.")
    by_name = steps_by_name(done)
    assert by_name["slow"].lifecycle_state == "CANCELED"
    assert by_name["also-slow"].lifecycle_state == "CANCELED"
    assert by_name["after"].lifecycle_state == "SKIPPED"
    assert by_name["after"].job_run_id is None
    for name in ("slow", "also-slow"):
        assert client.get_job_run(by_name[name].job_run_id).data.lifecycle_state == "CANCELED"
    assert gone(pid)
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        client.cancel_pipeline_run(run.id)
    assert (refused.value.status, refused.value.code) == (409, "IncorrectState")


# --------------------------------------------------------------------------- bad DAGs


def test_bad_dags_are_refused_naming_the_step_with_nothing_created(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    unfinished_job = client.create_job(
        job_details(project_id, compartment_id)
    ).data.id  # no artifact
    missing_job = step_job[: -len("a" * 10)] + "a" * 10
    cases = [
        ([ml_job_step("a", step_job, ["c"]), ml_job_step("b", step_job, ["a"]),
          ml_job_step("c", step_job, ["b"])], "cycle (a -> c -> b -> a)", 400),
        ([ml_job_step("a", step_job, ["a"])], "step a: the steps depend on each other", 400),
        ([ml_job_step("a", step_job), ml_job_step("b", step_job, ["a", "zz"])],
         "step b: dependsOn names zz", 400),
        ([ml_job_step("a", step_job), ml_job_step("a", step_job)],
         "step a: the step name is used twice", 400),
        ([ml_job_step("a", step_job), ml_job_step("late", unfinished_job, ["a"])],
         "step late: the job", 400),
        ([ml_job_step("gone", missing_job)], "step gone: jobId", 400),
    ]  # fmt: skip
    before = client.list_pipelines(compartment_id, lifecycle_state="ACTIVE", limit=1000).data
    calls_before = service.stats().get("CreatePipeline", 0)
    for steps, message, status in cases:
        with pytest.raises(oci.exceptions.ServiceError) as refused:
            create_pipeline(client, project_id, compartment_id, steps)
        assert refused.value.status == status
        assert message in refused.value.message, refused.value.message
    assert client.get_job(unfinished_job).data.lifecycle_state == "CREATING"
    after = client.list_pipelines(compartment_id, lifecycle_state="ACTIVE", limit=1000).data
    assert {p.id for p in after} == {p.id for p in before}
    assert service.stats()["CreatePipeline"] == calls_before + len(cases)


def test_a_run_naming_a_step_the_pipeline_lacks_is_refused(
    client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    pipeline = create_pipeline(client, project_id, compartment_id, [ml_job_step("a", step_job)])
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        run_pipeline(client, compartment_id, pipeline.id, {"nope": {"X": "1"}})
    assert refused.value.status == 400
    assert "step nope is not a step of the pipeline" in refused.value.message
    assert client.list_pipeline_runs(compartment_id, pipeline_id=pipeline.id).data == []


# --------------------------------------------------------------------------- concurrency


def max_overlap(intervals: Iterable[tuple[Any, Any]]) -> int:
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
        key=lambda event: (event[0], event[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_ten_parallel_steps_hold_the_executor_concurrency_bound(
    client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    steps = [ml_job_step(f"s{i}", step_job, env={"SLEEP": "0.6"}) for i in range(10)]
    pipeline = create_pipeline(client, project_id, compartment_id, steps)
    run = run_pipeline(client, compartment_id, pipeline.id)

    done = wait_for_pipeline_run(client, run.id, timeout=180)

    assert done.lifecycle_state == "SUCCEEDED", done.lifecycle_details
    intervals = []
    for step in done.step_runs:
        job_run = client.get_job_run(step.job_run_id).data
        intervals.append((job_run.time_started, job_run.time_finished))
    peak = max_overlap(intervals)
    print(f"10 parallel steps: at most {peak} job runs at once (bound {SESSION_CONCURRENCY})")
    assert peak == SESSION_CONCURRENCY


# --------------------------------------------------------------------------- delete


def test_delete_run_and_pipeline_with_their_job_runs(
    client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    pipeline = create_pipeline(client, project_id, compartment_id, [ml_job_step("a", step_job)])
    first = wait_for_pipeline_run(client, run_pipeline(client, compartment_id, pipeline.id).id)
    second = wait_for_pipeline_run(client, run_pipeline(client, compartment_id, pipeline.id).id)

    with pytest.raises(oci.exceptions.ServiceError) as refused:
        client.delete_pipeline(pipeline.id)
    assert (refused.value.status, refused.value.code) == (409, "Conflict")

    client.delete_pipeline_run(first.id, delete_related_job_runs=True)
    assert client.get_pipeline_run(first.id).data.lifecycle_state == "DELETED"
    first_job_run = first.step_runs[0].job_run_id
    assert client.get_job_run(first_job_run).data.lifecycle_state == "DELETED"

    deleted = client.delete_pipeline(
        pipeline.id, delete_related_pipeline_runs=True, delete_related_job_runs=False
    )
    assert deleted.status == 202
    assert deleted.headers["opc-work-request-id"].startswith("ocid1.datascienceworkrequest.")
    assert client.get_pipeline(pipeline.id).data.lifecycle_state == "DELETED"
    assert client.get_pipeline_run(second.id).data.lifecycle_state == "DELETED"
    second_job_run = second.step_runs[0].job_run_id
    assert client.get_job_run(second_job_run).data.lifecycle_state == "SUCCEEDED"
    assert pipeline.id not in {p.id for p in client.list_pipelines(compartment_id).data}
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        run_pipeline(client, compartment_id, pipeline.id)
    assert refused.value.status == 400


def test_the_sdk_waiter_completes_a_pipeline_delete(
    client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    """DeletePipeline's work request is served, so `delete_pipeline_and_wait_for_state` (and
    ADS's `Pipeline.delete()`, which waits on it) finish."""
    pipeline = create_pipeline(client, project_id, compartment_id, [ml_job_step("a", step_job)])
    waiters = oci.data_science.DataScienceClientCompositeOperations(client)
    done = waiters.delete_pipeline_and_wait_for_state(pipeline.id, wait_for_states=["SUCCEEDED"])
    assert done.data.status == "SUCCEEDED" and done.data.operation_type == "PIPELINE_DELETE"
    [resource] = done.data.resources
    assert (resource.entity_type, resource.identifier) == ("pipeline", pipeline.id)
    assert client.get_pipeline(pipeline.id).data.lifecycle_state == "DELETED"


# --------------------------------------------------------------------------- ADS


@pytest.fixture
def ads_pipeline_auth(service: EmbeddedService) -> Iterator[Any]:
    """ADS's global auth pointed at the service (`Pipeline.from_ocid` takes no auth)."""
    ads = pytest.importorskip("ads")
    ads.set_auth(
        "api_key",
        oci_config_location=str(service.config_file),
        client_kwargs={"service_endpoint": service.endpoint},
    )
    try:
        yield ads
    finally:
        ads.set_auth("api_key")


def test_ads_builds_and_runs_a_pipeline_with_a_notebook_step(
    service: EmbeddedService,
    ads_pipeline_auth: Any,
    project_id: str,
    compartment_id: str,
    step_job: str,
    notebooks: Path,
) -> None:
    from ads.pipeline import Pipeline, PipelineStep

    notebook = notebook_job(service, project_id, notebooks / "hello.ipynb", "pipeline").create()
    pipeline = (
        Pipeline(f"ads-{uuid.uuid4().hex[:6]}")
        .with_compartment_id(compartment_id)
        .with_project_id(project_id)
        .with_step_details(
            [
                PipelineStep("notebook").with_job_id(notebook.id),
                PipelineStep("after").with_job_id(step_job),
            ]
        )
        .with_dag(["notebook >> after"])
        .create()
    )
    loaded = Pipeline.from_ocid(pipeline.id)
    assert loaded.name == pipeline.name
    assert {step.name: step.job_id for step in loaded.step_details} == {
        "notebook": notebook.id,
        "after": step_job,
    }
    assert {step.name: step.depends_on for step in loaded.step_details}["after"] == ["notebook"]

    run = pipeline.run()
    deadline = time.monotonic() + 180
    while run.status not in RUN_FINISHED:
        assert time.monotonic() < deadline, f"pipeline run {run.id} still {run.status}"
        time.sleep(0.5)

    assert run.status == "SUCCEEDED", run.lifecycle_details
    by_name = {step.step_name: step for step in run.step_runs}
    notebook_run = by_name["notebook"].job_run_id
    folder = output_folder(service, "pipeline", notebook_run)
    assert (folder / "result.txt").read_text() == "answer=42\n"
    assert "hello from the notebook" in service.logs(notebook_run)
    assert by_name["after"].time_started >= by_name["notebook"].time_finished


def test_ads_pipeline_run_logs_and_watch_read_the_steps_output(
    service: EmbeddedService,
    ads_pipeline_auth: Any,
    client: Any,
    project_id: str,
    compartment_id: str,
    step_job: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A pipeline with a log group: its run gets logDetails (a log made for it), its steps'
    job runs write to that log, and ADS's PipelineRun.logs() and watch() read them."""
    from ads.pipeline import Pipeline, PipelineStep
    from ads.pipeline.ads_pipeline_run import PipelineRun

    group_id = create_log_group(service)
    pipeline = (
        Pipeline(f"ads-logs-{uuid.uuid4().hex[:6]}")
        .with_compartment_id(compartment_id)
        .with_project_id(project_id)
        .with_log_group_id(group_id)
        .with_step_details(
            [
                PipelineStep("first").with_job_id(step_job),
                PipelineStep("second").with_job_id(step_job),
            ]
        )
        .with_dag(["first >> second"])
        .create()
    )
    run = pipeline.run()
    finished = wait_for_pipeline_run(client, run.id, timeout=180)
    assert finished.lifecycle_state == "SUCCEEDED", finished.lifecycle_details
    assert finished.log_details.log_group_id == group_id
    log_id = finished.log_details.log_id
    assert log_id in [log.id for log in logging_client(service).list_logs(group_id).data]
    for step in finished.step_runs:
        job_run = client.get_job_run(step.job_run_id).data
        assert (job_run.log_details.log_group_id, job_run.log_details.log_id) == (group_id, log_id)

    loaded = PipelineRun.from_ocid(run.id)
    assert loaded.logs() is not None  # raised LogNotConfiguredError before
    capsys.readouterr()
    loaded.watch(interval=0.2)
    printed = capsys.readouterr().out
    for name in ("first", "second"):
        assert f"step={name} greeting=job run={run.id}" in printed


# --------------------------------------------------------------------------- updates


def test_update_pipeline_and_pipeline_run_through_the_sdk(
    client: Any, project_id: str, compartment_id: str, step_job: str
) -> None:
    """UpdatePipeline changes what it names (a step's configuration among it) and keeps the
    rest; UpdatePipelineRun its name and tags; if-match and unknown steps are refused."""
    pipeline = create_pipeline(
        client,
        project_id,
        compartment_id,
        [ml_job_step("a", step_job), ml_job_step("b", step_job, ["a"])],
        description="before",
    )
    etag = client.get_pipeline(pipeline.id).headers["etag"]
    updated = client.update_pipeline(
        pipeline.id,
        MODELS.UpdatePipelineDetails(
            display_name="renamed",
            freeform_tags={"team": "ml"},
            step_details=[
                MODELS.PipelineMLJobStepUpdateDetails(
                    step_name="b",
                    step_configuration_details=MODELS.PipelineStepConfigurationDetails(
                        environment_variables={"GREETING": "updated"}
                    ),
                )
            ],
        ),
        if_match=etag,
    ).data
    assert (updated.display_name, updated.description) == ("renamed", "before")
    assert updated.freeform_tags == {"team": "ml"}
    steps = {step.step_name: step for step in client.get_pipeline(pipeline.id).data.step_details}
    assert steps["b"].step_configuration_details.environment_variables == {"GREETING": "updated"}
    assert steps["b"].depends_on == ["a"] and steps["b"].job_id == step_job
    assert steps["a"].step_configuration_details is None
    with pytest.raises(oci.exceptions.ServiceError) as stale:
        client.update_pipeline(
            pipeline.id, MODELS.UpdatePipelineDetails(display_name="x"), if_match=etag
        )
    assert stale.value.status == 412
    with pytest.raises(oci.exceptions.ServiceError) as unknown:
        client.update_pipeline(
            pipeline.id,
            MODELS.UpdatePipelineDetails(
                step_details=[MODELS.PipelineMLJobStepUpdateDetails(step_name="nope")]
            ),
        )
    assert unknown.value.status == 400 and "nope" in unknown.value.message
    assert client.get_pipeline(pipeline.id).data.display_name == "renamed"

    run = run_pipeline(client, compartment_id, pipeline.id)
    renamed = client.update_pipeline_run(
        run.id,
        MODELS.UpdatePipelineRunDetails(display_name="run-renamed", freeform_tags={"k": "v"}),
    ).data
    assert (renamed.display_name, renamed.freeform_tags) == ("run-renamed", {"k": "v"})
    finished = wait_for_pipeline_run(client, run.id, timeout=180)
    assert finished.lifecycle_state == "SUCCEEDED"
    assert finished.display_name == "run-renamed"
    with pytest.raises(oci.exceptions.ServiceError) as missing:
        client.update_pipeline_run(
            run.id.replace(run.id[-6:], "aaaaaa"),
            MODELS.UpdatePipelineRunDetails(display_name="x"),
        )
    assert missing.value.status == 404


def test_list_fast_launch_job_configs_through_the_sdk(client: Any, compartment_id: str) -> None:
    configs = oci.pagination.list_call_get_all_results(
        client.list_fast_launch_job_configs, compartment_id, limit=1
    ).data
    assert configs and len({c.name for c in configs}) == len(configs)
    for config in configs:
        assert isinstance(config, MODELS.FastLaunchJobConfigSummary)
        assert config.shape_name and config.core_count > 0 and config.memory_in_gbs > 0
        assert config.shape_series != "UNKNOWN_ENUM_VALUE"
        assert config.managed_egress_support != "UNKNOWN_ENUM_VALUE"
    shapes = {s.name for s in client.list_job_shapes(compartment_id).data}
    assert {c.shape_name for c in configs} <= shapes
