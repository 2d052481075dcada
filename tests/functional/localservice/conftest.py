"""Helpers for driving the local service with the real oci SDK and ADS over HTTP."""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import oci
import ocifs
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService

MODELS = oci.data_science.models
FINISHED = {"SUCCEEDED", "FAILED", "CANCELED", "DELETED"}


@pytest.fixture(scope="session")
def client(local_service: EmbeddedService) -> oci.data_science.DataScienceClient:
    """An API-key DataScienceClient for the session's service, without retries."""
    return local_service.datascience_client()


@pytest.fixture(scope="session")
def compartment_id(local_service: EmbeddedService) -> str:
    return local_service.tenancy_id


@pytest.fixture
def service(local_service: EmbeddedService) -> Any:
    """The session's service with no injected fault left over, before or after a test."""
    local_service.clear_faults()
    yield local_service
    local_service.clear_faults()


def unique(prefix: str) -> str:
    """A fresh name (buckets and objects outlive a test in the session's service)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fs(local_service: EmbeddedService) -> ocifs.OCIFileSystem:
    """ocifs with the service's API key, its Object Storage client pointed at the service."""
    return ocifs.OCIFileSystem(
        config=str(local_service.config_file),
        config_kwargs={"service_endpoint": local_service.endpoint},
        skip_instance_cache=True,
    )


def oci_cli(service: EmbeddedService, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed oci CLI against the service (its config, its endpoint, no retries)."""
    command = [
        str(Path(sys.executable).with_name("oci")),
        "--config-file",
        str(service.config_file),
        "--endpoint",
        service.endpoint,
        "--no-retry",
        *args,
    ]
    env = {**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"}
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )


@pytest.fixture
def collect_the_clients_sockets() -> Iterator[None]:
    """ocifs (through fsspec) and the oci SDK's UploadManager never close their HTTP sessions;
    the garbage collector reclaims the pooled sockets and reports each as unclosed (pytest's
    PytestUnraisableExceptionWarning in whichever test runs then). A module that ignores that
    warning uses this to collect after each of its tests, so none reaches another module."""
    yield
    gc.collect()


def script_artifact(script: str, name: str = "main.py") -> bytes:
    """A zip artifact holding one Python script."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, script)
    return buffer.getvalue()


def job_details(
    project_id: str,
    compartment_id: str,
    *,
    env: dict[str, str] | None = None,
    arguments: str | None = None,
    max_runtime_minutes: int | None = None,
    name: str = "script-job",
) -> Any:
    return MODELS.CreateJobDetails(
        project_id=project_id,
        compartment_id=compartment_id,
        display_name=name,
        job_configuration_details=MODELS.DefaultJobConfigurationDetails(
            environment_variables={"JOB_RUN_ENTRYPOINT": "main.py", **(env or {})},
            command_line_arguments=arguments,
            maximum_runtime_in_minutes=max_runtime_minutes,
        ),
        job_infrastructure_configuration_details=(
            MODELS.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
                shape_name="VM.Standard.E4.Flex",
                block_storage_size_in_gbs=50,
                job_shape_config_details=MODELS.JobShapeConfigDetails(ocpus=1, memory_in_gbs=16),
            )
        ),
    )


def create_script_job(
    client: Any, project_id: str, compartment_id: str, script: str, **kwargs: Any
) -> str:
    """Create an ACTIVE job whose artifact is one Python script; its OCID."""
    job = client.create_job(job_details(project_id, compartment_id, **kwargs)).data
    client.create_job_artifact(
        job.id, script_artifact(script), content_disposition="attachment; filename=job.zip"
    )
    return str(job.id)


def start_run(
    client: Any,
    project_id: str,
    compartment_id: str,
    job_id: str,
    *,
    opc_retry_token: str | None = None,
    **details: Any,
) -> Any:
    """CreateJobRun; `details` are CreateJobRunDetails fields."""
    body = MODELS.CreateJobRunDetails(
        project_id=project_id, compartment_id=compartment_id, job_id=job_id, **details
    )
    if opc_retry_token is None:
        return client.create_job_run(body).data
    return client.create_job_run(body, opc_retry_token=opc_retry_token).data


def wait_for_run(
    client: Any, run_id: str, states: Iterable[str] = FINISHED, timeout: float = 90
) -> Any:
    """Poll GetJobRun until the run is in one of `states`."""
    wanted = set(states)
    deadline = time.monotonic() + timeout
    run = client.get_job_run(run_id).data
    while run.lifecycle_state not in wanted:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"run {run_id} is {run.lifecycle_state}, not {sorted(wanted)}, after {timeout} s"
            )
        time.sleep(0.2)
        run = client.get_job_run(run_id).data
    return run


def wait_for_log(service: EmbeddedService, run_id: str, text: str, timeout: float = 60) -> str:
    """Poll the run's log over HTTP until it contains `text`."""
    deadline = time.monotonic() + timeout
    while True:
        log = service.logs(run_id)
        if text in log:
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} not in the log of {run_id} after {timeout} s:\n{log}")
        time.sleep(0.2)
