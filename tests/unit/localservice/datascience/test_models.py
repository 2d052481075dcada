"""The local Data Science backend (datascience/models): jobs, runs, cancels, lists and ids."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.errors import (
    ConflictError,
    IncorrectStateError,
    InvalidatedRetryTokenError,
    InvalidParameterError,
    MissingParameterError,
    NoEtagMatchError,
    NotFoundError,
    RelatedResourceNotFoundError,
)
from notebook_launcher.localservice.store import Store

TENANCY = "ocid1.tenancy.oc1..aaaa"
USER = "ocid1.user.oc1..bbbb"


class RecordingScheduler:
    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.canceled: list[str] = []

    def submit(self, run_id: str) -> None:
        self.submitted.append(run_id)

    def cancel(self, run_id: str) -> None:
        self.canceled.append(run_id)


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler()


@pytest.fixture
def ds(tmp_path: Path, scheduler: RecordingScheduler) -> DataScience:
    return DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", scheduler)


def job_body(project_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "projectId": project_id,
        "compartmentId": TENANCY,
        "jobConfigurationDetails": {
            "jobType": "DEFAULT",
            "environmentVariables": {"JOB_RUN_ENTRYPOINT": "main.py"},
            "maximumRuntimeInMinutes": "30",
        },
        "jobInfrastructureConfigurationDetails": {
            "jobInfrastructureType": "ME_STANDALONE",
            "shapeName": "VM.Standard.E4.Flex",
            "blockStorageSizeInGBs": 50,
        },
    }
    body.update(changes)
    return body


def active_job(ds: DataScience) -> tuple[str, str]:
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    job = ds.create_job(job_body(project), USER, None)[0].id
    ds.create_job_artifact(job, b"PK\x05\x06" + b"\0" * 18, "attachment; filename=a.zip", None)
    return project, job


def run_body(project: str, job: str, **changes: Any) -> dict[str, Any]:
    return {"projectId": project, "compartmentId": TENANCY, "jobId": job, **changes}


def test_job_gets_defaults_and_normalised_configuration(ds: DataScience) -> None:
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    job = ds.create_job(job_body(project), USER, None)[0]
    assert job.doc["displayName"].startswith("job")
    assert job.doc["createdBy"] == USER
    assert job.doc["jobConfigurationDetails"]["maximumRuntimeInMinutes"] == 30
    assert job.state == "CREATING"


def test_unknown_project_is_a_related_resource_error(ds: DataScience) -> None:
    missing = "ocid1.datascienceproject.oc1.iad." + "z" * 60
    with pytest.raises(RelatedResourceNotFoundError, match="projectId"):
        ds.create_job(job_body(missing), USER, None)


def test_missing_configuration_names_the_field(ds: DataScience) -> None:
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    body = job_body(project)
    del body["jobConfigurationDetails"]
    with pytest.raises(MissingParameterError, match="jobConfigurationDetails"):
        ds.create_job(body, USER, None)


def test_artifact_activates_the_job_once(ds: DataScience) -> None:
    _, job = active_job(ds)
    assert ds.get_job(job).state == "ACTIVE"
    assert ds.artifact(job).file_name == "a.zip"
    with pytest.raises(ConflictError):
        ds.create_job_artifact(job, b"other", "attachment; filename=b.zip", None)


def test_run_creation_submits_once_even_when_retried(
    ds: DataScience, scheduler: RecordingScheduler
) -> None:
    project, job = active_job(ds)
    first, created = ds.create_job_run(run_body(project, job), USER, "tok")
    again, created_again = ds.create_job_run(run_body(project, job), USER, "tok")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert scheduler.submitted == [first.id]
    assert first.doc["jobInfrastructureConfigurationDetails"]["shapeName"] == "VM.Standard.E4.Flex"
    with pytest.raises(InvalidatedRetryTokenError):
        ds.create_job_run(run_body(project, job, displayName="x"), USER, "tok")


def test_run_needs_an_active_job(ds: DataScience) -> None:
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    job = ds.create_job(job_body(project), USER, None)[0].id
    with pytest.raises(IncorrectStateError):
        ds.create_job_run(run_body(project, job), USER, None)


def test_cancel_of_a_queued_run_is_immediate_and_of_a_finished_run_refused(
    ds: DataScience, scheduler: RecordingScheduler
) -> None:
    project, job = active_job(ds)
    run = ds.create_job_run(run_body(project, job), USER, None)[0]
    ds.cancel_job_run(run.id, None)
    canceled = ds.get_job_run(run.id)
    assert canceled.state == "CANCELED"
    assert "timeFinished" in canceled.doc and "timeStarted" not in canceled.doc
    assert scheduler.canceled == [run.id]
    with pytest.raises(IncorrectStateError):
        ds.cancel_job_run(run.id, None)


def test_cancel_honours_if_match(ds: DataScience) -> None:
    project, job = active_job(ds)
    run = ds.create_job_run(run_body(project, job), USER, None)[0]
    with pytest.raises(NoEtagMatchError):
        ds.cancel_job_run(run.id, "stale")
    ds.cancel_job_run(run.id, run.etag)


def test_unsupported_run_overrides_are_refused(ds: DataScience) -> None:
    project, job = active_job(ds)
    body = run_body(
        project,
        job,
        jobInfrastructureConfigurationOverrideDetails={"jobInfrastructureType": "ME_STANDALONE"},
    )
    with pytest.raises(InvalidParameterError, match="jobInfrastructureConfigurationOverride"):
        ds.create_job_run(body, USER, None)


def test_lists_page_with_opaque_tokens(ds: DataScience) -> None:
    for n in range(3):
        ds.create_project({"compartmentId": TENANCY, "displayName": f"p{n}"}, USER, None)
    first = ds.list_projects({"compartmentId": TENANCY, "limit": "2", "sortBy": "displayName"})
    assert [p["displayName"] for p in first.items] == ["p0", "p1"]
    assert first.next_page is not None
    second = ds.list_projects(
        {"compartmentId": TENANCY, "limit": "2", "sortBy": "displayName", "page": first.next_page}
    )
    assert [p["displayName"] for p in second.items] == ["p2"]
    assert second.next_page is None
    with pytest.raises(InvalidParameterError, match="page"):
        ds.list_projects({"compartmentId": TENANCY, "page": "garbage!"})
    with pytest.raises(InvalidParameterError, match="limit"):
        ds.list_projects({"compartmentId": TENANCY, "limit": "0"})


def test_unknown_and_malformed_ids_are_not_found(ds: DataScience) -> None:
    with pytest.raises(NotFoundError):
        ds.get_job("ocid1.datasciencejob.oc1.iad." + "q" * 60)
    with pytest.raises(NotFoundError):
        ds.get_job("ocid1.datascienceproject.oc1.iad." + "q" * 60)  # wrong kind


@pytest.mark.parametrize("digits", ["²", "٣"])
def test_list_limits_take_ascii_digits_only(tmp_path: Path, digits: str) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    with pytest.raises(InvalidParameterError, match="limit"):
        ds.list_projects({"compartmentId": "ocid1.tenancy.oc1..aaaa", "limit": digits})


def test_page_tokens_are_bounded(tmp_path: Path) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    for number in ("9" * 30, "²", "-1"):
        token = base64.urlsafe_b64encode(f"offset:{number}".encode()).decode().rstrip("=")
        with pytest.raises(InvalidParameterError, match="page"):
            ds.list_projects({"compartmentId": "ocid1.tenancy.oc1..aaaa", "page": token})


def test_an_empty_storage_mount_list_asks_for_nothing_and_is_accepted(tmp_path: Path) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    job = ds.create_job(job_body(project, jobStorageMountConfigurationDetailsList=[]), USER, None)
    assert job[0].state == "CREATING"
    with pytest.raises(InvalidParameterError, match="jobNodeConfigurationDetails"):
        ds.create_job(job_body(project, jobNodeConfigurationDetails={}), USER, None)
