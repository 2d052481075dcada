"""A warm instance remembers the job a digest resolved to: a repeat launch is one CreateJobRun.

Against the in-memory Data Science behind the port (its `calls` are what the launcher sent);
the same over HTTP against the local service is in tests/functional/function/test_launch.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.function.actions import dispatch
from notebook_launcher.function.datascience_port import Job
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    InvalidRequestError,
    NotFoundError,
    RetryTokenInvalidatedError,
)
from notebook_launcher.function.job_spec import DIGEST_TAG, LAUNCHER_TAG
from notebook_launcher.function.launcher import Launcher
from notebook_launcher.function.oci_edge import Auth, OciEdge
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings
from notebook_launcher.function.warm_memory import MemoryKey, WarmMemory
from notebook_launcher.oci_facts.states import JobState
from tests.unit.function.fake_datascience import FakeDataScience

PROJECT = "ocid1.datascienceproject.oc1.iad.p1"
OTHER_PROJECT = "ocid1.datascienceproject.oc1.iad.p2"
COMPARTMENT = "ocid1.compartment.oc1..c1"
NOTEBOOKS = Path(__file__).parents[2] / "fixtures" / "notebooks"


def settings(project: str = PROJECT) -> Settings:
    return Settings(
        project_id=project,
        compartment_id=COMPARTMENT,
        log_group_id="ocid1.loggroup.oc1.iad.g1",
        output_folder="oci://out@ns/reports",
        allow_local_notebooks=True,
    )


class Instance:
    """One warm function instance: its memory, and launches through the fake."""

    def __init__(self, ds: FakeDataScience, memory: WarmMemory | None = None) -> None:
        self.ds = ds
        self.memory = WarmMemory() if memory is None else memory

    def launcher(self, project: str = PROJECT) -> Launcher:
        config = settings(project)
        edge = OciEdge(config, Auth(config={}, signer=None, kind="api_key"))
        return Launcher(config, edge, datascience=self.ds, memory=self.memory)

    def launch(self, name: str = "hello.ipynb", **fields: Any) -> dict[str, Any]:
        project = fields.pop("project", PROJECT)
        body = {"noteBook": str(NOTEBOOKS / name), **fields}
        request = parse_request(json.dumps(body).encode(), settings(project))
        self.ds.calls.clear()
        outcome = dispatch(request, self.launcher(project), Deadline.after(30), None)
        return outcome.body

    def existing_job(self, name: str = "hello.ipynb", project: str = PROJECT) -> Job:
        """An ACTIVE job with the notebook's digest, as an earlier launch would have left it."""
        body = {"noteBook": str(NOTEBOOKS / name)}
        request = parse_request(json.dumps(body).encode(), settings(project))
        _, spec = self.launcher(project).prepare_job(request, Deadline.after(30))
        job_id = self.ds._new_id("datasciencejob")
        return self.ds.add_job(
            Job(
                job_id,
                spec.display_name(),
                spec.project_id,
                spec.compartment_id,
                JobState.ACTIVE,
                time_created=self.ds._tick(),
                freeform_tags={DIGEST_TAG: spec.digest(), LAUNCHER_TAG: "job"},
            )
        )


def test_a_warm_repeat_launch_is_one_create_job_run() -> None:
    instance = Instance(FakeDataScience())
    job = instance.existing_job()
    first = instance.launch()
    assert instance.ds.calls == ["ListJobs", "CreateJobRun"]
    second = instance.launch()
    assert instance.ds.calls == ["CreateJobRun"]
    assert first["jobId"] == second["jobId"] == job.id and second["jobReused"] is True
    assert second["id"] != first["id"]


def test_the_memory_holds_ids_only() -> None:
    instance = Instance(FakeDataScience())
    job = instance.existing_job()
    instance.launch(parameters={"secret_token": "s3cr3t"})
    held = list(instance.memory._entries.items())
    assert len(held) == 1 and held[0][1][0] == job.id
    assert "s3cr3t" not in repr(held)


def test_a_job_deleted_between_two_warm_launches_is_looked_up_again() -> None:
    instance = Instance(FakeDataScience())
    old = instance.existing_job()
    instance.launch()
    instance.ds.delete_job(old.id, None, Deadline.after(30))
    new = instance.existing_job()
    answer = instance.launch()
    # CreateJobRun on the deleted job is refused (400 RelatedResourceNotAuthorizedOrNotFound).
    assert instance.ds.calls == ["CreateJobRun", "ListJobs", "CreateJobRun"]
    assert answer["jobId"] == new.id
    instance.launch()
    assert instance.ds.calls == ["CreateJobRun"]  # the new job is the one remembered now
    assert instance.ds.runs[instance.launch()["id"]].job_id == new.id


