"""The create path's state machine against the in-memory Data Science (fake_datascience)."""

from __future__ import annotations

from typing import Any

import pytest

from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    LauncherError,
    RetryTokenInvalidatedError,
    ServiceUnavailableError,
)
from notebook_launcher.function.job_creation import MAX_LINKS, JobCreation, Step
from notebook_launcher.oci_facts.states import JobState
from tests.unit.function.fake_datascience import FakeDataScience

BODY = {
    "displayName": "weekly-nlabc",
    "projectId": "ocid1.datascienceproject.oc1.iad.p",
    "compartmentId": "ocid1.compartment.oc1..c",
    "freeformTags": {"notebook-launcher": "job"},
}
ARTIFACT = b"PK-artifact"

S = Step


def token_for(purpose: str, *parts: str) -> str:
    """Tokens derived from the job alone, as the launcher derives them with reuse."""
    return ":".join(("digest", purpose, *parts))


def creation(ds: FakeDataScience, body: dict[str, Any] | None = None) -> JobCreation:
    def discard(job_id: str, etag: str | None) -> None:
        try:
            ds.delete_job(job_id, etag, Deadline.after(10))
        except LauncherError:
            pass  # best effort, as the launcher's

    return JobCreation(
        port=ds,
        body=body or BODY,
        artifact=ARTIFACT,
        artifact_name="job.zip",
        token_for=token_for,
        discard=discard,
    )


def test_a_fresh_job_is_made_then_uploaded() -> None:
    ds = FakeDataScience()
    making = creation(ds)
    job = making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.UPLOAD, S.DONE]
    assert ds.jobs[job.id].lifecycle_state == JobState.ACTIVE
    assert ds.artifacts[job.id] == ARTIFACT
    assert ds.calls == ["CreateJob", "CreateJobArtifact"]


def test_a_second_creator_with_the_same_tokens_converges_on_the_first_job() -> None:
    ds = FakeDataScience()
    first = creation(ds).run(Deadline.after(10))
    second = creation(ds)
    job = second.run(Deadline.after(10))
    # The replayed CreateJob answers the job as first created (CREATING); the replayed
    # upload token answers as the first upload did.
    assert job.id == first.id and len(ds.jobs) == 1
    assert second.steps == [S.MAKE, S.UPLOAD, S.DONE]


def test_a_concurrent_upload_that_won_is_found_by_looking() -> None:
    ds = FakeDataScience()
    making = creation(ds)

    def other_creator_uploads() -> None:
        (job_id,) = ds.jobs
        ds.upload_artifact(job_id, ARTIFACT, "job.zip", "other-token", Deadline.after(10))

    ds.before["CreateJobArtifact"].append(other_creator_uploads)
    job = making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.UPLOAD, S.LOOK, S.DONE]
    assert job.lifecycle_state == JobState.ACTIVE and len(ds.jobs) == 1


def test_a_replayed_job_deleted_since_makes_the_next_job_of_the_chain() -> None:
    ds = FakeDataScience()
    # A creator crashed between CreateJob and CreateJobArtifact; its job was cleaned up.
    first = ds.create_job(BODY, token_for("job"), Deadline.after(10))
    ds.delete_job(first.id, None, Deadline.after(10))
    again = creation(ds)
    job = again.run(Deadline.after(10))
    # MAKE replays the deleted job as CREATING; its upload is refused; GetJob shows it gone.
    assert again.steps == [S.MAKE, S.UPLOAD, S.LOOK, S.MAKE, S.UPLOAD, S.DONE]
    assert job.id != first.id and ds.jobs[job.id].lifecycle_state == JobState.ACTIVE
    # a third creator follows the same chain to the same job
    third = creation(ds)
    assert third.run(Deadline.after(10)).id == job.id


def test_a_replay_that_answers_the_deleted_job_moves_on_without_uploading() -> None:
    ds = FakeDataScience()
    first = ds.create_job(BODY, token_for("job"), Deadline.after(10))
    ds.delete_job(first.id, None, Deadline.after(10))
    # Data Science answering the replay with the job as it is now (DELETED)
    ds._tokens[("CreateJob", "digest:job")] = (
        ds._tokens[("CreateJob", "digest:job")][0],
        ds.jobs[first.id],
    )
    making = creation(ds)
    job = making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.MAKE, S.UPLOAD, S.DONE]
    assert job.id != first.id


def test_a_refused_token_moves_to_the_next_link() -> None:
    ds = FakeDataScience()
    # the token was spent on another body (e.g. a job since purged)
    ds.create_job({**BODY, "displayName": "other"}, "digest:job", Deadline.after(10))
    making = creation(ds)
    job = making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.MAKE, S.UPLOAD, S.DONE]
    assert ds.jobs[job.id].display_name == BODY["displayName"]


def test_every_token_refused_is_the_refusal() -> None:
    ds = FakeDataScience()
    ds.fail["CreateJob"] = [RetryTokenInvalidatedError("refused")] * (MAX_LINKS + 1)
    making = creation(ds)
    with pytest.raises(RetryTokenInvalidatedError):
        making.run(Deadline.after(10))
    assert making.steps == [S.MAKE] * (MAX_LINKS + 1)
    assert not ds.jobs


def test_jobs_deleted_before_use_every_time_is_a_conflict() -> None:
    ds = FakeDataScience()

    def delete_the_new_job() -> None:
        creating = [j for j in ds.jobs.values() if j.lifecycle_state == JobState.CREATING]
        ds.delete_job(creating[-1].id, None, Deadline.after(10))

    ds.before["CreateJobArtifact"] = [delete_the_new_job] * (MAX_LINKS + 1)
    making = creation(ds)
    with pytest.raises(ConflictError, match="deleted before it could be used"):
        making.run(Deadline.after(10))
    assert making.steps.count(S.MAKE) == MAX_LINKS + 1
    assert all(j.lifecycle_state == JobState.DELETED for j in ds.jobs.values())


def test_a_failed_upload_discards_the_half_made_job() -> None:
    ds = FakeDataScience()
    ds.fail["CreateJobArtifact"] = [ServiceUnavailableError("upload timed out")]
    making = creation(ds)
    with pytest.raises(ServiceUnavailableError):
        making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.UPLOAD, S.DISCARD]
    (job,) = ds.jobs.values()
    assert job.lifecycle_state == JobState.DELETED


def test_the_discard_never_deletes_a_job_a_concurrent_creator_finished() -> None:
    ds = FakeDataScience()

    def other_creator_finishes_then_ours_fails() -> None:
        (job_id,) = ds.jobs
        ds.upload_artifact(job_id, ARTIFACT, "job.zip", "other-token", Deadline.after(10))
        ds.fail["CreateJobArtifact"].append(ServiceUnavailableError("timed out"))

    ds.before["CreateJobArtifact"].append(other_creator_finishes_then_ours_fails)
    making = creation(ds)
    with pytest.raises(ServiceUnavailableError):
        making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.UPLOAD, S.DISCARD]
    (job,) = ds.jobs.values()
    assert job.lifecycle_state == JobState.ACTIVE  # the delete carried CreateJob's etag
    assert ds.calls[-1] == "DeleteJob"


def test_an_upload_refused_while_the_job_is_still_creating_is_that_error() -> None:
    ds = FakeDataScience()
    ds.fail["CreateJobArtifact"] = [ConflictError("IncorrectState")]
    making = creation(ds)
    with pytest.raises(ConflictError, match="IncorrectState"):
        making.run(Deadline.after(10))
    assert making.steps == [S.MAKE, S.UPLOAD, S.LOOK]
