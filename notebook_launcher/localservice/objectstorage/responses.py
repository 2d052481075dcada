"""Object Storage requests to backend calls on `ObjectStore` (models.py), answered with the
headers and bodies OCI sends (the ones ocifs, the oci CLI and the SDK's UploadManager read)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.identity.signatures import Principal
from notebook_launcher.localservice.objectstorage.models import (
    MAX_LIST_LIMIT,
    OBJECT_FIELDS,
    ObjectStore,
)
from notebook_launcher.localservice.objectstorage.records import (
    KEPT_HEADERS,
    STORAGE_TIER,
    ObjectInfo,
    PutOptions,
)
from notebook_launcher.localservice.rest import (
    ServiceJSONResponse,
    json_body,
    principal_id,
    query,
    upload,
)

_META_PREFIX = "opc-meta-"


def tenancy_of(request: Request) -> str:
    principal = request.state.principal
    assert isinstance(principal, Principal)
    return principal.tenancy_id


def _address(request: Request) -> tuple[str, str, str]:
    params = request.path_params
    return params["namespaceName"], params["bucketName"], params["objectName"]


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    """HeadObject's and GetObject's headers (ocifs reads every one of these by key)."""
    headers = {
        "etag": info.etag,
        "last-modified": info.last_modified,
        "accept-ranges": "bytes",
        "version-id": info.version_id,
        "storage-tier": STORAGE_TIER,
        "content-type": info.content_type,
        **info.headers,
        **{f"{_META_PREFIX}{key}": value for key, value in info.metadata.items()},
    }
    if info.md5_base64:
        headers["content-md5"] = info.md5_base64
    if info.multipart_md5:
        headers["opc-multipart-md5"] = info.multipart_md5
    return headers


def _version_id(request: Request) -> str | None:
    return query(request).get("versionId") or None


def _put_options(request: Request) -> PutOptions:
    headers = request.headers
    return PutOptions(
        content_type=headers.get("content-type"),
        content_md5=headers.get("content-md5"),
        metadata={
            name[len(_META_PREFIX) :]: value
            for name, value in headers.items()
            if name.lower().startswith(_META_PREFIX)
        },
        headers={name: headers[name] for name in KEPT_HEADERS if name in headers},
        if_match=headers.get("if-match"),
        if_none_match=headers.get("if-none-match"),
    )


def list_limit(params: dict[str, str], default: int = MAX_LIST_LIMIT) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return default
    number = validation.small_integer(raw)
    if number is None or not 1 <= number <= MAX_LIST_LIMIT:
        raise InvalidParameterError(f"limit must be an integer between 1 and {MAX_LIST_LIMIT}.")
    return number


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return ServiceJSONResponse(content, status_code=status, headers=headers)


# --------------------------------------------------------------------------- namespace


async def get_namespace(objects: ObjectStore, request: Request) -> Response:
    return json_response(objects.namespace)


async def get_namespace_metadata(objects: ObjectStore, request: Request) -> Response:
    namespace = request.path_params["namespaceName"]
    objects.check_namespace(namespace)
    tenancy = tenancy_of(request)
    return json_response(
        {
            "namespace": namespace,
            "defaultS3CompartmentId": tenancy,
            "defaultSwiftCompartmentId": tenancy,
        }
    )


# --------------------------------------------------------------------------- buckets


def _bucket_body(objects: ObjectStore, doc: dict[str, Any], fields: str | None) -> dict[str, Any]:
    body = dict(doc)
    wanted = {f.strip() for f in (fields or "").split(",") if f.strip()}
    unknown = wanted - {"approximateCount", "approximateSize", "autoTiering"}
    if unknown:
        raise InvalidParameterError(f"fields holds unknown values {sorted(unknown)}.")
    if wanted & {"approximateCount", "approximateSize"}:
        count, size = objects.bucket_counts(doc["namespace"], doc["name"])
        body["approximateCount"], body["approximateSize"] = count, size
    return body


async def create_bucket(objects: ObjectStore, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    doc = objects.create_bucket(
        request.path_params["namespaceName"], details, principal_id(request)
    )
    return json_response(
        doc, headers={"etag": doc["etag"], "location": f"{request.url.path}/{doc['name']}"}
    )


async def get_bucket(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    doc = objects.get_bucket(
        request.path_params["namespaceName"], request.path_params["bucketName"], tenancy_of(request)
    )
    return json_response(
        _bucket_body(objects, doc, params.get("fields")), headers={"etag": doc["etag"]}
    )


async def head_bucket(objects: ObjectStore, request: Request) -> Response:
    doc = objects.get_bucket(
        request.path_params["namespaceName"], request.path_params["bucketName"], tenancy_of(request)
    )
    return Response(status_code=200, headers={"etag": doc["etag"]})


_BUCKET_SUMMARY = ("namespace", "name", "compartmentId", "createdBy", "timeCreated", "etag")


async def list_buckets(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    compartment = params.get("compartmentId")
    if not compartment:
        raise InvalidParameterError("Missing parameter: compartmentId.")
    fields = {f.strip() for f in params.get("fields", "").split(",") if f.strip()}
    if fields - {"tags"}:
        raise InvalidParameterError("fields may only be 'tags'.")
    limit = list_limit(params)
    docs = objects.list_buckets(
        request.path_params["namespaceName"], compartment, tenancy_of(request)
    )
    page = params.get("page")
    if page:
        docs = [doc for doc in docs if doc["name"] >= page]
    keys = _BUCKET_SUMMARY + (("freeformTags", "definedTags") if "tags" in fields else ())
    items = [{key: doc[key] for key in keys} for doc in docs[:limit]]
    headers = {"opc-next-page": docs[limit]["name"]} if len(docs) > limit else None
    return json_response(items, headers=headers)


async def delete_bucket(objects: ObjectStore, request: Request) -> Response:
    objects.delete_bucket(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        request.headers.get("if-match"),
        tenancy_of(request),
    )
    return Response(status_code=204)


# --------------------------------------------------------------------------- objects


async def put_object(objects: ObjectStore, request: Request) -> Response:
    info = objects.put(
        *_address(request), upload(request), _put_options(request), tenancy_of(request)
    )
    headers = {
        "etag": info.etag,
        "last-modified": info.last_modified,
        "version-id": info.version_id,
    }
    if info.md5_base64:
        headers["opc-content-md5"] = info.md5_base64
    return Response(status_code=200, headers=headers)


async def head_object(objects: ObjectStore, request: Request) -> Response:
    info = objects.head(*_address(request), _version_id(request))
    headers = _object_headers(info)
    headers["content-length"] = str(info.size)
    return Response(status_code=200, headers=headers)


async def get_object(objects: ObjectStore, request: Request) -> Response:
    info = objects.head(*_address(request), _version_id(request))
    headers = _object_headers(info)
    content_type = headers.pop("content-type")
    # FileResponse answers a `range` request with 206 and the bytes asked for.
    return FileResponse(info.path, headers=headers, media_type=content_type)


async def delete_object(objects: ObjectStore, request: Request) -> Response:
    objects.delete(*_address(request), request.headers.get("if-match"), _version_id(request))
    return Response(status_code=204)


async def list_objects(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    fields = _object_fields(params.get("fields"))
    page = objects.list_objects(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        prefix=params.get("prefix", ""),
        delimiter=params.get("delimiter") or None,
        start=params.get("start") or None,
        end=params.get("end") or None,
        start_after=params.get("startAfter") or None,
        limit=list_limit(params),
        fields=fields,
    )
    body: dict[str, Any] = {"objects": page.objects}
    if params.get("delimiter"):
        body["prefixes"] = page.prefixes
    if page.next_start_with is not None:
        body["nextStartWith"] = page.next_start_with
    return json_response(body)


def _object_fields(raw: str | None) -> tuple[str, ...]:
    """ListObjects' `fields`: a comma-separated, case-insensitive list; name always."""
    by_lower = {name.lower(): name for name in OBJECT_FIELDS}
    wanted = ["name"]
    for item in (raw or "").split(","):
        item = item.strip()
        if not item:
            continue
        if item.lower() not in by_lower:
            raise InvalidParameterError(
                f"fields holds {item!r}; allowed values are {', '.join(OBJECT_FIELDS)}."
            )
        if by_lower[item.lower()] not in wanted:
            wanted.append(by_lower[item.lower()])
    return tuple(wanted)


