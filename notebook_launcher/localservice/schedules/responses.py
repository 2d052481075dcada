"""Schedule requests to backend calls, answered as OCI's Data Science API answers them:
the Schedule on Create and Get (with its etag), summaries on List, and 202 with an
`opc-work-request-id` for the asynchronous Update, Delete, Activate and Deactivate."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from notebook_launcher.localservice.datascience.responses import list_response
from notebook_launcher.localservice.rest import (
    json_body,
    principal_id,
    query,
    resource_response,
)
from notebook_launcher.localservice.schedules.service import ScheduleService


def _accepted(work_request: str) -> Response:
    return Response(status_code=202, headers={"opc-work-request-id": work_request})


async def create_schedule(service: ScheduleService, request: Request) -> Response:
    record, work_request = service.schedules.create(
        await json_body(request),
        principal_id(request),
        request.headers.get("opc-retry-token"),
        service.clock.now(),
    )
    response = resource_response(record)
    response.headers["opc-work-request-id"] = work_request
    return response


async def get_schedule(service: ScheduleService, request: Request) -> Response:
    return resource_response(service.schedules.get(request.path_params["scheduleId"]))


async def list_schedules(service: ScheduleService, request: Request) -> Response:
    return list_response(service.schedules.list_page(query(request)))


async def update_schedule(service: ScheduleService, request: Request) -> Response:
    work_request = service.schedules.update(
        request.path_params["scheduleId"],
        await json_body(request),
        request.headers.get("if-match"),
        service.clock.now(),
    )
    return _accepted(work_request)


async def delete_schedule(service: ScheduleService, request: Request) -> Response:
    return _accepted(
        service.schedules.delete(request.path_params["scheduleId"], request.headers.get("if-match"))
    )


async def activate_schedule(service: ScheduleService, request: Request) -> Response:
    return _accepted(
        service.schedules.activate(
            request.path_params["scheduleId"],
            request.headers.get("if-match"),
            request.headers.get("opc-retry-token"),
            service.clock.now(),
        )
    )


async def deactivate_schedule(service: ScheduleService, request: Request) -> Response:
    return _accepted(
        service.schedules.deactivate(
            request.path_params["scheduleId"],
            request.headers.get("if-match"),
            request.headers.get("opc-retry-token"),
            service.clock.now(),
        )
    )
