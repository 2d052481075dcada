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
- Fires at most once a minute (`MIN_FIRE_GAP`): every fire is a billed job run, and OCI's
  scheduler pages (data-science/using/scheduler-about.htm) state no smaller minimum. Five-field
  cron and INTERVAL cannot fire more often; an RRULE can (BYSECOND), and is refused if it may.

Bounded: dateutil's rrule walks period by period (to the year 9999) until one occurs, without
yielding, so a rule that never fires can take minutes. Validation therefore decides the usual
"never fires" cases analytically (BYSETPOS beyond the period's set, BYMONTHDAY beyond every
BYMONTH, BYEASTER outside every BYMONTH), and runs every search under `bounded_search`: a
budget of interpreter steps and of time. A rule that cannot be decided within it is refused.

Normal forms (`cron_normal_form`, `recurrence_normal_form`): what a trigger means, for
idempotency; two spellings of one rule have one normal form.
"""

from __future__ import annotations

import json
import re
import sys
import time
from calendar import monthrange
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from types import FrameType
from typing import Any

from croniter import CroniterBadCronError, croniter
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

FREQUENCIES = ("HOURLY", "DAILY")
FREQUENCY_UNITS = {"HOURLY": timedelta(hours=1), "DAILY": timedelta(days=1)}
MAX_INTERVAL = 10_000
MAX_EXPRESSION = 1_000
# A recurrence must occur within this window of its start, or it is refused as never firing
# (dateutil would otherwise search to the year 9999, seconds of work per call).
ICAL_HORIZON = timedelta(days=5 * 366)
ICAL_FREQUENCIES = ("MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# The least time between two fires of one schedule.
MIN_FIRE_GAP = timedelta(minutes=1)
# The bound of one rule search: interpreter steps (line events) and seconds, whichever first.
SEARCH_STEPS = 300_000
SEARCH_SECONDS = 0.5
# How many fires the minimum-gap check looks at when it cannot decide analytically.
GAP_SAMPLE = 400

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


class SearchBoundError(Exception):
    """A rule search that ran out of its step or time budget (`bounded_search`)."""


@contextmanager
def bounded_search(steps: int = SEARCH_STEPS, seconds: float = SEARCH_SECONDS) -> Iterator[None]:
    """Run the block under a budget of `steps` interpreter line events and `seconds`; past
    either, SearchBoundError is raised inside the block (dateutil's loop cannot be stopped
    otherwise: it yields nothing until it finds an occurrence). It counts the steps of the
    calls made inside the block (a trace function on each new frame). The step count bounds
    the work whatever the machine's load; the clock is a second guard."""
    previous = sys.gettrace()
    deadline = time.monotonic() + seconds
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        if count > steps or (count % 1024 == 0 and time.monotonic() > deadline):
            raise SearchBoundError
        return tracer

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


_UNDECIDED = (
    "could not be decided within the validation bound ({steps} steps or {seconds} s):"
    " simplify the rule (fewer BY parts, a coarser FREQ)."
)
_NEVER = (
    "has no occurrence between the start and five years later (or its UNTIL); it would never fire."
)


def _parts(rule_text: str) -> dict[str, str]:
    return {key: value.upper() for key, value in (p.split("=", 1) for p in rule_text.split(";"))}


def _period_size(rule: Any) -> int:
    """The most occurrences one FREQ period can hold (BYSETPOS selects among them)."""
    times = 1
    for name, length in (("_byhour", 24), ("_byminute", 60), ("_bysecond", 60)):
        values = getattr(rule, name)
        times *= len(values) if values else length
    freq = rule._freq
    if freq == MINUTELY:
        return len(rule._bysecond or ()) or 60
    if freq == HOURLY:
        return len(rule._byminute or ()) * len(rule._bysecond or ()) or 3600
    days = {DAILY: 1, WEEKLY: 7, MONTHLY: 31, YEARLY: 366}[freq]
    return days * times


def _never_fires(rule: Any, parts: dict[str, str]) -> str | None:
    """The rule part that makes `rule` never occur, decided without searching, or None."""
    positions = rule._bysetpos
    if positions:
        size = _period_size(rule)
        if all(abs(position) > size for position in positions):
            return (
                f"BYSETPOS={parts['BYSETPOS']} selects beyond the {size} occurrence(s) one"
                f" FREQ={parts['FREQ']} period can hold: it would never fire."
            )
    months = set(rule._bymonth or ())
    if months and "BYMONTHDAY" in parts:  # every BY part narrows the days: none can widen them
        longest = max(monthrange(2000, month)[1] for month in months)
        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
        if all(abs(day) > longest for day in days):
            return (
                f"BYMONTHDAY={parts['BYMONTHDAY']} falls in no month of"
                f" BYMONTH={parts['BYMONTH']}: it would never fire."
            )
    if months and "BYEASTER" in parts:
        reachable: set[int] = set()
        for offset in (int(o) for o in parts["BYEASTER"].split(",")):
            for year in (2001, 2004):  # Easter falls from 22 March to 25 April
                first = date(year, 3, 22) + timedelta(days=offset)
                last = date(year, 4, 25) + timedelta(days=offset)
                day = first
                while day <= last:
                    reachable.add(day.month)
                    day += timedelta(days=1)
        if not reachable & months:
            return (
                f"BYEASTER={parts['BYEASTER']} falls in no month of BYMONTH={parts['BYMONTH']}:"
                " it would never fire."
            )
    return None


