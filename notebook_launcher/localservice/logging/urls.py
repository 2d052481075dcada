"""The Logging (20200531) and Logging Search (20190909) operations: each declared once."""

from __future__ import annotations

from notebook_launcher.localservice.logging import responses as r
from notebook_launcher.localservice.logging.models import Logs, backend
from notebook_launcher.localservice.rest import Operation, ServiceSpec

API = "/20200531"
SEARCH_API = "/20190909"

OPERATIONS: tuple[Operation[Logs], ...] = (
    Operation("CreateLogGroup", "POST", f"{API}/logGroups", r.create_log_group),
    Operation("ListLogGroups", "GET", f"{API}/logGroups", r.list_log_groups),
    Operation("GetLogGroup", "GET", f"{API}/logGroups/{{logGroupId}}", r.get_log_group),
    Operation("CreateLog", "POST", f"{API}/logGroups/{{logGroupId}}/logs", r.create_log),
    Operation("ListLogs", "GET", f"{API}/logGroups/{{logGroupId}}/logs", r.list_logs),
    Operation("GetLog", "GET", f"{API}/logGroups/{{logGroupId}}/logs/{{logId}}", r.get_log),
    Operation(
        "GetLoggingWorkRequest", "GET", f"{API}/workRequests/{{workRequestId}}", r.get_work_request
    ),
    Operation(
        "ListLoggingWorkRequestErrors",
        "GET",
        f"{API}/workRequests/{{workRequestId}}/errors",
        r.list_work_request_errors,
    ),
    Operation("SearchLogs", "POST", f"{SEARCH_API}/search", r.search_logs),
)

SERVICE = ServiceSpec("logging", OPERATIONS, backend)
