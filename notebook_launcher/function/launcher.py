"""The launch, status and cancel actions: validate → fetch → digest → find or build → run.

The reuse path (an ACTIVE job already carries the digest) is ListJobs + CreateJobRun and
never imports ADS; in a warm instance that remembers the job (`function.warm_memory`) it is
CreateJobRun alone, falling back to the lookup when the remembered job no longer runs. The
create path adds CreateJob and CreateJobArtifact, sent with retry
tokens derived from the job itself (its digest and exact bodies), so concurrent first
launches converge on one job whatever their idempotency keys. A job whose artifact upload
fails is deleted, and the next creation of a digest deletes its jobs left half-made
(CREATING) by a crashed creator, so nothing half-made accumulates.

It talks to Data Science only through the port (`function.datascience_port`, implemented by
`function.oci_edge.OciEdge`); the create path's recovery is `function.job_creation`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from notebook_launcher.function.answers import JobTarget, Outcome, Preview, run_brief
from notebook_launcher.function.artifact_content import ArtifactContent
from notebook_launcher.function.datascience_port import (
    DataSciencePort,
    Job,
    JobQuery,
    NewJobRun,
)
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    FieldProblem,
    InvalidRequestError,
    LauncherError,
    NotFoundError,
    RetryTokenInvalidatedError,
    ServiceUnavailableError,
)
from notebook_launcher.function.job_creation import JobCreation
from notebook_launcher.function.job_spec import (
    DIGEST_TAG,
    LAUNCHER_TAG,
    RUN_OUTPUT_SUFFIX,
    JobSpec,
    RunSpec,
    derived_token,
    resolve_job,
    resolve_run,
    shared_token,
)
from notebook_launcher.function.notebook_fetch import fetch_notebook, validate_notebook
from notebook_launcher.function.notebook_source import fetch_source, is_source
from notebook_launcher.function.oci_edge import OciEdge
from notebook_launcher.function.parameter_names import is_strict, parameter_findings
from notebook_launcher.function.parameters import prepare_notebook
from notebook_launcher.function.request import LaunchRequest, raise_problems
from notebook_launcher.function.run_report import report_for_run
from notebook_launcher.function.settings import Settings
from notebook_launcher.function.warm_memory import MemoryKey, WarmMemory
from notebook_launcher.oci_facts.states import JOB_RUN_CANCELABLE_STATES, JobRunState, JobState

logger = logging.getLogger(__name__)

# A launcher job still CREATING after this long is half-made (its creator crashed between
# CreateJob and CreateJobArtifact): OCI Functions stop an invocation after 300 s at most.
STALE_CREATING_SECONDS = 600.0
MAX_STALE_DELETIONS = 3  # per invocation: clean-up stays bounded
LIST_LIMIT = 50
# Worst cold import-and-build of ADS seen on a loaded 2-core machine (make bench: ~3-5 s typical).
COLD_ADS_SECONDS = 12.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def deterministic_zip(data: bytes) -> bytes:
    """Re-pack a zip with sorted entries and fixed timestamps, so equal content gives equal
    bytes (a retried CreateJobArtifact must send the same body as the first attempt)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(source.namelist()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, source.read(name))
    return out.getvalue()


