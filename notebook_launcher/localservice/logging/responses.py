"""Logging and Logging Search requests to backend calls on `Logs` (models.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError
from notebook_launcher.localservice.logging.models import MAX_SEARCH_LIMIT, Logs
from notebook_launcher.localservice.rest import ServiceJSONResponse, json_body, query


def _accepted(work_request_id: str) -> Response:
    """Creates answer 202 with no body and the work request that made the resource."""
    return Response(status_code=202, headers={"opc-work-request-id": work_request_id})


def _limit(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    number = validation.small_integer(raw)
    if number is None or not 1 <= number <= MAX_SEARCH_LIMIT:
        raise InvalidParameterError(f"limit must be an integer between 1 and {MAX_SEARCH_LIMIT}.")
    return number


def _page(items: list[dict[str, object]], request: Request) -> Response:
    params = query(request)
    limit = _limit(params.get("limit"), 100)
    offset = _offset(params.get("page"))
    headers = {"opc-next-page": _token(offset + limit)} if len(items) > offset + limit else None
    return ServiceJSONResponse(items[offset : offset + limit], headers=headers)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        raise InvalidParameterError("page is not a valid page token.") from None
    prefix, _, number = text.partition(":")
    offset = validation.small_integer(number) if prefix == "offset" else None
    if offset is None:
        raise InvalidParameterError("page is not a valid page token.")
    return offset


async def create_log_group(logs: Logs, request: Request) -> Response:
    return _accepted(logs.create_log_group(validation.as_object(await json_body(request))))


async def get_log_group(logs: Logs, request: Request) -> Response:
    doc = logs.get_log_group(request.path_params["logGroupId"])
    return ServiceJSONResponse(doc, headers={"etag": doc["timeLastModified"]})


async def list_log_groups(logs: Logs, request: Request) -> Response:
    params = query(request)
    return _page(
        logs.list_log_groups(params.get("compartmentId"), params.get("displayName")), request
    )


async def create_log(logs: Logs, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    return _accepted(logs.create_log(request.path_params["logGroupId"], details))


async def get_log(logs: Logs, request: Request) -> Response:
    doc = logs.get_log(request.path_params["logGroupId"], request.path_params["logId"])
    return ServiceJSONResponse(doc, headers={"etag": doc["timeLastModified"]})


async def list_logs(logs: Logs, request: Request) -> Response:
    params = query(request)
    return _page(
        logs.list_logs(
            request.path_params["logGroupId"],
            params.get("displayName"),
            {k: params[k] for k in ("logType", "sourceService", "sourceResource") if k in params},
        ),
        request,
    )


async def get_work_request(logs: Logs, request: Request) -> Response:
    return ServiceJSONResponse(logs.get_work_request(request.path_params["workRequestId"]))


async def list_work_request_errors(logs: Logs, request: Request) -> Response:
    logs.get_work_request(request.path_params["workRequestId"])
    return ServiceJSONResponse([])


def _time(details: dict[str, object], name: str) -> datetime:
    value = details.get(name)
    if not isinstance(value, str) or not value:
        raise MissingParameterError(f"Missing parameter: {name}.")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameterError(f"{name} must be an RFC 3339 time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def search_logs(logs: Logs, request: Request) -> Response:
    details = validation.as_object(await json_body(request))
    search_query = details.get("searchQuery")
    if not isinstance(search_query, str) or not search_query.strip():
        raise MissingParameterError("Missing parameter: searchQuery.")
    start, end = _time(details, "timeStart"), _time(details, "timeEnd")
    if start >= end:
        raise InvalidParameterError("timeStart must be before timeEnd.")
    params = query(request)
    limit = _limit(params.get("limit"), 100)
    offset = _offset(params.get("page"))
    entries, more = logs.search(search_query, start, end, offset, limit)
    body: dict[str, object] = {
        "results": [{"data": entry} for entry in entries],
        "summary": {"resultCount": len(entries), "fieldCount": 0},
    }
    if details.get("isReturnFieldInfo"):
        body["fields"] = [
            {"fieldName": "datetime", "fieldType": "NUMBER"},
            {"fieldName": "logContent", "fieldType": "STRING"},
        ]
    headers = {"opc-next-page": _token(offset + limit)} if more else None
    return ServiceJSONResponse(body, headers=headers)
