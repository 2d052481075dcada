"""Lifecycle states of jobs and job runs, and the run transitions the service makes.

A transition is a conditional update inside one transaction: it happens only if the run
is still in one of the expected states, so the API (cancel) and the executor (start,
finish) can race without either overwriting the other.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from notebook_launcher.localservice.ids import now_text
from notebook_launcher.localservice.store import JOB_RUNS, Record, Store, Transaction
from notebook_launcher.oci_facts.states import (
    JOB_RUN_CANCELABLE_STATES,
    JOB_RUN_FINISHED_STATES,
    JOB_RUN_UNFINISHED_STATES,
    JobRunState,
    JobState,
    ProjectState,
)

logger = logging.getLogger(__name__)

# The states are OCI's, defined once in notebook_launcher.oci_facts.states; here as the plain
# strings the store keeps.

# jobs
JOB_CREATING = JobState.CREATING.value
JOB_ACTIVE = JobState.ACTIVE.value
JOB_DELETING = JobState.DELETING.value
JOB_FAILED = JobState.FAILED.value
JOB_DELETED = JobState.DELETED.value
JOB_STATES = tuple(state.value for state in JobState)

# projects
PROJECT_ACTIVE = ProjectState.ACTIVE.value
PROJECT_STATES = tuple(state.value for state in ProjectState)

# job runs
ACCEPTED = JobRunState.ACCEPTED.value
IN_PROGRESS = JobRunState.IN_PROGRESS.value
SUCCEEDED = JobRunState.SUCCEEDED.value
FAILED = JobRunState.FAILED.value
CANCELING = JobRunState.CANCELING.value
CANCELED = JobRunState.CANCELED.value
DELETED = JobRunState.DELETED.value
NEEDS_ATTENTION = JobRunState.NEEDS_ATTENTION.value
RUN_STATES = tuple(state.value for state in JobRunState)
# A job with runs in these is in use; a run is deleted only once finished.
UNFINISHED_RUN_STATES = frozenset(state.value for state in JOB_RUN_UNFINISHED_STATES)
FINISHED_RUN_STATES = frozenset(state.value for state in JOB_RUN_FINISHED_STATES)
# CancelJobRun: an ACCEPTED run is canceled at once, the others stop through CANCELING.
CANCELABLE_RUN_STATES = frozenset(state.value for state in JOB_RUN_CANCELABLE_STATES)

# lifecycleDetails texts (ADS parses "exit code N" out of the first one)
EXIT_CODE_DETAILS = "Job run artifact execution failed with exit code {code}."
MAX_RUNTIME_DETAILS = "Job run exceeded the maximum runtime of {minutes} minutes and was stopped."
SERVICE_STOPPED_DETAILS = "Job run failed because the local service stopped during the run."
SERVICE_STOPPED_CANCEL_DETAILS = (
    "Job run canceled; the local service stopped while the cancellation was in progress."
)
CANCELED_DETAILS = "Job run canceled."
SUCCEEDED_DETAILS = "Job run artifact execution succeeded."
SETUP_FAILED_DETAILS = "Job run failed to start: {reason}"
INTERNAL_ERROR_DETAILS = "Job run failed because of an internal error in the local service."


def transition_in(
    tx: Transaction,
    run_id: str,
    expected: Collection[str],
    state: str,
    *,
    details: str | None = None,
    started: bool = False,
    finished: bool = False,
) -> Record | None:
    """Move a run to `state` if it is in one of `expected`; the new record, else None."""
    record = tx.get(JOB_RUNS, run_id)
    if record is None or record.state not in expected:
        return None
    doc = dict(record.doc)
    doc["lifecycleState"] = state
    if details is not None:
        doc["lifecycleDetails"] = details
    now = now_text()
    if started:
        doc["timeStarted"] = now
    if finished:
        doc["timeFinished"] = now
    logger.info("job run %s: %s -> %s", run_id, record.state, state)
    return tx.replace(JOB_RUNS, doc)


def transition(
    store: Store,
    run_id: str,
    expected: Collection[str],
    state: str,
    *,
    details: str | None = None,
    started: bool = False,
    finished: bool = False,
) -> Record | None:
    """`transition_in` in a transaction of its own."""
    with store.transaction() as tx:
        return transition_in(
            tx, run_id, expected, state, details=details, started=started, finished=finished
        )


def finish_state(
    current: str,
    exit_code: int | None,
    *,
    runtime_exceeded_minutes: int | None = None,
    failure: str | None = None,
) -> tuple[str, str]:
    """The final state and lifecycleDetails of a run that ended, was stopped or never started.

    A cancel requested before the end wins (even over a run that failed to start: the user
    asked for CANCELED, and a run must never stay CANCELING); then a `failure` (details of a
    run that could not start or run); then an exceeded runtime; then the exit code.
    """
    if current == CANCELING:
        return CANCELED, CANCELED_DETAILS
    if failure is not None:
        return FAILED, failure
    if runtime_exceeded_minutes is not None:
        return FAILED, MAX_RUNTIME_DETAILS.format(minutes=runtime_exceeded_minutes)
    if exit_code == 0:
        return SUCCEEDED, SUCCEEDED_DETAILS
    return FAILED, EXIT_CODE_DETAILS.format(code=exit_code)