class Launcher:
    """Carries out one request against Data Science through the edge."""

    def __init__(
        self,
        settings: Settings,
        edge: OciEdge,
        datascience: DataSciencePort | None = None,
        memory: WarmMemory | None = None,
    ) -> None:
        self.settings = settings
        self.edge = edge  # auth for ADS, and Object Storage reads
        # The port: every Data Science call goes through it (the edge, unless another is given).
        self.datascience: DataSciencePort = edge if datascience is None else datascience
        # The warm instance's job ids by digest (None: every launch looks its job up).
        self.memory = memory

    # -- actions (dispatched by function.actions) ---------------------------------------

    def status(self, run_id: str, deadline: Deadline) -> Outcome:
        run = self.datascience.get_run(run_id, deadline)
        body = {**run_brief(run), **report_for_run(self.edge, run, deadline, self.datascience)}
        return Outcome(body=body, job_id=run.job_id, run_id=run.id)

    def cancel(self, run_id: str, deadline: Deadline) -> Outcome:
        run = self.datascience.get_run(run_id, deadline)
        if run.lifecycle_state not in JOB_RUN_CANCELABLE_STATES | {JobRunState.CANCELING}:
            raise ConflictError(
                f"Job run {run_id} has already finished ({run.lifecycle_state}); "
                "there is nothing to cancel."
            )
        if run.lifecycle_state != JobRunState.CANCELING:
            self.datascience.cancel_run(run_id, deadline)
            run = self.datascience.get_run(run_id, deadline)
        return Outcome(body=run_brief(run), job_id=run.job_id, run_id=run.id)

    def launch(
        self, request: LaunchRequest, deadline: Deadline, idempotency_key: str | None
    ) -> Outcome:
        if request.dryRun:
            return self.preview(request, deadline, idempotency_key).outcome
        if request.jobId or not request.reuseJob or self.memory is None:
            job = self.find_or_create_job(request, deadline, idempotency_key)
            return self._run_target(job, request, idempotency_key, deadline)
        content, spec = self.prepare_job(request, deadline)
        warnings = self.parameter_warnings(request, content)  # refused here when strict
        remembered = self.memory.get(self._memory_key(spec))
        failure: LauncherError | None = None
        if remembered is not None:
            try:
                target = _spec_target(spec, remembered, True, warnings)
                return self._run_target(target, request, idempotency_key, deadline)
            except RetryTokenInvalidatedError:
                raise
            except (NotFoundError, ConflictError, InvalidRequestError) as exc:
                # Deleted (404, or 400 RelatedResourceNotAuthorizedOrNotFound) or no longer
                # ACTIVE (409 IncorrectState): forget it and look the job up, as a cold launch.
                self.memory.forget(self._memory_key(spec))
                failure = exc
                logger.info("remembered job %s refused the run: looking it up", remembered)
        job_id, reused = self.job_for_spec(spec, content, True, idempotency_key, deadline)
        if failure is not None and job_id == remembered:
            raise failure  # the job still runs: the refusal was about the run itself
        target = _spec_target(spec, job_id, reused, warnings)
        return self._run_target(target, request, idempotency_key, deadline)

    def _run_target(
        self,
        job: JobTarget,
        request: LaunchRequest,
        idempotency_key: str | None,
        deadline: Deadline,
    ) -> Outcome:
        run_spec = resolve_run(request, self.settings, job.run_name_base, idempotency_key, _now())
        target = (job.job_id, job.project_id, job.compartment_id)
        outcome = self._run(target, run_spec, job.output_uri, job.reused, deadline)
        if job.warnings:
            outcome.body["warnings"] = list(job.warnings)
        return outcome

    def _memory_key(self, spec: JobSpec) -> MemoryKey:
        return MemoryKey(
            "job",
            self.datascience.endpoint,
            spec.compartment_id,
            spec.project_id,
            spec.digest(),
        )

    def preview(
        self, request: LaunchRequest, deadline: Deadline, idempotency_key: str | None
    ) -> Preview:
        """The dry run of a launch: the job and run it would make; nothing is created."""
        if request.jobId:
            job = self._existing_job(request.jobId, deadline)
            self._check_parameters_fit(request, job)
            run_spec = resolve_run(
                request, self.settings, job.display_name, idempotency_key, _now()
            )
            output = job.environment.get("OUTPUT_URI")
            return Preview(
                Outcome(
                    body={"dryRun": True, "job": dict(job.document), "run": _run_preview(run_spec)},
                    job_id=job.id,
                ),
                JobTarget(
                    job.id, job.project_id, job.compartment_id, job.display_name, output, True
                ),
            )
        content, spec = self.prepare_job(request, deadline)
        warnings = self.parameter_warnings(request, content)
        run_spec = resolve_run(request, self.settings, spec.job_name, idempotency_key, _now())
        body = self._dry_run(spec, content, run_spec)
        if warnings:
            body["warnings"] = list(warnings)
        return Preview(
            Outcome(body=body),
            JobTarget(
                f"(the job with digest {spec.digest()}, found or created)",
                spec.project_id,
                spec.compartment_id,
                spec.job_name,
                spec.output_uri,
                False,
            ),
        )

    # -- the job of a launch (schedules.py and pipeline launches use it too) ---------------

    def find_or_create_job(
        self, request: LaunchRequest, deadline: Deadline, idempotency_key: str | None
    ) -> JobTarget:
        """The ACTIVE job a launch request runs: `jobId`'s, or the one carrying the
        request's digest (found, or created)."""
        if request.jobId:
            job = self._existing_job(request.jobId, deadline)
            self._check_parameters_fit(request, job)
            output = job.environment.get("OUTPUT_URI")
            return JobTarget(
                job.id, job.project_id, job.compartment_id, job.display_name, output, True
            )
        content, spec = self.prepare_job(request, deadline)
        warnings = self.parameter_warnings(request, content)  # refused here when strict
        job_id, reused = self.job_for_spec(
            spec, content, request.reuseJob, idempotency_key, deadline
        )
        return _spec_target(spec, job_id, reused, warnings)

    def parameter_warnings(
        self, request: LaunchRequest, content: ArtifactContent
    ) -> tuple[dict[str, Any], ...]:
        """The warnings about request's parameters against content's parameters cell; with
        strictParameters (or NL_STRICT_PARAMETERS) an unknown name is InvalidRequest instead."""
        if not request.parameters:
            return ()  # the notebook is not parsed again for nothing
        findings = parameter_findings(request.parameters, content.parameters_cell)
        if is_strict(request.strictParameters, self.settings):
            raise_problems([f.problem() for f in findings if f.unknown])
        return tuple(f.to_dict() for f in findings)

    def prepare_job(
        self, request: LaunchRequest, deadline: Deadline
    ) -> tuple[ArtifactContent, JobSpec]:
        """The notebook (fetched, checked, prepared) and the job spec of a noteBook launch."""
        assert request.noteBook
        content = self._fetch_content(request, deadline)
        spec = resolve_job(
            request, self.settings, content.notebook_file_name, content.prepared, content.digest()
        )
        return content, spec

    def job_for_spec(
        self,
        spec: JobSpec,
        content: ArtifactContent,
        reuse: bool,
        idempotency_key: str | None,
        deadline: Deadline,
    ) -> tuple[str, bool]:
        """(job id, reused): the oldest ACTIVE job with spec's digest, else a new one. With
        reuse, the warm memory (if any) remembers it for the next launch of the digest."""
        listed = self._jobs_with_digest(spec, deadline) if reuse else []
        active = [job for job in listed if job.lifecycle_state == JobState.ACTIVE]
        if active:
            job_id, reused = _oldest(active).id, True
        else:
            job_id, reused = (
                self._create_job(spec, content, idempotency_key, reuse, deadline),
                False,
            )
            self._delete_stale_half_made_jobs(listed, job_id, deadline)
        if reuse and self.memory is not None:
            self.memory.remember(self._memory_key(spec), job_id)
        return job_id, reused

    @staticmethod
    def _check_parameters_fit(request: LaunchRequest, job: Job) -> None:
        if request.parameters and DIGEST_TAG not in job.freeform_tags:
            raise InvalidRequestError(
                "The job was not created by notebook-launcher: its notebook has no cell "
                "that reads run parameters.",
                details=[FieldProblem("parameters", "not supported for this jobId")],
            )

    # -- steps ----------------------------------------------------------------------------

    def _fetch_content(self, request: LaunchRequest, deadline: Deadline) -> ArtifactContent:
        """The notebook (or the folder or archive with it), fetched, checked and prepared."""
        assert request.noteBook
        if is_source(request.noteBook, self.settings):
            source = fetch_source(
                request.noteBook, request.notebookPath, self.settings, self.edge, deadline
            )
            notebook = validate_notebook(source.content_of(source.notebook))
            return ArtifactContent.of_source(source, prepare_notebook(notebook))
        fetched = fetch_notebook(request.noteBook, self.settings, self.edge, deadline)
        prepared = prepare_notebook(validate_notebook(fetched.content))
        return ArtifactContent(fetched.file_name, prepared)

    def _existing_job(self, job_id: str, deadline: Deadline) -> Job:
        job = self.datascience.get_job(job_id, deadline)
        if job.lifecycle_state != JobState.ACTIVE:
            raise ConflictError(
                f"Job {job_id} is {job.lifecycle_state}; only an ACTIVE job can be run."
            )
        return job

    def _create_job(
        self,
        spec: JobSpec,
        content: ArtifactContent,
        key: str | None,
        reuse: bool,
        deadline: Deadline,
    ) -> str:
        """CreateJob + CreateJobArtifact; the id of the ACTIVE job to run.

        With reuse (the default) the retry tokens come from the job itself (its digest and
        the exact bodies), so concurrent creators of one job converge on it whatever their
        idempotency keys. With `reuseJob: false` the tokens come from the caller's key:
        each request makes its own job.
        """
        if "ads" not in sys.modules and deadline.remaining() < COLD_ADS_SECONDS:
            # Importing ADS cannot be interrupted; don't start what cannot finish in time.
            raise ServiceUnavailableError(
                "Not enough time left to create the job (the first creation in a fresh "
                f"function instance loads ADS, which takes up to {COLD_ADS_SECONDS:.0f} s); "
                "try again, or raise the function's timeout."
            )
        from notebook_launcher.function import ads_job

        auth = self.edge.auth.client_kwargs()
        if self.settings.datascience_endpoint:
            auth["client_kwargs"] = {"service_endpoint": self.settings.datascience_endpoint}
        with tempfile.TemporaryDirectory(prefix="nl-job-") as folder:
            path, inner = content.stage(tempfile.mkdtemp(prefix="nl-", dir=folder))
            job = ads_job.build_job(spec, path, auth, source_notebook=inner)
            payload = ads_job.creation_payload(job)
        artifact = deterministic_zip(payload.artifact)
        digest = spec.digest()
        bodies = (
            hashlib.sha256(json.dumps(payload.body, sort_keys=True).encode()).hexdigest(),
            hashlib.sha256(artifact).hexdigest(),
            payload.artifact_name,
        )

        def token(purpose: str, *parts: str) -> str | None:
            if reuse:
                return shared_token(purpose, digest, *bodies, *parts)
            return derived_token(key, purpose, digest, *parts)

        creation = JobCreation(
            port=self.datascience,
            body=payload.body,
            artifact=artifact,
            artifact_name=payload.artifact_name,
            token_for=token,
            discard=lambda job_id, etag: self._delete_half_made_job(job_id, etag, deadline),
        )
        job = creation.run(deadline)
        logger.info("job %s: %s", job.id, " -> ".join(step.value for step in creation.steps))
        return job.id

    def _delete_stale_half_made_jobs(
        self, listed: list[Job], created: str, deadline: Deadline
    ) -> None:
        """Delete this digest's launcher jobs left CREATING for longer than any invocation
        lives (a creator crashed between CreateJob and CreateJobArtifact), so half-made jobs
        do not accumulate. Uses the listing the launch made anyway: no extra call unless
        there is something to delete, and at most MAX_STALE_DELETIONS of them."""
        now = dt.datetime.now(dt.UTC)
        stale = [
            job
            for job in listed
            if job.id != created
            and job.lifecycle_state == JobState.CREATING
            and job.freeform_tags.get(LAUNCHER_TAG) == "job"
            and job.time_created is not None
            and (now - job.time_created).total_seconds() > STALE_CREATING_SECONDS
        ]
        for job in stale[:MAX_STALE_DELETIONS]:
            self._delete_job(job.id, None, deadline, "left half-made (CREATING) too long")

    def _jobs_with_digest(self, spec: JobSpec, deadline: Deadline) -> list[Job]:
        """This digest's jobs (ACTIVE ones and half-made CREATING ones), oldest first.

        One ListJobs on the display name (which holds the digest's prefix), any state. Should
        that page be full, the ACTIVE jobs are asked for on their own, so a pile of other
        jobs with the name can never hide the job to reuse.
        """
        digest = spec.digest()
        query = JobQuery(
            compartment_id=spec.compartment_id,
            project_id=spec.project_id,
            display_name=spec.display_name(),
            limit=LIST_LIMIT,
        )
        page = self.datascience.find_jobs(query, deadline)
        jobs = list(page.jobs)
        if page.more:
            jobs = [job for job in jobs if job.lifecycle_state != JobState.ACTIVE]
            active = replace(query, lifecycle_state=JobState.ACTIVE.value)
            jobs += self.datascience.find_jobs(active, deadline).jobs
        return [job for job in jobs if job.freeform_tags.get(DIGEST_TAG) == digest]

    def _delete_half_made_job(self, job_id: str, etag: str | None, deadline: Deadline) -> None:
        """Delete a job whose upload failed (only as CreateJob left it: with its etag, so that
        a concurrent creator's finished upload makes the delete fail, not the job vanish)."""
        self._delete_job(job_id, etag, deadline, "its artifact upload failed")

    def _delete_job(self, job_id: str, etag: str | None, deadline: Deadline, why: str) -> None:
        """Best-effort DeleteJob (never its runs). The clean-up may use half of the margin
        kept back from the function's deadline, never more: answering in time matters more
        (a CREATING job is never reused, and the next creator of its digest cleans it up)."""
        cleanup = Deadline(deadline.at + self.settings.deadline_margin_seconds / 2)
        try:
            self.datascience.delete_job(job_id, etag, cleanup)
            logger.info("deleted job %s: %s", job_id, why)
        except LauncherError as exc:
            logger.warning("could not delete job %s (%s): %s", job_id, why, exc.message)

    def _run(
        self,
        target: tuple[str, str, str],
        run_spec: RunSpec,
        output_uri: str | None,
        reused: bool,
        deadline: Deadline,
    ) -> Outcome:
        """CreateJobRun for target (job, project, compartment)."""
        job_id, project_id, compartment_id = target
        new_run = NewJobRun(
            job_id=job_id,
            project_id=project_id,
            compartment_id=compartment_id,
            display_name=run_spec.display_name,
            override_details=run_spec.override_details(),
            freeform_tags=run_spec.freeform_tags,
            defined_tags=run_spec.defined_tags or None,
        )
        run = self.datascience.create_run(new_run, run_spec.retry_token, deadline)
        output = (
            (output_uri or "").replace(RUN_OUTPUT_SUFFIX, run.id).replace("$JOB_RUN_OCID", run.id)
        )
        body = {
            "id": run.id,
            "jobId": job_id,
            "lifecycleState": run.lifecycle_state,
            "jobReused": reused,
            "runName": run.display_name,
            "outputUri": output or None,
            "pollUrl": f"{self.datascience.endpoint}/jobRuns/{run.id}",
        }
        return Outcome(body=body, job_id=job_id, run_id=run.id, reused=reused)

    def _dry_run(
        self, spec: JobSpec, content: ArtifactContent, run_spec: RunSpec
    ) -> dict[str, Any]:
        from notebook_launcher.function import ads_job

        with tempfile.TemporaryDirectory(prefix="nl-dry-") as folder:
            path, inner = content.stage(tempfile.mkdtemp(prefix="nl-", dir=folder))
            job = ads_job.build_job(spec, path, source_notebook=inner)
            definition = job.to_dict()
        runtime = definition["spec"]["runtime"]["spec"]
        if content.source is None:
            runtime["notebookPathURI"] = spec.notebook_file_name
        else:
            runtime["source"] = content.source.location  # not the temporary folder
        body = {
            "dryRun": True,
            "job": definition,
            "jobDigest": spec.digest(),
            "run": _run_preview(run_spec),
        }
        if (manifest := content.manifest()) is not None:
            body["source"] = manifest
        return body


def _spec_target(
    spec: JobSpec, job_id: str, reused: bool, warnings: tuple[dict[str, Any], ...] = ()
) -> JobTarget:
    return JobTarget(
        job_id,
        spec.project_id,
        spec.compartment_id,
        spec.job_name,
        spec.output_uri,
        reused,
        warnings,
    )


def _oldest(jobs: Iterable[Job]) -> Job:
    """The job created first (ties: the smaller id). Every launch reuses this one, so if
    creators ever made two jobs for a digest (tokens cannot join creators that sent different
    bodies, e.g. two function versions), all later launches still agree on one."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return min(jobs, key=lambda job: (job.time_created or epoch, job.id))


def _run_preview(run_spec: RunSpec) -> dict[str, Any]:
    """What a run would carry, for dry runs: names of variables, never their values."""
    return {
        "displayName": run_spec.display_name,
        "maximumRuntimeInMinutes": run_spec.max_runtime_minutes,
        "environmentVariableNames": sorted(run_spec.environment),
        "freeformTags": run_spec.freeform_tags,
    }
