"""Pipeline runs, executed: a small state machine over step runs, driven by job-run states.

`advance` is pure: given the pipeline's steps, the run's step runs and the states of the job
runs its steps started, it says what each step run is now, which steps to start, which job
runs to cancel and whether the run is over. `Orchestrator` applies that to every unfinished
pipeline run: woken when a job run ends (the executor's finish listener) or a pipeline run
is created or canceled, and every `SWEEP_SECONDS` regardless, so a missed wake-up (a job run
canceled through CancelJobRun, a service killed between two writes) only delays a step.

What OCI documents, and what this does (see the README's pipeline paragraph):
- a step starts when every step it depends on SUCCEEDED (its job run is created then);
- a step that failed: "All the dependent steps are skipped" (OCI console guide, step
  states): every step downstream of it ends SKIPPED. Undocumented, chosen: steps that do not
  depend on it, running or not yet started, go on; the run ends FAILED once every step has
  ended. A step whose job run was canceled on its own (CancelJobRun) counts as failed;
- cancel: the job runs of started steps are canceled, waiting steps are SKIPPED, the run is
  CANCELING until every step has ended, then CANCELED.

Each step's job run is created with a retry token derived from the run and the step, so a
service killed after creating it but before recording it finds the same job run again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.errors import ServiceError
from notebook_launcher.localservice.ids import now_text
from notebook_launcher.localservice.store import (
    JOB_RUNS,
    PIPELINE_RUNS,
    PIPELINES,
    Document,
    Record,
    Store,
)
from notebook_launcher.oci_facts.states import PipelineRunState, StepRunState

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 1.0

# pipeline-run states (OCI's, written once in oci_facts)
RUN_ACCEPTED = PipelineRunState.ACCEPTED
RUN_IN_PROGRESS = PipelineRunState.IN_PROGRESS
RUN_SUCCEEDED = PipelineRunState.SUCCEEDED
RUN_FAILED = PipelineRunState.FAILED
RUN_CANCELING = PipelineRunState.CANCELING
RUN_CANCELED = PipelineRunState.CANCELED
RUN_DELETED = PipelineRunState.DELETED
RUN_STATES = tuple(PipelineRunState)
UNFINISHED_RUN_STATES = (RUN_ACCEPTED, RUN_IN_PROGRESS, RUN_CANCELING)
FINISHED_RUN_STATES = (RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELED)

# step-run states
WAITING = StepRunState.WAITING
SKIPPED = StepRunState.SKIPPED
STEP_ENDED = (lifecycle.SUCCEEDED, lifecycle.FAILED, lifecycle.CANCELED, SKIPPED)
_STEP_BROKEN = (lifecycle.FAILED, lifecycle.CANCELED, SKIPPED)

SUCCEEDED_DETAILS = "Pipeline run succeeded: every step succeeded."
FAILED_DETAILS = "Pipeline run failed: step(s) {steps} did not succeed."
CANCELED_DETAILS = "Pipeline run canceled."
SKIPPED_FAILED_DETAILS = "Skipped because step {step} did not succeed."
SKIPPED_CANCELED_DETAILS = "Skipped because the pipeline run was canceled."
JOB_RUN_MISSING_DETAILS = "The step's job run no longer exists."
START_FAILED_DETAILS = "The step's job run could not be created: {reason}"


@dataclass(frozen=True)
class Step:
    """A pipeline step as the state machine needs it: its name and what it depends on."""

    name: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class JobRunView:
    """What a step run mirrors of its job run."""

    state: str
    details: str | None
    time_started: str | None
    time_finished: str | None


@dataclass
class Plan:
    """What `advance` decided: the step runs as they are now, what to do, how the run is."""

    step_runs: list[Document]
    start: list[str] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    run_state: str = RUN_IN_PROGRESS
    run_details: str | None = None

    @property
    def finished(self) -> bool:
        return self.run_state in FINISHED_RUN_STATES


def steps_of(pipeline: Mapping[str, Any]) -> list[Step]:
    """The steps of a stored (so acyclic) pipeline, each after the steps it depends on."""
    depends_on = {
        str(detail["stepName"]): tuple(detail.get("dependsOn") or ())
        for detail in pipeline["stepDetails"]
    }
    ordered: list[Step] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name not in placed:
            for dependency in depends_on[name]:
                place(dependency)
            placed.add(name)
            ordered.append(Step(name, depends_on[name]))

    for name in depends_on:
        place(name)
    return ordered


def _mirror(step_run: Document, view: JobRunView | None) -> None:
    """Copy the job run's state and times onto its step run."""
    if view is None:
        step_run["lifecycleState"] = lifecycle.FAILED
        step_run["lifecycleDetails"] = JOB_RUN_MISSING_DETAILS
        return
    state = view.state
    if state == lifecycle.NEEDS_ATTENTION:
        state = lifecycle.IN_PROGRESS  # step runs have no such state; the job run says more
    if state == lifecycle.DELETED:
        return  # a finished job run deleted later: the step keeps how it ended
    step_run["lifecycleState"] = state
    for key, value in (
        ("timeStarted", view.time_started),
        ("timeFinished", view.time_finished),
        ("lifecycleDetails", view.details),
    ):
        if value is not None:
            step_run[key] = value


