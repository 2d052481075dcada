"""The launch, status and cancel actions: validate → fetch → digest → find or build → run.

The reuse path (an ACTIVE job already carries the digest) is ListJobs + CreateJobRun and
never imports ADS; the create path adds CreateJob and CreateJobArtifact, sent with retry
tokens derived from the job itself (its digest and exact bodies), so concurrent first
launches converge on one job whatever their idempotency keys. A job whose artifact upload
fails is deleted, and the next creation of a digest deletes its jobs left half-made
(CREATING) by a crashed creator, so nothing half-made accumulates.
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.artifact_content import ArtifactContent
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
from notebook_launcher.function.parameters import prepare_notebook
from notebook_launcher.function.request import LaunchRequest
from notebook_launcher.function.run_report import report_for_run
from notebook_launcher.function.settings import Settings

logger = logging.getLogger(__name__)

TERMINAL_JOB_STATES = {"DELETING", "DELETED", "FAILED"}
# A launcher job still CREATING after this long is half-made (its creator crashed between
# CreateJob and CreateJobArtifact): OCI Functions stop an invocation after 300 s at most.
STALE_CREATING_SECONDS = 600.0
MAX_STALE_DELETIONS = 3  # per invocation: clean-up stays bounded
# How many replayed-but-deleted jobs one creation follows before giving up.
MAX_DELETED_REPLAYS = 3
LIST_LIMIT = 50
# Worst cold import-and-build of ADS seen on a loaded 2-core machine (make bench: ~3-5 s typical).
COLD_ADS_SECONDS = 12.0


@dataclass
class Outcome:
    """The response body plus what the invocation log line reports."""

    body: dict[str, Any]
    job_id: str | None = None
    run_id: str | None = None
    reused: bool | None = None
    calls: list[str] = field(default_factory=list)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    return str(value)


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


def run_brief(run: Any) -> dict[str, Any]:
    """A job run as GetJobRun has it, in brief."""
    return {
        "id": run.id,
        "jobId": run.job_id,
        "displayName": run.display_name,
        "lifecycleState": run.lifecycle_state,
        "lifecycleDetails": run.lifecycle_details,
        "timeAccepted": _iso(run.time_accepted),
        "timeStarted": _iso(run.time_started),
        "timeFinished": _iso(run.time_finished),
    }


class Launcher:
    """Carries out one request against Data Science through the edge."""

    def __init__(self, settings: Settings, edge: OciEdge) -> None:
        self.settings = settings
        self.edge = edge

    # -- actions --------------------------------------------------------------------------

    def handle(
        self, request: LaunchRequest, deadline: Deadline, idempotency_key: str | None
    ) -> Outcome:
        if request.action == "status":
            assert request.id
            run = self._get_run(request.id, deadline)
            body = {**run_brief(run), **report_for_run(self.edge, run, deadline)}
            return Outcome(body=body, job_id=run.job_id, run_id=run.id)
        if request.action == "cancel":
            assert request.id
            return self._cancel(request.id, deadline)
        return self._launch(request, deadline, idempotency_key)

    def _get_run(self, run_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        return self.edge.call("GetJobRun", ds, ds.get_job_run, deadline, job_run_id=run_id).data

    def _cancel(self, run_id: str, deadline: Deadline) -> Outcome:
        ds = self.edge.datascience
        run = self._get_run(run_id, deadline)
        if run.lifecycle_state in ("SUCCEEDED", "FAILED", "CANCELED", "DELETED"):
            raise ConflictError(
                f"Job run {run_id} has already finished ({run.lifecycle_state}); "
                "there is nothing to cancel."
            )
        if run.lifecycle_state != "CANCELING":
            self.edge.call("CancelJobRun", ds, ds.cancel_job_run, deadline, job_run_id=run_id)
            run = self._get_run(run_id, deadline)
        return Outcome(body=run_brief(run), job_id=run.job_id, run_id=run.id)

    def _launch(
        self, request: LaunchRequest, deadline: Deadline, idempotency_key: str | None
    ) -> Outcome:
        now = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        if request.jobId:
            job = self._existing_job(request.jobId, deadline)
            if request.parameters and DIGEST_TAG not in (job.freeform_tags or {}):
                raise InvalidRequestError(
                    "The job was not created by notebook-launcher: its notebook has no cell "
                    "that reads run parameters.",
                    details=[FieldProblem("parameters", "not supported for this jobId")],
                )
            run_spec = resolve_run(request, self.settings, job.display_name, idempotency_key, now)
            output = (job.job_configuration_details.environment_variables or {}).get("OUTPUT_URI")
            if request.dryRun:
                ds = self.edge.datascience
                return Outcome(
                    body={
                        "dryRun": True,
                        "job": ds.base_client.sanitize_for_serialization(job),
                        "run": _run_preview(run_spec),
                    },
                    job_id=job.id,
                )
            target = (job.id, job.project_id, job.compartment_id)
            return self._run(target, run_spec, output, True, deadline)

        content, spec = self.prepare_job(request, deadline)
        run_spec = resolve_run(request, self.settings, spec.job_name, idempotency_key, now)
        if request.dryRun:
            return Outcome(body=self._dry_run(spec, content, run_spec))
        job_id, reused = self.find_or_create_job(
            spec, content, request.reuseJob, idempotency_key, deadline
        )
        target = (job_id, spec.project_id, spec.compartment_id)
        return self._run(target, run_spec, spec.output_uri, reused, deadline)

    # -- the job of a launch (also used by pipeline launches) -----------------------------

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

    def find_or_create_job(
        self,
        spec: JobSpec,
        content: ArtifactContent,
        reuse: bool,
        idempotency_key: str | None,
        deadline: Deadline,
    ) -> tuple[str, bool]:
        """(job id, reused): the oldest ACTIVE job with spec's digest, else a new one."""
        listed = self._jobs_with_digest(spec, deadline) if reuse else []
        active = [job for job in listed if job.lifecycle_state == "ACTIVE"]
        if active:
            return str(_oldest(active).id), True
        job_id = self._create_job(spec, content, idempotency_key, reuse, deadline)
        self._delete_stale_half_made_jobs(listed, job_id, deadline)
        return job_id, False

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

    def _existing_job(self, job_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        job = self.edge.call("GetJob", ds, ds.get_job, deadline, job_id=job_id).data
        if job.lifecycle_state != "ACTIVE":
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
        ds = self.edge.datascience
        details = ds.base_client.sanitize_for_serialization(payload.details)
        bodies = (
            hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest(),
            hashlib.sha256(artifact).hexdigest(),
            payload.artifact_name,
        )

        def token(purpose: str, *parts: str) -> str | None:
            if reuse:
                return shared_token(purpose, digest, *bodies, *parts)
            return derived_token(key, purpose, digest, *parts)

        def create(previous: str | None) -> Any:
            # After a replayed job that has since been deleted, the next token in a chain
            # derived from that job: concurrent creators follow the same chain.
            retry_token = token("job") if previous is None else token("job-again", previous)
            return self.edge.call(
                "CreateJob",
                ds,
                ds.create_job,
                deadline,
                create_job_details=payload.details,
                opc_retry_token=retry_token,
            )

        def upload(job_id: str) -> None:
            self.edge.call(
                "CreateJobArtifact",
                ds,
                ds.create_job_artifact,
                deadline,
                job_id=job_id,
                job_artifact=artifact,
                content_length=len(artifact),
                content_disposition=f"attachment; filename={payload.artifact_name}",
                opc_retry_token=token("artifact", job_id),
            )

        return str(self._create_and_upload(create, upload, deadline).id)

    def _create_and_upload(
        self, create: Callable[[str | None], Any], upload: Callable[[str], None], deadline: Deadline
    ) -> Any:
        """The created (or replayed) job, made ACTIVE; a job whose upload failed is deleted."""
        ds = self.edge.datascience
        previous: str | None = None
        for attempt in range(MAX_DELETED_REPLAYS + 1):
            try:
                response = create(previous)
            except RetryTokenInvalidatedError:
                if attempt == MAX_DELETED_REPLAYS:
                    raise
                # Data Science may refuse the token of a job since deleted and purged: the
                # next token of the chain, the same for every concurrent creator.
                previous = f"refused-{attempt}"
                continue
            job = response.data
            if job.lifecycle_state in TERMINAL_JOB_STATES:
                previous = job.id  # the token's earlier job was deleted: make a new one
                continue
            if job.lifecycle_state == "ACTIVE":
                return job  # an earlier or concurrent creator finished the upload
            try:
                upload(job.id)
            except (NotFoundError, ConflictError):
                # A replayed CreateJob may answer with the job as it was first created
                # (CREATING) although it has since been deleted, or finished by a concurrent
                # upload: look.
                current = self.edge.call("GetJob", ds, ds.get_job, deadline, job_id=job.id).data
                if current.lifecycle_state == "ACTIVE":
                    return current
                if current.lifecycle_state not in TERMINAL_JOB_STATES:
                    raise
                previous = job.id
                continue
            except LauncherError:
                self._delete_half_made_job(job.id, response.headers.get("etag"), deadline)
                raise
            return job
        raise ConflictError(
            f"Every job created for this request was deleted before it could be used "
            f"({MAX_DELETED_REPLAYS + 1} in a row); try again."
        )

    def _delete_stale_half_made_jobs(
        self, listed: list[Any], created: str, deadline: Deadline
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
            and job.lifecycle_state == "CREATING"
            and (job.freeform_tags or {}).get(LAUNCHER_TAG) == "job"
            and job.time_created is not None
            and (now - job.time_created).total_seconds() > STALE_CREATING_SECONDS
        ]
        for job in stale[:MAX_STALE_DELETIONS]:
            self._delete_job(job.id, None, deadline, "left half-made (CREATING) too long")

    def _jobs_with_digest(self, spec: JobSpec, deadline: Deadline) -> list[Any]:
        """This digest's jobs (ACTIVE ones and half-made CREATING ones), oldest first.

        One ListJobs on the display name (which holds the digest's prefix), any state. Should
        that page be full, the ACTIVE jobs are asked for on their own, so a pile of other
        jobs with the name can never hide the job to reuse.
        """
        ds = self.edge.datascience
        digest = spec.digest()

        def page(**state: str) -> Any:
            return self.edge.call(
                "ListJobs",
                ds,
                ds.list_jobs,
                deadline,
                compartment_id=spec.compartment_id,
                project_id=spec.project_id,
                display_name=spec.display_name(),
                sort_by="timeCreated",
                sort_order="ASC",
                limit=LIST_LIMIT,
                **state,
            )

        response = page()
        jobs = list(response.data)
        if response.has_next_page:
            jobs = [job for job in jobs if job.lifecycle_state != "ACTIVE"]
            jobs += page(lifecycle_state="ACTIVE").data
        return [job for job in jobs if (job.freeform_tags or {}).get(DIGEST_TAG) == digest]

    def _delete_half_made_job(self, job_id: str, etag: str | None, deadline: Deadline) -> None:
        """Delete a job whose upload failed (only as CreateJob left it: with its etag, so that
        a concurrent creator's finished upload makes the delete fail, not the job vanish)."""
        self._delete_job(job_id, etag, deadline, "its artifact upload failed")

    def _delete_job(self, job_id: str, etag: str | None, deadline: Deadline, why: str) -> None:
        """Best-effort DeleteJob (never its runs). The clean-up may use half of the margin
        kept back from the function's deadline, never more: answering in time matters more
        (a CREATING job is never reused, and the next creator of its digest cleans it up)."""
        ds = self.edge.datascience
        cleanup = Deadline(deadline.at + self.settings.deadline_margin_seconds / 2)
        kwargs: dict[str, Any] = {"if_match": etag} if etag else {}
        try:
            self.edge.call("DeleteJob", ds, ds.delete_job, cleanup, job_id=job_id, **kwargs)
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
        from oci.data_science.models import CreateJobRunDetails

        job_id, project_id, compartment_id = target
        details = CreateJobRunDetails(
            project_id=project_id,
            compartment_id=compartment_id,
            job_id=job_id,
            display_name=run_spec.display_name,
            job_configuration_override_details=run_spec.override_details(),
            freeform_tags=run_spec.freeform_tags,
            defined_tags=run_spec.defined_tags or None,
        )
        ds = self.edge.datascience
        kwargs: dict[str, Any] = {"create_job_run_details": details}
        if run_spec.retry_token:
            kwargs["opc_retry_token"] = run_spec.retry_token
        run = self.edge.call("CreateJobRun", ds, ds.create_job_run, deadline, **kwargs).data
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
            "pollUrl": f"{self.edge.datascience_endpoint}/jobRuns/{run.id}",
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


def _oldest(jobs: Iterable[Any]) -> Any:
    """The job created first (ties: the smaller id). Every launch reuses this one, so if
    creators ever made two jobs for a digest (tokens cannot join creators that sent different
    bodies, e.g. two function versions), all later launches still agree on one."""
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    return min(jobs, key=lambda job: (job.time_created or epoch, str(job.id)))


def _run_preview(run_spec: RunSpec) -> dict[str, Any]:
    """What a run would carry, for dry runs: names of variables, never their values."""
    return {
        "displayName": run_spec.display_name,
        "maximumRuntimeInMinutes": run_spec.max_runtime_minutes,
        "environmentVariableNames": sorted(run_spec.environment),
        "freeformTags": run_spec.freeform_tags,
    }
