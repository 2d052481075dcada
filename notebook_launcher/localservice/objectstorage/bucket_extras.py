"""The bucket's other sides, as `oci os bucket delete --empty`, the console and ocifs read them:
replication policies, pre-authenticated requests, retention rules, object versions, the
bucket's own update, and CopyObject with the work requests that track it.

Nothing creates replication policies, pre-authenticated requests or retention rules locally,
so their lists are truly empty (OCI answers `[]` for a bucket with none; RetentionRuleCollection
holds `items`). Versioning is off (and cannot be turned on locally), so ListObjectVersions lists
each object's one, current version. Shapes: the oci SDK's models (ReplicationPolicySummary,
PreauthenticatedRequestSummary, RetentionRuleCollection, ObjectVersionCollection,
UpdateBucketDetails, CopyObjectDetails, WorkRequest).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError
from notebook_launcher.localservice.objectstorage.bucket_updates import update_bucket as update
from notebook_launcher.localservice.objectstorage.models import (
    MAX_LIST_LIMIT,
    OBJECT_FIELDS,
    ObjectStore,
)
from notebook_launcher.localservice.objectstorage.responses import (
    json_response,
    list_limit,
    tenancy_of,
)
from notebook_launcher.localservice.rest import json_body, query


def _bucket(objects: ObjectStore, request: Request) -> tuple[str, str]:
    """The path's namespace and bucket, after checking the bucket exists (404 otherwise)."""
    namespace, bucket = request.path_params["namespaceName"], request.path_params["bucketName"]
    objects.get_bucket(namespace, bucket, tenancy_of(request))
    return namespace, bucket


async def list_replication_policies(objects: ObjectStore, request: Request) -> Response:
    list_limit(query(request))
    _bucket(objects, request)
    return json_response([])


async def list_preauthenticated_requests(objects: ObjectStore, request: Request) -> Response:
    list_limit(query(request))
    _bucket(objects, request)
    return json_response([])


async def list_retention_rules(objects: ObjectStore, request: Request) -> Response:
    _bucket(objects, request)
    return json_response({"items": []})


async def list_object_versions(objects: ObjectStore, request: Request) -> Response:
    """Each object's current version (versioning is Disabled); `page` is the next name."""
    params = query(request)
    namespace, bucket = _bucket(objects, request)
    page = objects.list_objects(
        namespace,
        bucket,
        prefix=params.get("prefix", ""),
        delimiter=params.get("delimiter") or None,
        start=params.get("page") or params.get("start") or None,
        end=params.get("end") or None,
        start_after=params.get("startAfter") or None,
        limit=list_limit(params, MAX_LIST_LIMIT),
        fields=(*OBJECT_FIELDS, "versionId"),
    )
    items = [{**item, "isDeleteMarker": False} for item in page.objects]
    body: dict[str, Any] = {"items": items}
    if params.get("delimiter"):
        body["prefixes"] = page.prefixes
    headers = {"opc-next-page": page.next_start_with} if page.next_start_with else None
    return json_response(body, headers=headers)


async def update_bucket(objects: ObjectStore, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    doc = update(
        objects,
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        details,
        request.headers.get("if-match"),
        tenancy_of(request),
    )
    return json_response(doc, headers={"etag": doc["etag"]})


# --------------------------------------------------------------------------- copy, work requests


async def copy_object(objects: ObjectStore, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    work_request = objects.copies.copy(
        request.path_params["namespaceName"],
        request.path_params["bucketName"],
        details,
        tenancy_of(request),
    )
    return Response(status_code=202, headers={"opc-work-request-id": work_request["id"]})


async def get_work_request(objects: ObjectStore, request: Request) -> Response:
    doc = objects.copies.get(request.path_params["workRequestId"])
    return json_response(doc)


_SUMMARY = (
    "operationType",
    "status",
    "id",
    "compartmentId",
    "resources",
    "percentComplete",
    "timeAccepted",
    "timeStarted",
    "timeFinished",
)


async def list_work_requests(objects: ObjectStore, request: Request) -> Response:
    params = query(request)
    compartment = params.get("compartmentId")
    if not compartment:
        raise MissingParameterError("Missing parameter: compartmentId.")
    limit = list_limit(params)
    docs = objects.copies.list(compartment)
    start = 0
    if params.get("page"):
        number = validation.small_integer(params["page"])
        if number is None or number < 0:
            raise InvalidParameterError("page is not a valid page token.")
        start = number
    chosen = docs[start : start + limit]
    headers = {"opc-next-page": str(start + limit)} if len(docs) > start + limit else None
    return json_response([{key: doc[key] for key in _SUMMARY} for doc in chosen], headers=headers)
