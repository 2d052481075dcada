"""An in-memory Data Science behind the port, honest about what the launcher relies on.

- `opc-retry-token`: the same token with the same request replays the first answer (a job as
  it was when first created, even if it has changed or been deleted since); the same token
  with a different request is refused (RetryTokenInvalidatedError).
- A job is CREATING until its artifact is uploaded, then ACTIVE; a second upload is a
  ConflictError, an upload to a deleted job a NotFoundError. Deleted jobs stay visible as
  DELETED. Every change gives the job a new etag; DeleteJob with an old etag is a
  ConflictError (412 NoEtagMatch).
- CreateJobRun on a missing or DELETED job is an InvalidRequestError (400
  RelatedResourceNotAuthorizedOrNotFound), on a job in another state a ConflictError (409
  IncorrectState), as the local service answers.
- CancelJobRun: an ACCEPTED run is CANCELED at once, an IN_PROGRESS or NEEDS_ATTENTION one
  goes CANCELING; any other is a ConflictError (409 IncorrectState).

Faults and concurrency are injected per operation: `fail[op]` is a queue of errors raised
instead of the operation, `before[op]` a queue of actions, one run just before each call (another
creator's upload, a deletion).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, cast

from notebook_launcher.function.datascience_port import Job, JobPage, JobQuery, JobRun, NewJobRun
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    InvalidRequestError,
    LauncherError,
    NotFoundError,
    RetryTokenInvalidatedError,
)
from notebook_launcher.oci_facts.states import JOB_GONE_STATES, JobRunState, JobState

ENDPOINT = "https://datascience.test.example/20190101"


class FakeDataScience:
    """Implements DataSciencePort in memory."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.runs: dict[str, JobRun] = {}
        self.artifacts: dict[str, bytes] = {}
        self.calls: list[str] = []
        self.fail: dict[str, list[LauncherError]] = defaultdict(list)
        self.before: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._tokens: dict[tuple[str, str], tuple[str, Any]] = {}
        self._ids = itertools.count(1)
        self._clock = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    @property
    def endpoint(self) -> str:
        return ENDPOINT

    # -- plumbing ---------------------------------------------------------------------------

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        if self.before[operation]:
            self.before[operation].pop(0)()
        if self.fail[operation]:
            raise self.fail[operation].pop(0)

    def _replay(self, operation: str, token: str | None, request: Any) -> tuple[bool, Any]:
        """(True, first answer) for a replayed token; raises for a reused one."""
        if token is None:
            return False, None
        fingerprint = json.dumps(request, sort_keys=True, default=str)
        known = self._tokens.get((operation, token))
        if known is None:
            return False, None
        if known[0] != fingerprint:
            raise RetryTokenInvalidatedError(f"{operation}: token reused for another request")
        return True, known[1]

    def _remember(self, operation: str, token: str | None, request: Any, answer: Any) -> None:
        if token is not None:
            fingerprint = json.dumps(request, sort_keys=True, default=str)
            self._tokens[(operation, token)] = (fingerprint, answer)

    def _new_id(self, kind: str) -> str:
        return f"ocid1.{kind}.oc1.iad.fake{next(self._ids):04d}"

    def _tick(self) -> dt.datetime:
        self._clock += dt.timedelta(seconds=1)
        return self._clock

    def _change(self, job_id: str, **fields: Any) -> Job:
        job = replace(self.jobs[job_id], etag=f"etag-{next(self._ids)}", **fields)
        self.jobs[job_id] = job
        return job

    # -- jobs -----------------------------------------------------------------------------

    def add_job(self, job: Job) -> Job:
        """A job that exists before the test starts."""
        self.jobs[job.id] = job
        return job

    def get_job(self, job_id: str, deadline: Deadline) -> Job:
        self._enter("GetJob")
        if job_id not in self.jobs:
            raise NotFoundError(f"job {job_id} not found")
        return self.jobs[job_id]

    def find_jobs(self, query: JobQuery, deadline: Deadline) -> JobPage:
        self._enter("ListJobs")
        found = sorted(
            (
                job
                for job in self.jobs.values()
                if job.compartment_id == query.compartment_id
                and job.project_id == query.project_id
                and job.display_name == query.display_name
                and query.lifecycle_state in (None, job.lifecycle_state)
            ),
            key=lambda job: (job.time_created or self._clock, job.id),
        )
        return JobPage(tuple(found[: query.limit]), more=len(found) > query.limit)

    def create_job(
        self, body: Mapping[str, Any], retry_token: str | None, deadline: Deadline
    ) -> Job:
        self._enter("CreateJob")
        replayed, answer = self._replay("CreateJob", retry_token, body)
        if replayed:
            return cast(Job, answer)
        configuration = body.get("jobConfigurationDetails") or {}
        job = Job(
            id=self._new_id("datasciencejob"),
            display_name=str(body["displayName"]),
            project_id=str(body["projectId"]),
            compartment_id=str(body["compartmentId"]),
            lifecycle_state=JobState.CREATING,
            time_created=self._tick(),
            freeform_tags=dict(body.get("freeformTags") or {}),
            environment=dict(configuration.get("environmentVariables") or {}),
            document=dict(body),
            etag=f"etag-{next(self._ids)}",
        )
        self.jobs[job.id] = job
        self._remember("CreateJob", retry_token, body, job)
        return job

    def upload_artifact(
        self,
        job_id: str,
        artifact: bytes,
        file_name: str,
        retry_token: str | None,
        deadline: Deadline,
    ) -> None:
        self._enter("CreateJobArtifact")
        request = [job_id, artifact.hex(), file_name]
        replayed, _ = self._replay("CreateJobArtifact", retry_token, request)
        if replayed:
            return
        job = self.jobs.get(job_id)
        if job is None or job.lifecycle_state in JOB_GONE_STATES:
            raise NotFoundError(f"job {job_id} not found")
        if job.lifecycle_state == JobState.ACTIVE:
            raise ConflictError(f"job {job_id} already has an artifact")
        self.artifacts[job_id] = artifact
        self._change(job_id, lifecycle_state=JobState.ACTIVE)
        self._remember("CreateJobArtifact", retry_token, request, None)

    def delete_job(self, job_id: str, etag: str | None, deadline: Deadline) -> None:
        self._enter("DeleteJob")
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found")
        if etag is not None and etag != job.etag:
            raise ConflictError("NoEtagMatch: the job has changed")
        self._change(job_id, lifecycle_state=JobState.DELETED)

    # -- runs -----------------------------------------------------------------------------

    def add_run(self, run: JobRun) -> JobRun:
        self.runs[run.id] = run
        return run

    def get_run(self, run_id: str, deadline: Deadline) -> JobRun:
        self._enter("GetJobRun")
        if run_id not in self.runs:
            raise NotFoundError(f"job run {run_id} not found")
        return self.runs[run_id]

    def create_run(self, run: NewJobRun, retry_token: str | None, deadline: Deadline) -> JobRun:
        self._enter("CreateJobRun")
        request = repr(run)
        replayed, answer = self._replay("CreateJobRun", retry_token, request)
        if replayed:
            return cast(JobRun, answer)
        job = self.jobs.get(run.job_id)
        if job is None or job.lifecycle_state == JobState.DELETED:
            # As Data Science and the local service answer a body naming a missing job.
            raise InvalidRequestError(
                f"RelatedResourceNotAuthorizedOrNotFound: jobId {run.job_id} does not exist"
            )
        if job.lifecycle_state != JobState.ACTIVE:
            raise ConflictError(f"IncorrectState: job {run.job_id} is not ACTIVE")
        created = JobRun(
            id=self._new_id("datasciencejobrun"),
            job_id=run.job_id,
            display_name=run.display_name,
            lifecycle_state=JobRunState.ACCEPTED,
            time_accepted=self._tick(),
        )
        self.runs[created.id] = created
        self._remember("CreateJobRun", retry_token, request, created)
        return created

    def cancel_run(self, run_id: str, deadline: Deadline) -> None:
        self._enter("CancelJobRun")
        run = self.runs.get(run_id)
        if run is None:
            raise NotFoundError(f"job run {run_id} not found")
        if run.lifecycle_state == JobRunState.ACCEPTED:
            self.runs[run_id] = replace(run, lifecycle_state=JobRunState.CANCELED)
        elif run.lifecycle_state in (JobRunState.IN_PROGRESS, JobRunState.NEEDS_ATTENTION):
            self.runs[run_id] = replace(run, lifecycle_state=JobRunState.CANCELING)
        else:
            raise ConflictError(f"IncorrectState: the job run is {run.lifecycle_state}")
