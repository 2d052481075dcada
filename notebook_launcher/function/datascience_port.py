"""The port in front of Data Science.

The launcher and the run report talk to this small typed interface and get the project's own
frozen records back, never SDK models. `function.oci_edge.OciEdge` implements it over the oci
SDK (deadline-bounded retries, errors translated to `function.errors`); the unit tests
implement it in memory (`tests/unit/function/fake_datascience.py`). New resources (pipelines,
schedules) are new records and new methods here, implemented by the edge.

Errors are the function's own: NotFoundError, ConflictError, RetryTokenInvalidatedError, and
the other LauncherErrors the edge translates to. A `retry_token` has OCI's semantics: the same
token with the same request replays the first answer; with a different request it is refused
(RetryTokenInvalidatedError).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from notebook_launcher.function.deadline import Deadline


@dataclass(frozen=True)
class Job:
    """A job as GetJob, ListJobs or CreateJob answer it, with what the launcher reads."""

    id: str
    display_name: str
    project_id: str
    compartment_id: str
    lifecycle_state: str
    time_created: dt.datetime | None = None
    freeform_tags: Mapping[str, str] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)
    # The job as the API answered it (camelCase, as sent on the wire): what a dry run shows.
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)
    etag: str | None = None  # CreateJob's etag, for a delete that must not race an upload


@dataclass(frozen=True)
class JobPage:
    """One page of ListJobs: its jobs, and whether more pages follow."""

    jobs: tuple[Job, ...]
    more: bool = False


@dataclass(frozen=True)
class JobRun:
    """A job run as GetJobRun or CreateJobRun answer it."""

    id: str
    job_id: str
    display_name: str
    lifecycle_state: str
    lifecycle_details: str | None = None
    time_accepted: dt.datetime | None = None
    time_started: dt.datetime | None = None
    time_finished: dt.datetime | None = None


@dataclass(frozen=True)
class NewJobRun:
    """What CreateJobRun is asked to make."""

    job_id: str
    project_id: str
    compartment_id: str
    display_name: str
    override_details: Mapping[str, Any] | None
    freeform_tags: Mapping[str, str]
    defined_tags: Mapping[str, Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class JobQuery:
    """ListJobs by display name within a project, oldest first."""

    compartment_id: str
    project_id: str
    display_name: str
    lifecycle_state: str | None = None
    limit: int = 50


class DataSciencePort(Protocol):
    """The Data Science operations the function needs, within an invocation's deadline."""

    @property
    def endpoint(self) -> str:
        """The Data Science endpoint with its API version, e.g. https://.../20190101."""
        ...

    def get_job(self, job_id: str, deadline: Deadline) -> Job: ...

    def find_jobs(self, query: JobQuery, deadline: Deadline) -> JobPage: ...

    def create_job(
        self, body: Mapping[str, Any], retry_token: str | None, deadline: Deadline
    ) -> Job:
        """CreateJob with the CreateJobDetails body (camelCase, as on the wire); the job is
        CREATING until its artifact is uploaded (or replayed as it is now)."""
        ...

    def upload_artifact(
        self,
        job_id: str,
        artifact: bytes,
        file_name: str,
        retry_token: str | None,
        deadline: Deadline,
    ) -> None:
        """CreateJobArtifact: the job becomes ACTIVE. ConflictError if it already has one,
        NotFoundError if it is gone."""
        ...

    def delete_job(self, job_id: str, etag: str | None, deadline: Deadline) -> None:
        """DeleteJob (never its runs); with an etag, only the job as it was then."""
        ...

    def get_run(self, run_id: str, deadline: Deadline) -> JobRun: ...

    def create_run(self, run: NewJobRun, retry_token: str | None, deadline: Deadline) -> JobRun: ...

    def cancel_run(self, run_id: str, deadline: Deadline) -> None: ...
