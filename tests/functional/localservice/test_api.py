"""The Data Science API surface with the real oci SDK: shapes, validation, paging, errors."""

from __future__ import annotations

import re
import uuid
from typing import Any

import oci
import pytest
import requests

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    MODELS,
    create_script_job,
    job_details,
    script_artifact,
    start_run,
    wait_for_run,
)

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNKNOWN_JOB = "ocid1.datasciencejob.oc1.iad." + "a" * 60


def raw(service: EmbeddedService, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method, service.endpoint + path, auth=service.signer, timeout=30, **kwargs
    )


def service_error(call: Any, *args: Any, **kwargs: Any) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


# ------------------------------------------------------------------------------- projects


def test_project_round_trip(client: Any, compartment_id: str) -> None:
    created = client.create_project(
        MODELS.CreateProjectDetails(
            compartment_id=compartment_id, display_name="p1", freeform_tags={"team": "x"}
        )
    )
    project = created.data
    assert project.id.startswith("ocid1.datascienceproject.oc1.iad.")
    assert project.lifecycle_state == "ACTIVE"
    assert created.headers["etag"]
    assert client.get_project(project.id).data.freeform_tags == {"team": "x"}
    listed = client.list_projects(compartment_id, display_name="p1").data
    assert project.id in [p.id for p in listed]


def test_wire_format_is_camel_case_with_millisecond_utc_times(
    service: EmbeddedService, project_id: str
) -> None:
    response = raw(
        service,
        "GET",
        f"/20190101/projects/{project_id}",
        headers={"opc-request-id": "test-request-123"},
    )
    assert response.status_code == 200
    body = response.json()
    assert {"id", "compartmentId", "displayName", "lifecycleState", "timeCreated"} <= set(body)
    assert TIME_RE.match(body["timeCreated"]), body["timeCreated"]
    assert response.headers["opc-request-id"] == "test-request-123"
    assert response.headers["etag"]
    made = raw(service, "GET", f"/20190101/projects/{project_id}")
    assert made.headers["opc-request-id"]  # made up when not sent


# ------------------------------------------------------------------------------- jobs


