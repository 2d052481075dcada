"""The launch, status and cancel actions: validate → fetch → digest → find or build → run.

The reuse path (an ACTIVE job already carries the digest) is ListJobs + CreateJobRun and
never imports ADS; the create path adds CreateJob and CreateJobArtifact, sent with retry
tokens derived from the caller's idempotency key. A job whose artifact upload fails is
deleted, so no half-made job is left to be found.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import (
    ConflictError,
    FieldProblem,
    InvalidRequestError,
    LauncherError,
    NotFoundError,
    ServiceUnavailableError,
)
from notebook_launcher.function.job_spec import (
    DIGEST_TAG,
    RUN_OUTPUT_SUFFIX,
    JobSpec,
    RunSpec,
    derived_token,
    resolve_job,
    resolve_run,
)
from notebook_launcher.function.notebook_fetch import fetch_notebook, validate_notebook
from notebook_launcher.function.oci_edge import OciEdge
from notebook_launcher.function.parameters import prepare_notebook
from notebook_launcher.function.request import LaunchRequest
from notebook_launcher.function.run_report import report_for_run
from notebook_launcher.function.settings import Settings

logger = logging.getLogger(__name__)

TERMINAL_JOB_STATES = {"DELETING", "DELETED", "FAILED"}
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

        assert request.noteBook
        notebook = fetch_notebook(request.noteBook, self.settings, self.edge, deadline)
        prepared = prepare_notebook(validate_notebook(notebook.content))
        spec = resolve_job(request, self.settings, notebook.file_name, prepared)
        run_spec = resolve_run(request, self.settings, spec.job_name, idempotency_key, now)
        if request.dryRun:
            return Outcome(body=self._dry_run(spec, prepared, run_spec))

        job_id = self._find_job(spec, deadline) if request.reuseJob else None
        reused = job_id is not None
        if job_id is None:
            job_id = self._create_job(spec, prepared, idempotency_key, deadline)
        target = (job_id, spec.project_id, spec.compartment_id)
        return self._run(target, run_spec, spec.output_uri, reused, deadline)

    # -- steps ----------------------------------------------------------------------------

    def _existing_job(self, job_id: str, deadline: Deadline) -> Any:
        ds = self.edge.datascience
        job = self.edge.call("GetJob", ds, ds.get_job, deadline, job_id=job_id).data
        if job.lifecycle_state != "ACTIVE":
            raise ConflictError(
                f"Job {job_id} is {job.lifecycle_state}; only an ACTIVE job can be run."
            )
        return job

    def _find_job(self, spec: JobSpec, deadline: Deadline) -> str | None:
        ds = self.edge.datascience
        response = self.edge.call(
            "ListJobs",
            ds,
            ds.list_jobs,
            deadline,
            compartment_id=spec.compartment_id,
            project_id=spec.project_id,
            display_name=spec.display_name(),
            lifecycle_state="ACTIVE",
            limit=20,
        )
        digest = spec.digest()
        for job in response.data:
            if (job.freeform_tags or {}).get(DIGEST_TAG) == digest:
                return str(job.id)
        return None

    def _create_job(
        self, spec: JobSpec, prepared: bytes, key: str | None, deadline: Deadline
    ) -> str:
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
            path = ads_job.write_notebook(folder, spec.notebook_file_name, prepared)
            payload = ads_job.creation_payload(ads_job.build_job(spec, path, auth))
        artifact = deterministic_zip(payload.artifact)
        digest = spec.digest()
        ds = self.edge.datascience

        def create(token: str | None) -> Any:
            return self.edge.call(
                "CreateJob",
                ds,
                ds.create_job,
                deadline,
                create_job_details=payload.details,
                opc_retry_token=token,
            ).data

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
                opc_retry_token=derived_token(key, "artifact", digest, job_id),
            )

        job = create(derived_token(key, "job", digest))
        if job.lifecycle_state in TERMINAL_JOB_STATES:
            # The key's earlier job was deleted after a failed upload: make a new one.
            job = create(derived_token(key, "job-again", digest, job.id))
        if job.lifecycle_state == "ACTIVE":
            return str(job.id)  # the key's earlier invocation finished the upload
        try:
            upload(job.id)
        except (NotFoundError, ConflictError):
            # A replayed CreateJob may answer with the job as it was first created (CREATING)
            # although it has since been deleted, or finished by an earlier upload: look.
            current = self.edge.call("GetJob", ds, ds.get_job, deadline, job_id=job.id).data
            if current.lifecycle_state == "ACTIVE":
                return str(job.id)
            if current.lifecycle_state not in TERMINAL_JOB_STATES:
                raise
            job = create(derived_token(key, "job-again", digest, job.id))
            try:
                upload(job.id)
            except LauncherError:
                self._delete_half_made_job(job.id, deadline)
                raise
        except LauncherError:
            self._delete_half_made_job(job.id, deadline)
            raise
        return str(job.id)

    def _delete_half_made_job(self, job_id: str, deadline: Deadline) -> None:
        """Delete a job whose upload failed. The clean-up may use half of the margin kept back
        from the function's deadline, never more: answering in time matters more (a CREATING
        job is never reused, and a retry with the same key completes it)."""
        ds = self.edge.datascience
        cleanup = Deadline(deadline.at + self.settings.deadline_margin_seconds / 2)
        try:
            self.edge.call("DeleteJob", ds, ds.delete_job, cleanup, job_id=job_id)
            logger.info("deleted job %s after its artifact upload failed", job_id)
        except LauncherError as exc:
            logger.warning("could not delete half-made job %s: %s", job_id, exc.message)

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

    def _dry_run(self, spec: JobSpec, prepared: bytes, run_spec: RunSpec) -> dict[str, Any]:
        from notebook_launcher.function import ads_job

        with tempfile.TemporaryDirectory(prefix="nl-dry-") as folder:
            path = ads_job.write_notebook(folder, spec.notebook_file_name, prepared)
            job = ads_job.build_job(spec, path)
            definition = job.to_dict()
        definition["spec"]["runtime"]["spec"]["notebookPathURI"] = spec.notebook_file_name
        return {
            "dryRun": True,
            "job": definition,
            "jobDigest": spec.digest(),
            "run": _run_preview(run_spec),
        }


def _run_preview(run_spec: RunSpec) -> dict[str, Any]:
    """What a run would carry, for dry runs: names of variables, never their values."""
    return {
        "displayName": run_spec.display_name,
        "maximumRuntimeInMinutes": run_spec.max_runtime_minutes,
        "environmentVariableNames": sorted(run_spec.environment),
        "freeformTags": run_spec.freeform_tags,
    }
