"""Schedule triggers: checked from a request, and their fire times computed.

Pure (no store, no clock of its own): `parse_trigger` turns a request's `trigger` into the
stored document or a 400 naming the field; `Trigger.next_after(moment)` is the first fire
time strictly after `moment` (and not before `timeStart`, not after `timeEnd`), None when
there is none left.

- CRON: a UNIX cron expression, five fields (minute hour day-of-month month day-of-week),
  evaluated in UTC: OCI's trigger has no time-zone field and its times are RFC 3339
  instants. croniter computes it (strict: a day that can never come, 30 February, is refused).
- INTERVAL: HOURLY or DAILY every `interval` units from timeStart (plus, with
  `isRandomStartTime`, a first-start offset within `initialJitterInMinutes`, default half the
  interval: derived from the schedule's id, so a restarted service keeps it).
- ICAL: one RFC 5545 RRULE (`FREQ=DAILY;INTERVAL=1`, optionally prefixed `RRULE:`) whose
  DTSTART is timeStart; python-dateutil's rrule computes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import CroniterBadDateError, croniter

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.ids import format_time
from notebook_launcher.schedule_rules import (
    FREQUENCIES,
    FREQUENCY_UNITS,
    MAX_EXPRESSION,
    MAX_INTERVAL,
    TimeFormatError,
    cron_problem,
    normalize_cron,
    parse_instant,
    recurrence_problem,
    recurrence_rule,
    recurrence_text,
)

CRON = "CRON"
INTERVAL = "INTERVAL"
ICAL = "ICAL"
TRIGGER_TYPES = (CRON, INTERVAL, ICAL)
_FREQUENCY_UNITS = FREQUENCY_UNITS


@dataclass(frozen=True)
class Trigger:
    """A stored trigger document, ready to compute fire times."""

    doc: Mapping[str, Any]
    start: datetime
    end: datetime | None
    jitter: timedelta = timedelta(0)

    @classmethod
    def of(cls, doc: Mapping[str, Any], schedule_id: str) -> Trigger:
        """The trigger of a stored schedule (its document was checked when stored)."""
        start = parse_time(doc["timeStart"], "trigger.timeStart")
        end = parse_time(doc["timeEnd"], "trigger.timeEnd") if doc.get("timeEnd") else None
        return cls(doc, start, end, _jitter(doc, schedule_id))

    @property
    def trigger_type(self) -> str:
        return str(self.doc["triggerType"])

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment`, within [timeStart, timeEnd]."""
        found = self._next(moment)
        if found is None or (self.end is not None and found > self.end):
            return None
        return found

    def _next(self, moment: datetime) -> datetime | None:
        if self.trigger_type == CRON:
            # croniter answers strictly after its base; a start on the minute is a fire time.
            base = max(moment, self.start - timedelta(microseconds=1))
            try:
                found: datetime = croniter(
                    self.doc["cronExpression"], base.astimezone(UTC)
                ).get_next(datetime)
            except CroniterBadDateError:
                return None
            return found.astimezone(UTC)
        if self.trigger_type == INTERVAL:
            period = _FREQUENCY_UNITS[self.doc["frequency"]] * int(self.doc["interval"])
            anchor = self.start + self.jitter
            if moment < anchor:
                return anchor
            return anchor + period * ((moment - anchor) // period + 1)
        rule = _rule(self.doc["recurrence"], self.start)
        after = rule.after(max(moment, self.start - timedelta(seconds=1)), inc=False)
        return after.astimezone(UTC) if after is not None else None


def parse_time(value: object, name: str) -> datetime:
    """An RFC 3339 time (full match) as an aware UTC datetime, else 400 naming `name`."""
    try:
        return parse_instant(value)
    except TimeFormatError as exc:
        raise InvalidParameterError(f"{name} {exc}") from None


def parse_trigger(value: object, now: datetime, prefix: str = "trigger") -> dict[str, Any]:
    """A request's trigger, checked: the document to store (timeStart defaults to `now`)."""
    body = validation.as_object(value, prefix)
    trigger_type = validation.string(body, "triggerType", prefix, needed=True)
    validation.choice(trigger_type, f"{prefix}.triggerType", TRIGGER_TYPES)
    start = (
        parse_time(body["timeStart"], f"{prefix}.timeStart")
        if body.get("timeStart") is not None
        else now
    )
    end = (
        parse_time(body["timeEnd"], f"{prefix}.timeEnd")
        if body.get("timeEnd") is not None
        else None
    )
    if end is not None and end <= start:
        raise InvalidParameterError(
            f"{prefix}.timeEnd ({format_time(end)}) must be after {prefix}.timeStart"
            f" ({format_time(start)})."
        )
    doc: dict[str, Any] = {"triggerType": trigger_type, "timeStart": format_time(start)}
    if end is not None:
        doc["timeEnd"] = format_time(end)
    if trigger_type == CRON:
        doc["cronExpression"] = _cron_expression(body, prefix)
    elif trigger_type == INTERVAL:
        doc.update(_interval(body, prefix))
    else:
        recurrence = validation.string(
            body, "recurrence", prefix, needed=True, max_length=MAX_EXPRESSION
        )
        assert recurrence is not None
        doc["recurrence"] = _recurrence(recurrence, start, f"{prefix}.recurrence")
    return doc


def _cron_expression(body: Mapping[str, Any], prefix: str) -> str:
    name = f"{prefix}.cronExpression"
    expression = validation.string(body, "cronExpression", prefix, needed=True)
    assert expression is not None
    if (problem := cron_problem(expression)) is not None:
        raise InvalidParameterError(f"{name} {problem}")
    return normalize_cron(expression)


def _interval(body: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    frequency = validation.string(body, "frequency", prefix, needed=True)
    validation.choice(frequency, f"{prefix}.frequency", FREQUENCIES)
    assert frequency is not None
    interval = validation.integer(
        body, "interval", prefix, minimum=1, maximum=MAX_INTERVAL, needed=True
    )
    assert interval is not None
    doc: dict[str, Any] = {"frequency": frequency, "interval": interval}
    random_start = validation.boolean(body, "isRandomStartTime", prefix)
    if random_start is not None:
        doc["isRandomStartTime"] = random_start
    period_minutes = int(_FREQUENCY_UNITS[frequency].total_seconds() // 60) * interval
    jitter = validation.integer(
        body, "initialJitterInMinutes", prefix, minimum=0, maximum=period_minutes
    )
    if jitter is not None:
        doc["initialJitterInMinutes"] = jitter
    return doc


def _jitter(doc: Mapping[str, Any], schedule_id: str) -> timedelta:
    """The first-start offset of a random-start INTERVAL trigger, stable for one schedule."""
    if doc.get("triggerType") != INTERVAL or not doc.get("isRandomStartTime"):
        return timedelta(0)
    period = _FREQUENCY_UNITS[doc["frequency"]] * int(doc["interval"])
    window_minutes = doc.get("initialJitterInMinutes")
    window = timedelta(minutes=window_minutes) if window_minutes is not None else period / 2
    seconds = int(window.total_seconds())
    digest = int.from_bytes(hashlib.sha256(schedule_id.encode()).digest()[:8], "big")
    return timedelta(seconds=digest % (seconds + 1))


def _rule(recurrence: str, start: datetime) -> Any:
    return recurrence_rule(recurrence, start)


def _recurrence(text: str, start: datetime, name: str) -> str:
    if (problem := recurrence_problem(text, start)) is not None:
        raise InvalidParameterError(f"{name} {problem}")
    rule_text = recurrence_text(text)
    assert rule_text is not None
    return rule_text
