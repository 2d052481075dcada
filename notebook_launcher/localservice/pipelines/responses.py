"""Pipelines requests to backend calls: each handler reads the request, makes one call on
`Pipelines` (models.py) and answers with OCI's response for it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from notebook_launcher.localservice.datascience.responses import list_response
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.pipelines import updates
from notebook_launcher.localservice.pipelines.models import Pipelines
from notebook_launcher.localservice.rest import (
    json_body,
    principal_id,
    query,
    resource_response,
)


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise InvalidParameterError(f"{name} must be true or false.")
    return value == "true"


# ----------------------------------------------------------------- pipelines


async def create_pipeline(p: Pipelines, request: Request) -> Response:
    record, _ = p.create_pipeline(
        await json_body(request), principal_id(request), request.headers.get("opc-retry-token")
    )
    return resource_response(record)


async def get_pipeline(p: Pipelines, request: Request) -> Response:
    return resource_response(p.get_pipeline(request.path_params["pipelineId"]))


async def list_pipelines(p: Pipelines, request: Request) -> Response:
    return list_response(p.list_pipelines(query(request)))


async def update_pipeline(p: Pipelines, request: Request) -> Response:
    pipeline_id = request.path_params["pipelineId"]
    p.get_pipeline(pipeline_id)  # 404 for what is not a pipeline's OCID
    body = await json_body(request)
    return resource_response(
        updates.update_pipeline(p.store, pipeline_id, body, request.headers.get("if-match"))
    )


async def delete_pipeline(p: Pipelines, request: Request) -> Response:
    work_request = p.delete_pipeline(
        request.path_params["pipelineId"],
        _flag(request, "deleteRelatedPipelineRuns"),
        _flag(request, "deleteRelatedJobRuns"),
        request.headers.get("if-match"),
    )
    return Response(status_code=202, headers={"opc-work-request-id": work_request})


# ----------------------------------------------------------------- pipeline runs


async def create_pipeline_run(p: Pipelines, request: Request) -> Response:
    record, _ = p.create_pipeline_run(
        await json_body(request), principal_id(request), request.headers.get("opc-retry-token")
    )
    return resource_response(record)


async def get_pipeline_run(p: Pipelines, request: Request) -> Response:
    return resource_response(p.get_pipeline_run(request.path_params["pipelineRunId"]))


async def list_pipeline_runs(p: Pipelines, request: Request) -> Response:
    return list_response(p.list_pipeline_runs(query(request)))


async def update_pipeline_run(p: Pipelines, request: Request) -> Response:
    run_id = request.path_params["pipelineRunId"]
    p.get_pipeline_run(run_id)  # 404 for what is not a pipeline run's OCID
    body = await json_body(request)
    return resource_response(
        updates.update_pipeline_run(p.store, run_id, body, request.headers.get("if-match"))
    )


async def cancel_pipeline_run(p: Pipelines, request: Request) -> Response:
    p.cancel_pipeline_run(
        request.path_params["pipelineRunId"],
        request.headers.get("if-match"),
        request.headers.get("opc-retry-token"),
        _flag(request, "terminateGracefully"),
    )
    return Response(status_code=202)


async def delete_pipeline_run(p: Pipelines, request: Request) -> Response:
    p.delete_pipeline_run(
        request.path_params["pipelineRunId"],
        _flag(request, "deleteRelatedJobRuns"),
        request.headers.get("if-match"),
    )
    return Response(status_code=204)