def advance(
    steps: Sequence[Step],
    step_runs: Sequence[Mapping[str, Any]],
    job_runs: Mapping[str, JobRunView | None],
    *,
    canceling: bool,
    now: str,
) -> Plan:
    """The next state of a pipeline run (pure: no store, no clock but `now`).

    `steps` are in dependency order; `job_runs` maps each step run's `jobRunId` to its job
    run (None when it is gone).
    """
    runs = {str(run["stepName"]): dict(run) for run in step_runs}
    plan = Plan(step_runs=list(runs.values()))  # the runs' own order, updated in place
    for step in steps:
        run = runs[step.name]
        job_run_id = run.get("jobRunId")
        if job_run_id:
            _mirror(run, job_runs.get(str(job_run_id)))
        state = run["lifecycleState"]
        if canceling:
            if state == WAITING:
                run.update(
                    lifecycleState=SKIPPED,
                    lifecycleDetails=SKIPPED_CANCELED_DETAILS,
                    timeFinished=now,
                )
            elif job_run_id and state in (lifecycle.ACCEPTED, lifecycle.IN_PROGRESS):
                plan.cancel.append(str(job_run_id))
        elif state == WAITING:
            broken = [d for d in step.depends_on if runs[d]["lifecycleState"] in _STEP_BROKEN]
            if broken:
                run.update(
                    lifecycleState=SKIPPED,
                    lifecycleDetails=SKIPPED_FAILED_DETAILS.format(step=broken[0]),
                    timeFinished=now,
                )
            elif all(runs[d]["lifecycleState"] == lifecycle.SUCCEEDED for d in step.depends_on):
                plan.start.append(step.name)

    states = [run["lifecycleState"] for run in plan.step_runs]
    if plan.start or any(state not in STEP_ENDED for state in states):
        plan.run_state = RUN_CANCELING if canceling else RUN_IN_PROGRESS
    elif canceling:
        plan.run_state, plan.run_details = RUN_CANCELED, CANCELED_DETAILS
    else:
        not_succeeded = [
            str(run["stepName"])
            for run in plan.step_runs
            if run["lifecycleState"] in (lifecycle.FAILED, lifecycle.CANCELED)
        ]
        if not_succeeded:
            plan.run_state = RUN_FAILED
            plan.run_details = FAILED_DETAILS.format(steps=", ".join(not_succeeded))
        else:
            plan.run_state, plan.run_details = RUN_SUCCEEDED, SUCCEEDED_DETAILS
    return plan


# --------------------------------------------------------------------------- step job runs


def _merged(*configurations: Mapping[str, Any] | None) -> dict[str, Any]:
    """Configurations merged in order, later ones winning (environment variables by key)."""
    variables: dict[str, str] = {}
    result: dict[str, Any] = {}
    for configuration in configurations:
        if not configuration:
            continue
        variables.update(configuration.get("environmentVariables") or {})
        for key in ("commandLineArguments", "maximumRuntimeInMinutes"):
            if configuration.get(key) is not None:
                result[key] = configuration[key]
    if variables:
        result["environmentVariables"] = variables
    return result


