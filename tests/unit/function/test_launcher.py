"""The launcher's actions against the in-memory Data Science behind the port.

The create path's recovery is tested in test_job_creation.py; the whole launch (ADS, the real
SDK, the local service) in tests/functional/function.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from notebook_launcher.function.actions import dispatch
from notebook_launcher.function.answers import run_brief
from notebook_launcher.function.datascience_port import Job, JobRun
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import ConflictError, InvalidRequestError
from notebook_launcher.function.job_spec import DIGEST_TAG
from notebook_launcher.function.launcher import Launcher
from notebook_launcher.function.oci_edge import Auth, OciEdge
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.states import JobRunState, JobState
from tests.unit.function.fake_datascience import ENDPOINT, FakeDataScience

PROJECT = "ocid1.datascienceproject.oc1.iad.p1"
COMPARTMENT = "ocid1.compartment.oc1..c1"
JOB_ID = "ocid1.datasciencejob.oc1.iad.j1"
RUN_ID = "ocid1.datasciencejobrun.oc1.iad.r1"
SETTINGS = Settings(project_id=PROJECT, compartment_id=COMPARTMENT)


def launcher(ds: FakeDataScience) -> Launcher:
    # The edge is never called here: every Data Science call goes to the fake.
    edge = OciEdge(SETTINGS, Auth(config={}, signer=None, kind="api_key"))
    return Launcher(SETTINGS, edge, datascience=ds)


def handle(ds: FakeDataScience, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    request = parse_request(json.dumps(body).encode(), SETTINGS)
    return dispatch(request, launcher(ds), Deadline.after(30), key).body


def active_job(ds: FakeDataScience, **tags: str) -> Job:
    return ds.add_job(
        Job(
            JOB_ID,
            "weekly",
            PROJECT,
            COMPARTMENT,
            JobState.ACTIVE,
            freeform_tags=tags,
            environment={"OUTPUT_URI": "oci://out@ns/reports/${JOB_RUN_OCID}"},
            document={"id": JOB_ID, "displayName": "weekly"},
        )
    )


def with_run(ds: FakeDataScience, state: JobRunState) -> None:
    ds.add_run(JobRun(RUN_ID, JOB_ID, "weekly-run", state, lifecycle_details="details"))


def test_status_answers_the_run_in_brief_and_why_there_is_no_report_yet() -> None:
    ds = FakeDataScience()
    with_run(ds, JobRunState.IN_PROGRESS)
    body = handle(ds, {"action": "status", "id": RUN_ID})
    assert body == {
        **run_brief(ds.runs[RUN_ID]),
        "reportUnavailable": "the run has not ended",
    }
    assert body["lifecycleState"] == "IN_PROGRESS" and ds.calls == ["GetJobRun"]


@pytest.mark.parametrize(
    ("state", "after"),
    [
        (JobRunState.ACCEPTED, "CANCELED"),
        (JobRunState.IN_PROGRESS, "CANCELING"),
        (JobRunState.NEEDS_ATTENTION, "CANCELING"),  # cancelable, as ADS has it
    ],
)
def test_cancel_sends_cancel_job_run_for_every_cancelable_state(
    state: JobRunState, after: str
) -> None:
    ds = FakeDataScience()
    with_run(ds, state)
    body = handle(ds, {"action": "cancel", "id": RUN_ID})
    assert body["lifecycleState"] == after
    assert ds.calls == ["GetJobRun", "CancelJobRun", "GetJobRun"]


def test_cancel_of_a_canceling_run_sends_nothing() -> None:
    ds = FakeDataScience()
    with_run(ds, JobRunState.CANCELING)
    assert handle(ds, {"action": "cancel", "id": RUN_ID})["lifecycleState"] == "CANCELING"
    assert ds.calls == ["GetJobRun"]


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED", "CANCELED", "DELETED"])
def test_cancel_of_a_finished_run_is_a_conflict(state: str) -> None:
    ds = FakeDataScience()
    with_run(ds, JobRunState(state))
    with pytest.raises(ConflictError, match=f"already finished \\({state}\\)"):
        handle(ds, {"action": "cancel", "id": RUN_ID})
    assert "CancelJobRun" not in ds.calls


def test_a_job_id_launch_runs_that_job_and_a_retry_with_the_key_gets_the_same_run() -> None:
    ds = FakeDataScience()
    active_job(ds)
    body = handle(ds, {"jobId": JOB_ID, "runName": "weekly-1"}, key="key-1")
    run_id = body["id"]
    assert body == {
        "id": run_id,
        "jobId": JOB_ID,
        "lifecycleState": "ACCEPTED",
        "jobReused": True,
        "runName": "weekly-1",
        "outputUri": f"oci://out@ns/reports/{run_id}",
        "pollUrl": f"{ENDPOINT}/jobRuns/{run_id}",
    }
    again = handle(ds, {"jobId": JOB_ID, "runName": "weekly-1"}, key="key-1")
    assert again["id"] == run_id and len(ds.runs) == 1
    assert ds.calls == ["GetJob", "CreateJobRun", "GetJob", "CreateJobRun"]


def test_a_job_id_dry_run_shows_the_job_as_the_service_has_it_and_creates_nothing() -> None:
    ds = FakeDataScience()
    active_job(ds)
    body = handle(ds, {"jobId": JOB_ID, "dryRun": True, "runName": "weekly-1"})
    assert body["dryRun"] is True and body["job"] == {"id": JOB_ID, "displayName": "weekly"}
    assert body["run"]["displayName"] == "weekly-1" and not ds.runs


def test_a_job_that_is_not_active_cannot_be_run() -> None:
    ds = FakeDataScience()
    active_job(ds)
    ds.delete_job(JOB_ID, None, Deadline.after(10))
    with pytest.raises(ConflictError, match="is DELETED; only an ACTIVE job"):
        handle(ds, {"jobId": JOB_ID})
    assert not ds.runs


def test_parameters_need_a_job_the_launcher_made() -> None:
    ds = FakeDataScience()
    active_job(ds)
    with pytest.raises(InvalidRequestError, match="not created by notebook-launcher"):
        handle(ds, {"jobId": JOB_ID, "parameters": {"region": "apac"}})
    ds.jobs.clear()
    active_job(ds, **{DIGEST_TAG: "abc"})
    assert handle(ds, {"jobId": JOB_ID, "parameters": {"region": "apac"}})["id"]