@pytest.mark.parametrize("state", [JobState.DELETING, JobState.FAILED, JobState.CREATING])
def test_a_remembered_job_no_longer_active_is_forgotten(state: JobState) -> None:
    instance = Instance(FakeDataScience())
    old = instance.existing_job()
    instance.launch()
    instance.ds.jobs[old.id] = replace(old, lifecycle_state=state)  # 409 IncorrectState now
    new = instance.existing_job()
    assert instance.launch()["jobId"] == new.id
    assert instance.ds.calls == ["CreateJobRun", "ListJobs", "CreateJobRun"]


def test_a_remembered_job_answering_404_is_looked_up_again() -> None:
    instance = Instance(FakeDataScience())
    old = instance.existing_job()
    instance.launch()
    del instance.ds.jobs[old.id]  # purged; and OCI may answer 404 for a job it no longer shows
    instance.ds.fail["CreateJobRun"].append(NotFoundError("NotAuthorizedOrNotFound"))
    new = instance.existing_job()
    assert instance.launch()["jobId"] == new.id
    assert instance.ds.calls == ["CreateJobRun", "ListJobs", "CreateJobRun"]


def test_a_refusal_of_the_run_itself_is_answered_after_one_lookup() -> None:
    instance = Instance(FakeDataScience())
    instance.existing_job()
    instance.launch()
    instance.ds.fail["CreateJobRun"].append(InvalidRequestError("InvalidParameter: too long"))
    with pytest.raises(InvalidRequestError, match="too long"):
        instance.launch()
    # The lookup found the same ACTIVE job: the run is not sent a second time.
    assert instance.ds.calls == ["CreateJobRun", "ListJobs"]
    instance.launch()
    assert instance.ds.calls == ["CreateJobRun"]  # and the job is still remembered


def test_a_retry_token_refusal_is_not_a_reason_to_look_again() -> None:
    instance = Instance(FakeDataScience())
    instance.existing_job()
    instance.launch()
    instance.ds.fail["CreateJobRun"].append(RetryTokenInvalidatedError("reused"))
    with pytest.raises(RetryTokenInvalidatedError):
        instance.launch()
    assert instance.ds.calls == ["CreateJobRun"]


def test_a_full_memory_evicts_the_least_recently_used_digest() -> None:
    instance = Instance(FakeDataScience(), WarmMemory(max_entries=2))
    names = ["hello.ipynb", "fails.ipynb", "no_params_cell.ipynb"]
    for name in names:
        instance.existing_job(name)
        instance.launch(name)
    assert len(instance.memory) == 2
    instance.launch(names[2])
    assert instance.ds.calls == ["CreateJobRun"]
    instance.launch(names[0])  # evicted when the third was remembered
    assert instance.ds.calls == ["ListJobs", "CreateJobRun"]


def test_an_entry_older_than_the_maximum_age_is_not_trusted() -> None:
    now = [0.0]
    instance = Instance(FakeDataScience(), WarmMemory(max_age_seconds=60, clock=lambda: now[0]))
    instance.existing_job()
    instance.launch()
    now[0] = 61.0
    instance.launch()
    assert instance.ds.calls == ["ListJobs", "CreateJobRun"]


def test_the_memory_is_never_shared_across_projects() -> None:
    instance = Instance(FakeDataScience())
    instance.existing_job()
    other = instance.existing_job(project=OTHER_PROJECT)
    instance.launch()
    assert instance.launch(project=OTHER_PROJECT)["jobId"] == other.id
    assert instance.ds.calls == ["ListJobs", "CreateJobRun"]


def test_keys_differ_by_endpoint_compartment_project_and_digest() -> None:
    memory = WarmMemory()
    base = MemoryKey("job", "https://a/20190101", COMPARTMENT, PROJECT, "d1")
    memory.remember(base, "j1")
    for change in (
        {"endpoint": "https://b/20190101"},
        {"compartment_id": "ocid1.compartment.oc1..c2"},
        {"project_id": OTHER_PROJECT},
        {"digest": "d2"},
    ):
        assert memory.get(replace(base, **change)) is None
    assert memory.get(base) == "j1"
