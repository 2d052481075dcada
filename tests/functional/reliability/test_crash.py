"""kill -9 of the local service in the middle of runs, then a restart on the same data dir.

A service of its own (concurrency 1) runs two launches of one job: the first sleeps, so it
is IN_PROGRESS and the second waits ACCEPTED. After SIGKILL and a restart every record is
still there, the interrupted run is FAILED with details saying the service stopped, its
orphaned kernel is gone, and the queued run starts and succeeds. The function's `status`
action reports both runs as the restarted service has them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import FunctionClient, wait_for_run
from tests.functional.reliability.conftest import NOTEBOOKS, all_records, function_config

NAP = str(NOTEBOOKS / "nap.ipynb")
KERNEL_PID = re.compile(r"kernel pid=(\d+)")


@pytest.fixture
def crash_service(tmp_path: Path) -> Iterator[EmbeddedService]:
    service = EmbeddedService(tmp_path / "crash-ds", concurrency=1)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def kernel_pid(service: EmbeddedService, run_id: str, timeout: float = 60) -> int:
    """The pid the run's kernel printed, once the run is well into its sleep."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        log = service.log_path(run_id)
        match = KERNEL_PID.search(log.read_text(errors="replace")) if log.exists() else None
        if match:
            return int(match.group(1))
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never started its kernel")


def is_gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_killed_service_keeps_every_record_and_settles_its_runs(
    crash_service: EmbeddedService,
) -> None:
    project_id = crash_service.create_project(name="crash")
    function = FunctionClient(function_config(crash_service, project_id))
    launch = {"noteBook": NAP, "jobName": "crash"}
    first = function.invoke({**launch, "parameters": {"seconds": 600}})
    second = function.invoke({**launch, "parameters": {"seconds": 0.5}})
    assert first.status == second.status == 200, (first, second)
    assert second.body["jobId"] == first.body["jobId"]
    in_flight, queued = first.body["id"], second.body["id"]

    pid = kernel_pid(crash_service, in_flight)
    client = crash_service.datascience_client()
    assert client.get_job_run(in_flight).data.lifecycle_state == "IN_PROGRESS"
    assert client.get_job_run(queued).data.lifecycle_state == "ACCEPTED"
    before = all_records(crash_service)

    crash_service.kill()
    assert not is_gone(pid), "the kernel should outlive a SIGKILLed service"
    crash_service.start()

    after = all_records(crash_service)
    for kind in ("projects", "jobs", "runs"):
        assert set(after[kind]) == set(before[kind]), kind
    assert after["jobs"] == before["jobs"]
    client = crash_service.datascience_client()
    interrupted = client.get_job_run(in_flight).data
    assert interrupted.lifecycle_state == "FAILED"
    assert "service stopped" in interrupted.lifecycle_details
    assert interrupted.time_finished is not None
    deadline = time.monotonic() + 10
    while not is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_gone(pid), "the interrupted run's kernel survived the restart"

    finished = wait_for_run(crash_service, queued)
    assert finished.lifecycle_state == "SUCCEEDED", finished.lifecycle_details
    assert "slept 0.5s" in crash_service.logs(queued)

    # The function, pointed at the restarted service, reports both runs as they now are.
    function = FunctionClient(function_config(crash_service, project_id))
    for run_id, state in ((in_flight, "FAILED"), (queued, "SUCCEEDED")):
        status = function.invoke({"action": "status", "id": run_id})
        assert status.status == 200, status
        assert status.body["id"] == run_id and status.body["lifecycleState"] == state
    assert (
        "service stopped"
        in function.invoke({"action": "status", "id": in_flight}).body["lifecycleDetails"]
    )
