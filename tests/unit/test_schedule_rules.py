"""The shared schedule rules (`notebook_launcher.schedule_rules`), pure: iCal validation is
bounded (never-fires decided analytically, the rest under a step budget that cannot hang),
no trigger fires more than once a minute, and normal forms make spellings of one meaning
equal. The time each rule takes is measured in bench/schedule_rules.py, not asserted here."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest
from dateutil.rrule import rrulestr

from notebook_launcher.schedule_rules import (
    SearchBoundError,
    bounded_search,
    cron_normal_form,
    cron_problem,
    recurrence_normal_form,
    recurrence_problem,
)

START = datetime(2030, 1, 1, 12, tzinfo=UTC)
EVERY_SECOND = "FREQ=MINUTELY;BYSECOND=" + ",".join(str(second) for second in range(60))


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        # Each of these ran from 8 s to over a minute in dateutil before (issue 18, item 3).
        ("FREQ=HOURLY;BYSETPOS=2", "BYSETPOS=2"),
        ("FREQ=MINUTELY;BYSETPOS=2", "BYSETPOS=2"),
        ("FREQ=MINUTELY;BYSECOND=0;BYSETPOS=2", "BYSETPOS=2"),
        ("FREQ=DAILY;BYHOUR=1,2;BYSETPOS=-3", "BYSETPOS=-3"),
        ("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30", "BYMONTHDAY=30"),
        ("FREQ=MINUTELY;BYMONTH=4,6;BYMONTHDAY=31,-31", "BYMONTHDAY=31,-31"),
        ("FREQ=MINUTELY;BYEASTER=0;BYMONTH=12", "BYEASTER=0"),
    ],
)
def test_rules_that_never_fire_are_refused_by_reasoning_naming_the_part(
    rule: str, part: str
) -> None:
    problem = recurrence_problem(rule, START)
    assert problem is not None and part in problem and "never fire" in problem


def spin() -> None:
    """A search that never ends (the bound traces the calls made inside it)."""
    while True:
        pass


def test_the_search_bound_is_a_step_count_that_stops_a_search_without_end() -> None:
    # A clock budget of an hour: only the step count can stop these, so they cannot hang.
    with pytest.raises(SearchBoundError), bounded_search(steps=10_000, seconds=3600):
        spin()
    # dateutil walks minute by minute to the year 9999 for this rule (Easter is a Sunday).
    rule = rrulestr("FREQ=MINUTELY;BYEASTER=0;BYDAY=WE", dtstart=START)
    with pytest.raises(SearchBoundError), bounded_search(steps=50_000, seconds=3600):
        rule.after(START)


def test_the_bound_restores_the_trace_function_it_found() -> None:
    before = sys.gettrace()
    with pytest.raises(SearchBoundError), bounded_search(steps=10):
        spin()
    assert sys.gettrace() is before
    assert recurrence_problem("FREQ=DAILY", START) is None
    assert sys.gettrace() is before


def test_a_rule_not_decided_within_the_bound_is_refused_saying_so() -> None:
    problem = recurrence_problem("FREQ=MINUTELY;BYEASTER=0;BYDAY=WE", START)
    assert problem is not None and "could not be decided within the validation bound" in problem


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=DAILY",
        "FREQ=MINUTELY",  # once a minute is the least gap allowed
        "FREQ=MINUTELY;BYSECOND=0,30;BYSETPOS=1",  # one of two seconds a minute
        "FREQ=DAILY;BYSECOND=0,30;COUNT=1",  # one fire only
        "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29",  # leap days: within five years
        "FREQ=YEARLY;BYEASTER=-2;BYHOUR=9;BYMINUTE=0",  # Good Friday
        "RRULE:FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=7;BYMINUTE=0;BYSECOND=0",
    ],
)
def test_rules_that_fire_at_most_once_a_minute_are_accepted(rule: str) -> None:
    assert recurrence_problem(rule, START) is None


@pytest.mark.parametrize(
    "rule",
    [
        EVERY_SECOND,
        "FREQ=DAILY;BYHOUR=3;BYMINUTE=0;BYSECOND=0,30",
        # Found by looking at fires: 00:59 and 01:00 of each hour, one second apart.
        "FREQ=HOURLY;BYMINUTE=0,1;BYSECOND=0,59;BYSETPOS=2,3",
    ],
)
def test_rules_that_can_fire_twice_within_a_minute_are_refused_naming_bysecond(
    rule: str,
) -> None:
    problem = recurrence_problem(rule, START)
    assert problem is not None and "BYSECOND=" in problem and "once every 60 seconds" in problem


def test_five_field_cron_cannot_fire_more_than_once_a_minute() -> None:
    assert cron_problem("* * * * *") is None  # every minute: the least gap, allowed


CRON_SPELLINGS = [
    "0 2 * * *",
    "0  2 * * *",
    " 0 2 * * * ",
    "00 02 * * *",
    "0 2 1-31 * *",
    "0 2 */1 * *",
    "0 2 * 1-12 *",
    "0 2 * JAN-DEC *",
    "0 2 * * 0-6",
    "0 2 * * 0-7",
    "0 2 * * SUN-SAT",
]
ICAL_SPELLINGS = [
    "FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0",
    "RRULE:FREQ=DAILY;BYHOUR=6;BYMINUTE=0;BYSECOND=0",
    "BYSECOND=0;BYMINUTE=0;BYHOUR=6;FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=1;BYHOUR=06;BYMINUTE=00;BYSECOND=00",
    "FREQ=DAILY;WKST=MO;BYHOUR=+6;BYMINUTE=0,0;BYSECOND=0",
]


def test_spellings_of_one_cron_expression_have_one_normal_form() -> None:
    assert all(cron_problem(spelling) is None for spelling in CRON_SPELLINGS)
    assert {cron_normal_form(spelling) for spelling in CRON_SPELLINGS} == {"0 2 * * *"}


def test_cron_normal_forms_keep_what_differs() -> None:
    # Day-of-month and day-of-week OR when both are restricted: 1-31 with Monday is every day.
    assert cron_normal_form("0 2 * * 1") != cron_normal_form("0 2 1-31 * 1")
    assert cron_normal_form("0 2 * * 1") == cron_normal_form("0 2 * * MON")
    assert cron_normal_form("0 2 * * 1#2") != cron_normal_form("0 2 * * 1")
    assert cron_normal_form("*/15 * * * *") == cron_normal_form("0,15,30,45 * * * *")


def test_spellings_of_one_recurrence_have_one_normal_form() -> None:
    assert all(recurrence_problem(spelling, START) is None for spelling in ICAL_SPELLINGS)
    forms = {recurrence_normal_form(spelling) for spelling in ICAL_SPELLINGS}
    assert forms == {"BYHOUR=6;BYMINUTE=0;BYSECOND=0;FREQ=DAILY"}
    assert recurrence_normal_form("FREQ=WEEKLY;BYDAY=TU,MO") == recurrence_normal_form(
        "FREQ=WEEKLY;BYDAY=MO,TU"
    )
    assert recurrence_normal_form("FREQ=DAILY;INTERVAL=2") != recurrence_normal_form("FREQ=DAILY")
    assert recurrence_normal_form("FREQ=MONTHLY;BYDAY=-1FR") != recurrence_normal_form(
        "FREQ=MONTHLY;BYDAY=1FR"
    )


def test_the_horizon_still_refuses_a_rule_that_ends_before_it_starts() -> None:
    problem = recurrence_problem("FREQ=DAILY;UNTIL=20200101T000000Z", START)
    assert problem is not None and "never fire" in problem
