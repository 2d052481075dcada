"""`schedules` and `schedule create/show/pause/resume/delete`: the function's schedule actions.

Each command sends the function one request (`action` schedule, schedules, schedule-show,
...), by default to its core in this process against the local service, with `--function-id`
to the deployed function, exactly as `invoke` does; stdout carries the function's answer.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TextIO

import click

from notebook_launcher.console.invoke import (
    FUNCTION_ID_HELP,
    call_function,
    fail_on_error,
    prepare_call,
)
from notebook_launcher.console.output import configure_logging, emit_json, note
from notebook_launcher.console.request_body import RequestFlags, load_request, request_options
from notebook_launcher.console.target import TargetOptions, target_options

SCHEDULE_ID = click.argument("schedule_id", metavar="SCHEDULE_ID")


def _send(
    target: TargetOptions,
    base: dict[str, Any],
    function_id: str | None,
    flags: RequestFlags | None = None,
) -> dict[str, Any]:
    caller, body = prepare_call(target, base, flags or RequestFlags(), function_id)
    answer = call_function(caller, body)
    emit_json(answer.body)
    fail_on_error(answer)
    return answer.body


@click.command()
@click.option("--project-id", metavar="OCID", help="The project (default: the function's).")
@click.option("--compartment-id", metavar="OCID", help="The compartment (default: the function's).")
@click.option("--function-id", metavar="OCID", help=FUNCTION_ID_HELP)
@target_options
def schedules(
    project_id: str | None,
    compartment_id: str | None,
    function_id: str | None,
    target: TargetOptions,
) -> None:
    """List the project's schedules (not deleted ones), as the function answers them."""
    configure_logging()
    base: dict[str, Any] = {"action": "schedules"}
    if project_id:
        base["projectId"] = project_id
    if compartment_id:
        base["compartmentId"] = compartment_id
    _send(target, base, function_id)


@click.group()
def schedule() -> None:
    """Create and manage schedules: a launch request that runs on a calendar."""


@schedule.command("create")
@request_options
@click.option("--cron", metavar="EXPR", help="A five-field UNIX cron expression, in UTC.")
@click.option(
    "--every",
    type=click.Choice(["HOURLY", "DAILY"], case_sensitive=False),
    help="An interval trigger: every --count hours or days.",
)
@click.option("--count", type=int, help="With --every: how many hours or days (default 1).")
@click.option("--ical", metavar="RRULE", help="An RFC 5545 recurrence, e.g. FREQ=DAILY;BYHOUR=6.")
@click.option("--start", metavar="TIME", help="RFC 3339: the first fire not before this.")
@click.option("--end", metavar="TIME", help="RFC 3339: no fire after this.")
@click.option("--name", help="The schedule's name (default: the job's name and the trigger).")
@click.option("--dry-run", is_flag=True, help="Answer the CreateScheduleDetails; create nothing.")
@click.option("--function-id", metavar="OCID", help=FUNCTION_ID_HELP)
@target_options
def create(
    request_file: TextIO | None,
    flags: RequestFlags,
    cron: str | None,
    every: str | None,
    count: int | None,
    ical: str | None,
    start: str | None,
    end: str | None,
    name: str | None,
    dry_run: bool,
    function_id: str | None,
    target: TargetOptions,
) -> None:
    """Schedule REQUEST.json (a launch request) and/or flags: exactly one of --cron, --every,
    --ical (or a `schedule` in the file). An identical request finds the schedule it made."""
    configure_logging()
    base = load_request(request_file)
    spec: dict[str, Any] = dict(base.get("schedule") or {})
    interval: dict[str, Any] = {}
    if every:
        interval["every"] = every.upper()
    if count is not None:
        interval["count"] = count
    for key, value in (
        ("cron", cron),
        ("interval", interval or None),
        ("ical", ical),
        ("start", start),
        ("end", end),
        ("name", name),
    ):
        if value is not None:
            spec[key] = value
    base.update(action="schedule", schedule=spec)
    flags = dataclasses.replace(flags, dry_run=dry_run or None)
    answer = _send(target, base, function_id, flags)
    if not dry_run and "id" in answer:
        note(f"next fire {answer.get('timeNextScheduledRun')}; see it with: "
             f"python -m notebook_launcher schedule show {answer['id']}")  # fmt: skip


def _manage(action: str, help_text: str) -> click.Command:
    @click.command(action.removeprefix("schedule-"), help=help_text)
    @SCHEDULE_ID
    @click.option("--function-id", metavar="OCID", help=FUNCTION_ID_HELP)
    @target_options
    def command(schedule_id: str, function_id: str | None, target: TargetOptions) -> None:
        configure_logging()
        _send(target, {"action": action, "id": schedule_id}, function_id)

    return command


for _action, _help in (
    ("schedule-show", "Show a schedule: its trigger, next and last fire, and the last run."),
    ("schedule-pause", "Pause a schedule (Deactivate): it fires no more until resumed."),
    ("schedule-resume", "Resume a paused schedule (Activate): its next fire is after now."),
    ("schedule-delete", "Delete a schedule: it fires no more; its runs are kept."),
):
    schedule.add_command(_manage(_action, _help))
