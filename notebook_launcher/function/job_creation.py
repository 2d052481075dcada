"""Making one job ACTIVE through the port: CreateJob + CreateJobArtifact, with its recovery.

An explicit small state machine. Every CreateJob is sent with the next token of a chain
(`token_for(link)`: link None first, then the id of a replayed job found gone, or
`refused-N` after Data Science refused a token), so concurrent creators of one job, which
derive the same tokens, follow the same chain and converge on one job.

    MAKE    CreateJob with the chain's token.
            token refused (InvalidatedRetryToken) -> next link, MAKE
            the job is gone (a replay of a job deleted since) -> next link, MAKE
            ACTIVE (an earlier or concurrent creator uploaded) -> DONE
            CREATING -> UPLOAD
    UPLOAD  CreateJobArtifact.
            done -> DONE
            NotFound / Conflict (the replayed job was deleted, or a concurrent upload
            finished it) -> LOOK
            any other failure -> DISCARD
    LOOK    GetJob. ACTIVE -> DONE; gone -> next link, MAKE; otherwise the upload's error.
    DISCARD DeleteJob with CreateJob's etag (so a concurrent creator's finished upload makes
            the delete fail, not the job vanish), then the upload's error.

At most MAX_LINKS + 1 CreateJobs: then ConflictError (every job was deleted before use).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.datascience_port import DataSciencePort, Job
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    LauncherError,
    NotFoundError,
    RetryTokenInvalidatedError,
)
from notebook_launcher.oci_facts.states import JOB_GONE_STATES, JobState

# How many replayed-but-deleted jobs (or refused tokens) one creation follows before giving up.
MAX_LINKS = 3


class Step(enum.Enum):
    """The states of a job creation."""

    MAKE = "make"
    UPLOAD = "upload"
    LOOK = "look"
    DISCARD = "discard"
    DONE = "done"


@dataclass
class JobCreation:
    """One creation of the job whose CreateJob body and artifact are given.

    token_for(purpose, *parts) gives the retry token of CreateJob (purpose "job", or
    "job-again" with the chain's link) and CreateJobArtifact ("artifact", with the job id).
    discard(job_id, etag) deletes a half-made job, best effort.
    """

    port: DataSciencePort
    body: Mapping[str, Any]
    artifact: bytes
    artifact_name: str
    token_for: Callable[..., str | None]
    discard: Callable[[str, str | None], None]
    steps: list[Step] = field(default_factory=list)  # the path taken, for logs and tests

    def run(self, deadline: Deadline) -> Job:
        """The ACTIVE job (as CreateJob or GetJob answered it)."""
        link: str | None = None
        for attempt in range(MAX_LINKS + 1):
            self.steps.append(Step.MAKE)
            try:
                job = self._make(link, deadline)
            except RetryTokenInvalidatedError:
                if attempt == MAX_LINKS:
                    raise
                # Data Science may refuse the token of a job since deleted and purged: the
                # next token of the chain, the same for every concurrent creator.
                link = f"refused-{attempt}"
                continue
            if job.lifecycle_state in JOB_GONE_STATES:
                link = job.id  # the token's earlier job was deleted: make a new one
                continue
            if job.lifecycle_state == JobState.ACTIVE:
                self.steps.append(Step.DONE)
                return job
            outcome = self._upload(job, deadline)
            if outcome is not None:
                self.steps.append(Step.DONE)
                return outcome
            link = job.id
        raise ConflictError(
            f"Every job created for this request was deleted before it could be used "
            f"({MAX_LINKS + 1} in a row); try again."
        )

    def _make(self, link: str | None, deadline: Deadline) -> Job:
        token = self.token_for("job") if link is None else self.token_for("job-again", link)
        return self.port.create_job(self.body, token, deadline)

    def _upload(self, job: Job, deadline: Deadline) -> Job | None:
        """UPLOAD (and LOOK or DISCARD): the ACTIVE job, or None when it is gone."""
        self.steps.append(Step.UPLOAD)
        token = self.token_for("artifact", job.id)
        try:
            self.port.upload_artifact(job.id, self.artifact, self.artifact_name, token, deadline)
        except (NotFoundError, ConflictError):
            # A replayed CreateJob may answer with the job as it was first created (CREATING)
            # although it has since been deleted, or finished by a concurrent upload: look.
            self.steps.append(Step.LOOK)
            current = self.port.get_job(job.id, deadline)
            if current.lifecycle_state == JobState.ACTIVE:
                return current
            if current.lifecycle_state not in JOB_GONE_STATES:
                raise
            return None
        except LauncherError:
            self.steps.append(Step.DISCARD)
            self.discard(job.id, job.etag)
            raise
        return job
