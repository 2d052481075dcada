"""Cancel, maximum runtime and live logs of job runs, observed over HTTP and with psutil."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import oci
import psutil
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.conftest import RUNTIME_MINUTE_SECONDS
from tests.functional.localservice.conftest import (
    create_script_job,
    start_run,
    wait_for_log,
    wait_for_run,
)
from tests.functional.localservice.test_notebook_runs import notebook_job

SLEEPER = """\
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
print(f"script pid={os.getpid()} child pid={child.pid}", flush=True)
time.sleep(600)
"""


def gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process has ended (a zombie counts as ended) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def pids_in(log: str, pattern: str) -> list[int]:
    match = re.search(pattern, log)
    assert match, log
    return [int(group) for group in match.groups()]


def test_cancel_stops_the_whole_notebook_process_tree(
    local_service: EmbeddedService, project_id: str, notebooks: Path, client: Any
) -> None:
    job = notebook_job(local_service, project_id, notebooks / "sleeps.ipynb", "sleeps").create()
    run = job.run()
    log = wait_for_log(local_service, run.id, "helper pid=")
    kernel, driver, helper = pids_in(log, r"kernel pid=(\d+) parent pid=(\d+) helper pid=(\d+)")
    assert psutil.Process(kernel).is_running()
    assert client.get_job_run(run.id).data.lifecycle_state == "IN_PROGRESS"

    run.cancel(wait_for_completion=False)

    assert client.get_job_run(run.id).data.lifecycle_state in ("CANCELING", "CANCELED")
    finished = wait_for_run(client, run.id, timeout=30)
    assert finished.lifecycle_state == "CANCELED"
    assert finished.time_finished is not None
    assert gone(kernel), "the notebook kernel (a grandchild) survived the cancel"
    assert gone(driver), "the ADS driver survived the cancel"
    assert gone(helper), "a process the notebook started survived the cancel"
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.cancel_job_run(run.id)
    assert (caught.value.status, caught.value.code) == (409, "IncorrectState")


def test_maximum_runtime_stops_and_fails_the_run(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, SLEEPER, max_runtime_minutes=1)
    started = time.monotonic()
    run = start_run(client, project_id, compartment_id, job_id)
    log = wait_for_log(service, run.id, "child pid=")
    script, child = pids_in(log, r"script pid=(\d+) child pid=(\d+)")

    finished = wait_for_run(client, run.id, timeout=RUNTIME_MINUTE_SECONDS + 30)

    elapsed = time.monotonic() - started
    assert finished.lifecycle_state == "FAILED"
    assert "maximum runtime of 1 minutes" in finished.lifecycle_details
    assert elapsed >= RUNTIME_MINUTE_SECONDS
    assert gone(script) and gone(child)


def test_run_override_of_maximum_runtime_wins(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, SLEEPER)
    run = start_run(
        client,
        project_id,
        compartment_id,
        job_id,
        job_configuration_override_details=oci.data_science.models.DefaultJobConfigurationDetails(
            maximum_runtime_in_minutes=1
        ),
    )
    finished = wait_for_run(client, run.id, timeout=RUNTIME_MINUTE_SECONDS + 30)
    assert finished.lifecycle_state == "FAILED"
    assert "maximum runtime" in finished.lifecycle_details


def test_logs_are_readable_while_the_run_is_going_and_after(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, SLEEPER)
    run = start_run(client, project_id, compartment_id, job_id)
    log = wait_for_log(service, run.id, "child pid=")
    assert client.get_job_run(run.id).data.lifecycle_state == "IN_PROGRESS"
    assert service.logs(run.id, offset=len(log)) == ""
    assert service.logs(run.id, offset=7) == log[7:]

    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.delete_job_run(run.id)
    assert (caught.value.status, caught.value.code) == (409, "IncorrectState")

    client.cancel_job_run(run.id)
    wait_for_run(client, run.id, timeout=30)
    assert "child pid=" in service.logs(run.id)
    client.delete_job_run(run.id)
    assert client.get_job_run(run.id).data.lifecycle_state == "DELETED"


def test_failing_script_reports_its_exit_code(
    service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(
        client, project_id, compartment_id, "import sys\nprint('bye')\nsys.exit(3)\n"
    )
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job_id).id)
    assert run.lifecycle_state == "FAILED"
    assert run.lifecycle_details == "Job run artifact execution failed with exit code 3."
    assert "bye" in service.logs(run.id)
