"""The Data Integration REST task: render its template for a workspace.

``dataintegration/rest-task.json`` is a CreateTaskDetails body (modelType REST_TASK) with
``{{name}}`` placeholders. ``render_task`` fills them from checked ``TaskSettings`` and refuses
to leave one unfilled; ``build_request_body`` makes the JSON text bound to the task's
REQUEST_BODY parameter. This is what operators use (``python -m notebook_launcher.operator
di-task``); the status-polling variant is ``dataintegration_status``.

Playing a rendered task (Data Integration's expression language, its polling loop) is test
equipment and lives in ``tests/support/di_expressions.py`` and ``tests/support/di_player.py``,
not here. It was not made a product command (``di-task play``): it is a model of Data
Integration's runtime written from its documentation, never checked against a workspace, so a
verdict from it would be a guess presented as Data Integration's; operators run the real task in
Data Integration, and the tests use the model only to check that the task we render holds
together (its expressions parse, poll and judge real GetJobRun and function answers as intended).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "dataintegration" / "rest-task.json"

REQUEST_BODY_PARAMETER = "REQUEST_BODY"
TERMINAL_STATES = tuple(state.value for state in JOB_RUN_TERMINAL_STATES)
# The poll conditions' "the run has not ended", spelled from the one list of terminal states.
RUN_NOT_ENDED = " AND ".join(
    f"CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) != '{state}'"
    for state in TERMINAL_STATES
)
DEFAULT_MAX_RUNTIME_MINUTES = 60
DEFAULT_PROVISIONING_MINUTES = 30
DEFAULT_POLL_INTERVAL_SECONDS = 30


class DataIntegrationError(Exception):
    """Base of every error this module raises."""


class TaskTemplateError(DataIntegrationError):
    """The task template could not be rendered: a value is missing or malformed."""


_TEMPLATE_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_FUNCTION_OCID = re.compile(r"ocid1\.fnfunc\.[a-z0-9-]+\.[a-z0-9-]*(\.[a-z0-9-]+)?\.[a-z0-9]+")
_HTTPS_ORIGIN = re.compile(r"https://[A-Za-z0-9.-]+(:\d{1,5})?")
_HTTP_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
_REGION = re.compile(r"[a-z]{2,}-[a-z]+-\d+")
_IDENTIFIER = re.compile(r"[A-Z][A-Z0-9_]{0,254}")


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read the task template."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskTemplateError(f"task template not found: {path}") from None
    if not isinstance(document, dict):
        raise TaskTemplateError(f"{path}: expected a JSON object")
    return document


def build_request_body(
    request: Mapping[str, Any], *, max_runtime_minutes: int = DEFAULT_MAX_RUNTIME_MINUTES
) -> str:
    """The function's request as the JSON text to bind to REQUEST_BODY.

    Serialized here, never spliced together, so quotes, backslashes and non-ASCII text in values
    stay data: the result is pure ASCII (non-ASCII escaped as \\uXXXX) and parses back to
    ``request``. It carries ``maxRuntimeInMinutes`` (set to the task's value when absent) and
    refuses a larger one, which the task's polling window would not cover.
    """
    body = dict(request)
    runtime = body.setdefault("maxRuntimeInMinutes", max_runtime_minutes)
    if not isinstance(runtime, int) or isinstance(runtime, bool) or runtime < 1:
        raise TaskTemplateError(f"maxRuntimeInMinutes must be a positive integer, got {runtime!r}")
    if runtime > max_runtime_minutes:
        raise TaskTemplateError(
            f"maxRuntimeInMinutes {runtime} exceeds the task's {max_runtime_minutes}: the task "
            "would stop polling before the run ends; render the task with a larger maximum"
        )
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"))


@dataclass(frozen=True)
class TaskSettings:
    """Everything render_task needs, checked at construction."""

    function_id: str
    invoke_endpoint: str
    project_key: str
    region: str | None = None
    datascience_endpoint: str | None = None
    max_runtime_minutes: int = DEFAULT_MAX_RUNTIME_MINUTES
    provisioning_minutes: int = DEFAULT_PROVISIONING_MINUTES
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS
    name: str = "Launch notebook"
    identifier: str = "LAUNCH_NOTEBOOK"
    default_request: Mapping[str, Any] = field(default_factory=dict)
    allow_http: bool = False  # plain-http endpoints, for a local stand-in only

    def __post_init__(self) -> None:
        problems = []
        origin = _HTTP_ORIGIN if self.allow_http else _HTTPS_ORIGIN
        if not _FUNCTION_OCID.fullmatch(self.function_id):
            problems.append(f"function id {self.function_id!r} is not a function OCID")
        if not origin.fullmatch(self.invoke_endpoint):
            problems.append(
                f"invoke endpoint {self.invoke_endpoint!r} must be https://host[:port], no path"
            )
        if self.datascience_endpoint is None and self.region is None:
            problems.append("give a region or a Data Science endpoint")
        if self.datascience_endpoint is not None and not origin.fullmatch(
            self.datascience_endpoint
        ):
            problems.append(
                f"Data Science endpoint {self.datascience_endpoint!r} must be https://host[:port]"
            )
        if self.region is not None and not _REGION.fullmatch(self.region):
            problems.append(f"region {self.region!r} is not a region identifier")
        if not self.project_key or any(c in self.project_key for c in '"{}\\'):
            problems.append("project key must be the Data Integration project or folder key")
        if not _IDENTIFIER.fullmatch(self.identifier):
            problems.append(f"identifier {self.identifier!r} must be upper-case letters, digits, _")
        for label, value, low in (
            ("max runtime", self.max_runtime_minutes, 1),
            ("provisioning allowance", self.provisioning_minutes, 0),
            ("poll interval", self.poll_interval_seconds, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"{label} must be an integer >= {low}, got {value!r}")
        if problems:
            raise TaskTemplateError("; ".join(problems))

    @property
    def resolved_datascience_endpoint(self) -> str:
        if self.datascience_endpoint is not None:
            return self.datascience_endpoint
        return f"https://datascience.{self.region}.oci.oraclecloud.com"

    @property
    def poll_max_duration_minutes(self) -> int:
        # The run can spend its whole maximum runtime IN_PROGRESS, after waiting ACCEPTED while
        # its infrastructure is provisioned; polling must outlast both.
        return self.max_runtime_minutes + self.provisioning_minutes


def render_task(
    settings: TaskSettings, template: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The CreateTaskDetails body for these settings; every placeholder filled, or an error."""
    values: dict[str, str | int] = {
        "name": settings.name,
        "identifier": settings.identifier,
        "project_key": settings.project_key,
        "function_id": settings.function_id,
        "invoke_endpoint": settings.invoke_endpoint,
        "datascience_endpoint": settings.resolved_datascience_endpoint,
        "max_runtime_minutes": settings.max_runtime_minutes,
        "provisioning_minutes": settings.provisioning_minutes,
        "poll_max_duration_minutes": settings.poll_max_duration_minutes,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "run_not_ended": RUN_NOT_ENDED,
        "request_body": build_request_body(
            settings.default_request, max_runtime_minutes=settings.max_runtime_minutes
        ),
    }
    document = copy.deepcopy(dict(template) if template is not None else load_template())
    missing: set[str] = set()

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if not isinstance(node, str):
            return node
        whole = _TEMPLATE_PLACEHOLDER.fullmatch(node)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]  # keeps integers integers
        for name in _TEMPLATE_PLACEHOLDER.findall(node):
            if name not in values:
                missing.add(name)
        return _TEMPLATE_PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), node)

    rendered = fill(document)
    if missing:
        raise TaskTemplateError(
            "template placeholder(s) with no value: "
            + ", ".join(f"{{{{{n}}}}}" for n in sorted(missing))
        )
    assert isinstance(rendered, dict)
    return rendered