def test_job_is_creating_until_its_artifact_arrives_then_active(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job = client.create_job(job_details(project_id, compartment_id)).data
    assert job.lifecycle_state == "CREATING"
    assert job.created_by == client.base_client.signer.api_key.split("/")[1]
    assert job.job_configuration_details.environment_variables == {"JOB_RUN_ENTRYPOINT": "main.py"}

    content = script_artifact("print('x')")
    client.create_job_artifact(
        job.id, content, content_disposition="attachment; filename=my-job.zip"
    )

    assert client.get_job(job.id).data.lifecycle_state == "ACTIVE"
    head = client.head_job_artifact(job.id)
    assert head.headers["content-disposition"] == "attachment; filename=my-job.zip"
    assert int(head.headers["content-length"]) == len(content)
    assert head.headers["content-md5"]
    assert head.headers["last-modified"].endswith("GMT")
    assert client.get_job_artifact_content(job.id).data.content == content
    second = service_error(
        client.create_job_artifact,
        job.id,
        content,
        content_disposition="attachment; filename=again.zip",
    )
    assert (second.status, second.code) == (409, "Conflict")


def test_run_of_a_job_without_artifact_is_refused(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job = client.create_job(job_details(project_id, compartment_id)).data
    error = service_error(start_run, client, project_id, compartment_id, job.id)
    assert (error.status, error.code) == (409, "IncorrectState")


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        (lambda d: d.pop("compartmentId"), 400, "MissingParameter", "compartmentId"),
        (lambda d: d.pop("projectId"), 400, "MissingParameter", "projectId"),
        (
            lambda d: d.update(compartmentId="ocid1.bucket.oc1..abc"),
            400,
            "InvalidParameter",
            "compartmentId",
        ),
        (
            lambda d: d.update(projectId="not-an-ocid"),
            400,
            "InvalidParameter",
            "projectId",
        ),
        (
            lambda d: d.update(projectId="ocid1.datascienceproject.oc1.iad." + "b" * 60),
            400,
            "RelatedResourceNotAuthorizedOrNotFound",
            "projectId",
        ),
        (
            lambda d: d["jobInfrastructureConfigurationDetails"].update(
                jobInfrastructureType="STANDALONE"
            ),
            400,
            "MissingParameter",
            "jobInfrastructureConfigurationDetails.subnetId",
        ),
        (
            lambda d: d["jobInfrastructureConfigurationDetails"].pop("shapeName"),
            400,
            "MissingParameter",
            "jobInfrastructureConfigurationDetails.shapeName",
        ),
        (
            lambda d: d["jobConfigurationDetails"].update(maximumRuntimeInMinutes=0),
            400,
            "InvalidParameter",
            "jobConfigurationDetails.maximumRuntimeInMinutes",
        ),
        (
            lambda d: d["jobConfigurationDetails"].update(environmentVariables={"A": "x" * 20_001}),
            400,
            "InvalidParameter",
            "jobConfigurationDetails.environmentVariables",
        ),
    ],
)
def test_bad_job_bodies_are_refused_naming_the_field(
    service: EmbeddedService,
    project_id: str,
    compartment_id: str,
    change: Any,
    status: int,
    code: str,
    field: str,
) -> None:
    body: dict[str, Any] = {
        "projectId": project_id,
        "compartmentId": compartment_id,
        "jobConfigurationDetails": {
            "jobType": "DEFAULT",
            "environmentVariables": {"JOB_RUN_ENTRYPOINT": "main.py"},
        },
        "jobInfrastructureConfigurationDetails": {
            "jobInfrastructureType": "ME_STANDALONE",
            "shapeName": "VM.Standard.E4.Flex",
            "blockStorageSizeInGBs": 50,
        },
    }
    change(body)
    response = raw(service, "POST", "/20190101/jobs", json=body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert field in response.json()["message"]


def test_unparseable_body_is_cannot_parse_request(service: EmbeddedService) -> None:
    response = raw(
        service,
        "POST",
        "/20190101/jobs",
        data=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "CannotParseRequest")


def test_list_jobs_filters(client: Any, project_id: str, compartment_id: str) -> None:
    other_project = client.create_project(
        MODELS.CreateProjectDetails(compartment_id=compartment_id, display_name="other")
    ).data.id
    name = f"filter-{uuid.uuid4().hex[:8]}"
    active = create_script_job(client, project_id, compartment_id, "print(1)", name=name)
    creating = client.create_job(job_details(project_id, compartment_id, name=name)).data.id
    elsewhere = create_script_job(client, other_project, compartment_id, "print(1)", name=name)

    by_name = {j.id for j in client.list_jobs(compartment_id, display_name=name).data}
    assert by_name == {active, creating, elsewhere}
    in_project = client.list_jobs(compartment_id, display_name=name, project_id=project_id).data
    assert {j.id for j in in_project} == {active, creating}
    only_active = client.list_jobs(compartment_id, display_name=name, lifecycle_state="ACTIVE").data
    assert {j.id for j in only_active} == {active, elsewhere}
    summary = only_active[0]
    assert summary.project_id in (project_id, other_project)
    assert summary.time_created is not None


def test_list_needs_a_compartment_and_valid_enums(service: EmbeddedService) -> None:
    missing = raw(service, "GET", "/20190101/jobs")
    assert (missing.status_code, missing.json()["code"]) == (400, "MissingParameter")
    assert "compartmentId" in missing.json()["message"]
    bad_state = raw(
        service,
        "GET",
        "/20190101/jobs",
        params={"compartmentId": service.tenancy_id, "lifecycleState": "RUNNING"},
    )
    assert (bad_state.status_code, bad_state.json()["code"]) == (400, "InvalidParameter")
    assert "lifecycleState" in bad_state.json()["message"]


def test_paging_ends_without_a_next_page_header(
    client: Any, project_id: str, compartment_id: str
) -> None:
    name = f"paged-{uuid.uuid4().hex[:8]}"
    created = [
        client.create_job(job_details(project_id, compartment_id, name=name)).data.id
        for _ in range(5)
    ]

    pages = []
    page = None
    while True:
        response = client.list_jobs(compartment_id, display_name=name, limit=2, page=page)
        pages.append([j.id for j in response.data])
        page = response.headers.get("opc-next-page")
        if page is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for p in pages for i in p) == sorted(created)
    # newest first by default
    assert pages[0][0] == created[-1]

    everything = oci.pagination.list_call_get_all_results(
        client.list_jobs, compartment_id, display_name=name, limit=2
    ).data
    assert sorted(j.id for j in everything) == sorted(created)
    exact = client.list_jobs(compartment_id, display_name=name, limit=5)
    assert len(exact.data) == 5 and "opc-next-page" not in exact.headers
    ascending = client.list_jobs(
        compartment_id, display_name=name, sort_by="timeCreated", sort_order="ASC"
    ).data
    assert [j.id for j in ascending] == created