def step_job_run_details(
    pipeline: Mapping[str, Any], run: Mapping[str, Any], step_name: str
) -> Document:
    """The CreateJobRun body of one step of a pipeline run.

    Its configuration override is, weakest first: the pipeline's configurationDetails, the
    step's stepConfigurationDetails, the run's configurationOverrideDetails, the run's
    stepOverrideDetails for the step; the executor lays that over the job's own
    configuration. The pipeline-level maximum runtime bounds the whole run, not a step, so
    only the step's (and its override's) reaches the job run. OCI's service variables
    (PIPELINE_OCID, PIPELINE_RUN_OCID, PIPELINE_STEP_NAME, ...) are added on top.
    """
    detail = next(d for d in pipeline["stepDetails"] if d["stepName"] == step_name)
    override = next(
        (
            o.get("stepConfigurationDetails")
            for o in run.get("stepOverrideDetails") or ()
            if o["stepName"] == step_name
        ),
        None,
    )
    pipeline_wide = {
        key: value
        for key, value in (pipeline.get("configurationDetails") or {}).items()
        if key != "maximumRuntimeInMinutes"
    }
    run_wide = {
        key: value
        for key, value in (run.get("configurationOverrideDetails") or {}).items()
        if key != "maximumRuntimeInMinutes"
    }
    configuration = _merged(
        pipeline_wide, detail.get("stepConfigurationDetails"), run_wide, override
    )
    configuration["environmentVariables"] = {
        **configuration.get("environmentVariables", {}),
        "PIPELINE_OCID": str(pipeline["id"]),
        "PIPELINE_COMPARTMENT_OCID": str(pipeline["compartmentId"]),
        "PIPELINE_PROJECT_OCID": str(pipeline["projectId"]),
        "PIPELINE_RUN_OCID": str(run["id"]),
        "PIPELINE_RUN_COMPARTMENT_OCID": str(run["compartmentId"]),
        "PIPELINE_STEP_NAME": step_name,
    }
    details: Document = {
        "projectId": run["projectId"],
        "compartmentId": run["compartmentId"],
        "jobId": detail["jobId"],
        "displayName": detail.get("stepRunName") or f"{run['displayName']}-{step_name}",
        "jobConfigurationOverrideDetails": {"jobType": "DEFAULT", **configuration},
        "freeformTags": {},
    }
    log = run.get("logDetails")
    if log:  # the step's job run writes to the pipeline run's log
        details["jobLogConfigurationOverrideDetails"] = {
            "enableLogging": True,
            "enableAutoLogCreation": False,
            "logGroupId": log["logGroupId"],
            "logId": log["logId"],
        }
    return details


def step_retry_token(run_id: str, step_name: str) -> str:
    """The CreateJobRun retry token of a step: the same for the same run and step."""
    return hashlib.sha256(f"pipeline-step\x00{run_id}\x00{step_name}".encode()).hexdigest()


# --------------------------------------------------------------------------- the driver


