"""The HTTP face of the local service: a Starlette app speaking OCI's REST dialect.

Data Science API 20190101 under `/20190101`, the Object Storage calls runs need under
`/n`, and local-only helpers under `/_local` (run logs, call statistics and, when enabled at
start, fault injection). Every request, on every path, must carry a valid OCI signature
(API key or resource-principal session) or is answered 401 NotAuthenticated. Bodies are
bounded (10 MB of JSON, 2 GiB for an artifact or object) and checked before anything is
stored: a value that could not be answered back as strict JSON is a 400.

Authentication is not authorization. Any valid signature may call every route: the API
key, a function's resource-principal session, and the session every job run gets (its
token is a file in the run's folder, readable by the run's code). There are no policies,
and runs execute as the same OS user as the service and as each other, so locally there is
no isolation boundary between runs, or between a run and the service's data. The service
stands in for OCI's API, not for its security model: use it for code you trust.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.datascience import DataScience, ListResult
from notebook_launcher.localservice.errors import (
    CannotParseRequestError,
    InternalServerError,
    InvalidParameterError,
    LimitExceededError,
    MethodNotAllowedError,
    NotAuthenticatedServiceError,
    RouteNotFoundError,
    ServiceError,
    error_for_status,
)
from notebook_launcher.localservice.faults import CallStats, FaultInjector
from notebook_launcher.localservice.identity import (
    NotAuthenticatedError,
    Principal,
    SignatureVerifier,
    is_raw_body_upload,
)
from notebook_launcher.localservice.objectstorage import ObjectInfo, ObjectStore
from notebook_launcher.localservice.store import Record
from notebook_launcher.localservice.ui import Console, ConsoleGate

logger = logging.getLogger(__name__)

API = "/20190101"
Handler = Callable[[Request], Awaitable[Response]]
MAX_JSON_BODY_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 2 * 1024**3  # a job artifact or an object


@dataclass(frozen=True)
class ServiceComponents:
    """Everything the routes delegate to."""

    datascience: DataScience
    objects: ObjectStore
    verifier: SignatureVerifier
    stats: CallStats
    faults: FaultInjector | None
    namespace: str
    log_path: Callable[[str], Path]
    uploads_dir: Path
    console: Console | None = None  # the web console at /ui (its own token auth)


# --------------------------------------------------------------------------- responses


class ServiceJSONResponse(JSONResponse):
    """Strict JSON in UTF-8; a stored value that is not (a NaN, a lone surrogate: records
    written before bodies were checked) is answered repaired rather than as a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except (ValueError, UnicodeEncodeError):
            logger.warning("answering a document with unstorable values repaired")
            return super().render(repaired(content))


