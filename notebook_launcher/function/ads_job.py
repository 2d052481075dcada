"""The ADS job: built by a pure function, created with retry tokens.

`build_job` makes the `ads.jobs.Job` (DataScienceJob infrastructure, NotebookRuntime) that
ADS users know; `to_dict()`/`to_yaml()` show it, and dry runs return it. `creation_payload`
asks ADS for exactly what `Job.create()` would send (the CreateJobDetails and the artifact
zip with ADS's own notebook driver), so the launcher can send them itself with
`opc-retry-token`s, which ADS's create and run do not pass. ADS is imported here only, and
only on the create path and for dry runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebook_launcher.function.job_spec import DIGEST_TAG, LAUNCHER_TAG, JobSpec
from notebook_launcher.function.oci_names import OCI_URI_RE
from notebook_launcher.function.report_artifact import with_report_writer


def build_job(
    spec: JobSpec,
    notebook_path: str,
    auth: Mapping[str, Any] | None = None,
    source_notebook: str | None = None,
) -> Any:
    """The ADS Job for spec, its notebook at notebook_path; with source_notebook,
    notebook_path is a source folder holding that notebook (ADS's `with_source`). Touches
    no network."""
    from ads.jobs import DataScienceJob, Job, NotebookRuntime

    infrastructure = (
        DataScienceJob(**dict(auth or {}))
        .with_compartment_id(spec.compartment_id)
        .with_project_id(spec.project_id)
        .with_shape_name(spec.shape)
        .with_block_storage_size(spec.block_storage_gbs)
        .with_log_group_id(spec.log_group_id)
    )
    if spec.log_id:
        infrastructure = infrastructure.with_log_id(spec.log_id)
    if spec.ocpus is not None and spec.memory_in_gbs is not None:
        infrastructure = infrastructure.with_shape_config_details(
            ocpus=spec.ocpus, memory_in_gbs=spec.memory_in_gbs
        )
    if spec.subnet_id:
        infrastructure = infrastructure.with_subnet_id(spec.subnet_id)

    runtime = NotebookRuntime()
    if source_notebook is None:
        runtime = runtime.with_notebook(notebook_path, encoding="utf-8")
    else:
        runtime = runtime.with_source(notebook_path, notebook=source_notebook, encoding="utf-8")
    runtime = runtime.with_output(spec.output_uri).with_freeform_tag(
        **{DIGEST_TAG: spec.digest(), LAUNCHER_TAG: "job"}
    )
    conda = spec.conda_env
    if OCI_URI_RE.fullmatch(conda):
        runtime = runtime.with_custom_conda(conda)
    else:
        runtime = runtime.with_service_conda(conda)
    if spec.exclude_tags:
        runtime = runtime.with_exclude_tag(list(spec.exclude_tags))
    return Job(name=spec.display_name()).with_infrastructure(infrastructure).with_runtime(runtime)


@dataclass
class CreationPayload:
    """What CreateJob and CreateJobArtifact send for a job, as ADS builds them."""

    details: Any  # oci.data_science.models.CreateJobDetails
    body: dict[str, Any]  # the same, as CreateJob sends it (camelCase JSON)
    artifact: bytes
    artifact_name: str


def creation_payload(job: Any) -> CreationPayload:
    """The CreateJobDetails and the artifact zip that ADS's `Job.create()` would send."""
    import oci
    from ads.jobs.builders.infrastructure.dsc_job import DSCJob
    from ads.jobs.builders.infrastructure.dsc_job_runtime import DataScienceJobRuntimeManager

    infrastructure = job.infrastructure
    runtime = job.runtime
    # The same steps as DataScienceJob.create(), minus the API calls.
    payload = DataScienceJobRuntimeManager(infrastructure).translate(runtime)
    payload["project_id"] = infrastructure.project_id
    payload["compartment_id"] = infrastructure.compartment_id
    payload["display_name"] = job.name
    payload["job_log_configuration_details"] = infrastructure._prepare_log_config()
    dsc_job = DSCJob(**payload, **infrastructure.auth)
    infrastructure._update_job_infra(dsc_job)
    dsc_job.load_defaults()
    details = dsc_job.to_oci_model(oci.data_science.models.CreateJobDetails)
    with dsc_job.artifact as artifact:
        path = Path(artifact.path)
        zipped = with_report_writer(path.read_bytes(), details)
        body = dsc_job.client.base_client.sanitize_for_serialization(details)
        return CreationPayload(details, body, artifact=zipped, artifact_name=path.name)


def write_notebook(directory: str, file_name: str, content: bytes) -> str:
    """Write the prepared notebook where ADS will zip it from; returns its path."""
    folder = Path(tempfile.mkdtemp(prefix="nl-", dir=directory))
    path = folder / file_name
    path.write_bytes(content)
    return str(path)
