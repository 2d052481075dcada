"""Data Science requests to backend calls: each handler reads the request, makes one call on
`DataScience` (models.py) and answers with OCI's response for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from notebook_launcher.localservice.datascience.models import DataScience, ListResult
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.rest import (
    ServiceJSONResponse,
    json_body,
    principal_id,
    query,
    resource_response,
    upload,
)
from notebook_launcher.localservice.store import Record

# DataScience.create_project, create_job, create_job_run: (body, principal, retry token).
CreateCall = Callable[[object, str, str | None], tuple[Record, bool]]


def list_response(result: ListResult) -> JSONResponse:
    headers = {"opc-next-page": result.next_page} if result.next_page else None
    return ServiceJSONResponse(result.items, headers=headers)


async def _create(request: Request, create: CreateCall) -> Response:
    """Every Create*: the JSON body, who asks, and the retry token, in; the resource, out."""
    record, _ = create(
        await json_body(request), principal_id(request), request.headers.get("opc-retry-token")
    )
    return resource_response(record)


# ----------------------------------------------------------------- projects


async def create_project(ds: DataScience, request: Request) -> Response:
    return await _create(request, ds.create_project)


async def get_project(ds: DataScience, request: Request) -> Response:
    return resource_response(ds.get_project(request.path_params["projectId"]))


async def list_projects(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_projects(query(request)))


async def update_project(ds: DataScience, request: Request) -> Response:
    record = ds.update_project(
        request.path_params["projectId"], await json_body(request), request.headers.get("if-match")
    )
    return resource_response(record)


async def delete_project(ds: DataScience, request: Request) -> Response:
    work_request = ds.delete_project(
        request.path_params["projectId"], request.headers.get("if-match")
    )
    return Response(status_code=202, headers={"opc-work-request-id": work_request})


# ----------------------------------------------------------------- jobs


async def create_job(ds: DataScience, request: Request) -> Response:
    return await _create(request, ds.create_job)


async def get_job(ds: DataScience, request: Request) -> Response:
    return resource_response(ds.get_job(request.path_params["jobId"]))


async def list_jobs(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_jobs(query(request)))


async def update_job(ds: DataScience, request: Request) -> Response:
    record = ds.update_job(
        request.path_params["jobId"], await json_body(request), request.headers.get("if-match")
    )
    return resource_response(record)


async def delete_job(ds: DataScience, request: Request) -> Response:
    flag = request.query_params.get("deleteRelatedJobRuns", "false").lower()
    if flag not in ("true", "false"):
        raise InvalidParameterError("deleteRelatedJobRuns must be true or false.")
    work_request = ds.delete_job(
        request.path_params["jobId"], flag == "true", request.headers.get("if-match")
    )
    return Response(status_code=202, headers={"opc-work-request-id": work_request})


# ----------------------------------------------------------------- job artifacts


async def create_job_artifact(ds: DataScience, request: Request) -> Response:
    ds.create_job_artifact(
        request.path_params["jobId"],
        upload(request),
        request.headers.get("content-disposition"),
        request.headers.get("opc-retry-token"),
    )
    return Response(status_code=200)


def _artifact_headers(ds: DataScience, job_id: str) -> dict[str, str]:
    info = ds.artifact(job_id)
    modified = datetime.fromisoformat(info.time_created.replace("Z", "+00:00"))
    return {
        "content-length": str(info.size),
        "content-md5": info.md5_base64,
        "content-disposition": f"attachment; filename={info.file_name}",
        "last-modified": formatdate(modified.timestamp(), usegmt=True),
        "etag": info.sha256_hex,
    }


async def head_job_artifact(ds: DataScience, request: Request) -> Response:
    return Response(status_code=200, headers=_artifact_headers(ds, request.path_params["jobId"]))


async def get_job_artifact_content(ds: DataScience, request: Request) -> Response:
    job_id = request.path_params["jobId"]
    headers = _artifact_headers(ds, job_id)
    headers.pop("content-length")
    return FileResponse(
        ds.artifact_path(job_id), headers=headers, media_type="application/octet-stream"
    )


# ----------------------------------------------------------------- job runs


async def create_job_run(ds: DataScience, request: Request) -> Response:
    return await _create(request, ds.create_job_run)


async def get_job_run(ds: DataScience, request: Request) -> Response:
    return resource_response(ds.get_job_run(request.path_params["jobRunId"]))


async def list_job_runs(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_job_runs(query(request)))


async def cancel_job_run(ds: DataScience, request: Request) -> Response:
    ds.cancel_job_run(request.path_params["jobRunId"], request.headers.get("if-match"))
    return Response(status_code=202)


async def delete_job_run(ds: DataScience, request: Request) -> Response:
    ds.delete_job_run(request.path_params["jobRunId"], request.headers.get("if-match"))
    return Response(status_code=204)


async def update_job_run(ds: DataScience, request: Request) -> Response:
    record = ds.update_job_run(
        request.path_params["jobRunId"], await json_body(request), request.headers.get("if-match")
    )
    return resource_response(record)


# ----------------------------------------------------------------- shapes, work requests


async def list_job_shapes(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_job_shapes(query(request)))


async def list_fast_launch_job_configs(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_fast_launch_job_configs(query(request)))


async def get_work_request(ds: DataScience, request: Request) -> Response:
    return resource_response(ds.get_work_request(request.path_params["workRequestId"]))


async def list_work_requests(ds: DataScience, request: Request) -> Response:
    return list_response(ds.list_work_requests(query(request)))


async def list_work_request_errors(ds: DataScience, request: Request) -> Response:
    return ServiceJSONResponse(ds.work_request_errors(request.path_params["workRequestId"]))


async def list_work_request_logs(ds: DataScience, request: Request) -> Response:
    return ServiceJSONResponse(ds.work_request_logs(request.path_params["workRequestId"]))
