"""The schedule actions: a launch request that runs on a calendar, as a Data Science Schedule.

`schedule` resolves the launch fields exactly as a launch does (`Launcher.find_or_create_job`:
the job found or created by digest; parameters into the run's NOTEBOOK_PARAMETERS override;
output per run), then makes ONE CreateSchedule whose HTTP action is CREATE_JOB_RUN with the
CreateJobRunDetails a launch would send. Nothing is made by the schedule action itself when
the request is invalid (request.py checks the trigger first).

Idempotent twice over: the CreateSchedule carries a retry token derived from the caller's
idempotency key (as a launch's CreateJobRun does), and before creating, ListSchedules looks
for a live schedule with the same name whose definition digest (a free-form tag over the
CreateScheduleDetails, its trigger by meaning: `trigger_meaning`) is the same: that one is
answered, not duplicated, however its trigger was spelt. The same name with another
definition is a 409: two schedules of one name would both fire.

`schedules` lists a project's schedules; `schedule-show` answers one with its next and last
fire times and the last run it made (ListJobRuns of the job, created by the schedule's
resource principal, newest first); `schedule-pause`/`-resume` are Deactivate/Activate;
`schedule-delete` is DeleteSchedule. Each answers the schedule as `schedule-show` does.

Pipelines: a pipeline request (branch pipelines-fn) would build
CreatePipelineRunScheduleActionDetails in `_action` instead; nothing else here changes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from notebook_launcher.function.answers import JobTarget, Outcome, iso_time, run_brief
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import ConflictError
from notebook_launcher.function.job_spec import LAUNCHER_TAG, RunSpec, derived_token, resolve_run
from notebook_launcher.function.request import LaunchRequest
from notebook_launcher.function.schedule_request import (
    ScheduleSpec,
    trigger_details,
    trigger_meaning,
)
from notebook_launcher.oci_facts.states import SCHEDULE_GONE_STATES, ScheduleState

if TYPE_CHECKING:
    from notebook_launcher.function.launcher import Launcher

SCHEDULE_DIGEST_TAG = "notebook-launcher-schedule"
GONE_STATES = SCHEDULE_GONE_STATES
MAX_NAME_CHARS = 255
HIDDEN = "(hidden)"


def default_name(job_name: str, spec: ScheduleSpec) -> str:
    """A schedule's name when the request gives none: the job's name and a digest of the
    trigger, so the same request names (and so finds) the same schedule."""
    trigger = trigger_meaning(spec)
    digest = hashlib.sha256(json.dumps(trigger, sort_keys=True).encode()).hexdigest()[:12]
    return f"{job_name[: MAX_NAME_CHARS - 30]}-schedule-{digest}"


class Schedules:
    """The schedule actions, carried out with a launcher's settings and edge."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher
        self.settings = launcher.settings
        self.edge = launcher.edge

    # -- create ---------------------------------------------------------------------------

    def create(self, request: LaunchRequest, deadline: Deadline, key: str | None) -> Outcome:
        spec = request.schedule
        assert spec is not None
        if request.dryRun:
            preview = self.launcher.preview(request, deadline, key)
            details = self._details(request, spec, preview.target)
            body = self._sanitized(details)
            _hide_values(body)
            outcome = preview.outcome
            return Outcome(body={**outcome.body, "schedule": body}, job_id=outcome.job_id)

        target = self.launcher.find_or_create_job(request, deadline, key)
        details = self._details(request, spec, target)
        found = self._find_same(details, deadline)
        if found is not None:
            outcome = self.show(found, deadline)
            outcome.body.update(jobReused=target.reused, scheduleReused=True)
            if target.warnings:
                outcome.body["warnings"] = list(target.warnings)
            return outcome
        ds = self.edge.datascience
        kwargs: dict[str, Any] = {"create_schedule_details": details}
        token = derived_token(key, "schedule", details.freeform_tags[SCHEDULE_DIGEST_TAG])
        if token:
            kwargs["opc_retry_token"] = token
        created = self.edge.call("CreateSchedule", ds, ds.create_schedule, deadline, **kwargs)
        outcome = self.show(created.data.id, deadline)
        outcome.body.update(jobReused=target.reused, scheduleReused=False)
        if target.warnings:
            outcome.body["warnings"] = list(target.warnings)
        return outcome

    def _run_spec(self, request: LaunchRequest, name: str, target: JobTarget) -> RunSpec:
        spec = resolve_run(request, self.settings, target.run_name_base, None, "scheduled")
        # Every fire sends the same CreateJobRunDetails: one name for all of a schedule's runs.
        run_name = request.runName or f"{name[: MAX_NAME_CHARS - 4]}-run"
        return RunSpec(
            run_name,
            spec.environment,
            spec.max_runtime_minutes,
            spec.freeform_tags,
            spec.defined_tags,
            None,
        )

    def _details(self, request: LaunchRequest, spec: ScheduleSpec, target: JobTarget) -> Any:
        """The CreateScheduleDetails (its digest tag over everything else in it)."""
        from oci.data_science.models import CreateScheduleDetails

        name = spec.name or default_name(target.run_name_base, spec)
        details = CreateScheduleDetails(
            display_name=name,
            project_id=target.project_id,
            compartment_id=target.compartment_id,
            trigger=trigger_details(spec),
            action=self._action(self._run_spec(request, name, target), target),
        )
        # The digest covers what the trigger means, not its spelling (one schedule per meaning).
        body = {**self._sanitized(details), "trigger": trigger_meaning(spec)}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).hexdigest()[:48]
        details.freeform_tags = {LAUNCHER_TAG: "schedule", SCHEDULE_DIGEST_TAG: digest}
        return details

    @staticmethod
    def _action(run_spec: RunSpec, target: JobTarget) -> Any:
        """The HTTP action: CREATE_JOB_RUN with the CreateJobRunDetails a launch sends."""
        from oci.data_science.models import (
            CreateJobRunDetails,
            CreateJobRunScheduleActionDetails,
            ScheduleHttpAction,
        )

        run = CreateJobRunDetails(
            project_id=target.project_id,
            compartment_id=target.compartment_id,
            job_id=target.job_id,
            display_name=run_spec.display_name,
            job_configuration_override_details=run_spec.override_details(),
            freeform_tags=run_spec.freeform_tags,
            defined_tags=run_spec.defined_tags or None,
        )
        return ScheduleHttpAction(
            action_type="HTTP",
            action_details=CreateJobRunScheduleActionDetails(
                http_action_type="CREATE_JOB_RUN", create_job_run_details=run
            ),
        )

    def _sanitized(self, model: Any) -> dict[str, Any]:
        body: dict[str, Any] = self.edge.datascience.base_client.sanitize_for_serialization(model)
        return body

    def _find_same(self, details: Any, deadline: Deadline) -> str | None:
        """A live schedule with this name and definition digest; 409 if the name is taken by
        a schedule with another definition."""
        digest = details.freeform_tags[SCHEDULE_DIGEST_TAG]
        for summary in self._list(details.compartment_id, details.project_id, deadline,
                                  display_name=details.display_name):  # fmt: skip
            if summary.lifecycle_state in GONE_STATES:
                continue
            if (summary.freeform_tags or {}).get(SCHEDULE_DIGEST_TAG) == digest:
                return str(summary.id)
            raise ConflictError(
                f"Schedule {summary.id} is already named {details.display_name!r} with another "
                "definition; delete it (action schedule-delete) or choose another schedule.name."
            )
        return None

    # -- manage ---------------------------------------------------------------------------

    def _list(
        self, compartment_id: str, project_id: str | None, deadline: Deadline, **filters: Any
    ) -> Iterator[Any]:
        ds = self.edge.datascience
        page: str | None = None
        while True:
            kwargs: dict[str, Any] = dict(filters)
            if project_id:
                kwargs["project_id"] = project_id
            if page:
                kwargs["page"] = page
            response = self.edge.call(
                "ListSchedules",
                ds,
                ds.list_schedules,
                deadline,
                compartment_id=compartment_id,
                sort_by="timeCreated",
                sort_order="ASC",
                **kwargs,
            )
            yield from response.data
            page = response.headers.get("opc-next-page")
            if not page:
                return

    def list(self, request: LaunchRequest, deadline: Deadline) -> Outcome:
        compartment_id = request.compartmentId or self.settings.compartment_id
        project_id = request.projectId or self.settings.project_id
        if compartment_id is None:
            from notebook_launcher.function.errors import FieldProblem, InvalidRequestError

            raise InvalidRequestError(
                "compartmentId is required to list schedules (no default is configured).",
                details=[FieldProblem("compartmentId", "required (no default is configured)")],
            )
        schedules = [
            {
                "id": s.id,
                "displayName": s.display_name,
                "lifecycleState": s.lifecycle_state,
                "triggerType": s.trigger.trigger_type if s.trigger else None,
                "timeCreated": iso_time(s.time_created),
                "madeByLauncher": (s.freeform_tags or {}).get(LAUNCHER_TAG) == "schedule",
            }
            for s in self._list(compartment_id, project_id, deadline)
            if s.lifecycle_state not in GONE_STATES
        ]
        return Outcome(body={"schedules": schedules})

    def _get(self, schedule_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        return self.edge.call(
            "GetSchedule", ds, ds.get_schedule, deadline, schedule_id=schedule_id
        ).data

    def show(self, schedule_id: str, deadline: Deadline) -> Outcome:
        schedule = self._get(schedule_id, deadline)
        run_details = _job_run_details(schedule)
        job_id = run_details.get("jobId")
        last_run = None
        if job_id and schedule.time_last_schedule_run is not None:
            last_run = self._last_run(schedule, job_id, deadline)
        trigger = self._sanitized(schedule.trigger)
        body = {
            "id": schedule.id,
            "displayName": schedule.display_name,
            "lifecycleState": schedule.lifecycle_state,
            "trigger": trigger,
            "jobId": job_id,
            "runName": run_details.get("displayName"),
            "timeNextScheduledRun": iso_time(schedule.time_next_scheduled_run),
            "timeLastScheduleRun": iso_time(schedule.time_last_schedule_run),
            "lastScheduleRunDetails": schedule.last_schedule_run_details,
            "lastRun": run_brief(last_run) if last_run is not None else None,
        }
        return Outcome(body=body, job_id=job_id, run_id=last_run.id if last_run else None)

    def _last_run(self, schedule: Any, job_id: str, deadline: Deadline) -> Any:
        """The newest run of the job that the schedule made: its runs are created by the
        schedule's resource principal (createdBy is the schedule's OCID)."""
        ds = self.edge.datascience
        runs = self.edge.call(
            "ListJobRuns",
            ds,
            ds.list_job_runs,
            deadline,
            compartment_id=schedule.compartment_id,
            job_id=job_id,
            created_by=schedule.id,
            sort_by="timeCreated",
            sort_order="DESC",
            limit=1,
        ).data
        return runs[0] if runs else None

    def set_active(
        self, schedule_id: str, active: bool, deadline: Deadline, key: str | None
    ) -> Outcome:
        """Resume (Activate an INACTIVE schedule) or pause (Deactivate an ACTIVE one); a
        schedule already in the wanted state is answered as it is."""
        schedule = self._get(schedule_id, deadline)
        on, off = ScheduleState.ACTIVE, ScheduleState.INACTIVE
        wanted, source = (on, off) if active else (off, on)
        if schedule.lifecycle_state != wanted:
            if schedule.lifecycle_state != source:
                raise ConflictError(
                    f"Schedule {schedule_id} is {schedule.lifecycle_state}; only an {source} "
                    f"schedule can be {'resumed' if active else 'paused'}."
                )
            ds = self.edge.datascience
            operation, method = (
                ("ActivateSchedule", ds.activate_schedule)
                if active
                else ("DeactivateSchedule", ds.deactivate_schedule)
            )
            kwargs: dict[str, Any] = {}
            if token := derived_token(key, operation, schedule_id):
                kwargs["opc_retry_token"] = token
            self.edge.call(operation, ds, method, deadline, schedule_id=schedule_id, **kwargs)
        return self.show(schedule_id, deadline)

    def delete(self, schedule_id: str, deadline: Deadline) -> Outcome:
        """DeleteSchedule (a schedule already deleted is answered as it is)."""
        schedule = self._get(schedule_id, deadline)
        if schedule.lifecycle_state not in (ScheduleState.DELETING, ScheduleState.DELETED):
            ds = self.edge.datascience
            self.edge.call(
                "DeleteSchedule", ds, ds.delete_schedule, deadline, schedule_id=schedule_id
            )
        return self.show(schedule_id, deadline)


def _job_run_details(schedule: Any) -> dict[str, Any]:
    """The CreateJobRunDetails of a CREATE_JOB_RUN schedule, camelCase (else empty)."""
    details = getattr(schedule.action, "action_details", None)
    run = getattr(details, "create_job_run_details", None)
    if run is None:
        return {}
    return {"jobId": run.job_id, "displayName": run.display_name}


def _hide_values(body: dict[str, Any]) -> None:
    """A dry run shows environment variables by name only (values may be secrets)."""
    run = body["action"]["actionDetails"]["createJobRunDetails"]
    override = run.get("jobConfigurationOverrideDetails") or {}
    env = override.get("environmentVariables")
    if env:
        override["environmentVariables"] = dict.fromkeys(env, HIDDEN)
