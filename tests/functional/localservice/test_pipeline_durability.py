"""kill -9 during a pipeline run: nothing acknowledged is lost, and after a restart the run
resolves as its job runs do (the in-flight step fails: the service stopped; queued and
waiting steps go on)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import create_script_job, wait_for_log
from tests.functional.localservice.test_durability import STOPPED_DETAILS
from tests.functional.localservice.test_pipelines import (
    STEP_SCRIPT,
    create_pipeline,
    ml_job_step,
    run_pipeline,
    steps_by_name,
    wait_for_pipeline_run,
    wait_for_step,
)
from tests.functional.localservice.test_run_control import gone, pids_in


@pytest.fixture(scope="module")
def one_slot_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    service = EmbeddedService(tmp_path_factory.mktemp("pipeline-durability"), concurrency=1)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_kill_9_during_a_pipeline_run_then_restart_resolves_it(
    one_slot_service: EmbeddedService, tmp_path: Path
) -> None:
    service = one_slot_service
    client = service.datascience_client()
    compartment = service.tenancy_id
    project = service.create_project(name="pipeline-durability")
    job = create_script_job(client, project, compartment, STEP_SCRIPT)
    released = tmp_path / "released"
    released.touch()
    steps = [
        ml_job_step("held", job, env={"MARKER": str(tmp_path / "never")}),
        ml_job_step("queued", job, env={"MARKER": str(released)}),
        ml_job_step("after-queued", job, ["queued"]),
        ml_job_step("after-held", job, ["held"]),
    ]
    pipeline = create_pipeline(client, project, compartment, steps)
    token = uuid.uuid4().hex
    run = run_pipeline(client, compartment, pipeline.id, token=token)
    held = wait_for_step(client, run.id, "held", {"IN_PROGRESS"})
    (pid,) = pids_in(wait_for_log(service, held.job_run_id, "pid="), r"pid=(\d+)")
    # one slot: the other ready step's job run waits its turn
    queued = wait_for_step(client, run.id, "queued", {"ACCEPTED"})

    service.kill()
    assert psutil.pid_exists(pid), "the step's process should outlive a crashed service"
    service.start()
    client = service.datascience_client()

    done = wait_for_pipeline_run(client, run.id)
    assert done.lifecycle_state == "FAILED"
    by_name = steps_by_name(done)
    assert by_name["held"].lifecycle_state == "FAILED"
    assert by_name["held"].lifecycle_details == STOPPED_DETAILS
    assert by_name["held"].job_run_id == held.job_run_id
    assert by_name["after-held"].lifecycle_state == "SKIPPED"
    assert by_name["queued"].lifecycle_state == "SUCCEEDED"
    assert by_name["queued"].job_run_id == queued.job_run_id
    assert by_name["after-queued"].lifecycle_state == "SUCCEEDED"
    assert gone(pid), "the restarted service should stop the orphaned step process"
    assert client.get_job_run(held.job_run_id).data.lifecycle_state == "FAILED"
    assert client.get_pipeline(pipeline.id).data.lifecycle_state == "ACTIVE"
    assert run_pipeline(client, compartment, pipeline.id, token=token).id == run.id
    assert len({step.job_run_id for step in done.step_runs if step.job_run_id}) == 3
