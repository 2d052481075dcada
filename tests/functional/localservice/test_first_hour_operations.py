"""The operations a user touches in a first hour, through the oci SDK and the oci CLI:
work requests (so the waiters complete), UpdateJobRun, UpdateProject, DeleteProject,
ListJobShapes and shape validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    MODELS,
    create_script_job,
    job_details,
    start_run,
    wait_for_run,
)


def oci_cli(service: EmbeddedService, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("oci")),
            "--config-file", str(service.config_file),
            "--endpoint", service.endpoint,
            *args,
        ],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"},
    )  # fmt: skip


def test_delete_job_and_wait_for_state_follows_the_work_request(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('x')\n")
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job_id).id)
    composite = oci.data_science.DataScienceClientCompositeOperations(client)
    done = composite.delete_job_and_wait_for_state(
        job_id,
        wait_for_states=["SUCCEEDED"],
        operation_kwargs={"delete_related_job_runs": True},
        waiter_kwargs={"max_wait_seconds": 30, "max_interval_seconds": 1},
    )
    work_request = done.data
    assert work_request.status == "SUCCEEDED" and work_request.operation_type == "JOB_DELETE"
    assert [(r.entity_type, r.action_type, r.identifier) for r in work_request.resources] == [
        ("job", "DELETED", job_id)
    ]
    assert client.get_job(job_id).data.lifecycle_state == "DELETED"
    assert client.get_job_run(run.id).data.lifecycle_state == "DELETED"
    listed = client.list_work_requests(compartment_id, resource_id=job_id).data
    assert [w.id for w in listed] == [work_request.id]
    assert client.list_work_request_errors(work_request.id).data == []
    assert job_id in client.list_work_request_logs(work_request.id).data[0].message
    with pytest.raises(oci.exceptions.ServiceError) as missing:
        client.get_work_request("ocid1.datascienceworkrequest.oc1.iad." + "a" * 60)
    assert missing.value.status == 404


def test_oci_cli_job_delete_waits_for_its_work_request(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('x')\n")
    result = oci_cli(
        local_service,
        "data-science", "job", "delete", "--job-id", job_id, "--force",
        "--wait-for-state", "SUCCEEDED", "--max-wait-seconds", "60",
        "--wait-interval-seconds", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"]["status"] == "SUCCEEDED"
    assert client.get_job(job_id).data.lifecycle_state == "DELETED"


def test_update_job_run_and_project_and_delete_project(client: Any, compartment_id: str) -> None:
    project = client.create_project(
        MODELS.CreateProjectDetails(compartment_id=compartment_id, display_name="first-hour")
    ).data
    updated = client.update_project(
        project.id,
        MODELS.UpdateProjectDetails(
            display_name="renamed", description="about", freeform_tags={"team": "a"}
        ),
    ).data
    assert (updated.display_name, updated.description, updated.freeform_tags) == (
        "renamed",
        "about",
        {"team": "a"},
    )
    job_id = create_script_job(client, project.id, compartment_id, "print('x')\n")
    run = wait_for_run(client, start_run(client, project.id, compartment_id, job_id).id)
    etag = client.get_job_run(run.id).headers["etag"]
    renamed = client.update_job_run(
        run.id, MODELS.UpdateJobRunDetails(display_name="kept", freeform_tags={"k": "v"}),
        if_match=etag,
    ).data  # fmt: skip
    assert (renamed.display_name, renamed.freeform_tags) == ("kept", {"k": "v"})
    with pytest.raises(oci.exceptions.ServiceError) as stale:
        client.update_job_run(run.id, MODELS.UpdateJobRunDetails(display_name="x"), if_match=etag)
    assert stale.value.status == 412

    with pytest.raises(oci.exceptions.ServiceError) as holds_jobs:
        client.delete_project(project.id)
    assert (holds_jobs.value.status, holds_jobs.value.code) == (409, "Conflict")
    client.delete_job(job_id, delete_related_job_runs=True)
    composite = oci.data_science.DataScienceClientCompositeOperations(client)
    done = composite.delete_project_and_wait_for_state(
        project.id,
        wait_for_states=["SUCCEEDED"],
        waiter_kwargs={"max_wait_seconds": 30, "max_interval_seconds": 1},
    )
    assert done.data.operation_type == "PROJECT_DELETE"
    assert client.get_project(project.id).data.lifecycle_state == "DELETED"
    with pytest.raises(oci.exceptions.ServiceError) as in_deleted:
        client.create_job(job_details(project.id, compartment_id))
    assert in_deleted.value.status == 400


def test_job_shapes_are_listed_and_checked(
    client: Any, project_id: str, compartment_id: str
) -> None:
    shapes = oci.pagination.list_call_get_all_results(
        client.list_job_shapes, compartment_id, limit=5
    ).data
    names = [shape.name for shape in shapes]
    assert {"VM.Standard.E4.Flex", "VM.Standard2.1"} <= set(names)  # the defaults and tests'
    assert len(names) == len(set(names))
    assert all(s.core_count > 0 and s.memory_in_gbs > 0 and s.shape_series for s in shapes)

    unknown = job_details(project_id, compartment_id)
    unknown.job_infrastructure_configuration_details.shape_name = "VM.Foo.1"
    with pytest.raises(oci.exceptions.ServiceError) as bad_shape:
        client.create_job(unknown)
    assert bad_shape.value.status == 400 and "VM.Foo.1" in bad_shape.value.message

    too_big = job_details(project_id, compartment_id)
    too_big.job_infrastructure_configuration_details.job_shape_config_details.ocpus = 500
    with pytest.raises(oci.exceptions.ServiceError) as bad_size:
        client.create_job(too_big)
    assert bad_size.value.status == 400 and "ocpus" in bad_size.value.message


def test_a_run_of_a_deleted_job_is_refused_without_a_retried_status(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('x')\n")
    client.delete_job(job_id)
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        start_run(client, project_id, compartment_id, job_id)
    # 400 RelatedResourceNotAuthorizedOrNotFound (OCI's code for a missing resource named in
    # the body), not 409 IncorrectState, which the SDK's default strategy retries for 600 s.
    assert (refused.value.status, refused.value.code) == (
        400,
        "RelatedResourceNotAuthorizedOrNotFound",
    )
