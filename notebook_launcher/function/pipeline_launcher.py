"""Pipeline launches and the status, cancel and re-run of pipeline runs.

A launch: every distinct notebook with its job-level settings is a job found or created by
the launcher's own path (`Launcher.job_for_spec`: the same digest as a single launch,
so both share the job); the pipeline of ML_JOB steps pointing at those jobs is found by its
digest (ListPipelines on its display name, the digest tag checked) or created from ADS's
CreatePipelineDetails with a retry token derived from the digest and the exact body; then one
CreatePipelineRun carries the per-run values (each step's parameters and environment in
stepOverrideDetails) with a retry token from the idempotency key. The reuse path is, whatever
the fan-out: one ListJobs per distinct notebook, one ListPipelines, one CreatePipelineRun.

`resolve_run` stops before CreatePipelineRun and returns the pipeline and the
CreatePipelineRunDetails, for callers (schedules) that start the run some other way.

A re-run (`{"action": "rerun", "id": <pipeline run>}`) runs only the steps of an ended run
that did not succeed and everything downstream of them: a pipeline run cannot skip steps,
so it is a run of a derived pipeline holding only those steps (same jobs, the dependencies
among them kept), found or created by its own digest, with the same per-step values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.answers import Outcome, iso_time
from notebook_launcher.function.artifact_content import ArtifactContent
from notebook_launcher.function.datascience_port import JobRun
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    FieldProblem,
    ServiceUnavailableError,
)
from notebook_launcher.function.job_spec import (
    DIGEST_TAG,
    LAUNCHER_TAG,
    JobSpec,
    derived_token,
    resolve_run,
    shared_token,
)
from notebook_launcher.function.launcher import COLD_ADS_SECONDS, Launcher
from notebook_launcher.function.oci_edge import OciEdge
from notebook_launcher.function.parameter_names import is_strict, parameter_findings
from notebook_launcher.function.pipeline_request import PipelineRequest
from notebook_launcher.function.pipeline_spec import (
    RERUN_TAG,
    PipelineSpec,
    PipelineStepPlan,
    rerun_spec,
    step_override,
    steps_to_rerun,
)
from notebook_launcher.function.request import raise_problems
from notebook_launcher.function.run_report import report_for_run
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.states import (
    JOB_RUN_FINISHED_STATES,
    PIPELINE_RUN_TERMINAL_STATES,
    PipelineRunState,
    PipelineState,
    StepRunState,
)

ENDED_RUN_STATES = frozenset(PIPELINE_RUN_TERMINAL_STATES)
LIST_LIMIT = 50
# status reads at most this many step reports (failed steps first), within the deadline.
MAX_REPORTS_PER_STATUS = 25
# How long a launch waits for a pipeline Data Science answered CREATING to become ACTIVE.
PIPELINE_ACTIVE_WAIT_SECONDS = 20.0
_SUFFIX_RE = re.compile(r"(?:-rerun)?-nl[0-9a-f]{16}\Z")


@dataclass
class ResolvedRun:
    """A pipeline run ready to be started: its pipeline and CreatePipelineRunDetails."""

    pipeline_id: str
    pipeline_reused: bool
    details: Any  # oci.data_science.models.CreatePipelineRunDetails
    retry_token: str | None
    steps: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


class PipelineLauncher:
    """Carries out one pipeline request against Data Science through the edge."""

    def __init__(self, settings: Settings, edge: OciEdge) -> None:
        self.settings = settings
        self.edge = edge
        self.jobs = Launcher(settings, edge)

    def launch(
        self, request: PipelineRequest, deadline: Deadline, idempotency_key: str | None
    ) -> Outcome:
        """A pipeline launch (dispatched by function.actions): its dry run, or its run."""
        if request.dryRun:
            return Outcome(body=self.dry_run(request, deadline))
        resolved = self.resolve_run(request, deadline, idempotency_key)
        return self._start(resolved, deadline)

    # -- launch ---------------------------------------------------------------------------

    def _prepare(
        self, request: PipelineRequest, deadline: Deadline
    ) -> dict[str, tuple[ArtifactContent, JobSpec]]:
        """Each step's notebook and job spec; a notebook shared by steps is fetched once."""
        prepared: dict[str, tuple[ArtifactContent, JobSpec]] = {}
        by_launch: dict[str, tuple[ArtifactContent, JobSpec]] = {}
        for step in request.steps:
            key = _job_fields_key(step.launch)
            if key not in by_launch:
                by_launch[key] = self.jobs.prepare_job(step.launch, deadline)
            prepared[step.step.name] = by_launch[key]
        return prepared

    def _parameter_warnings(
        self, request: PipelineRequest, prepared: dict[str, tuple[ArtifactContent, JobSpec]]
    ) -> list[dict[str, Any]]:
        """Each step's parameters against its notebook's parameters cell (as a single launch
        checks them), named `steps[<i>].parameters.<name>`; every strict refusal at once."""
        warnings: list[dict[str, Any]] = []
        refused: list[FieldProblem] = []
        seen: set[tuple[str, str]] = set()
        for step in (s for s in request.steps if s.launch.parameters):
            cell = prepared[step.step.name][0].parameters_cell
            strict = is_strict(step.launch.strictParameters, self.settings)
            for finding in parameter_findings(step.launch.parameters, cell):
                where = f"steps[{step.step.index}].{finding.field}"
                message = f"step {step.step.declared!r}: {finding.message}"
                if (where, message) in seen:  # fanned-out steps share the step's findings
                    continue
                seen.add((where, message))
                if strict and finding.unknown:
                    refused.append(FieldProblem(where, message))
                warnings.append({**finding.to_dict(), "field": where, "message": message})
        raise_problems(refused)
        return warnings

    def _pipeline_settings(self, request: PipelineRequest) -> tuple[str, str, str, str | None]:
        body = request.body
        project = body.projectId or self.settings.project_id or ""
        compartment = body.compartmentId or self.settings.compartment_id or ""
        log_group = body.logGroupId or self.settings.log_group_id or ""
        log_id = body.logId or (None if body.logGroupId else self.settings.log_id)
        return project, compartment, log_group, log_id

    def _name(self, request: PipelineRequest) -> str:
        return request.body.name or f"{self.settings.job_name[:200]}-pipeline"

    def resolve_run(
        self, request: PipelineRequest, deadline: Deadline, idempotency_key: str | None
    ) -> ResolvedRun:
        """Find or create the jobs and the pipeline; the run's details, not yet started."""
        from oci.data_science.models import (
            CreatePipelineRunDetails,
            PipelineDefaultConfigurationDetails,
            PipelineStepConfigurationDetails,
            PipelineStepOverrideDetails,
        )

        prepared = self._prepare(request, deadline)
        warnings = self._parameter_warnings(request, prepared)  # refused here when strict
        job_ids: dict[str, tuple[str, bool]] = {}
        for content, spec in prepared.values():
            digest = spec.digest()
            if digest not in job_ids:
                job_ids[digest] = self.jobs.job_for_spec(
                    spec, content, True, idempotency_key, deadline
                )
        project, compartment, log_group, log_id = self._pipeline_settings(request)
        name = self._name(request)
        pipeline_spec = PipelineSpec(
            name=name,
            project_id=project,
            compartment_id=compartment,
            log_group_id=log_group or None,
            log_id=log_id,
            steps=tuple(
                PipelineStepPlan(
                    s.step.name, job_ids[prepared[s.step.name][1].digest()][0], s.step.depends_on
                )
                for s in request.steps
            ),
        )
        pipeline_id, reused = self._find_or_create_pipeline(pipeline_spec, deadline)

        now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        overrides = []
        for step in request.steps:
            job_spec = prepared[step.step.name][1]
            run_spec = resolve_run(step.launch, self.settings, job_spec.job_name, None, now)
            entry = step_override(
                step.step.name, run_spec.environment, step.launch.maxRuntimeInMinutes
            )
            if entry is not None:
                configuration = entry["stepConfigurationDetails"]
                overrides.append(
                    PipelineStepOverrideDetails(
                        step_name=entry["stepName"],
                        step_configuration_details=PipelineStepConfigurationDetails(
                            environment_variables=configuration.get("environmentVariables"),
                            maximum_runtime_in_minutes=configuration.get("maximumRuntimeInMinutes"),
                        ),
                    )
                )
        body = request.body
        if body.runName:
            run_name = body.runName
        elif idempotency_key:
            key_digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]
            run_name = f"{name[:200]}-run-{key_digest}"
        else:
            run_name = f"{name[:200]}-run-{now}"
        details = CreatePipelineRunDetails(
            pipeline_id=pipeline_id,
            project_id=project,
            compartment_id=compartment,
            display_name=run_name,
            configuration_override_details=(
                PipelineDefaultConfigurationDetails(
                    maximum_runtime_in_minutes=body.maxRuntimeInMinutes
                )
                if body.maxRuntimeInMinutes
                else None
            ),
            step_override_details=overrides or None,
            freeform_tags={LAUNCHER_TAG: "pipeline-run", **(body.freeformTags or {})},
            defined_tags=body.definedTags or None,
        )
        steps = [
            {
                "name": s.step.name,
                "jobId": job_ids[prepared[s.step.name][1].digest()][0],
                "jobReused": job_ids[prepared[s.step.name][1].digest()][1],
                "dependsOn": list(s.step.depends_on),
            }
            for s in request.steps
        ]
        return ResolvedRun(
            pipeline_id=pipeline_id,
            pipeline_reused=reused,
            details=details,
            retry_token=derived_token(idempotency_key, "pipeline-run"),
            steps=steps,
            warnings=warnings,
        )

    def _start(self, resolved: ResolvedRun, deadline: Deadline, **extra: Any) -> Outcome:
        ds = self.edge.datascience
        kwargs: dict[str, Any] = {"create_pipeline_run_details": resolved.details}
        if resolved.retry_token:
            kwargs["opc_retry_token"] = resolved.retry_token
        run = self.edge.call(
            "CreatePipelineRun", ds, ds.create_pipeline_run, deadline, **kwargs
        ).data
        body = {
            "pipelineRunId": run.id,
            "pipelineId": resolved.pipeline_id,
            "pipelineReused": resolved.pipeline_reused,
            "lifecycleState": run.lifecycle_state,
            "runName": run.display_name,
            **extra,
            "steps": resolved.steps,
            "pollUrl": f"{self.edge.endpoint}/pipelineRuns/{run.id}",
        }
        if resolved.warnings:
            body["warnings"] = resolved.warnings
        return Outcome(body=body, run_id=run.id, reused=resolved.pipeline_reused)

    def _find_or_create_pipeline(self, spec: PipelineSpec, deadline: Deadline) -> tuple[str, bool]:
        ds = self.edge.datascience
        digest = spec.digest()
        listed = self.edge.call(
            "ListPipelines",
            ds,
            ds.list_pipelines,
            deadline,
            compartment_id=spec.compartment_id,
            project_id=spec.project_id,
            display_name=spec.display_name(),
            lifecycle_state=PipelineState.ACTIVE.value,
            sort_by="timeCreated",
            sort_order="ASC",
            limit=LIST_LIMIT,
        ).data
        found = [p for p in listed if (p.freeform_tags or {}).get(DIGEST_TAG) == digest]
        if found:
            epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
            oldest = min(found, key=lambda p: (p.time_created or epoch, str(p.id)))
            return str(oldest.id), True
        return self._create_pipeline(spec, deadline), False

    def _create_pipeline(self, spec: PipelineSpec, deadline: Deadline) -> str:
        import sys

        if "ads" not in sys.modules and deadline.remaining() < COLD_ADS_SECONDS:
            raise ServiceUnavailableError(
                "Not enough time left to create the pipeline (the first creation in a fresh "
                f"function instance loads ADS, which takes up to {COLD_ADS_SECONDS:.0f} s); "
                "try again, or raise the function's timeout."
            )
        from notebook_launcher.function import ads_pipeline

        auth = self.edge.auth.client_kwargs()
        if self.settings.datascience_endpoint:
            auth["client_kwargs"] = {"service_endpoint": self.settings.datascience_endpoint}
        details = ads_pipeline.creation_details(ads_pipeline.build_pipeline(spec), auth)
        ds = self.edge.datascience
        sent = ds.base_client.sanitize_for_serialization(details)
        body_digest = hashlib.sha256(json.dumps(sent, sort_keys=True).encode()).hexdigest()
        pipeline = self.edge.call(
            "CreatePipeline",
            ds,
            ds.create_pipeline,
            deadline,
            create_pipeline_details=details,
            opc_retry_token=shared_token("pipeline", spec.digest(), body_digest),
        ).data
        waited_until = time.monotonic() + PIPELINE_ACTIVE_WAIT_SECONDS
        while (
            pipeline.lifecycle_state == PipelineState.CREATING and time.monotonic() < waited_until
        ):
            if deadline.remaining() < 2:
                break
            time.sleep(1.0)
            pipeline = self.edge.call(
                "GetPipeline", ds, ds.get_pipeline, deadline, pipeline_id=pipeline.id
            ).data
        if pipeline.lifecycle_state != PipelineState.ACTIVE:
            raise ServiceUnavailableError(
                f"Pipeline {pipeline.id} is {pipeline.lifecycle_state}, not ACTIVE yet; try "
                "again with the same idempotency key."
            )
        return str(pipeline.id)

    def dry_run(self, request: PipelineRequest, deadline: Deadline) -> dict[str, Any]:
        """The ADS pipeline YAML and each step's job, nothing looked up or created. Job ids
        are unknown before the jobs are found, so each step shows its job's display name."""
        from notebook_launcher.function import ads_pipeline

        prepared = self._prepare(request, deadline)
        warnings = self._parameter_warnings(request, prepared)
        project, compartment, log_group, log_id = self._pipeline_settings(request)
        placeholders = {
            name: f"<job {spec.display_name()}>" for name, (_, spec) in prepared.items()
        }
        spec = PipelineSpec(
            name=self._name(request),
            project_id=project,
            compartment_id=compartment,
            log_group_id=log_group or None,
            log_id=log_id,
            steps=tuple(
                PipelineStepPlan(s.step.name, placeholders[s.step.name], s.step.depends_on)
                for s in request.steps
            ),
        )
        pipeline = ads_pipeline.build_pipeline(spec)
        return {
            **({"warnings": warnings} if warnings else {}),
            "dryRun": True,
            "pipelineYaml": pipeline.to_yaml(),
            "steps": [
                {
                    "name": s.step.name,
                    "job": prepared[s.step.name][1].display_name(),
                    "jobDigest": prepared[s.step.name][1].digest(),
                    "dependsOn": list(s.step.depends_on),
                    "parameterNames": sorted(s.launch.parameters or {}),
                }
                for s in request.steps
            ],
        }

    # -- actions on runs ------------------------------------------------------------------

    def _get_run(self, run_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        return self.edge.call(
            "GetPipelineRun", ds, ds.get_pipeline_run, deadline, pipeline_run_id=run_id
        ).data

    def _get_pipeline(self, pipeline_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        return self.edge.call(
            "GetPipeline", ds, ds.get_pipeline, deadline, pipeline_id=pipeline_id
        ).data

    def status(self, run_id: str, deadline: Deadline) -> Outcome:
        run = self._get_run(run_id, deadline)
        body = run_brief(run)
        ended = [
            s
            for s in body["steps"]
            if s["jobRunId"] and s["lifecycleState"] in JOB_RUN_FINISHED_STATES
        ]
        if ended:
            pipeline = self._get_pipeline(run.pipeline_id, deadline)
            jobs = {s.step_name: s.job_id for s in pipeline.step_details}
            # failed ones first
            ended.sort(key=lambda s: s["lifecycleState"] == StepRunState.SUCCEEDED)
            for index, step in enumerate(ended):
                if index >= MAX_REPORTS_PER_STATUS:
                    step["reportUnavailable"] = (
                        f"not read: status reads at most {MAX_REPORTS_PER_STATUS} step reports"
                        " (ask for the step's job run with its own status)"
                    )
                    continue
                job_run = JobRun(
                    id=step["jobRunId"],
                    job_id=jobs.get(step["name"]) or "",
                    display_name=step["name"],
                    lifecycle_state=step["lifecycleState"],
                )
                step["jobId"] = jobs.get(step["name"])
                step.update(report_for_run(self.edge, job_run, deadline))
        return Outcome(body=body, run_id=run.id)

    def cancel(self, run_id: str, deadline: Deadline) -> Outcome:
        ds = self.edge.datascience
        run = self._get_run(run_id, deadline)
        if run.lifecycle_state in ENDED_RUN_STATES:
            raise ConflictError(
                f"Pipeline run {run_id} has already finished ({run.lifecycle_state}); there is "
                "nothing to cancel."
            )
        if run.lifecycle_state != PipelineRunState.CANCELING:
            self.edge.call(
                "CancelPipelineRun",
                ds,
                ds.cancel_pipeline_run,
                deadline,
                pipeline_run_id=run_id,
            )
            run = self._get_run(run_id, deadline)
        return Outcome(body=run_brief(run), run_id=run.id)

    def rerun(self, run_id: str, idempotency_key: str | None, deadline: Deadline) -> Outcome:
        from oci.data_science.models import CreatePipelineRunDetails

        ds = self.edge.datascience
        old = self._get_run(run_id, deadline)
        if old.lifecycle_state not in (PipelineRunState.FAILED, PipelineRunState.CANCELED):
            why = (
                "every step succeeded: there is nothing to re-run"
                if old.lifecycle_state == PipelineRunState.SUCCEEDED
                else "it has not ended: wait for it or cancel it first"
            )
            raise ConflictError(f"Pipeline run {run_id} is {old.lifecycle_state}; {why}.")
        pipeline = ds.base_client.sanitize_for_serialization(
            self._get_pipeline(old.pipeline_id, deadline)
        )
        states = {s.step_name: s.lifecycle_state for s in old.step_runs or ()}
        chosen = steps_to_rerun(pipeline["stepDetails"], states)
        base = _SUFFIX_RE.sub("", str(pipeline["displayName"]))
        user_tags = {
            k: v
            for k, v in (pipeline.get("freeformTags") or {}).items()
            if k not in (DIGEST_TAG, LAUNCHER_TAG, RERUN_TAG)
        }
        spec = rerun_spec(pipeline, chosen, f"{base[:220]}-rerun", user_tags)
        pipeline_id, reused = self._find_or_create_pipeline(spec, deadline)
        keep = set(chosen)
        overrides = [o for o in old.step_override_details or () if o.step_name in keep]
        details = CreatePipelineRunDetails(
            pipeline_id=pipeline_id,
            project_id=old.project_id,
            compartment_id=old.compartment_id,
            display_name=f"{old.display_name[:240]}-rerun",
            configuration_override_details=old.configuration_override_details,
            step_override_details=overrides or None,
            freeform_tags={**(old.freeform_tags or {}), RERUN_TAG: run_id},
            defined_tags=old.defined_tags or None,
        )
        # Re-running the same run twice (a retried call) is the same re-run, key or not.
        token = (
            derived_token(idempotency_key, "pipeline-rerun", run_id)
            if idempotency_key
            else shared_token("pipeline-rerun", run_id)
        )
        jobs = {s["stepName"]: s["jobId"] for s in pipeline["stepDetails"]}
        resolved = ResolvedRun(
            pipeline_id=pipeline_id,
            pipeline_reused=reused,
            details=details,
            retry_token=token,
            steps=[
                {"name": step.name, "jobId": jobs[step.name], "dependsOn": list(step.depends_on)}
                for step in spec.steps
            ],
        )
        return self._start(resolved, deadline, rerunOf=run_id)


def run_brief(run: Any) -> dict[str, Any]:
    """A pipeline run as GetPipelineRun has it, in brief, with each step's state."""
    return {
        "id": run.id,
        "pipelineId": run.pipeline_id,
        "displayName": run.display_name,
        "lifecycleState": run.lifecycle_state,
        "lifecycleDetails": run.lifecycle_details,
        "timeAccepted": iso_time(run.time_accepted),
        "timeStarted": iso_time(run.time_started),
        "timeFinished": iso_time(run.time_finished),
        "steps": [
            {
                "name": step.step_name,
                "lifecycleState": step.lifecycle_state,
                "lifecycleDetails": step.lifecycle_details,
                "jobRunId": getattr(step, "job_run_id", None),
                "timeStarted": iso_time(step.time_started),
                "timeFinished": iso_time(step.time_finished),
            }
            for step in run.step_runs or ()
        ],
    }


def _job_fields_key(launch: Any) -> str:
    from notebook_launcher.function.request import JOB_LEVEL_FIELDS

    return json.dumps({f: getattr(launch, f) for f in sorted(JOB_LEVEL_FIELDS)}, sort_keys=True)


def resolve_pipeline_run(
    settings: Settings,
    edge: OciEdge,
    request: PipelineRequest,
    deadline: Deadline,
    idempotency_key: str | None = None,
) -> tuple[str, Any]:
    """(pipeline id, CreatePipelineRunDetails) of a pipeline request, the jobs and the pipeline
    found or created, the run not started: for a schedule's CREATE_PIPELINE_RUN action."""
    resolved = PipelineLauncher(settings, edge).resolve_run(request, deadline, idempotency_key)
    return resolved.pipeline_id, resolved.details
