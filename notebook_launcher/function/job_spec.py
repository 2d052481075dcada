"""What a launch asks for, resolved against the settings: the job part and the run part.

`JobSpec` holds every job-level setting; its digest (with the prepared notebook's bytes)
identifies the job, so an identical request reuses the job. `RunSpec` holds what varies per
run (name, parameters, environment, runtime limit, tags), carried by CreateJobRun so that
it never defeats reuse.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from notebook_launcher.artifact.run_report_writer import PARAMETERS_ENV
from notebook_launcher.function.report_artifact import CODE_DIGEST as REPORT_WRITER_DIGEST
from notebook_launcher.function.request import (
    RUN_TAG,
    LaunchRequest,
    encode_parameters,
)
from notebook_launcher.function.settings import Settings

# Bump when the artifact layout or the injected cell changes: old jobs are then not reused.
# 2: the injected cell redacts by name at any depth, and the artifact runs the run-report
#    writer (its code digest enters the job digest too).
SPEC_VERSION = "2"
DIGEST_TAG = "notebook-launcher-digest"
LAUNCHER_TAG = RUN_TAG
RUN_OUTPUT_SUFFIX = "${JOB_RUN_OCID}"


@dataclass(frozen=True)
class JobSpec:
    """Every job-level setting, resolved (request first, then settings)."""

    job_name: str
    project_id: str
    compartment_id: str
    log_group_id: str
    log_id: str | None
    output_uri: str  # the job's OUTPUT_URI, with ${JOB_RUN_OCID} for per-run folders
    shape: str
    ocpus: float | None
    memory_in_gbs: float | None
    subnet_id: str | None
    block_storage_gbs: int
    conda_env: str
    exclude_tags: tuple[str, ...]
    notebook_file_name: str
    notebook_sha256: str = field(default="")

    def digest(self) -> str:
        """A stable hex digest of the notebook bytes and every job-level setting."""
        canonical = json.dumps(
            {"version": SPEC_VERSION, "reportWriter": REPORT_WRITER_DIGEST, **asdict(self)},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def display_name(self) -> str:
        """The job's display name: its name plus a digest prefix that ListJobs can filter on."""
        return f"{self.job_name[:230]}-nl{self.digest()[:16]}"


@dataclass(frozen=True)
class RunSpec:
    """What one run carries: name, environment (parameters included), limit and tags."""

    display_name: str
    environment: dict[str, str]
    max_runtime_minutes: int | None
    freeform_tags: dict[str, str]
    defined_tags: dict[str, dict[str, Any]]
    retry_token: str | None

    def override_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"jobType": "DEFAULT"}
        if self.environment:
            details["environmentVariables"] = dict(self.environment)
        if self.max_runtime_minutes:
            details["maximumRuntimeInMinutes"] = self.max_runtime_minutes
        return details


def derived_token(key: str | None, purpose: str, *parts: str) -> str | None:
    """An opc-retry-token for one operation, derived from the caller's idempotency key."""
    if key is None:
        return None
    material = "\x1f".join((purpose, key, *parts))
    return f"nl-{purpose}-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def shared_token(purpose: str, digest: str, *parts: str) -> str:
    """An opc-retry-token that every creator of the same job derives alike, key or not.

    A job is a function of its digest (and of the exact bodies sent, in `parts`), so
    concurrent first launches that send the same CreateJob (or CreateJobArtifact) converge
    on one job through Data Science's retry-token replay, for the token's 24 hours.
    """
    material = "\x1f".join(("shared", purpose, digest, *parts))
    return f"nl-{purpose}-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def resolve_job(
    request: LaunchRequest,
    settings: Settings,
    notebook_file_name: str,
    prepared: bytes,
    content_digest: str | None = None,
) -> JobSpec:
    """The job part of request; content_digest (a folder's, see artifact_content) stands for
    the notebook's own digest when the notebook ships with its files."""
    shape = request.shape or settings.shape
    flex = shape.endswith(".Flex")
    output_folder = (request.outputFolder or settings.output_folder or "").rstrip("/")
    output_uri = f"{output_folder}/{RUN_OUTPUT_SUFFIX}" if request.outputPerRun else output_folder
    assert request.projectId or settings.project_id
    return JobSpec(
        job_name=request.jobName or settings.job_name,
        project_id=request.projectId or settings.project_id or "",
        compartment_id=request.compartmentId or settings.compartment_id or "",
        log_group_id=request.logGroupId or settings.log_group_id or "",
        log_id=request.logId or (None if request.logGroupId else settings.log_id),
        output_uri=output_uri,
        shape=shape,
        # float(): 1 and 1.0 are the same setting and must give the same digest.
        ocpus=float(request.ocpus or settings.ocpus) if flex else None,
        memory_in_gbs=float(request.memoryInGBs or settings.memory_in_gbs) if flex else None,
        subnet_id=request.subnetId or settings.subnet_id,
        block_storage_gbs=request.blockStorageSizeInGBs or settings.block_storage_gbs,
        conda_env=request.condaEnv or settings.conda_env,
        exclude_tags=tuple(request.excludeTags or ()),
        notebook_file_name=notebook_file_name,
        notebook_sha256=content_digest or hashlib.sha256(prepared).hexdigest(),
    )


def resolve_run(
    request: LaunchRequest, settings: Settings, job_name: str, idempotency_key: str | None, now: str
) -> RunSpec:
    environment = dict(request.environmentVariables or {})
    if request.parameters:
        environment[PARAMETERS_ENV] = encode_parameters(request.parameters)
    if request.runName:
        name = request.runName
    elif idempotency_key:
        # Deterministic, so that a retried request sends the same CreateJobRun body.
        name = f"{job_name[:200]}-run-{hashlib.sha256(idempotency_key.encode()).hexdigest()[:12]}"
    else:
        name = f"{job_name[:200]}-run-{now}"
    return RunSpec(
        display_name=name,
        environment=environment,
        max_runtime_minutes=request.maxRuntimeInMinutes or settings.max_runtime_minutes,
        freeform_tags={LAUNCHER_TAG: "run", **(request.freeformTags or {})},
        defined_tags=dict(request.definedTags or {}),
        retry_token=derived_token(idempotency_key, "run"),
    )
