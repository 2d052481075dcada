"""Data Science schedules on the local service, through the real oci SDK and oci CLI: the
API (routes, shapes, states, errors) and the scheduler firing real job runs on a clock the
tests move (`--controlled-clock`), never by waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import oci
import pytest
import requests

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import MODELS, create_script_job, wait_for_run

PARAMS_REPORTER = """\
import os
print("params=" + os.environ["NOTEBOOK_PARAMETERS"], flush=True)
"""
OCI_CLI = Path(sys.executable).with_name("oci")


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """A private service whose schedules run on a controlled clock."""
    service = EmbeddedService(
        tmp_path_factory.mktemp("scheduled-ds"), controlled_clock=True, concurrency=2
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def ds(clocked: EmbeddedService) -> Any:
    return clocked.datascience_client()


@pytest.fixture(scope="module")
def project(clocked: EmbeddedService) -> str:
    return clocked.create_project(name="schedules")


@pytest.fixture(scope="module")
def job(ds: Any, project: str, clocked: EmbeddedService) -> str:
    return create_script_job(ds, project, clocked.tenancy_id, PARAMS_REPORTER)


@pytest.fixture
def made(ds: Any) -> Iterator[list[str]]:
    """Schedules a test creates, deleted after it so later clock moves do not fire them."""
    ids: list[str] = []
    yield ids
    for schedule_id in ids:
        if ds.get_schedule(schedule_id).data.lifecycle_state != "DELETED":
            ds.delete_schedule(schedule_id)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def now_of(service: EmbeddedService) -> datetime:
    return at(service.clock())


def job_run_action(project: str, compartment: str, job: str, params: dict[str, Any]) -> Any:
    return MODELS.ScheduleHttpAction(
        action_details=MODELS.CreateJobRunScheduleActionDetails(
            create_job_run_details=MODELS.CreateJobRunDetails(
                project_id=project,
                compartment_id=compartment,
                job_id=job,
                display_name="scheduled",
                job_configuration_override_details=MODELS.DefaultJobConfigurationDetails(
                    environment_variables={"NOTEBOOK_PARAMETERS": json.dumps(params)}
                ),
            )
        )
    )


def create(
    ds: Any,
    service: EmbeddedService,
    project: str,
    job: str,
    trigger: Any,
    made: list[str],
    *,
    params: dict[str, Any] | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> Any:
    details = MODELS.CreateScheduleDetails(
        display_name=name or f"s-{uuid.uuid4().hex[:8]}",
        project_id=project,
        compartment_id=service.tenancy_id,
        trigger=trigger,
        action=job_run_action(project, service.tenancy_id, job, params or {"n": 1}),
    )
    response = ds.create_schedule(details, **kwargs)
    made.append(response.data.id)
    return response


def runs_of(ds: Any, service: EmbeddedService, schedule_id: str) -> list[Any]:
    """The job runs a schedule made (it creates them as their createdBy)."""
    return list(ds.list_job_runs(compartment_id=service.tenancy_id, created_by=schedule_id).data)


def service_error(call: Any, *args: Any, **kwargs: Any) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        call(*args, **kwargs)
    return caught.value


# ----------------------------------------------------------------------- triggers


def test_each_trigger_type_gets_its_next_fire_time(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    base = now_of(clocked)
    cron = create(
        ds, clocked, project, job, MODELS.ScheduleCronTrigger(cron_expression="0 * * * *"), made
    )
    interval = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleIntervalTrigger(
            frequency="HOURLY", interval=2, time_start=base + timedelta(minutes=10)
        ),
        made,
    )
    ical = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleICalTrigger(
            recurrence="FREQ=DAILY;INTERVAL=1", time_start=base + timedelta(hours=1)
        ),
        made,
    )
    # the Create answer: CREATING while its work request runs, then ACTIVE
    assert cron.data.lifecycle_state == "CREATING"
    assert cron.headers["opc-work-request-id"].startswith("ocid1.datascienceworkrequest.")
    next_hour = base.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    expected = {
        cron.data.id: next_hour,
        interval.data.id: base + timedelta(minutes=10),
        ical.data.id: (base + timedelta(hours=1)).replace(microsecond=0),
    }
    for schedule_id, moment in expected.items():
        schedule = ds.get_schedule(schedule_id).data
        assert schedule.lifecycle_state == "ACTIVE"
        assert abs(schedule.time_next_scheduled_run - moment) < timedelta(milliseconds=1)
        assert schedule.time_last_schedule_run is None
    assert ds.get_schedule(interval.data.id).data.trigger.frequency == "HOURLY"
    assert ds.get_schedule(ical.data.id).data.trigger.recurrence == "FREQ=DAILY;INTERVAL=1"


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"triggerType": "CRON", "cronExpression": "61 * * * *"}, "trigger.cronExpression"),
        ({"triggerType": "CRON", "cronExpression": "0 2 * *"}, "trigger.cronExpression"),
        ({"triggerType": "CRON", "cronExpression": "0 0 30 2 *"}, "trigger.cronExpression"),
        ({"triggerType": "INTERVAL", "frequency": "WEEKLY", "interval": 1}, "trigger.frequency"),
        ({"triggerType": "INTERVAL", "frequency": "HOURLY", "interval": 0}, "trigger.interval"),
        ({"triggerType": "ICAL", "recurrence": "EVERY DAY"}, "trigger.recurrence"),
        ({"triggerType": "WEEKLY"}, "trigger.triggerType"),
        (
            {
                "triggerType": "CRON",
                "cronExpression": "0 2 * * *",
                "timeStart": "2031-02-01T00:00:00Z",
                "timeEnd": "2031-01-01T00:00:00Z",
            },
            "trigger.timeEnd",
        ),
    ],
)
def test_bad_triggers_are_refused_naming_the_field_with_nothing_created(
    ds: Any, clocked: EmbeddedService, project: str, job: str, trigger: Any, field: str
) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    body = {
        "displayName": name,
        "projectId": project,
        "compartmentId": clocked.tenancy_id,
        "trigger": trigger,
        "action": ds.base_client.sanitize_for_serialization(
            job_run_action(project, clocked.tenancy_id, job, {})
        ),
    }
    # a signed raw call: the SDK would refuse some of these bodies before sending them
    answer = requests.post(
        f"{clocked.endpoint}/20190101/schedules", json=body, auth=clocked.signer, timeout=30
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "InvalidParameter"
    assert field in answer.json()["message"]
    listed = ds.list_schedules(compartment_id=clocked.tenancy_id, display_name=name).data
    assert listed == []


def test_an_action_naming_a_missing_job_is_refused(
    ds: Any, clocked: EmbeddedService, project: str, made: list[str]
) -> None:
    missing_job = "ocid1.datasciencejob.oc1.iad." + "a" * 60
    error = service_error(
        create,
        ds,
        clocked,
        project,
        missing_job,
        MODELS.ScheduleCronTrigger(cron_expression="0 2 * * *"),
        made,
    )
    assert error.status == 400
    assert error.code == "RelatedResourceNotAuthorizedOrNotFound"
    assert "createJobRunDetails" in error.message


# ----------------------------------------------------------------------- fires


def test_a_due_schedule_fires_once_and_its_run_succeeds_with_the_actions_environment(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    base = now_of(clocked)
    start = base + timedelta(minutes=1)
    schedule = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleIntervalTrigger(frequency="HOURLY", interval=1, time_start=start),
        made,
        params={"region": "emea", "day": 7},
    ).data
    clocked.set_clock(iso(start - timedelta(seconds=1)))
    assert runs_of(ds, clocked, schedule.id) == []

    clocked.set_clock(iso(start))
    runs = runs_of(ds, clocked, schedule.id)
    assert len(runs) == 1
    fired = ds.get_schedule(schedule.id).data
    assert abs(fired.time_last_schedule_run - start) < timedelta(milliseconds=1)
    assert runs[0].id in fired.last_schedule_run_details
    assert abs(fired.time_next_scheduled_run - (start + timedelta(hours=1))) < timedelta(
        milliseconds=1
    )
    run = wait_for_run(ds, runs[0].id)
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    assert run.job_id == job and run.display_name == "scheduled"
    assert 'params={"region": "emea", "day": 7}' in clocked.logs(run.id)

    # the same moment again, and moments before the next fire time: no second run
    clocked.set_clock(iso(start + timedelta(minutes=59)))
    assert len(runs_of(ds, clocked, schedule.id)) == 1

    # three fire times missed at once (a jump, as after downtime): one fire for the window
    clocked.set_clock(iso(start + timedelta(hours=3, minutes=30)))
    assert len(runs_of(ds, clocked, schedule.id)) == 2
    after = ds.get_schedule(schedule.id).data
    assert abs(after.time_next_scheduled_run - (start + timedelta(hours=4))) < timedelta(
        milliseconds=1
    )


def test_cron_and_ical_schedules_fire_on_their_calendar(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    cron = create(
        ds, clocked, project, job, MODELS.ScheduleCronTrigger(cron_expression="30 * * * *"), made
    ).data
    cron_next = ds.get_schedule(cron.id).data.time_next_scheduled_run
    assert cron_next.minute == 30 and cron_next.second == 0
    ical_start = cron_next + timedelta(minutes=5)
    ical = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleICalTrigger(
            recurrence="RRULE:FREQ=HOURLY;INTERVAL=2", time_start=ical_start
        ),
        made,
    ).data
    clocked.set_clock(iso(cron_next))
    assert (len(runs_of(ds, clocked, cron.id)), len(runs_of(ds, clocked, ical.id))) == (1, 0)
    clocked.set_clock(iso(ical_start))
    assert (len(runs_of(ds, clocked, cron.id)), len(runs_of(ds, clocked, ical.id))) == (1, 1)
    ical_next = ds.get_schedule(ical.id).data.time_next_scheduled_run
    assert abs(ical_next - (ical_start + timedelta(hours=2))) < timedelta(seconds=1)
    for schedule_id in (cron.id, ical.id):
        for run in runs_of(ds, clocked, schedule_id):
            assert wait_for_run(ds, run.id).lifecycle_state == "SUCCEEDED"


def test_deactivate_stops_fires_and_activate_restarts_them(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    base = now_of(clocked)
    schedule = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleIntervalTrigger(
            frequency="HOURLY", interval=1, time_start=base + timedelta(minutes=1)
        ),
        made,
    ).data
    answer = ds.deactivate_schedule(schedule.id)
    assert answer.status == 202 and answer.headers["opc-work-request-id"]
    paused = ds.get_schedule(schedule.id).data
    assert paused.lifecycle_state == "INACTIVE"
    assert paused.time_next_scheduled_run is None
    assert service_error(ds.deactivate_schedule, schedule.id).code == "IncorrectState"

    clocked.set_clock(iso(base + timedelta(hours=3)))
    assert runs_of(ds, clocked, schedule.id) == []

    ds.activate_schedule(schedule.id)
    resumed = ds.get_schedule(schedule.id).data
    assert resumed.lifecycle_state == "ACTIVE"
    # no catch-up for the paused hours: the next fire time is after the activation
    expected = base + timedelta(hours=3, minutes=1)
    assert abs(resumed.time_next_scheduled_run - expected) < timedelta(milliseconds=1)
    assert runs_of(ds, clocked, schedule.id) == []
    assert service_error(ds.activate_schedule, schedule.id).code == "IncorrectState"

    clocked.set_clock(iso(expected))
    assert len(runs_of(ds, clocked, schedule.id)) == 1


def test_activate_with_a_retry_token_answers_the_same_work_request(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    schedule = create(
        ds, clocked, project, job, MODELS.ScheduleCronTrigger(cron_expression="0 3 * * *"), made
    ).data
    ds.deactivate_schedule(schedule.id)
    token = uuid.uuid4().hex
    first = ds.activate_schedule(schedule.id, opc_retry_token=token)
    again = ds.activate_schedule(schedule.id, opc_retry_token=token)
    assert first.headers["opc-work-request-id"] == again.headers["opc-work-request-id"]
    assert ds.get_schedule(schedule.id).data.lifecycle_state == "ACTIVE"


def test_delete_removes_the_schedule_and_its_fires(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    base = now_of(clocked)
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    schedule = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleIntervalTrigger(
            frequency="DAILY", interval=1, time_start=base + timedelta(minutes=1)
        ),
        made,
        name=name,
    ).data
    answer = ds.delete_schedule(schedule.id)
    assert answer.status == 202 and answer.headers["opc-work-request-id"]
    assert ds.get_schedule(schedule.id).data.lifecycle_state == "DELETED"
    assert ds.list_schedules(compartment_id=clocked.tenancy_id, display_name=name).data == []
    deleted = ds.list_schedules(
        compartment_id=clocked.tenancy_id, display_name=name, lifecycle_state="DELETED"
    ).data
    assert [s.id for s in deleted] == [schedule.id]
    clocked.set_clock(iso(base + timedelta(days=2)))
    assert runs_of(ds, clocked, schedule.id) == []
    assert service_error(ds.delete_schedule, schedule.id).code == "IncorrectState"


# ----------------------------------------------------------------------- the API


def test_update_changes_the_trigger_and_honours_if_match(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    base = now_of(clocked)
    response = create(
        ds, clocked, project, job, MODELS.ScheduleCronTrigger(cron_expression="0 4 * * *"), made
    )
    schedule_id = response.data.id
    stale = ds.get_schedule(schedule_id).headers["etag"]
    start = base + timedelta(minutes=20)
    update = MODELS.UpdateScheduleDetails(
        display_name="renamed",
        trigger=MODELS.ScheduleIntervalTrigger(frequency="HOURLY", interval=3, time_start=start),
    )
    answer = ds.update_schedule(schedule_id, update, if_match=stale)
    assert answer.status == 202 and answer.headers["opc-work-request-id"]
    updated = ds.get_schedule(schedule_id).data
    assert updated.display_name == "renamed"
    assert updated.trigger.trigger_type == "INTERVAL"
    assert abs(updated.time_next_scheduled_run - start) < timedelta(milliseconds=1)
    error = service_error(
        ds.update_schedule,
        schedule_id,
        MODELS.UpdateScheduleDetails(display_name="x"),
        if_match=stale,
    )
    assert error.status == 412 and error.code == "NoEtagMatch"
    bad = MODELS.UpdateScheduleDetails(trigger=MODELS.ScheduleCronTrigger(cron_expression="x"))
    error = service_error(ds.update_schedule, schedule_id, bad)
    assert error.status == 400 and "trigger.cronExpression" in error.message
    assert ds.get_schedule(schedule_id).data.trigger.trigger_type == "INTERVAL"


def test_create_with_a_retry_token_replays_the_first_schedule(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    name = f"once-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    trigger = MODELS.ScheduleCronTrigger(cron_expression="15 1 * * *")
    first = create(ds, clocked, project, job, trigger, made, name=name, opc_retry_token=token)
    again = create(ds, clocked, project, job, trigger, made, name=name, opc_retry_token=token)
    assert first.data.id == again.data.id
    listed = ds.list_schedules(compartment_id=clocked.tenancy_id, display_name=name).data
    assert [s.id for s in listed] == [first.data.id]


def test_list_filters_sorts_and_pages_like_oci(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    other_project = clocked.create_project(name="other")
    trigger = MODELS.ScheduleCronTrigger(cron_expression="0 5 * * *")
    mine = [create(ds, clocked, project, job, trigger, made).data.id for _ in range(3)]
    ds.deactivate_schedule(mine[0])
    everything = oci.pagination.list_call_get_all_results(
        ds.list_schedules, compartment_id=clocked.tenancy_id, project_id=project, limit=2
    ).data
    listed = [s.id for s in everything]
    assert set(mine) <= set(listed) and len(listed) == len(set(listed))
    assert all(s.project_id == project for s in everything)
    first_page = ds.list_schedules(compartment_id=clocked.tenancy_id, limit=2)
    assert len(first_page.data) == 2 and first_page.headers.get("opc-next-page")
    inactive = ds.list_schedules(compartment_id=clocked.tenancy_id, lifecycle_state="INACTIVE").data
    assert mine[0] in [s.id for s in inactive] and mine[1] not in [s.id for s in inactive]
    assert ds.list_schedules(compartment_id=clocked.tenancy_id, project_id=other_project).data == []
    summary = ds.list_schedules(compartment_id=clocked.tenancy_id, id=mine[1]).data[0]
    assert summary.trigger.cron_expression == "0 5 * * *"
    answer = requests.get(f"{clocked.endpoint}/20190101/schedules", auth=clocked.signer, timeout=30)
    assert answer.status_code == 400 and answer.json()["code"] == "MissingParameter"


def test_missing_schedule_is_not_authorized_or_not_found(ds: Any) -> None:
    missing = "ocid1.datascienceschedule.oc1.iad." + "b" * 60
    assert service_error(ds.get_schedule, missing).code == "NotAuthorizedOrNotFound"
    assert service_error(ds.activate_schedule, missing).status == 404


def test_the_oci_cli_lists_and_gets_schedules(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    schedule = create(
        ds,
        clocked,
        project,
        job,
        MODELS.ScheduleCronTrigger(cron_expression="0 6 * * *"),
        made,
        name=name,
    ).data
    common = ["--config-file", str(clocked.config_file), "--endpoint", clocked.endpoint]

    def oci_cli(*args: str) -> Any:
        done = subprocess.run(
            [str(OCI_CLI), *common, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    listed = oci_cli(
        "data-science",
        "schedule",
        "list",
        "--compartment-id",
        clocked.tenancy_id,
        "--display-name",
        name,
    )
    assert [item["id"] for item in listed["data"]] == [schedule.id]
    shown = oci_cli("data-science", "schedule", "get", "--schedule-id", schedule.id)
    assert shown["data"]["lifecycle-state"] == "ACTIVE"
    assert shown["data"]["trigger"]["cron-expression"] == "0 6 * * *"
    assert shown["data"]["time-next-scheduled-run"]


# ----------------------------------------------------------------------- durability


def test_kill_9_between_two_fires_neither_loses_the_schedule_nor_fires_twice(
    tmp_path: Path,
) -> None:
    service = EmbeddedService(tmp_path / "ds", controlled_clock=True, concurrency=1).start()
    try:
        client = service.datascience_client()
        project_id = service.create_project()
        job_id = create_script_job(client, project_id, service.tenancy_id, PARAMS_REPORTER)
        start = now_of(service) + timedelta(minutes=1)
        schedule = create(
            client,
            service,
            project_id,
            job_id,
            MODELS.ScheduleIntervalTrigger(frequency="HOURLY", interval=1, time_start=start),
            [],
        ).data
        service.set_clock(iso(start))
        first = runs_of(client, service, schedule.id)
        assert len(first) == 1
        assert wait_for_run(client, first[0].id).lifecycle_state == "SUCCEEDED"

        service.kill()
        service.start()
        client = service.datascience_client()
        kept = client.get_schedule(schedule.id).data
        assert kept.lifecycle_state == "ACTIVE"
        assert abs(kept.time_next_scheduled_run - (start + timedelta(hours=1))) < timedelta(
            milliseconds=1
        )
        assert abs(now_of(service) - start) < timedelta(milliseconds=1)  # time did not go back
        assert len(runs_of(client, service, schedule.id)) == 1  # the restart fired nothing

        service.set_clock(iso(start + timedelta(hours=1)))
        runs = runs_of(client, service, schedule.id)
        assert len(runs) == 2
        assert wait_for_run(client, runs[0].id).lifecycle_state == "SUCCEEDED"
        service.set_clock(iso(start + timedelta(hours=1, minutes=30)))
        assert len(runs_of(client, service, schedule.id)) == 2
    finally:
        service.stop()


def test_fires_missed_while_the_service_was_down_are_made_once_at_start(
    tmp_path: Path,
) -> None:
    service = EmbeddedService(tmp_path / "ds", controlled_clock=True, concurrency=1).start()
    try:
        client = service.datascience_client()
        project_id = service.create_project()
        job_id = create_script_job(client, project_id, service.tenancy_id, PARAMS_REPORTER)
        start = now_of(service) + timedelta(minutes=1)
        schedule = create(
            client,
            service,
            project_id,
            job_id,
            MODELS.ScheduleIntervalTrigger(frequency="HOURLY", interval=1, time_start=start),
            [],
        ).data
        service.kill()
        # five hours pass while the service is down
        clock_file = service.layout.clock_file
        clock_file.write_text(json.dumps({"time": (start + timedelta(hours=5)).isoformat()}))
        service.start()
        client = service.datascience_client()
        runs = wait_for_runs(client, service, schedule.id, 1)
        assert len(runs) == 1
        after = client.get_schedule(schedule.id).data
        assert abs(after.time_next_scheduled_run - (start + timedelta(hours=6))) < timedelta(
            milliseconds=1
        )
        assert wait_for_run(client, runs[0].id).lifecycle_state == "SUCCEEDED"
        assert len(runs_of(client, service, schedule.id)) == 1
    finally:
        service.stop()


def wait_for_runs(client: Any, service: EmbeddedService, schedule_id: str, count: int) -> Any:
    """Poll until the schedule has made `count` runs (the start's fire is in the background)."""
    deadline = time.monotonic() + 30
    while True:
        runs = runs_of(client, service, schedule_id)
        if len(runs) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.1)


