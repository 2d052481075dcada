"""The rules of OCI Data Science schedule triggers that the function and the local service share.

One definition, so that the function refuses exactly what the stand-in refuses. Pure: no
clock, no store; each check answers a problem in words (without the field's name, which the
caller prefixes) or None. The function's image carries this module (and croniter, which
computes cron the same strict way for both).

- Times are RFC 3339 instants (`ScheduleTrigger.timeStart/timeEnd` in the oci SDK's models).
- CRON (`ScheduleCronTrigger.cronExpression`, "the scheduled UNIX cron definition"): five
  fields, checked by croniter with `strict=True` (a day that can never come, 30 February, is
  refused). The trigger has no time-zone field: it is evaluated in UTC.
- INTERVAL (`ScheduleIntervalTrigger`): `frequency` HOURLY or DAILY, `interval` a count.
- ICAL (`ScheduleICalTrigger.recurrence`, "conforms to RFC-5545"): one RRULE whose DTSTART is
  the trigger's timeStart, and which occurs within five years of it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, croniter
from dateutil.rrule import rrule, rrulestr

FREQUENCIES = ("HOURLY", "DAILY")
FREQUENCY_UNITS = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1)}
MAX_INTERVAL = 10_000
MAX_EXPRESSION = 1_000
# A recurrence must occur within this window of its start, or it is refused as never firing
# (dateutil would otherwise search to the year 9999, seconds of work per call).
ICAL_HORIZON = timedelta(days=5 * 366)
ICAL_FREQUENCIES = ("MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")

_CRON_FIELD = re.compile(r"[0-9A-Za-z*/,\-?LW#]+")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_RRULE = re.compile(r"(?:RRULE:)?([A-Z]+=[A-Za-z0-9,+\-:]+(?:;[A-Z]+=[A-Za-z0-9,+\-:]+)*)")


class TimeFormatError(ValueError):
    """A value that is not an RFC 3339 date-time; its text says why (no field name)."""


def parse_instant(value: object) -> datetime:
    """An RFC 3339 time (full match) as an aware UTC datetime; TimeFormatError otherwise."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise TimeFormatError("must be an RFC 3339 date-time such as 2030-01-01T02:00:00Z.")
    text = re.sub(r"\.(\d{6})\d+", r".\1", value.replace("z", "Z").replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        raise TimeFormatError("is not a valid date-time.") from None


def normalize_cron(expression: str) -> str:
    """The expression with single spaces between its five fields (check it first)."""
    return " ".join(expression.split())


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a five-field UNIX cron expression croniter accepts strictly."""
    fields = expression.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
        return (
            "must be a UNIX cron expression of five fields (minute hour day-of-month"
            " month day-of-week), such as '0 2 * * *'."
        )
    normalized = " ".join(fields)
    try:
        valid = croniter.is_valid(normalized, strict=True)
    except (CroniterBadCronError, ValueError):
        valid = False
    if not valid:
        return f"is not a valid cron expression: '{normalized}'."
    return None


def recurrence_rule(recurrence: str, start: datetime) -> rrule:
    """The rule of a checked recurrence text (see `recurrence_problem`), from `start`."""
    rule = rrulestr(recurrence, dtstart=start.replace(microsecond=0))
    assert isinstance(rule, rrule)  # one RRULE, checked before
    return rule


def recurrence_text(recurrence: str) -> str | None:
    """The RRULE part of `recurrence` (without a leading `RRULE:`), or None if it is not one."""
    match = _RRULE.fullmatch(recurrence.strip())
    return match.group(1) if match else None


def recurrence_problem(recurrence: str, start: datetime) -> str | None:
    """Why `recurrence` is not one RRULE that occurs within five years after `start`."""
    rule_text = recurrence_text(recurrence)
    if rule_text is None:
        return (
            "must be one RFC 5545 recurrence rule, such as 'FREQ=DAILY;INTERVAL=1'"
            " (DTSTART is the trigger's timeStart)."
        )
    parts = dict(part.split("=", 1) for part in rule_text.split(";"))
    if parts.get("FREQ") not in ICAL_FREQUENCIES:
        return f"FREQ must be one of {', '.join(ICAL_FREQUENCIES)}."
    try:
        rule = recurrence_rule(rule_text, start)
    except (ValueError, TypeError) as exc:
        return f"is not a valid recurrence rule: {exc}."
    until: datetime | None = getattr(rule, "_until", None)
    horizon = start + ICAL_HORIZON
    probe = rule.replace(count=None, until=min(until, horizon) if until else horizon)
    if probe.after(start - timedelta(seconds=1), inc=False) is None:
        return (
            "has no occurrence between the start and five years later (or its UNTIL);"
            " it would never fire."
        )
    return None
