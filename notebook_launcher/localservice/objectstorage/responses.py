"""Object Storage requests to backend calls on `ObjectStore` (models.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.objectstorage.models import LIST_FIELDS, ObjectInfo, ObjectStore
from notebook_launcher.localservice.rest import upload


def _address(request: Request) -> tuple[str, str, str]:
    params = request.path_params
    return params["namespaceName"], params["bucketName"], params["objectName"]


def _object_headers(objects: ObjectStore, request: Request) -> tuple[ObjectInfo, dict[str, str]]:
    info = objects.head(*_address(request))
    return info, {
        "etag": info.etag,
        "content-md5": info.md5_base64,
        "last-modified": info.last_modified,
        "accept-ranges": "bytes",
    }


async def get_namespace(objects: ObjectStore, request: Request) -> Response:
    return JSONResponse(objects.namespace)


async def put_object(objects: ObjectStore, request: Request) -> Response:
    info = objects.put(*_address(request), upload(request))
    return Response(
        status_code=200,
        headers={
            "etag": info.etag,
            "opc-content-md5": info.md5_base64,
            "last-modified": info.last_modified,
        },
    )


async def head_object(objects: ObjectStore, request: Request) -> Response:
    info, headers = _object_headers(objects, request)
    headers["content-length"] = str(info.size)
    return Response(status_code=200, headers=headers, media_type="application/octet-stream")


async def get_object(objects: ObjectStore, request: Request) -> Response:
    info, headers = _object_headers(objects, request)
    return FileResponse(info.path, headers=headers, media_type="application/octet-stream")


async def list_objects(objects: ObjectStore, request: Request) -> Response:
    params = request.query_params
    limit = validation.small_integer(params.get("limit", "1000"))
    if limit is None:
        raise InvalidParameterError("limit must be an integer from 1 to 1000.")
    fields = tuple(f.strip() for f in params.get("fields", "name").split(",") if f.strip())
    by_lower = {f.lower(): f for f in LIST_FIELDS}  # OCI: case-insensitive field names
    answer = objects.list(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        prefix=params.get("prefix", ""),
        start=params.get("start"),
        end=params.get("end"),
        start_after=params.get("startAfter"),
        limit=limit,
        delimiter=params.get("delimiter"),
        fields=tuple(by_lower.get(f.lower(), f) for f in fields) or ("name",),
    )
    return JSONResponse(answer)