def test_update_job_changes_name_and_tags_and_honours_if_match(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job = client.create_job(job_details(project_id, compartment_id))
    updated = client.update_job(
        job.data.id,
        MODELS.UpdateJobDetails(display_name="renamed", freeform_tags={"k": "v"}),
        if_match=job.headers["etag"],
    )
    assert updated.data.display_name == "renamed"
    assert updated.data.freeform_tags == {"k": "v"}
    assert updated.headers["etag"] != job.headers["etag"]
    stale = service_error(
        client.update_job,
        job.data.id,
        MODELS.UpdateJobDetails(display_name="again"),
        if_match=job.headers["etag"],
    )
    assert (stale.status, stale.code) == (412, "NoEtagMatch")


def test_delete_job_with_runs_needs_delete_related_job_runs(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('done')")
    run = start_run(client, project_id, compartment_id, job_id)
    wait_for_run(client, run.id)

    refused = service_error(client.delete_job, job_id)
    assert (refused.status, refused.code) == (409, "Conflict")

    response = client.delete_job(job_id, delete_related_job_runs=True)
    assert response.status == 202
    assert response.headers["opc-work-request-id"].startswith("ocid1.datascienceworkrequest.")
    assert client.get_job(job_id).data.lifecycle_state == "DELETED"
    assert client.get_job_run(run.id).data.lifecycle_state == "DELETED"
    listed = client.list_jobs(compartment_id, project_id=project_id).data
    assert job_id not in [j.id for j in listed]


# ------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "path",
    [
        f"/20190101/jobs/{UNKNOWN_JOB}",
        "/20190101/jobs/not-an-ocid",
        "/20190101/jobRuns/ocid1.datasciencejobrun.oc1.iad." + "c" * 60,
        "/20190101/projects/ocid1.datascienceproject.oc1.iad." + "d" * 60,
    ],
)
def test_unknown_ids_are_not_authorized_or_not_found(service: EmbeddedService, path: str) -> None:
    response = raw(service, "GET", path)
    assert response.status_code == 404
    assert response.json() == {
        "code": "NotAuthorizedOrNotFound",
        "message": "Authorization failed or requested resource not found.",
    }


def test_sdk_sees_404_as_a_service_error(client: Any) -> None:
    error = service_error(client.get_job, UNKNOWN_JOB)
    assert (error.status, error.code) == (404, "NotAuthorizedOrNotFound")


def test_unknown_routes_and_methods_answer_oci_style_json(service: EmbeddedService) -> None:
    unknown = raw(service, "GET", "/20190101/notebookSessions")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert unknown.json()["code"] == "NotFound"
    wrong_method = raw(service, "PATCH", "/20190101/jobs")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "MethodNotAllowed"
    assert wrong_method.headers["content-type"].startswith("application/json")


# ------------------------------------------------------------------------------- retry tokens


def test_create_job_retry_token_replays_the_first_result(
    client: Any, project_id: str, compartment_id: str
) -> None:
    token = uuid.uuid4().hex
    details = job_details(project_id, compartment_id, name="retried")
    first = client.create_job(details, opc_retry_token=token).data
    again = client.create_job(details, opc_retry_token=token).data
    assert again.id == first.id

    other = job_details(project_id, compartment_id, name="different body")
    error = service_error(client.create_job, other, opc_retry_token=token)
    assert (error.status, error.code) == (409, "InvalidatedRetryToken")
    assert len(client.list_jobs(compartment_id, display_name="different body").data) == 0


def test_create_project_retry_token(client: Any, compartment_id: str) -> None:
    token = uuid.uuid4().hex
    details = MODELS.CreateProjectDetails(compartment_id=compartment_id, display_name="rp")
    first = client.create_project(details, opc_retry_token=token).data
    assert client.create_project(details, opc_retry_token=token).data.id == first.id


def test_create_job_run_retry_token_starts_one_run(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('once')")
    token = uuid.uuid4().hex
    first = start_run(client, project_id, compartment_id, job_id, opc_retry_token=token)
    second = start_run(client, project_id, compartment_id, job_id, opc_retry_token=token)
    assert second.id == first.id
    error = service_error(
        start_run,
        client,
        project_id,
        compartment_id,
        job_id,
        display_name="other",
        opc_retry_token=token,
    )
    assert error.code == "InvalidatedRetryToken"
    wait_for_run(client, first.id)
    runs = client.list_job_runs(compartment_id, job_id=job_id).data
    assert [r.id for r in runs] == [first.id]


def test_create_job_artifact_retry_token_replays_success(
    client: Any, project_id: str, compartment_id: str
) -> None:
    job = client.create_job(job_details(project_id, compartment_id)).data
    content = script_artifact("print(1)")
    token = uuid.uuid4().hex
    disposition = "attachment; filename=a.zip"
    client.create_job_artifact(
        job.id, content, content_disposition=disposition, opc_retry_token=token
    )
    replay = client.create_job_artifact(
        job.id, content, content_disposition=disposition, opc_retry_token=token
    )
    assert replay.status == 200
    changed = service_error(
        client.create_job_artifact,
        job.id,
        script_artifact("print(2)"),
        content_disposition=disposition,
        opc_retry_token=token,
    )
    assert changed.code == "InvalidatedRetryToken"
