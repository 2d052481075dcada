"""The schedule part of a request: its checks and the OCI trigger it maps to (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from notebook_launcher.function.errors import InvalidRequestError
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.schedule_request import (
    ScheduleSpec,
    schedule_problems,
    trigger_details,
)
from notebook_launcher.function.schedules import default_name
from notebook_launcher.function.settings import Settings

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
PROJECT = "ocid1.datascienceproject.oc1.iad.p1"


def settings() -> Settings:
    return Settings.from_config(
        {
            "NL_PROJECT_ID": PROJECT,
            "NL_COMPARTMENT_ID": "ocid1.compartment.oc1..c1",
            "NL_LOG_GROUP_ID": "ocid1.loggroup.oc1.iad.g1",
            "NL_OUTPUT_FOLDER": "oci://b@n/out",
        }
    )


def fields(spec: dict[str, object]) -> set[str]:
    return {p.field for p in schedule_problems(ScheduleSpec.model_validate(spec), NOW)}


def test_a_valid_trigger_of_each_kind_has_no_problem() -> None:
    assert fields({"cron": "0  2 * * 1-5", "timeZone": "UTC"}) == set()
    assert fields({"interval": {"every": "DAILY", "count": 2}}) == set()
    assert fields({"ical": "RRULE:FREQ=MONTHLY;BYMONTHDAY=1"}) == set()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"cron": "0 2 31 4 *"}, "schedule.cron"),  # 31 April never comes (croniter strict)
        ({"cron": "0 2 * * * *"}, "schedule.cron"),  # six fields: not UNIX cron
        ({"cron": "0 2 * * *", "timeZone": "America/New_York"}, "schedule.timeZone"),
        ({"interval": {"every": "DAILY"}, "timeZone": "UTC"}, "schedule.timeZone"),
        ({"ical": "FREQ=DAILY;UNTIL=20200101T000000Z"}, "schedule.ical"),  # never after start
        ({"cron": "0 2 * * *", "end": "2029-12-31T00:00:00Z"}, "schedule.end"),  # before now
        ({"cron": "0 2 * * *", "end": "2030-01-01T12:00:00+05:00"}, "schedule.end"),
        ({"cron": "0 2 * * *", "start": "2030-01-01T00:00:00"}, "schedule.start"),  # no offset
        ({"interval": {"every": "DAILY"}, "cron": "0 2 * * *"}, "schedule"),
    ],
)
def test_problems_name_the_field(spec: dict[str, object], field: str) -> None:
    assert field in fields(spec)


def test_the_trigger_maps_to_oci_models() -> None:
    cron = trigger_details(ScheduleSpec(cron="0   2 * * *", start="2030-02-01T00:00:00+01:00"))
    assert (cron.trigger_type, cron.cron_expression) == ("CRON", "0 2 * * *")
    assert cron.time_start == datetime(2030, 1, 31, 23, tzinfo=UTC)
    interval = trigger_details(ScheduleSpec.model_validate({"interval": {"every": "HOURLY"}}))
    assert (interval.frequency, interval.interval, interval.time_start) == ("HOURLY", 1, None)
    ical = trigger_details(ScheduleSpec(ical="RRULE:FREQ=DAILY", end="2031-01-01T00:00:00Z"))
    assert (ical.recurrence, ical.time_end) == ("FREQ=DAILY", datetime(2031, 1, 1, tzinfo=UTC))


def test_the_default_name_is_stable_and_depends_on_the_trigger() -> None:
    daily = ScheduleSpec(cron="0 2 * * *")
    assert default_name("job", daily) == default_name("job", ScheduleSpec(cron="0 2 * * *"))
    assert default_name("job", daily) != default_name("job", ScheduleSpec(cron="0 3 * * *"))
    assert len(default_name("j" * 300, daily)) <= 255


def parse(body: dict[str, object]) -> set[str]:
    try:
        parse_request(json.dumps(body).encode(), settings())
    except InvalidRequestError as exc:
        return {p.field for p in exc.details}
    return set()


def test_the_request_actions_check_their_fields() -> None:
    schedule_id = "ocid1.datascienceschedule.oc1.iad.s1"
    assert parse({"action": "schedule", "noteBook": "https://h/n.ipynb"}) == {"schedule"}
    assert parse({"action": "launch", "noteBook": "https://h/n.ipynb", "schedule": {}}) == {
        "schedule"
    }
    assert parse({"action": "schedule-show", "id": schedule_id}) == set()
    assert parse({"action": "schedule-pause"}) == {"id"}
    # a run's id where a schedule's is wanted, and the other way round
    assert parse({"action": "schedule-delete", "id": "ocid1.datasciencejobrun.oc1.iad.r"}) == {"id"}
    assert parse({"action": "status", "id": schedule_id}) == {"id"}
    assert parse({"action": "schedules"}) == set()
    assert parse({"action": "schedule", "schedule": {"cron": "0 2 * * *"}}) == {"noteBook"}
