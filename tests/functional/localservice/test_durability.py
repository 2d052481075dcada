"""A private service (one run at a time, no fault injection): queueing, the run environment,
and surviving kill -9 and clean stops with nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import psutil
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService, EmbeddedServiceError
from tests.functional.localservice.conftest import (
    MODELS,
    create_script_job,
    job_details,
    start_run,
    wait_for_log,
    wait_for_run,
)
from tests.functional.localservice.test_run_control import gone, pids_in

CANARY = "NOTEBOOK_LAUNCHER_TEST_CANARY"
STOPPED_DETAILS = "Job run failed because the local service stopped during the run."

WAITER = """\
import os, pathlib, time
marker = pathlib.Path(os.environ["MARKER"])
print(f"waiter pid={os.getpid()}", flush=True)
while not marker.exists():
    time.sleep(0.05)
print("released", flush=True)
"""

ENV_REPORTER = """\
import json, os, sys
import oci

signer = oci.auth.signers.get_resource_principals_signer()
endpoint = os.environ["NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT"]
own_run = oci.data_science.DataScienceClient({}, signer=signer, service_endpoint=endpoint)
report = {
    "argv": sys.argv[1:],
    "env": dict(os.environ),
    "ownRunState": own_run.get_job_run(os.environ["JOB_RUN_OCID"]).data.lifecycle_state,
}
# no service_endpoint: the run's sitecustomize routes Object Storage to the local service
storage = oci.object_storage.ObjectStorageClient({}, signer=signer)
namespace = storage.get_namespace().data
storage.put_object(namespace, "reports", os.environ["JOB_RUN_OCID"] + "/env.json",
                   json.dumps(report).encode())