def test_the_sdk_waiters_complete_on_every_schedule_work_request(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    """Each asynchronous schedule operation answers a work request GetWorkRequest serves, so
    the oci SDK's `*_and_wait_for_state` composites (and the CLI's --wait-for-state) finish."""
    waiters = oci.data_science.DataScienceClientCompositeOperations(ds)
    trigger = MODELS.ScheduleIntervalTrigger(
        frequency="HOURLY", interval=2, time_start=now_of(clocked) + timedelta(minutes=5)
    )
    details = MODELS.CreateScheduleDetails(
        display_name=f"waited-{uuid.uuid4().hex[:8]}",
        project_id=project,
        compartment_id=clocked.tenancy_id,
        trigger=trigger,
        action=job_run_action(project, clocked.tenancy_id, job, {"n": 1}),
    )
    created = waiters.create_schedule_and_wait_for_state(details, wait_for_states=["SUCCEEDED"])
    assert created.data.status == "SUCCEEDED"
    [resource] = created.data.resources
    assert (resource.entity_type, resource.action_type) == ("schedule", "CREATED")
    schedule_id = resource.identifier
    made.append(schedule_id)
    assert ds.get_schedule(schedule_id).data.lifecycle_state == "ACTIVE"
    for wait, state in (
        (waiters.deactivate_schedule_and_wait_for_state, "INACTIVE"),
        (waiters.activate_schedule_and_wait_for_state, "ACTIVE"),
        (waiters.delete_schedule_and_wait_for_state, "DELETED"),
    ):
        done = wait(schedule_id, wait_for_states=["SUCCEEDED"])
        assert done.data.status == "SUCCEEDED"
        assert done.data.resources[0].identifier == schedule_id
        assert ds.get_schedule(schedule_id).data.lifecycle_state == state
    requests_made = ds.list_work_requests(compartment_id=clocked.tenancy_id).data
    operations = {
        r.operation_type for r in requests_made if r.resources[0].identifier == schedule_id
    }
    assert operations == {
        "SCHEDULE_CREATE",
        "SCHEDULE_DEACTIVATE",
        "SCHEDULE_ACTIVATE",
        "SCHEDULE_DELETE",
    }


def test_a_pipeline_run_schedule_fires_a_real_pipeline_run(
    ds: Any, clocked: EmbeddedService, project: str, job: str, made: list[str]
) -> None:
    from tests.functional.localservice.test_pipelines import (
        create_pipeline,
        ml_job_step,
        wait_for_pipeline_run,
    )

    pipeline = create_pipeline(ds, project, clocked.tenancy_id, [ml_job_step("only", job)])
    start = now_of(clocked) + timedelta(minutes=5)
    details = MODELS.CreateScheduleDetails(
        display_name=f"p-{uuid.uuid4().hex[:8]}",
        project_id=project,
        compartment_id=clocked.tenancy_id,
        trigger=MODELS.ScheduleIntervalTrigger(frequency="HOURLY", interval=1, time_start=start),
        action=MODELS.ScheduleHttpAction(
            action_details=MODELS.CreatePipelineRunScheduleActionDetails(
                create_pipeline_run_details=MODELS.CreatePipelineRunDetails(
                    compartment_id=clocked.tenancy_id,
                    project_id=project,
                    pipeline_id=pipeline.id,
                    display_name="scheduled-pipeline-run",
                    step_override_details=[
                        MODELS.PipelineStepOverrideDetails(
                            step_name="only",
                            step_configuration_details=MODELS.PipelineStepConfigurationDetails(
                                environment_variables={"NOTEBOOK_PARAMETERS": '{"n": 7}'}
                            ),
                        )
                    ],
                )
            )
        ),
    )
    schedule = ds.create_schedule(details).data
    made.append(schedule.id)
    stored = ds.get_schedule(schedule.id).data
    assert stored.action.action_details.http_action_type == "CREATE_PIPELINE_RUN"
    assert stored.time_next_scheduled_run == start

    def pipeline_runs() -> list[Any]:
        return list(
            ds.list_pipeline_runs(compartment_id=clocked.tenancy_id, pipeline_id=pipeline.id).data
        )

    clocked.set_clock(iso(start - timedelta(seconds=1)))
    assert pipeline_runs() == []
    clocked.set_clock(iso(start))
    runs = pipeline_runs()
    assert len(runs) == 1 and runs[0].created_by == schedule.id
    fired = ds.get_schedule(schedule.id).data
    assert runs[0].id in fired.last_schedule_run_details
    finished = wait_for_pipeline_run(ds, runs[0].id)
    assert finished.lifecycle_state == "SUCCEEDED", finished.lifecycle_details
    step_run = finished.step_runs[0]
    assert 'params={"n": 7}' in clocked.logs(step_run.job_run_id)

    # a pipeline that does not exist: refused when stored, naming the field
    details.action.action_details.create_pipeline_run_details.pipeline_id = (
        "ocid1.datasciencepipeline.oc1.iad.missing"
    )
    error = service_error(ds.create_schedule, details)
    assert error.status in (400, 404)
    assert "createPipelineRunDetails" in error.message
