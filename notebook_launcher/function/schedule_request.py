"""The `schedule` part of a request: its model, its checks, and the OCI trigger it maps to.

A schedule gives exactly one trigger, `cron`, `interval` or `ical`, plus optional `start`,
`end` (RFC 3339) and `name`. The checks are the shared ones in `schedule_rules` (the local
service applies the same), so a request the function accepts is one Data Science accepts.

Time zones: OCI's schedule trigger has no time-zone field (its times are RFC 3339 instants;
see the oci SDK's `ScheduleCronTrigger`), so a cron expression is evaluated in UTC. A
request may say `"timeZone": "UTC"`; any other zone is refused rather than silently run at
UTC hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from notebook_launcher.function.errors import FieldProblem
from notebook_launcher.schedule_rules import (
    MAX_EXPRESSION,
    MAX_INTERVAL,
    TimeFormatError,
    cron_normal_form,
    cron_problem,
    normalize_cron,
    parse_instant,
    recurrence_normal_form,
    recurrence_problem,
    recurrence_text,
)

SCHEDULE_ACTIONS = (
    "schedule",
    "schedules",
    "schedule-show",
    "schedule-pause",
    "schedule-resume",
    "schedule-delete",
)
# The actions that name one schedule in `id`.
SCHEDULE_ID_ACTIONS = ("schedule-show", "schedule-pause", "schedule-resume", "schedule-delete")
TIME_ZONES = ("UTC",)
TRIGGER_FIELDS = ("cron", "interval", "ical")

Expression = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXPRESSION)]


class IntervalSpec(BaseModel):
    """Every `count` hours or days: OCI's INTERVAL trigger (frequency HOURLY or DAILY)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    every: Literal["HOURLY", "DAILY"]
    count: Annotated[int, Field(ge=1, le=MAX_INTERVAL)] = 1


class ScheduleSpec(BaseModel):
    """When a launch request runs: one trigger, an optional window and a name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    cron: Expression | None = None
    timeZone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    interval: IntervalSpec | None = None
    ical: Expression | None = None
    start: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    end: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @property
    def trigger_type(self) -> str:
        if self.cron is not None:
            return "CRON"
        if self.interval is not None:
            return "INTERVAL"
        return "ICAL"


def _time(problems: list[FieldProblem], field: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value)
    except TimeFormatError as exc:
        problems.append(FieldProblem(f"schedule.{field}", str(exc)))
        return None


def schedule_problems(spec: ScheduleSpec, now: datetime) -> list[FieldProblem]:
    """Every problem of a schedule, each naming its field (`schedule.cron`, ...)."""
    problems: list[FieldProblem] = []
    given = [name for name in TRIGGER_FIELDS if getattr(spec, name) is not None]
    if len(given) != 1:
        problems.append(
            FieldProblem(
                "schedule",
                "give exactly one of cron, interval, ical"
                + (f" (got {', '.join(given)})" if given else ""),
            )
        )
    start = _time(problems, "start", spec.start)
    end = _time(problems, "end", spec.end)
    if end is not None:
        if end <= (start or now):
            problems.append(
                FieldProblem("schedule.end", "must be after schedule.start (or now, without one)")
            )
    if spec.timeZone is not None:
        if spec.cron is None:
            problems.append(FieldProblem("schedule.timeZone", "only with cron"))
        elif spec.timeZone not in TIME_ZONES:
            problems.append(
                FieldProblem(
                    "schedule.timeZone",
                    "OCI schedules have no time zone: cron is evaluated in UTC; write the "
                    "expression in UTC hours (timeZone may only be UTC)",
                )
            )
    if spec.cron is not None and (problem := cron_problem(spec.cron)) is not None:
        problems.append(FieldProblem("schedule.cron", problem))
    if spec.ical is not None and (problem := recurrence_problem(spec.ical, start or now)):
        problems.append(FieldProblem("schedule.ical", problem))
    return problems


def trigger_details(spec: ScheduleSpec) -> Any:
    """The oci SDK trigger model for a checked schedule (CRON, INTERVAL or ICAL)."""
    from oci.data_science.models import (
        ScheduleCronTrigger,
        ScheduleICalTrigger,
        ScheduleIntervalTrigger,
    )

    window: dict[str, Any] = {}
    if spec.start is not None:
        window["time_start"] = parse_instant(spec.start)
    if spec.end is not None:
        window["time_end"] = parse_instant(spec.end)
    if spec.cron is not None:
        return ScheduleCronTrigger(
            trigger_type="CRON", cron_expression=normalize_cron(spec.cron), **window
        )
    if spec.interval is not None:
        return ScheduleIntervalTrigger(
            trigger_type="INTERVAL",
            frequency=spec.interval.every,
            interval=spec.interval.count,
            **window,
        )
    assert spec.ical is not None
    return ScheduleICalTrigger(trigger_type="ICAL", recurrence=recurrence_text(spec.ical), **window)


def trigger_meaning(spec: ScheduleSpec) -> dict[str, Any]:
    """What a checked schedule's trigger means, whatever its spelling: the normal form of its
    expression and its window as instants. Idempotency compares this, not the request text
    ('00 02 * * *' and '0 2 * * *' are one schedule)."""
    meaning: dict[str, Any] = {"triggerType": spec.trigger_type}
    for field in ("start", "end"):
        if (value := getattr(spec, field)) is not None:
            meaning[field] = parse_instant(value).isoformat()
    if spec.cron is not None:
        meaning["cron"] = cron_normal_form(spec.cron)
    elif spec.interval is not None:
        meaning["interval"] = [spec.interval.every, spec.interval.count]
    else:
        assert spec.ical is not None
        meaning["ical"] = recurrence_normal_form(spec.ical)
    return meaning
