"""The ADS pipeline: built by a pure function from a PipelineSpec, sent by the launcher.

`build_pipeline` makes the `ads.pipeline.Pipeline` of ML_JOB steps (`PipelineStep.with_job_id`)
with its DAG (`with_dag`) that ADS users know; `to_yaml()` shows it (dry runs).
`creation_details` asks ADS for exactly the CreatePipelineDetails its `Pipeline.create()`
would send, so the launcher can send it itself with an `opc-retry-token` (ADS's create passes
none). ML_JOB steps need no step artifact (ADS uploads artifacts only for steps with a
runtime), so CreatePipeline is the whole creation. ADS is imported here only, and only on the
pipeline's create path and for dry runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notebook_launcher.function.job_spec import DIGEST_TAG, LAUNCHER_TAG
from notebook_launcher.function.pipeline_spec import RERUN_TAG, PipelineSpec


def build_pipeline(spec: PipelineSpec, job_ids: Mapping[str, str] | None = None) -> Any:
    """The ADS Pipeline of spec; job_ids replaces step job ids for display (dry runs).
    Touches no network."""
    from ads.pipeline import Pipeline, PipelineStep

    steps = [
        PipelineStep(step.name).with_job_id((job_ids or {}).get(step.name, step.job_id))
        for step in spec.steps
    ]
    tags = {**spec.tags, DIGEST_TAG: spec.digest(), LAUNCHER_TAG: "pipeline"}
    if spec.rerun_of:
        tags[RERUN_TAG] = spec.rerun_of
    pipeline = (
        Pipeline(spec.display_name())
        .with_compartment_id(spec.compartment_id)
        .with_project_id(spec.project_id)
        .with_freeform_tags(tags)
        .with_step_details(steps)
        .with_dag(spec.dag())
    )
    if spec.log_group_id:
        pipeline = pipeline.with_log_group_id(spec.log_group_id)
    if spec.log_id and spec.log_group_id:  # never only a log id: ADS would call Logging
        pipeline = pipeline.with_log_id(spec.log_id)
    return pipeline


def creation_details(pipeline: Any, auth: Mapping[str, Any]) -> Any:
    """The CreatePipelineDetails that ADS's `Pipeline.create()` would send for pipeline."""
    import oci
    from ads.pipeline.ads_pipeline import DataSciencePipeline

    # The same step as Pipeline.create(), minus the API calls.
    details = pipeline._Pipeline__pipeline_details()
    details.pop("dag", None)  # ADS's own notation; the DAG is in the steps' dependsOn
    model = DataSciencePipeline(**details, **dict(auth))
    return model.to_oci_model(oci.data_science.models.CreatePipelineDetails)
