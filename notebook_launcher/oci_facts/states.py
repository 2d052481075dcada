"""Lifecycle states of Data Science resources, as the API spells them, with the sets that
decide what a caller does next.

The values are the oci SDK models' `LIFECYCLE_STATE_*` constants (oci 2.189.0:
`oci/data_science/models/{job,job_run,pipeline_run,pipeline_step_run,schedule}.py`) and the
API reference's enums (e.g. https://docs.oracle.com/en-us/iaas/tools/dotnet/latest/api/
Oci.DatascienceService.Models.JobRunLifecycleState.html). The members are `StrEnum`s: equal to
their text, so they compare with, hash like and serialize as the strings on the wire.

NEEDS_ATTENTION, decided once here. OCI's API reference lists it among the job-run states
without a description; ADS, Oracle's own client, treats it as an unfinished run that can be
canceled (`ads/jobs/builders/infrastructure/dsc_job.py`: `DataScienceJobRun.TERMINAL_STATES`
leaves it out, and a forced delete cancels ACCEPTED, IN_PROGRESS and NEEDS_ATTENTION runs).
A run that needs attention does not go on to finish by itself, so:
- it is terminal for a waiter: every poller (the function's status report, the console's
  follow and wait, the Data Integration tasks) stops there and reports it as a failure;
- it is cancelable: CancelJobRun on it is sent (the function's and the console's cancel, and
  the local service accepts it), as ADS does.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """A job's lifecycleState."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"
    FAILED = "FAILED"
    DELETED = "DELETED"


# A job in one of these will never become ACTIVE: it cannot be run.
JOB_GONE_STATES = frozenset({JobState.DELETING, JobState.DELETED, JobState.FAILED})


class JobRunState(StrEnum):
    """A job run's lifecycleState."""

    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    DELETED = "DELETED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"


# Where a waiter stops (NEEDS_ATTENTION included: see the module docstring), success first, in
# the order the Data Integration task templates spell their poll conditions.
JOB_RUN_TERMINAL_STATES: tuple[JobRunState, ...] = (
    JobRunState.SUCCEEDED,
    JobRunState.FAILED,
    JobRunState.CANCELED,
    JobRunState.DELETED,
    JobRunState.NEEDS_ATTENTION,
)
# Where the service has finished with the run: it will never change again (but be deleted).
JOB_RUN_FINISHED_STATES = frozenset(
    {JobRunState.SUCCEEDED, JobRunState.FAILED, JobRunState.CANCELED}
)
# Where CancelJobRun applies (CANCELING is already on its way: nothing to send).
JOB_RUN_CANCELABLE_STATES = frozenset(
    {JobRunState.ACCEPTED, JobRunState.IN_PROGRESS, JobRunState.NEEDS_ATTENTION}
)
# Where the run still holds (or waits for) infrastructure: a job with such runs is in use.
JOB_RUN_UNFINISHED_STATES = frozenset(JOB_RUN_CANCELABLE_STATES | {JobRunState.CANCELING})


class ProjectState(StrEnum):
    """A project's lifecycleState."""

    ACTIVE = "ACTIVE"
    DELETING = "DELETING"
    DELETED = "DELETED"


class PipelineState(StrEnum):
    """A pipeline's lifecycleState."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    DELETING = "DELETING"
    FAILED = "FAILED"
    DELETED = "DELETED"


class PipelineRunState(StrEnum):
    """A pipeline run's lifecycleState."""

    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    DELETING = "DELETING"
    DELETED = "DELETED"


PIPELINE_RUN_TERMINAL_STATES: tuple[PipelineRunState, ...] = (
    PipelineRunState.SUCCEEDED,
    PipelineRunState.FAILED,
    PipelineRunState.CANCELED,
    PipelineRunState.DELETING,
    PipelineRunState.DELETED,
)
PIPELINE_RUN_CANCELABLE_STATES = frozenset(
    {PipelineRunState.ACCEPTED, PipelineRunState.IN_PROGRESS}
)


class StepRunState(StrEnum):
    """A pipeline step run's lifecycleState (a step waits for the steps it depends on, and is
    skipped when one of them fails)."""

    WAITING = "WAITING"
    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"
    SUCCEEDED = "SUCCEEDED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    DELETED = "DELETED"
    SKIPPED = "SKIPPED"


# As ADS's `ads/pipeline/ads_pipeline_run.py` PIPELINE_RUN_TERMINAL_STATE (for steps).
STEP_RUN_TERMINAL_STATES: tuple[StepRunState, ...] = (
    StepRunState.SUCCEEDED,
    StepRunState.FAILED,
    StepRunState.CANCELED,
    StepRunState.DELETED,
    StepRunState.SKIPPED,
)


class ScheduleState(StrEnum):
    """A schedule's lifecycleState."""

    CREATING = "CREATING"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    DELETED = "DELETED"
    FAILED = "FAILED"


# A schedule in one of these will never trigger again.
SCHEDULE_GONE_STATES = frozenset(
    {ScheduleState.DELETING, ScheduleState.DELETED, ScheduleState.FAILED}
)
