"""The Data Science schedule operations (API 20190101), each declared once: route and name."""

from __future__ import annotations

from notebook_launcher.localservice.datascience.urls import API
from notebook_launcher.localservice.rest import Operation, ServiceSpec
from notebook_launcher.localservice.schedules import responses as r
from notebook_launcher.localservice.schedules.service import ScheduleService, build

OPERATIONS: tuple[Operation[ScheduleService], ...] = (
    Operation("CreateSchedule", "POST", f"{API}/schedules", r.create_schedule),
    Operation("ListSchedules", "GET", f"{API}/schedules", r.list_schedules),
    Operation("GetSchedule", "GET", f"{API}/schedules/{{scheduleId}}", r.get_schedule),
    Operation("UpdateSchedule", "PUT", f"{API}/schedules/{{scheduleId}}", r.update_schedule),
    Operation("DeleteSchedule", "DELETE", f"{API}/schedules/{{scheduleId}}", r.delete_schedule),
    Operation(
        "ActivateSchedule",
        "POST",
        f"{API}/schedules/{{scheduleId}}/actions/activate",
        r.activate_schedule,
    ),
    Operation(
        "DeactivateSchedule",
        "POST",
        f"{API}/schedules/{{scheduleId}}/actions/deactivate",
        r.deactivate_schedule,
    ),
)

SERVICE = ServiceSpec("schedules", OPERATIONS, build)
