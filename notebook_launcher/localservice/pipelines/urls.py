"""The Pipelines operations (API 20190101): each declared once, routed and named here."""

from __future__ import annotations

from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.logging import models as logging_models
from notebook_launcher.localservice.pipelines import responses as r
from notebook_launcher.localservice.pipelines.models import Pipelines
from notebook_launcher.localservice.pipelines.orchestrator import Orchestrator
from notebook_launcher.localservice.rest import Operation, ServiceContext, ServiceSpec

API = "/20190101"
RUN = f"{API}/pipelineRuns/{{pipelineRunId}}"

OPERATIONS: tuple[Operation[Pipelines], ...] = (
    Operation("CreatePipeline", "POST", f"{API}/pipelines", r.create_pipeline),
    Operation("ListPipelines", "GET", f"{API}/pipelines", r.list_pipelines),
    Operation("GetPipeline", "GET", f"{API}/pipelines/{{pipelineId}}", r.get_pipeline),
    Operation("UpdatePipeline", "PUT", f"{API}/pipelines/{{pipelineId}}", r.update_pipeline),
    Operation("DeletePipeline", "DELETE", f"{API}/pipelines/{{pipelineId}}", r.delete_pipeline),
    Operation("CreatePipelineRun", "POST", f"{API}/pipelineRuns", r.create_pipeline_run),
    Operation("ListPipelineRuns", "GET", f"{API}/pipelineRuns", r.list_pipeline_runs),
    Operation("GetPipelineRun", "GET", RUN, r.get_pipeline_run),
    Operation("UpdatePipelineRun", "PUT", RUN, r.update_pipeline_run),
    Operation("DeletePipelineRun", "DELETE", RUN, r.delete_pipeline_run),
    Operation(
        "CancelPipelineRun", "POST", f"{RUN}/actions/cancelPipelineRun", r.cancel_pipeline_run
    ),
)


def _backend(context: ServiceContext) -> Pipelines:
    """The backend, and the orchestrator that runs pipeline runs: woken by the executor when
    a job run ends, and sweeping on its own (which also settles runs a killed service left)."""
    datascience = DataScience(
        context.store, context.layout.artifacts, context.executor, logging_models.backend(context)
    )
    orchestrator = Orchestrator(context.store, datascience)
    context.executor.add_finish_listener(orchestrator.wake)
    orchestrator.start()
    return Pipelines(context.store, datascience, orchestrator)


SERVICE = ServiceSpec("pipelines", OPERATIONS, _backend)
