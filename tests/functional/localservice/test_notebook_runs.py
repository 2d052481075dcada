"""Notebook jobs through the real ADS: create, upload, run, poll, outputs in Object Storage."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService

ads_jobs = pytest.importorskip("ads.jobs")


def ads_auth(service: EmbeddedService) -> dict[str, Any]:
    return {"config": service.oci_config(), "client_kwargs": {"service_endpoint": service.endpoint}}


def notebook_job(
    service: EmbeddedService, project_id: str, notebook: Path, output_prefix: str
) -> Any:
    auth = ads_auth(service)
    infrastructure = (
        ads_jobs.DataScienceJob(**auth)
        .with_compartment_id(service.tenancy_id)
        .with_project_id(project_id)
        .with_shape_name("VM.Standard.E4.Flex")
        .with_shape_config_details(ocpus=1, memory_in_gbs=16)
        .with_block_storage_size(50)
    )
    runtime = (
        ads_jobs.NotebookRuntime()
        .with_notebook(str(notebook))
        .with_service_conda("generalml_p311_cpu_x86_64_v1")
        .with_output(f"oci://outputs@{service.namespace}/{output_prefix}/$JOB_RUN_OCID")
    )
    return (
        ads_jobs.Job(name=f"{notebook.stem}-{uuid.uuid4().hex[:6]}", **auth)
        .with_infrastructure(infrastructure)
        .with_runtime(runtime)
    )


def wait(run: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while run.status not in ("SUCCEEDED", "FAILED", "CANCELED"):
        assert time.monotonic() < deadline, f"run {run.id} still {run.status}"
        time.sleep(0.3)
        run.sync()
    return run


def output_folder(service: EmbeddedService, prefix: str, run_id: str) -> Path:
    return service.object_path(service.namespace, "outputs", f"{prefix}/{run_id}")


def test_notebook_run_succeeds_and_uploads_the_executed_notebook(
    local_service: EmbeddedService, project_id: str, notebooks: Path
) -> None:
    job = notebook_job(local_service, project_id, notebooks / "hello.ipynb", "hello").create()
    assert job.id.startswith("ocid1.datasciencejob.oc1.iad.")
    assert local_service.datascience_client().get_job(job.id).data.lifecycle_state == "ACTIVE"

    run = wait(job.run())

    assert run.status == "SUCCEEDED", run.lifecycle_details
    assert run.time_started is not None and run.time_finished is not None
    folder = output_folder(local_service, "hello", run.id)
    assert (folder / "result.txt").read_text() == "answer=42\n"
    executed = nbformat.read(folder / "hello.ipynb", as_version=4)
    outputs = [o for cell in executed.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("hello from the notebook" in o.get("text", "") for o in outputs)
    assert any(o.get("data", {}).get("text/plain") == "42" for o in outputs)
    # the driver printed the cell outputs; the log is readable over HTTP after the run
    log = local_service.logs(run.id)
    assert "hello from the notebook" in log
    assert f"run {run.id}" in log


def test_failing_cell_fails_the_run_and_still_saves_the_executed_notebook(
    local_service: EmbeddedService, project_id: str, notebooks: Path
) -> None:
    job = notebook_job(local_service, project_id, notebooks / "fails.ipynb", "fails").create()

    run = wait(job.run())

    assert run.status == "FAILED"
    assert run.lifecycle_details == "Job run artifact execution failed with exit code 1."
    assert run.exit_code == 1  # ADS parses it out of the details
    executed = nbformat.read(
        output_folder(local_service, "fails", run.id) / "fails.ipynb", as_version=4
    )
    first, failing, never = executed.cells
    assert "before the failure" in first.outputs[0]["text"]
    assert failing.outputs[0]["output_type"] == "error"
    assert failing.outputs[0]["ename"] == "ValueError"
    assert never.outputs == []
    assert "the notebook failed on purpose" in local_service.logs(run.id)


def test_job_loads_back_from_its_ocid_with_the_notebook_runtime(
    local_service: EmbeddedService, project_id: str, notebooks: Path
) -> None:
    created = notebook_job(local_service, project_id, notebooks / "hello.ipynb", "loaded").create()

    loaded = ads_jobs.Job(**ads_auth(local_service)).from_datascience_job(created.id)

    assert loaded.id == created.id
    assert loaded.name == created.name
    assert isinstance(loaded.runtime, ads_jobs.NotebookRuntime)
    assert loaded.runtime.notebook_uri.endswith("hello.ipynb")
    assert loaded.runtime.output_uri == created.runtime.output_uri
    assert loaded.infrastructure.project_id == project_id
    assert loaded.infrastructure.shape_name == "VM.Standard.E4.Flex"
    assert loaded.infrastructure.dsc_job.artifact.endswith(".zip")  # from HeadJobArtifact


def test_a_notebook_reads_and_writes_data_and_lists_its_runs_as_on_oci(
    local_service: EmbeddedService, project_id: str, notebooks: Path
) -> None:
    """pandas on `oci://`, ocifs and ADS inside the run reach the local service through the
    run's network shim, with no code in the notebook that knows it is local."""
    client = local_service.object_storage_client()
    ns = local_service.namespace
    bucket = f"data-{uuid.uuid4().hex[:8]}"
    client.put_object(ns, bucket, "in/sales.csv", b"region,sales\neast,10\nwest,32\n")
    job = notebook_job(local_service, project_id, notebooks / "data_roundtrip.ipynb", "data")
    job.runtime.with_environment_variable(
        SALES_URI=f"oci://{bucket}@{ns}/in/sales.csv",
        RESULT_URI=f"oci://{bucket}@{ns}/out/result.txt",
    )
    run = wait(job.create().run(), timeout=180)
    log = local_service.logs(run.id)
    assert run.status == "SUCCEEDED", log
    assert local_service.object_path(ns, bucket, "out/result.txt").read_text() == "total=42\n"
    assert "result exists True" in log
    assert "runs of this job 1" in log