class Orchestrator:
    """Advances every unfinished pipeline run, on one thread of its own."""

    def __init__(self, store: Store, datascience: DataScience) -> None:
        self._store = store
        self._datascience = datascience
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="pipeline-orchestrator", daemon=True
        )
        self._thread.start()

    def wake(self, _job_run_id: str | None = None) -> None:
        """Advance the runs soon (an executor finish listener, and after creates and cancels)."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(SWEEP_SECONDS)
            self._wake.clear()
            try:
                self.sweep()
            except Exception:
                logger.exception("pipeline orchestration sweep failed")

    def sweep(self) -> None:
        with self._store.transaction() as tx:
            run_ids = tx.ids_in_states(PIPELINE_RUNS, UNFINISHED_RUN_STATES)
        for run_id in run_ids:
            try:
                self.advance_run(run_id)
            except Exception:
                logger.exception("pipeline run %s could not be advanced", run_id)

    def advance_run(self, run_id: str) -> None:
        """One step of the state machine for one pipeline run, applied."""
        run = self._store.get(PIPELINE_RUNS, run_id)
        if run is None or run.state not in UNFINISHED_RUN_STATES:
            return
        pipeline = self._store.get(PIPELINES, str(run.doc["pipelineId"]))
        if pipeline is None:
            raise RuntimeError(f"pipeline {run.doc['pipelineId']} of run {run_id} is missing")
        step_runs: list[Document] = run.doc["stepRuns"]
        plan = advance(
            steps_of(pipeline.doc),
            step_runs,
            self._job_runs(step_runs),
            canceling=run.state == RUN_CANCELING,
            now=now_text(),
        )
        for job_run_id in plan.cancel:
            self._cancel_job_run(job_run_id)
        started = {name: self._start_step(pipeline.doc, run, name) for name in plan.start}
        for step_run in plan.step_runs:
            if step_run["stepName"] in started:
                step_run.update(started[step_run["stepName"]])
        self._record(run, plan)

    def _job_runs(self, step_runs: Sequence[Mapping[str, Any]]) -> dict[str, JobRunView | None]:
        views: dict[str, JobRunView | None] = {}
        with self._store.transaction() as tx:
            for step_run in step_runs:
                job_run_id = step_run.get("jobRunId")
                if not job_run_id:
                    continue
                record = tx.get(JOB_RUNS, str(job_run_id))
                views[str(job_run_id)] = (
                    None
                    if record is None
                    else JobRunView(
                        record.state,
                        record.doc.get("lifecycleDetails"),
                        record.doc.get("timeStarted"),
                        record.doc.get("timeFinished"),
                    )
                )
        return views

    def _start_step(self, pipeline: Document, run: Record, step_name: str) -> Document:
        """Create the step's job run (through CreateJobRun's own path); the step-run fields."""
        try:
            job_run, _ = self._datascience.create_job_run(
                step_job_run_details(pipeline, run.doc, step_name),
                str(run.doc["createdBy"]),
                step_retry_token(run.id, step_name),
            )
        except ServiceError as exc:
            logger.info("pipeline run %s: step %s failed to start", run.id, step_name)
            return {
                "lifecycleState": lifecycle.FAILED,
                "lifecycleDetails": START_FAILED_DETAILS.format(reason=exc.message),
                "timeFinished": now_text(),
            }
        logger.info("pipeline run %s: step %s is job run %s", run.id, step_name, job_run.id)
        return {"jobRunId": job_run.id, "lifecycleState": job_run.state}

    def _cancel_job_run(self, job_run_id: str) -> None:
        try:
            self._datascience.cancel_job_run(job_run_id, None)
        except ServiceError as exc:  # it ended meanwhile: the next pass mirrors how
            logger.debug("job run %s not canceled: %s", job_run_id, exc.message)

    def _record(self, read: Record, plan: Plan) -> None:
        """Store the plan's step runs and run state on the run as it is now (a cancel may
        have arrived since it was read: then the run stays CANCELING for the next pass)."""
        with self._store.transaction() as tx:
            current = tx.get(PIPELINE_RUNS, read.id)
            if current is None or current.state not in UNFINISHED_RUN_STATES:
                return
            doc = dict(current.doc)
            doc["stepRuns"] = plan.step_runs
            now = now_text()
            if current.state == read.state:
                doc["lifecycleState"] = plan.run_state
                if plan.run_details is not None:
                    doc["lifecycleDetails"] = plan.run_details
                if plan.finished:
                    doc["timeFinished"] = now
            if doc["lifecycleState"] != RUN_ACCEPTED and not doc.get("timeStarted"):
                doc["timeStarted"] = now
            if doc == current.doc:
                return
            doc["timeUpdated"] = now
            tx.replace(PIPELINE_RUNS, doc)
        if plan.finished and current.state == read.state:
            logger.info("pipeline run %s: %s", read.id, plan.run_state)