async def rename_object(objects: ObjectStore, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    source, target = details.get("sourceName"), details.get("newName")
    if not isinstance(source, str) or not source:
        raise InvalidParameterError("Missing parameter: sourceName.")
    if not isinstance(target, str) or not target:
        raise InvalidParameterError("Missing parameter: newName.")
    info = objects.rename(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        source,
        target,
        tenancy_of(request),
    )
    return Response(
        status_code=200,
        headers={
            "etag": info.etag,
            "last-modified": info.last_modified,
            "version-id": info.version_id,
        },
    )


# --------------------------------------------------------------------------- multipart


async def create_multipart_upload(objects: ObjectStore, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    name = details.get("object")
    if not isinstance(name, str) or not name:
        raise InvalidParameterError("Missing parameter: object.")
    metadata = details.get("metadata") or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise InvalidParameterError("metadata must be an object of strings.")
    kept = {
        "content-language": details.get("contentLanguage"),
        "content-encoding": details.get("contentEncoding"),
        "content-disposition": details.get("contentDisposition"),
        "cache-control": details.get("cacheControl"),
    }
    options = PutOptions(
        content_type=details.get("contentType")
        if isinstance(details.get("contentType"), str)
        else None,
        metadata={
            (k[len(_META_PREFIX) :] if k.lower().startswith(_META_PREFIX) else k): v
            for k, v in metadata.items()
        },
        headers={k: v for k, v in kept.items() if isinstance(v, str)},
    )
    doc = objects.multipart.create(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        name,
        options,
        tenancy_of(request),
    )
    return json_response(
        doc, headers={"location": f"{request.url.path}/{name}?uploadId={doc['uploadId']}"}
    )


async def upload_part(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    part = objects.multipart.upload_part(
        *_address(request),
        params.get("uploadId"),
        params.get("uploadPartNum"),
        upload(request),
        request.headers.get("content-md5"),
    )
    return Response(status_code=200, headers={"etag": part["etag"], "opc-content-md5": part["md5"]})


async def commit_multipart_upload(objects: ObjectStore, request: Request) -> Response:
    # The commit's path is an upload's path: its JSON body was streamed to a file.
    raw = upload(request).read_bytes()
    details = validation.parse_json_body(raw) if raw else None
    info = objects.multipart.commit(
        *_address(request),
        query(request).get("uploadId"),
        details,
        PutOptions(
            if_match=request.headers.get("if-match"),
            if_none_match=request.headers.get("if-none-match"),
        ),
    )
    headers = {"etag": info.etag, "last-modified": info.last_modified}
    if info.multipart_md5:
        headers["opc-multipart-md5"] = info.multipart_md5
    return Response(status_code=200, headers=headers)


async def abort_multipart_upload(objects: ObjectStore, request: Request) -> Response:
    objects.multipart.abort(*_address(request), query(request).get("uploadId"))
    return Response(status_code=204)


async def list_multipart_upload_parts(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    parts = objects.multipart.list_parts(*_address(request), params.get("uploadId"))
    limit = list_limit(params)
    page = params.get("page")
    if page:
        number = validation.small_integer(page)
        if number is None:
            raise InvalidParameterError("page is not a valid page token.")
        parts = [part for part in parts if part["partNumber"] >= number]
    headers = {"opc-next-page": str(parts[limit]["partNumber"])} if len(parts) > limit else None
    return json_response(parts[:limit], headers=headers)


async def list_multipart_uploads(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    uploads = objects.multipart.list(
        request.path_params["namespaceName"], request.path_params["bucketName"]
    )
    for item in uploads:
        item["_key"] = json.dumps([item["object"], item["uploadId"]])
    response_items = uploads
    limit = list_limit(params)
    page = params.get("page")
    if page:
        response_items = [item for item in uploads if item["_key"] >= page]
    headers = (
        {"opc-next-page": response_items[limit]["_key"]} if len(response_items) > limit else None
    )
    answered = [{k: v for k, v in item.items() if k != "_key"} for item in response_items[:limit]]
    return json_response(answered, headers=headers)