def repaired(value: Any) -> Any:
    """`value` with non-finite numbers as null and lone surrogates as U+FFFD."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {repaired(key): repaired(item) for key, item in value.items()}
    if isinstance(value, list):
        return [repaired(item) for item in value]
    return value


def error_response(error: ServiceError, headers: dict[str, str] | None = None) -> JSONResponse:
    return ServiceJSONResponse(error.to_body(), status_code=error.status, headers=headers)


def resource_response(record: Record, status: int = 200) -> JSONResponse:
    return ServiceJSONResponse(record.doc, status_code=status, headers={"etag": record.etag})


def list_response(result: ListResult) -> JSONResponse:
    headers = {"opc-next-page": result.next_page} if result.next_page else None
    return ServiceJSONResponse(result.items, headers=headers)


# --------------------------------------------------------------------------- middleware


class RequestIdMiddleware:
    """Echoes `opc-request-id` (or makes one) and `opc-client-request-id` on every response,
    and answers an unexpected exception with OCI's 500 JSON instead of a bare error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        incoming = request_headers.get(b"opc-request-id", b"").decode("latin-1")
        request_id = incoming or f"{uuid.uuid4().hex.upper()}/{uuid.uuid4().hex.upper()}"
        client_request_id = request_headers.get(b"opc-client-request-id")  # Object Storage's
        scope.setdefault("state", {})["opc_request_id"] = request_id

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"opc-request-id", request_id.encode("latin-1")))
                if client_request_id:
                    headers.append((b"opc-client-request-id", client_request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Where it failed, but not the exception's text: it may echo submitted values.
            logger.error(
                "unexpected %s on %s %s (request %s)\n%s",
                type(exc).__name__,
                scope["method"],
                scope["path"],
                request_id,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            if started:
                raise
            response = error_response(
                InternalServerError("An internal error occurred in the service.")
            )
            await response(scope, receive, send_with_id)


class _BodyTooLargeError(Exception):
    """The body grew past its limit while it was read."""


class _Disconnected(Exception):
    """The client went away before its body arrived."""


class SignatureMiddleware:
    """Verifies the OCI signature of every request before routing it, and bounds its body.

    The signature is checked on the headers before any of the body is read (it covers the
    body's announced digest and length), so an unsigned or oversized request costs nothing.
    A body announced or grown over its limit (MAX_JSON_BODY_BYTES, or MAX_UPLOAD_BYTES for
    artifacts and objects) is refused with 400 LimitExceeded. A JSON body is then read,
    checked against the signed digest and replayed to the app; an upload is streamed to a
    file in `uploads_dir`, handed to the route as `request.state.upload`, and removed after.
    """

    def __init__(self, app: ASGIApp, verifier: SignatureVerifier, uploads_dir: Path) -> None:
        self.app = app
        self.verifier = verifier
        self.uploads_dir = uploads_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = raw_path.decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        announced = _announced_length(headers)
        has_body = announced is None or announced > 0
        try:
            principal, rules = self.verifier.verify_headers(
                scope["method"], target, headers, has_body=has_body
            )
        except NotAuthenticatedError as exc:
            await self._refuse(scope, receive, send, NotAuthenticatedServiceError(str(exc)))
            return
        upload = is_raw_body_upload(scope["method"], scope["path"])
        limit, what = (MAX_UPLOAD_BYTES, "2 GiB") if upload else (MAX_JSON_BODY_BYTES, "10 MB")
        too_large = LimitExceededError(
            f"The request body is larger than the {what} ({limit} bytes) this operation takes."
        )
        if announced is not None and announced > limit:
            await self._refuse(scope, receive, send, too_large)
            return
        body = b""
        upload_file: Path | None = None
        try:
            if upload:
                upload_file = self.uploads_dir / f"{uuid.uuid4().hex}.upload"
                size, digest = await _stream_to_file(receive, upload_file, limit)
            else:
                body = await _read_body(receive, limit)
                size, digest = len(body), hashlib.sha256(body).digest()
            rules.check(size, digest)
        except _Disconnected:
            _discard(upload_file)
            return
        except _BodyTooLargeError:
            _discard(upload_file)
            await self._refuse(scope, receive, send, too_large)
            return
        except NotAuthenticatedError as exc:
            _discard(upload_file)
            await self._refuse(scope, receive, send, NotAuthenticatedServiceError(str(exc)))
            return
        except BaseException:
            _discard(upload_file)
            raise
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["upload"] = upload_file
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send)
        finally:
            _discard(upload_file)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: ServiceError) -> None:
        """Answer without reading (the rest of) the body, and close the connection so the
        client's unread bytes are not taken as the next request."""
        logger.info("%d %s %s: %s", error.status, scope["method"], scope["path"], error.message)
        response = error_response(error, headers={"connection": "close"})
        await response(scope, receive, send)


def _announced_length(headers: Mapping[str, str]) -> int | None:
    """The content-length the headers announce: 0 when there is no body, None when it is
    sent chunked (or the header cannot be read, which the server would have refused)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "transfer-encoding" in lowered:
        return None
    text = lowered.get("content-length", "0").strip()
    return int(text) if text.isascii() and text.isdecimal() else None


async def _chunks(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body's chunks as they arrive, refusing more than `limit` bytes in all."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive, limit: int) -> bytes:
    return b"".join([chunk async for chunk in _chunks(receive, limit)])


async def _stream_to_file(receive: Receive, path: Path, limit: int) -> tuple[int, bytes]:
    """Write the body to `path` as it arrives; its size and SHA-256 digest."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "xb") as file:
        async for chunk in _chunks(receive, limit):
            digest.update(chunk)
            file.write(chunk)
            size += len(chunk)
    return size, digest.digest()


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- app


def create_app(components: ServiceComponents) -> Starlette:
    """The Starlette app serving one data dir's service."""
    ds = components.datascience
    operations: set[str] = set()

    def operation(name: str) -> Callable[[Handler], Handler]:
        """Count the call, apply any injected fault, then run the handler."""
        operations.add(name)

        def decorate(handler: Handler) -> Handler:
            async def endpoint(request: Request) -> Response:
                components.stats.record(name)
                fault = components.faults.take(name) if components.faults else None
                if fault is not None:
                    if fault.delay_seconds:
                        await asyncio.sleep(fault.delay_seconds)
                    if fault.status is not None:
                        logger.info("injected %d for %s", fault.status, name)
                        raise error_for_status(fault.status, f"Injected fault for {name}.")
                return await handler(request)

            return endpoint

        return decorate

    def principal_id(request: Request) -> str:
        principal = request.state.principal
        assert isinstance(principal, Principal)
        return principal.id

    async def json_body(request: Request) -> object:
        raw = await request.body()
        if not raw:
            raise CannotParseRequestError("The request body is empty; a JSON object is expected.")
        return validation.parse_json_body(raw)

    def query(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        for name, value in params.items():
            if not (validation.is_unicode_text(name) and validation.is_unicode_text(value)):
                raise InvalidParameterError("A query parameter is not valid Unicode.")
        return params

    # ------------------------------------------------------------- projects

    @operation("CreateProject")
    async def create_project(request: Request) -> Response:
        record, _ = ds.create_project(
            await json_body(request),
            principal_id(request),
            request.headers.get("opc-retry-token"),
        )
        return resource_response(record)

    @operation("GetProject")
    async def get_project(request: Request) -> Response:
        return resource_response(ds.get_project(request.path_params["projectId"]))

    @operation("ListProjects")
    async def list_projects(request: Request) -> Response:
        return list_response(ds.list_projects(query(request)))

    # ------------------------------------------------------------- jobs

    @operation("CreateJob")
    async def create_job(request: Request) -> Response:
        record, _ = ds.create_job(
            await json_body(request),
            principal_id(request),
            request.headers.get("opc-retry-token"),
        )
        return resource_response(record)

    @operation("GetJob")
    async def get_job(request: Request) -> Response:
        return resource_response(ds.get_job(request.path_params["jobId"]))

    @operation("ListJobs")
    async def list_jobs(request: Request) -> Response:
        return list_response(ds.list_jobs(query(request)))

    @operation("UpdateJob")
    async def update_job(request: Request) -> Response:
        record = ds.update_job(
            request.path_params["jobId"], await json_body(request), request.headers.get("if-match")
        )
        return resource_response(record)

    @operation("DeleteJob")
    async def delete_job(request: Request) -> Response:
        flag = request.query_params.get("deleteRelatedJobRuns", "false").lower()
        if flag not in ("true", "false"):
            raise InvalidParameterError("deleteRelatedJobRuns must be true or false.")
        work_request = ds.delete_job(
            request.path_params["jobId"], flag == "true", request.headers.get("if-match")
        )
        return Response(status_code=202, headers={"opc-work-request-id": work_request})

    def upload(request: Request) -> Path:
        path = request.state.upload
        assert isinstance(path, Path)  # SignatureMiddleware streams every upload to a file
        return path

    @operation("CreateJobArtifact")
    async def create_job_artifact(request: Request) -> Response:
        ds.create_job_artifact(
            request.path_params["jobId"],
            upload(request),
            request.headers.get("content-disposition"),
            request.headers.get("opc-retry-token"),
        )
        return Response(status_code=200)

    def artifact_headers(job_id: str) -> dict[str, str]:
        info = ds.artifact(job_id)
        modified = datetime.fromisoformat(info.time_created.replace("Z", "+00:00"))
        return {
            "content-length": str(info.size),
            "content-md5": info.md5_base64,
            "content-disposition": f"attachment; filename={info.file_name}",
            "last-modified": formatdate(modified.timestamp(), usegmt=True),
            "etag": info.sha256_hex,
        }

    @operation("HeadJobArtifact")
    async def head_job_artifact(request: Request) -> Response:
        return Response(status_code=200, headers=artifact_headers(request.path_params["jobId"]))

    @operation("GetJobArtifactContent")
    async def get_job_artifact_content(request: Request) -> Response:
        job_id = request.path_params["jobId"]
        headers = artifact_headers(job_id)
        headers.pop("content-length")
        return FileResponse(
            ds.artifact_path(job_id), headers=headers, media_type="application/octet-stream"
        )

    # ------------------------------------------------------------- job runs

    @operation("CreateJobRun")
    async def create_job_run(request: Request) -> Response:
        record, _ = ds.create_job_run(
            await json_body(request),
            principal_id(request),
            request.headers.get("opc-retry-token"),
        )
        return resource_response(record)

    @operation("GetJobRun")
    async def get_job_run(request: Request) -> Response:
        return resource_response(ds.get_job_run(request.path_params["jobRunId"]))

    @operation("ListJobRuns")
    async def list_job_runs(request: Request) -> Response:
        return list_response(ds.list_job_runs(query(request)))

    @operation("CancelJobRun")
    async def cancel_job_run(request: Request) -> Response:
        ds.cancel_job_run(request.path_params["jobRunId"], request.headers.get("if-match"))
        return Response(status_code=202)

    @operation("DeleteJobRun")
    async def delete_job_run(request: Request) -> Response:
        ds.delete_job_run(request.path_params["jobRunId"], request.headers.get("if-match"))
        return Response(status_code=204)

    # ------------------------------------------------------------- object storage

    def object_address(request: Request) -> tuple[str, str, str]:
        params = request.path_params
        return params["namespaceName"], params["bucketName"], params["objectName"]

    @operation("GetNamespace")
    async def get_namespace(request: Request) -> Response:
        return JSONResponse(components.namespace)

    @operation("PutObject")
    async def put_object(request: Request) -> Response:
        info = components.objects.put(*object_address(request), upload(request))
        return Response(
            status_code=200,
            headers={
                "etag": info.etag,
                "opc-content-md5": info.md5_base64,
                "last-modified": info.last_modified,
            },
        )

    def object_headers(request: Request) -> tuple[ObjectInfo, dict[str, str]]:
        info = components.objects.head(*object_address(request))
        return info, {
            "etag": info.etag,
            "content-md5": info.md5_base64,
            "last-modified": info.last_modified,
            "accept-ranges": "bytes",
        }

    @operation("HeadObject")
    async def head_object(request: Request) -> Response:
        info, headers = object_headers(request)
        headers["content-length"] = str(info.size)
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")

    @operation("GetObject")
    async def get_object(request: Request) -> Response:
        info, headers = object_headers(request)
        return FileResponse(info.path, headers=headers, media_type="application/octet-stream")

    # ------------------------------------------------------------- local helpers

    async def run_logs(request: Request) -> Response:
        run_id = request.path_params["jobRunId"]
        ds.get_job_run(run_id)
        offset = validation.small_integer(request.query_params.get("offset", "0"))
        if offset is None:
            raise InvalidParameterError("offset must be a non-negative integer (bytes).")
        path = components.log_path(run_id)
        try:
            with open(path, "rb") as log:
                log.seek(offset)
                chunk = log.read()
        except FileNotFoundError:
            chunk = b""
        next_offset = offset + len(chunk)
        return PlainTextResponse(
            chunk.decode("utf-8", errors="replace"), headers={"x-next-offset": str(next_offset)}
        )

    async def get_stats(request: Request) -> Response:
        return JSONResponse(components.stats.snapshot())

    async def reset_stats(request: Request) -> Response:
        components.stats.reset()
        return Response(status_code=204)

    async def add_fault(request: Request) -> Response:
        assert components.faults is not None
        body = await json_body(request)
        if not isinstance(body, dict):
            raise CannotParseRequestError("The request body must be a JSON object.")
        name = body.get("operation")
        if name not in operations:
            raise InvalidParameterError(
                f"operation must be one of {', '.join(sorted(operations))}."
            )
        status, count, delay = body.get("status"), body.get("count", 1), body.get("delaySeconds", 0)
        if not (status is None or isinstance(status, int)) or not isinstance(count, int):
            raise InvalidParameterError("status and count must be integers.")
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise InvalidParameterError("delaySeconds must be a number.")
        try:
            fault = components.faults.add(
                str(name), status=status, count=count, delay_seconds=float(delay)
            )
        except ValueError as exc:
            raise InvalidParameterError(str(exc)) from None
        return JSONResponse(
            {
                "operation": fault.operation,
                "status": fault.status,
                "count": fault.remaining,
                "delaySeconds": fault.delay_seconds,
            }
        )

    async def clear_faults(request: Request) -> Response:
        assert components.faults is not None
        components.faults.clear()
        return Response(status_code=204)

    object_route = "/n/{namespaceName}/b/{bucketName}/o/{objectName:object_name}"
    routes: list[BaseRoute] = [
        Route(f"{API}/projects", create_project, methods=["POST"]),
        Route(f"{API}/projects", list_projects, methods=["GET"]),
        Route(f"{API}/projects/{{projectId}}", get_project, methods=["GET"]),
        Route(f"{API}/jobs", create_job, methods=["POST"]),
        Route(f"{API}/jobs", list_jobs, methods=["GET"]),
        Route(f"{API}/jobs/{{jobId}}", get_job, methods=["GET"]),
        Route(f"{API}/jobs/{{jobId}}", update_job, methods=["PUT"]),
        Route(f"{API}/jobs/{{jobId}}", delete_job, methods=["DELETE"]),
        Route(f"{API}/jobs/{{jobId}}/artifact", create_job_artifact, methods=["POST"]),
        Route(f"{API}/jobs/{{jobId}}/artifact/content", head_job_artifact, methods=["HEAD"]),
        Route(f"{API}/jobs/{{jobId}}/artifact/content", get_job_artifact_content, methods=["GET"]),
        Route(f"{API}/jobRuns", create_job_run, methods=["POST"]),
        Route(f"{API}/jobRuns", list_job_runs, methods=["GET"]),
        Route(f"{API}/jobRuns/{{jobRunId}}", get_job_run, methods=["GET"]),
        Route(f"{API}/jobRuns/{{jobRunId}}", delete_job_run, methods=["DELETE"]),
        Route(f"{API}/jobRuns/{{jobRunId}}/actions/cancelJobRun", cancel_job_run, methods=["POST"]),
        Route("/n", get_namespace, methods=["GET"]),
        Route("/n/", get_namespace, methods=["GET"]),
        Route(object_route, put_object, methods=["PUT"]),
        Route(object_route, head_object, methods=["HEAD"]),
        Route(object_route, get_object, methods=["GET"]),
        Route("/_local/jobRuns/{jobRunId}/logs", run_logs, methods=["GET"]),
        Route("/_local/stats", get_stats, methods=["GET"]),
        Route("/_local/stats/reset", reset_stats, methods=["POST"]),
    ]
    if components.faults is not None:
        routes += [
            Route("/_local/faults", add_fault, methods=["POST"]),
            Route("/_local/faults", clear_faults, methods=["DELETE"]),
        ]

    async def on_service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        if exc.status >= 500:
            logger.warning(
                "%s %s answered %d %s", request.method, request.url.path, exc.status, exc.code
            )
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error_response(
                MethodNotAllowedError(
                    f"Method {request.method} is not allowed on {request.url.path}"
                    + (f"; allowed: {allowed}." if allowed else ".")
                ),
                headers={"allow": allowed} if allowed else None,
            )
        if exc.status_code == 404:
            return error_response(
                RouteNotFoundError(
                    f"No operation is defined at {request.method} {request.url.path}."
                )
            )
        return JSONResponse(
            {"code": "InvalidParameter", "message": str(exc.detail)}, status_code=exc.status_code
        )

    return Starlette(
        routes=_exact(routes),
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(ConsoleGate, console=components.console),  # only /ui, /ui/...
            Middleware(
                SignatureMiddleware,
                verifier=components.verifier,
                uploads_dir=components.uploads_dir,
            ),
        ],
        exception_handlers={
            ServiceError: on_service_error,
            HTTPException: on_http_error,
        },
    )


class _ObjectNameConvertor(Convertor[str]):
    """Object names are exact: every character, line feeds included, reaches the handler, which
    refuses what OCI refuses. (Starlette's `path` convertor stops at a line feed, so
    `o/victim%0a` reached the handler as `victim`.)"""

    regex = r"(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("object_name", _ObjectNameConvertor())


def _exact(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Make each route match the whole path: Starlette anchors route patterns with `$`, which
    also matches before a final line feed, so `/jobs/<id>%0a` would alias `/jobs/<id>`."""
    for route in routes:
        if isinstance(route, Route) and route.path_regex.pattern.endswith("$"):
            route.path_regex = re.compile(route.path_regex.pattern[:-1] + r"\Z")
    return routes