def _gap_problem(rule: Any, parts: dict[str, str], start: datetime, until: datetime) -> str | None:
    """Why the rule can fire twice less than MIN_FIRE_GAP apart (None if it cannot)."""
    seconds = rule._bysecond or ()
    if len(seconds) < 2:
        return None  # every fire is at one second of distinct minutes: a minute apart at least
    too_often = (
        f"BYSECOND={parts.get('BYSECOND')} can fire more than once a minute; a schedule may"
        f" fire at most once every {int(MIN_FIRE_GAP.total_seconds())} seconds (each fire is"
        " a job run)."
    )
    if not rule._bysetpos and "COUNT" not in parts:
        return too_often  # each minute that fires, fires at every BYSECOND
    previous: datetime | None = None
    for index, moment in enumerate(rule.xafter(start - timedelta(seconds=1), inc=False)):
        if index >= GAP_SAMPLE or moment > until:
            break
        if previous is not None and moment - previous < MIN_FIRE_GAP:
            return too_often
        previous = moment
    return None


def recurrence_problem(recurrence: str, start: datetime) -> str | None:
    """Why `recurrence` is not one RRULE that occurs within five years after `start` and at
    most once a minute. Bounded: it answers within `SEARCH_STEPS` steps or refuses."""
    rule_text = recurrence_text(recurrence)
    if rule_text is None:
        return (
            "must be one RFC 5545 recurrence rule, such as 'FREQ=DAILY;INTERVAL=1'"
            " (DTSTART is the trigger's timeStart)."
        )
    parts = _parts(rule_text)
    if parts.get("FREQ") not in ICAL_FREQUENCIES:
        return f"FREQ must be one of {', '.join(ICAL_FREQUENCIES)}."
    try:
        rule = recurrence_rule(rule_text, start)
    except (ValueError, TypeError) as exc:
        return f"is not a valid recurrence rule: {exc}."
    if (problem := _never_fires(rule, parts)) is not None:
        return problem
    until: datetime | None = getattr(rule, "_until", None)
    horizon = start + ICAL_HORIZON
    end = min(until, horizon) if until else horizon
    probe = rule.replace(count=None, until=end)
    try:
        with bounded_search():
            if probe.after(start - timedelta(seconds=1), inc=False) is None:
                return _NEVER
            return _gap_problem(rule, parts, start, end)
    except SearchBoundError:
        return _UNDECIDED.format(steps=SEARCH_STEPS, seconds=SEARCH_SECONDS)


def cron_normal_form(expression: str) -> str:
    """What a checked cron expression means, one spelling per meaning: croniter's expansion
    of each field ('*' for a full one; day-of-month and day-of-week kept as croniter ORs
    them), e.g. '00 02 * JAN-DEC 0-7' and '0 2 * * *' are both '0 2 * * *'."""
    try:
        fields, nth = croniter.expand(normalize_cron(expression))
    except (CroniterBadCronError, ValueError):  # a form croniter checks but cannot expand
        return normalize_cron(expression).lower()
    text = " ".join(",".join(str(value) for value in field) for field in fields)
    return f"{text} {json.dumps(nth, sort_keys=True, default=sorted)}" if nth else text


_DEFAULTS = {"INTERVAL": "1", "WKST": "MO"}


def recurrence_normal_form(recurrence: str) -> str:
    """What a checked RRULE means, one spelling per meaning: no `RRULE:`, upper case, parts
    sorted, defaults (INTERVAL=1, WKST=MO) dropped, list values as sorted sets of numbers."""
    rule_text = recurrence_text(recurrence)
    assert rule_text is not None
    normal: dict[str, str] = {}
    for key, value in _parts(rule_text).items():
        if key.startswith("BY") or key in ("COUNT", "INTERVAL"):
            items = {_normal_item(item) for item in value.split(",")}
            value = ",".join(sorted(items, key=lambda item: (len(item), item)))
        if _DEFAULTS.get(key) != value:
            normal[key] = value
    return ";".join(f"{key}={normal[key]}" for key in sorted(normal))


def _normal_item(item: str) -> str:
    """One list item: a number without sign noise or leading zeros ('+01' -> '1'), or a
    weekday with its ordinal so normalised ('+1MO' -> '1MO')."""
    match = re.fullmatch(r"([+-]?)(\d+)([A-Z]*)", item)
    if match is None:
        return item
    sign, number, weekday = match.groups()
    return f"{'-' if sign == '-' else ''}{int(number)}{weekday}"
