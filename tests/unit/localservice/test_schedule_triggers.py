"""Fire times of schedule triggers (pure): cron, interval and iCal, within start and end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError
from notebook_launcher.localservice.schedules.triggers import Trigger, parse_trigger

NOW = datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC)


def trigger(body: dict[str, Any], schedule_id: str = "ocid1.datascienceschedule.x") -> Trigger:
    return Trigger.of(parse_trigger(body, NOW), schedule_id)


def fires(t: Trigger, count: int, after: datetime = NOW) -> list[datetime]:
    out: list[datetime] = []
    moment = after
    for _ in range(count):
        found = t.next_after(moment)
        if found is None:
            break
        out.append(found)
        moment = found
    return out


def test_cron_fires_on_the_minute_in_utc() -> None:
    t = trigger({"triggerType": "CRON", "cronExpression": "15 2 * * 1-5"})
    assert fires(t, 3) == [
        datetime(2030, 1, 1, 2, 15, tzinfo=UTC),
        datetime(2030, 1, 2, 2, 15, tzinfo=UTC),
        datetime(2030, 1, 3, 2, 15, tzinfo=UTC),
    ]


def test_a_start_on_a_fire_time_is_the_first_fire_and_the_end_stops_them() -> None:
    t = trigger(
        {
            "triggerType": "CRON",
            "cronExpression": "0 * * * *",
            "timeStart": "2030-01-02T05:00:00Z",
            "timeEnd": "2030-01-02T07:00:00Z",
        }
    )
    assert fires(t, 5) == [datetime(2030, 1, 2, hour, tzinfo=UTC) for hour in (5, 6, 7)]


def test_interval_counts_from_the_start_and_a_late_look_skips_to_the_next() -> None:
    t = trigger(
        {
            "triggerType": "INTERVAL",
            "frequency": "HOURLY",
            "interval": 3,
            "timeStart": "2030-01-01T01:00:00Z",
        }
    )
    assert fires(t, 2) == [
        datetime(2030, 1, 1, 1, tzinfo=UTC),
        datetime(2030, 1, 1, 4, tzinfo=UTC),
    ]
    assert t.next_after(datetime(2030, 1, 2, 0, tzinfo=UTC)) == datetime(2030, 1, 2, 1, tzinfo=UTC)


def test_interval_without_a_start_first_fires_one_interval_after_creation() -> None:
    t = trigger({"triggerType": "INTERVAL", "frequency": "DAILY", "interval": 1})
    assert t.next_after(NOW) == NOW + timedelta(days=1)


def test_random_start_is_within_its_window_and_stable_for_one_schedule() -> None:
    body = {
        "triggerType": "INTERVAL",
        "frequency": "HOURLY",
        "interval": 1,
        "timeStart": "2030-01-01T01:00:00Z",
        "isRandomStartTime": True,
        "initialJitterInMinutes": 20,
    }
    starts = {trigger(body, f"ocid1.datascienceschedule.{n}").next_after(NOW) for n in range(20)}
    base = datetime(2030, 1, 1, 1, tzinfo=UTC)
    assert all(base <= s <= base + timedelta(minutes=20) for s in starts if s)
    assert len(starts) > 1
    assert trigger(body, "a").next_after(NOW) == trigger(body, "a").next_after(NOW)


def test_ical_rule_starts_at_the_trigger_start() -> None:
    t = trigger(
        {
            "triggerType": "ICAL",
            "recurrence": "RRULE:FREQ=WEEKLY;BYDAY=MO,FR",
            "timeStart": "2030-01-01T09:30:00Z",
        }
    )
    assert fires(t, 3) == [
        datetime(2030, 1, 4, 9, 30, tzinfo=UTC),
        datetime(2030, 1, 7, 9, 30, tzinfo=UTC),
        datetime(2030, 1, 11, 9, 30, tzinfo=UTC),
    ]


def test_ical_count_ends_the_fires() -> None:
    t = trigger(
        {
            "triggerType": "ICAL",
            "recurrence": "FREQ=DAILY;COUNT=2",
            "timeStart": "2030-01-01T12:00:00Z",
        }
    )
    assert len(fires(t, 5)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"triggerType": "CRON", "cronExpression": "* * * *"}, "trigger.cronExpression"),
        ({"triggerType": "CRON", "cronExpression": "0 0 * * * *"}, "trigger.cronExpression"),
        ({"triggerType": "CRON", "cronExpression": "@hourly"}, "trigger.cronExpression"),
        ({"triggerType": "CRON", "cronExpression": "0 0 31 4 *"}, "trigger.cronExpression"),
        ({"triggerType": "INTERVAL", "frequency": "MINUTELY", "interval": 5}, "trigger.frequency"),
        ({"triggerType": "INTERVAL", "frequency": "DAILY", "interval": "x"}, "trigger.interval"),
        (
            {
                "triggerType": "INTERVAL",
                "frequency": "HOURLY",
                "interval": 1,
                "initialJitterInMinutes": 61,
            },
            "trigger.initialJitterInMinutes",
        ),
        ({"triggerType": "ICAL", "recurrence": "FREQ=SECONDLY"}, "trigger.recurrence"),
        (
            {"triggerType": "ICAL", "recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
            "trigger.recurrence",
        ),
        ({"triggerType": "ICAL", "recurrence": "FREQ=HOURLY;BYSETPOS=2"}, "trigger.recurrence"),
        (
            {"triggerType": "ICAL", "recurrence": "FREQ=MINUTELY;BYSECOND=0,1,2,30,59"},
            "trigger.recurrence",
        ),
        (
            {"triggerType": "ICAL", "recurrence": "FREQ=DAILY\nDTSTART:20300101"},
            "trigger.recurrence",
        ),
        (
            {"triggerType": "CRON", "cronExpression": "0 2 * * *", "timeStart": "2030-01-01"},
            "trigger.timeStart",
        ),
        (
            {
                "triggerType": "CRON",
                "cronExpression": "0 2 * * *",
                "timeStart": "2030-01-02T00:00:00Z",
                "timeEnd": "2030-01-02T00:00:00Z",
            },
            "trigger.timeEnd",
        ),
    ],
)
def test_bad_triggers_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterError, match=field.replace(".", r"\.")):
        parse_trigger(body, NOW)


def test_a_missing_cron_expression_is_a_missing_parameter() -> None:
    with pytest.raises(MissingParameterError, match=r"trigger\.cronExpression"):
        parse_trigger({"triggerType": "CRON"}, NOW)