print("reported", flush=True)
"""


@pytest.fixture(scope="module")
def private_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CANARY, "the service's own environment leaked into a run")
        service = EmbeddedService(
            tmp_path_factory.mktemp("private-ds"), concurrency=1, runtime_minute_seconds=4
        )
        service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def env(private_service: EmbeddedService, tmp_path: Path) -> dict[str, Any]:
    client = private_service.datascience_client()
    compartment = private_service.tenancy_id
    project = private_service.create_project(name="durability")
    return {
        "client": client,
        "compartment": compartment,
        "project": project,
        "waiter": create_script_job(client, project, compartment, WAITER),
        "markers": tmp_path,
    }


def waiter_run(env: dict[str, Any], marker: str, *, released: bool = False) -> Any:
    path = env["markers"] / marker
    if released:
        path.touch()
    return start_run(
        env["client"],
        env["project"],
        env["compartment"],
        env["waiter"],
        job_configuration_override_details=MODELS.DefaultJobConfigurationDetails(
            environment_variables={"MARKER": str(path)}
        ),
    )


def test_runs_wait_their_turn_in_order_and_queued_runs_cancel_at_once(
    private_service: EmbeddedService, env: dict[str, Any]
) -> None:
    client = env["client"]
    first = waiter_run(env, "first")
    wait_for_log(private_service, first.id, "waiter pid=")
    queued = waiter_run(env, "queued")
    last = waiter_run(env, "last", released=True)
    time.sleep(0.5)
    for run in (queued, last):
        state = client.get_job_run(run.id).data
        assert state.lifecycle_state == "ACCEPTED"
        assert state.time_started is None

    client.cancel_job_run(queued.id)
    canceled = client.get_job_run(queued.id).data
    assert canceled.lifecycle_state == "CANCELED"
    assert canceled.time_started is None

    (env["markers"] / "first").touch()
    first_done = wait_for_run(client, first.id)
    last_done = wait_for_run(client, last.id)
    assert (first_done.lifecycle_state, last_done.lifecycle_state) == ("SUCCEEDED", "SUCCEEDED")
    assert last_done.time_started >= first_done.time_finished
    assert private_service.logs(queued.id) == ""


def test_run_environment_is_clean_and_complete(
    private_service: EmbeddedService, env: dict[str, Any]
) -> None:
    client, project, compartment = env["client"], env["project"], env["compartment"]
    job_id = create_script_job(
        client,
        project,
        compartment,
        ENV_REPORTER,
        env={"FROM_JOB": "job", "OVERRIDDEN": "job", "CONDA_ENV_SLUG": "generalml_p311_cpu_v1"},
        arguments="--alpha 'two words'",
    )
    run = start_run(
        client,
        project,
        compartment,
        job_id,
        job_configuration_override_details=MODELS.DefaultJobConfigurationDetails(
            environment_variables={"OVERRIDDEN": "run"}
        ),
    )
    finished = wait_for_run(client, run.id)
    assert finished.lifecycle_state == "SUCCEEDED", private_service.logs(run.id)

    report_file = private_service.object_path(
        private_service.namespace, "reports", f"{run.id}/env.json"
    )
    report = json.loads(report_file.read_text())
    variables = report["env"]
    assert report["argv"] == ["--alpha", "two words"]
    assert report["ownRunState"] == "IN_PROGRESS"
    assert variables["FROM_JOB"] == "job"
    assert variables["OVERRIDDEN"] == "run"
    assert variables["CONDA_ENV_SLUG"] == "generalml_p311_cpu_v1"
    assert variables["JOB_RUN_OCID"] == run.id
    assert variables["JOB_OCID"] == job_id
    assert variables["PROJECT_OCID"] == project
    assert variables["JOB_RUN_COMPARTMENT_OCID"] == compartment
    assert variables["OCI_RESOURCE_PRINCIPAL_VERSION"] == "2.2"
    assert CANARY not in variables
    assert "NB_SESSION_OCID" not in variables
    assert variables["HOME"] != str(Path.home())


def test_kill_9_loses_nothing_and_restart_settles_the_runs(
    private_service: EmbeddedService, env: dict[str, Any]
) -> None:
    client, compartment, project = env["client"], env["compartment"], env["project"]
    token = uuid.uuid4().hex
    job_details_ = job_details(project, compartment, name="before-crash")
    job_before = client.create_job(job_details_, opc_retry_token=token).data
    in_flight = waiter_run(env, "never-released")
    (pid,) = pids_in(
        wait_for_log(private_service, in_flight.id, "waiter pid="), r"waiter pid=(\d+)"
    )
    queued = waiter_run(env, "released", released=True)

    private_service.kill()
    assert psutil.pid_exists(pid), "the run process should outlive a crashed service"
    private_service.start()
    client = private_service.datascience_client()

    failed = client.get_job_run(in_flight.id).data
    assert failed.lifecycle_state == "FAILED"
    assert failed.lifecycle_details == STOPPED_DETAILS
    assert failed.time_finished is not None
    assert gone(pid), "the restarted service should stop the orphaned run process"
    assert "waiter pid=" in private_service.logs(in_flight.id)
    assert wait_for_run(client, queued.id).lifecycle_state == "SUCCEEDED"
    assert client.get_project(project).data.lifecycle_state == "ACTIVE"
    assert client.get_job(env["waiter"]).data.lifecycle_state == "ACTIVE"
    assert client.head_job_artifact(env["waiter"]).status == 200
    assert client.create_job(job_details_, opc_retry_token=token).data.id == job_before.id


def test_clean_stop_fails_running_runs_and_removes_service_json(
    private_service: EmbeddedService, env: dict[str, Any]
) -> None:
    running = waiter_run(env, "not-released")
    (pid,) = pids_in(wait_for_log(private_service, running.id, "waiter pid="), r"waiter pid=(\d+)")

    private_service.stop()

    assert not (private_service.data_dir / "service.json").exists()
    assert gone(pid)
    private_service.start()
    state = private_service.datascience_client().get_job_run(running.id).data
    assert (state.lifecycle_state, state.lifecycle_details) == ("FAILED", STOPPED_DETAILS)


def test_fault_routes_do_not_exist_without_fault_injection(
    private_service: EmbeddedService,
) -> None:
    with pytest.raises(EmbeddedServiceError, match="404"):
        private_service.inject_fault("ListJobs", status=500)


def test_serve_command_help_lists_its_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "notebook_launcher", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for option in ("--host", "--port", "--data-dir", "--concurrency", "--fault-injection"):
        assert option in result.stdout


def test_service_json_describes_the_running_service(private_service: EmbeddedService) -> None:
    info = json.loads((private_service.data_dir / "service.json").read_text())
    assert info == {
        "endpoint": private_service.endpoint,
        "pid": private_service.pid,
        "configFile": str(private_service.config_file),
        "namespace": private_service.namespace,
        "consoleUrl": private_service.console_url,
    }
    assert info["consoleUrl"].startswith(f"{private_service.endpoint}/ui/?token=")
    # owner-only: the console URL carries its token
    assert (private_service.data_dir / "service.json").stat().st_mode & 0o077 == 0
    config = oci.config.from_file(info["configFile"])
    oci.config.validate_config(config)
    assert info["endpoint"].startswith("http://127.0.0.1:")


def test_a_second_service_on_the_same_data_dir_is_refused(
    private_service: EmbeddedService,
) -> None:
    intruder = EmbeddedService(private_service.data_dir)
    with pytest.raises(EmbeddedServiceError, match="already serving"):
        intruder.start(timeout=20)
    info = json.loads((private_service.data_dir / "service.json").read_text())
    assert info["pid"] == private_service.pid
    assert private_service.datascience_client().list_jobs(private_service.tenancy_id).status == 200
