"""The Data Integration REST task's second variant: polling through the function's status.

`dataintegration/rest-task-status.json` launches like `rest-task.json`, but polls by invoking
the function with `{"action": "status", "id": "#{RUN_ID}"}` instead of GetJobRun, so the
task's last response (the run ended) carries the run report's `outputs` and `failure` beside
the run in brief. It keeps polling through 429 and 504 (Functions throttling, a timed-out
invocation) and through a function error whose code says "try again" (ServiceUnavailable,
TooManyRequests; answered 200 with the error body on a direct invoke); any other error stops
polling and the success condition fails the task. Cancel is CancelJobRun, as in the first
variant.

What Data Integration documents: named expressions (`#{RUN_ID}`) in polling URLs and in
polling and success conditions, and a JSON request body for POST; a poll *payload* using a
named expression is not described, so try this variant on a workspace before relying on it
(the GetJobRun variant uses only documented features). The tests play its poll request with
`tests/support/di_player.status_poll_call`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notebook_launcher.operator import dataintegration as di

STATUS_TEMPLATE_PATH = (
    Path(__file__).resolve().parents[2] / "dataintegration" / "rest-task-status.json"
)


def render_status_task(settings: di.TaskSettings) -> dict[str, Any]:
    """The status-polling variant of the REST task for these settings."""
    return di.render_task(settings, di.load_template(STATUS_TEMPLATE_PATH))
