"""What the actions answer: the Outcome of an invocation, the job a request runs, run briefs.

The launcher, the schedule actions and the pipeline launcher all answer in these types, so
none of them imports another for its answer (and the import graph has no circle).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.datascience_port import JobRun


@dataclass
class Outcome:
    """The response body plus what the invocation log line reports."""

    body: dict[str, Any]
    job_id: str | None = None
    run_id: str | None = None
    reused: bool | None = None
    calls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobTarget:
    """The ACTIVE job a request runs, and what its runs are named and write after."""

    job_id: str
    project_id: str
    compartment_id: str
    run_name_base: str  # the job's name, that run names start with
    output_uri: str | None  # the job's OUTPUT_URI (with ${JOB_RUN_OCID} for per-run folders)
    reused: bool
    warnings: tuple[dict[str, Any], ...] = ()  # about the parameters (parameter_names)


@dataclass(frozen=True)
class Preview:
    """A launch's dry run: its answer, and the job it would run (for a notebook not yet made
    into a job, `target.job_id` names the digest the job would be found or created by)."""

    outcome: Outcome
    target: JobTarget


def iso_time(value: Any) -> str | None:
    """A time as the answers carry it: ISO 8601 in UTC with milliseconds and a Z."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    return str(value)


def run_brief(run: JobRun) -> dict[str, Any]:
    """A job run as GetJobRun has it, in brief."""
    return {
        "id": run.id,
        "jobId": run.job_id,
        "displayName": run.display_name,
        "lifecycleState": run.lifecycle_state,
        "lifecycleDetails": run.lifecycle_details,
        "timeAccepted": iso_time(run.time_accepted),
        "timeStarted": iso_time(run.time_started),
        "timeFinished": iso_time(run.time_finished),
    }
