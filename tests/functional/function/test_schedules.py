"""Schedules through the function and the CLI, against a local service on a controlled clock:
each trigger type, real fires making real runs, pause/resume/delete, idempotency, refusals
with nothing created, and the oci CLI reading a function-made schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import oci
import pytest
from click.testing import CliRunner

from notebook_launcher.cli import main
from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.function.conftest import FunctionUnderTest, notebook

OCI_CLI = Path(sys.executable).with_name("oci")


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """A private service whose schedules run on a controlled clock."""
    service = EmbeddedService(
        tmp_path_factory.mktemp("schedules-fn"), controlled_clock=True, concurrency=2
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def clocked_project(clocked: EmbeddedService) -> str:
    return clocked.create_project(name="schedules-fn")


@pytest.fixture
def sfn(
    clocked: EmbeddedService, clocked_project: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FunctionUnderTest]:
    """The function configured for the clocked service; the schedules a test made are
    deleted after it, so later clock moves do not fire them."""
    for key in ("OCI_RESOURCE_PRINCIPAL_VERSION", "NB_SESSION_OCID", "OCI_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    config = local_function_config(
        clocked, clocked_project, service_namespace(Path(clocked.data_dir))
    )
    yield FunctionUnderTest(clocked, config, monkeypatch)
    ds = clocked.datascience_client()
    for summary in oci.pagination.list_call_get_all_results(
        ds.list_schedules, compartment_id=clocked.tenancy_id
    ).data:
        if summary.lifecycle_state not in ("DELETED", "DELETING"):
            ds.delete_schedule(summary.id)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def now_of(service: EmbeddedService) -> datetime:
    return at(service.clock())


def request(**schedule: Any) -> dict[str, Any]:
    return {
        "action": "schedule",
        "noteBook": notebook("typed_params.ipynb"),
        "jobName": f"sched-{uuid.uuid4().hex[:8]}",
        "schedule": schedule,
    }


def runs_made_by(service: EmbeddedService, schedule_id: str) -> list[Any]:
    ds = service.datascience_client()
    return list(
        oci.pagination.list_call_get_all_results(
            ds.list_job_runs, compartment_id=service.tenancy_id, created_by=schedule_id
        ).data
    )


def test_each_trigger_type_is_created_with_its_next_fire_time(sfn: FunctionUnderTest) -> None:
    now = now_of(sfn.service)
    start = (now + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)

    cron = sfn.launch(request(cron="30 6 * * *", timeZone="UTC"))
    following = now.replace(hour=6, minute=30, second=0, microsecond=0)
    if following <= now:
        following += timedelta(days=1)
    assert cron["lifecycleState"] == "ACTIVE" and cron["scheduleReused"] is False
    assert cron["trigger"]["triggerType"] == "CRON"
    assert cron["trigger"]["cronExpression"] == "30 6 * * *"
    assert at(cron["timeNextScheduledRun"]) == following
    assert cron["jobId"].startswith("ocid1.datasciencejob.") and cron["lastRun"] is None

    interval = sfn.launch(request(interval={"every": "HOURLY", "count": 3}, start=iso(start)))
    assert interval["trigger"]["triggerType"] == "INTERVAL"
    assert (interval["trigger"]["frequency"], interval["trigger"]["interval"]) == ("HOURLY", 3)
    assert at(interval["timeNextScheduledRun"]) == start

    ical = sfn.launch(
        request(ical="RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=7;BYMINUTE=0;BYSECOND=0", start=iso(start))
    )
    assert ical["trigger"] == {**ical["trigger"], "triggerType": "ICAL"}
    assert ical["trigger"]["recurrence"] == "FREQ=WEEKLY;BYDAY=MO;BYHOUR=7;BYMINUTE=0;BYSECOND=0"
    monday = start + timedelta(days=(7 - start.weekday()) % 7, hours=7)
    assert at(ical["timeNextScheduledRun"]) == monday

    listed = sfn.launch({"action": "schedules"})["schedules"]
    mine = {s["id"]: s for s in listed}
    assert {cron["id"], interval["id"], ical["id"]} <= set(mine)
    assert mine[ical["id"]]["triggerType"] == "ICAL" and mine[ical["id"]]["madeByLauncher"]


def test_a_fire_makes_a_run_that_succeeds_with_the_parameters(sfn: FunctionUnderTest) -> None:
    params = {"count": 42, "text": "scheduled"}
    made = sfn.launch({**request(cron="*/10 * * * *"), "parameters": params})
    due = at(made["timeNextScheduledRun"])
    assert not runs_made_by(sfn.service, made["id"])

    sfn.service.set_clock(iso(due))
    shown = sfn.launch({"action": "schedule-show", "id": made["id"]})
    assert at(shown["timeLastScheduleRun"]) == due
    assert at(shown["timeNextScheduledRun"]) == due + timedelta(minutes=10)
    last = shown["lastRun"]
    assert last is not None and last["jobId"] == made["jobId"]
    assert last["id"] in shown["lastScheduleRunDetails"]
    assert [r.id for r in runs_made_by(sfn.service, made["id"])] == [last["id"]]

    run = sfn.wait(last["id"])
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    env = run.job_configuration_override_details.environment_variables
    assert json.loads(env["NOTEBOOK_PARAMETERS"]) == params
    # output per run: the job's OUTPUT_URI with the run's id
    job = sfn.service.datascience_client().get_job(made["jobId"]).data
    output = job.job_configuration_details.environment_variables["OUTPUT_URI"]
    result = json.loads(
        sfn.output_file(output.replace("${JOB_RUN_OCID}", run.id), "result.json").read_text()
    )
    assert result["count"] == ["int", 42] and result["text"] == ["str", "scheduled"]
    shown = sfn.launch({"action": "schedule-show", "id": made["id"]})
    assert shown["lastRun"]["lifecycleState"] == "SUCCEEDED"


def test_pause_stops_fires_resume_restarts_them_delete_removes(sfn: FunctionUnderTest) -> None:
    made = sfn.launch(request(interval={"every": "HOURLY", "count": 1}))
    schedule_id = made["id"]
    paused = sfn.launch({"action": "schedule-pause", "id": schedule_id})
    assert paused["lifecycleState"] == "INACTIVE" and paused["timeNextScheduledRun"] is None
    sfn.service.advance_clock(3 * 3600)
    assert runs_made_by(sfn.service, schedule_id) == []

    resumed = sfn.launch({"action": "schedule-resume", "id": schedule_id})
    assert resumed["lifecycleState"] == "ACTIVE"
    due = at(resumed["timeNextScheduledRun"])
    assert due > now_of(sfn.service)
    sfn.service.set_clock(iso(due))
    fired = runs_made_by(sfn.service, schedule_id)
    assert len(fired) == 1
    again = sfn.launch({"action": "schedule-resume", "id": schedule_id})  # already ACTIVE
    assert again["lifecycleState"] == "ACTIVE"

    deleted = sfn.launch({"action": "schedule-delete", "id": schedule_id})
    assert deleted["lifecycleState"] == "DELETED"
    sfn.service.advance_clock(3 * 3600)
    assert len(runs_made_by(sfn.service, schedule_id)) == 1
    listed = sfn.launch({"action": "schedules"})["schedules"]
    assert schedule_id not in {s["id"] for s in listed}
    sfn.wait(fired[0].id)


def test_a_second_identical_request_finds_the_first(sfn: FunctionUnderTest) -> None:
    body = {**request(cron="0 3 * * 1", name=f"weekly-{uuid.uuid4().hex[:6]}"), "parameters": {}}
    first = sfn.launch(body)
    sfn.service.reset_stats()
    second = sfn.launch(body)
    stats = sfn.service.stats()
    assert second["id"] == first["id"] and second["scheduleReused"] is True
    assert second["jobReused"] is True
    assert not stats.get("CreateSchedule") and not stats.get("CreateJob"), stats

    # Without a name, the default name is the job's and the trigger's: found all the same.
    unnamed = request(cron="15 4 * * *")
    assert sfn.launch(unnamed)["id"] == sfn.launch(unnamed)["id"]

    # The same name with another definition is refused, not made twice.
    # (a direct invoke answers errors 200 with the error body, as the platform delivers them)
    _, answer = sfn.invoke({**body, "parameters": {"count": 9}}, gateway=True)
    assert answer["error"]["code"] == "Conflict", answer
    assert first["id"] in answer["error"]["message"]
    named = [
        s for s in sfn.launch({"action": "schedules"})["schedules"]
        if s["displayName"] == body["schedule"]["name"]
    ]  # fmt: skip
    assert len(named) == 1

    # An idempotency key replays CreateSchedule's retry token: same schedule.
    keyed = {**request(cron="0 5 * * *"), "idempotencyKey": f"k-{uuid.uuid4().hex}"}
    assert sfn.launch(keyed)["id"] == sfn.launch(keyed)["id"]


def test_spellings_of_one_trigger_make_one_schedule(sfn: FunctionUnderTest) -> None:
    """Idempotency compares what a trigger means: each spelling finds the first schedule."""
    from tests.unit.test_schedule_rules import CRON_SPELLINGS, ICAL_SPELLINGS

    job_name = f"spelt-{uuid.uuid4().hex[:8]}"
    made: dict[str, set[str]] = {}
    for kind, spellings in (("cron", CRON_SPELLINGS), ("ical", ICAL_SPELLINGS)):
        sfn.service.reset_stats()
        made[kind] = {
            sfn.launch({**request(**{kind: spelling}), "jobName": job_name})["id"]
            for spelling in spellings
        }
        assert len(made[kind]) == 1, (kind, made[kind])
        assert sfn.service.stats().get("CreateSchedule") == 1, sfn.service.stats()
    # Named, too: another spelling under the same name is the same schedule, not a Conflict.
    name = f"named-{uuid.uuid4().hex[:6]}"
    named = {
        sfn.launch({**request(cron=spelling, name=name), "jobName": job_name})["id"]
        for spelling in CRON_SPELLINGS[:4]
    }
    assert len(named) == 1
    assert len(made["cron"] | made["ical"] | named) == 3
    # A different meaning is a different schedule.
    other = sfn.launch({**request(cron="0 3 * * *"), "jobName": job_name})["id"]
    assert other not in made["cron"]


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"cron": "0 2 30 2 *"}, "schedule.cron"),  # 30 February never comes
        ({"cron": "0 2 * *"}, "schedule.cron"),
        ({"cron": "61 * * * *"}, "schedule.cron"),
        ({"cron": "0 2 * * *", "timeZone": "Europe/Paris"}, "schedule.timeZone"),
        ({"interval": {"every": "WEEKLY", "count": 1}}, "schedule.interval.every"),
        ({"interval": {"every": "HOURLY", "count": 0}}, "schedule.interval.count"),
        ({"ical": "FREQ=SECONDLY"}, "schedule.ical"),
        ({"ical": "not a rule"}, "schedule.ical"),
        ({"ical": "FREQ=HOURLY;BYSETPOS=2"}, "schedule.ical"),  # never fires (ran > 60 s)
        ({"ical": "FREQ=MINUTELY;BYEASTER=0;BYMONTH=12"}, "schedule.ical"),  # never fires
        ({"ical": "FREQ=MINUTELY;BYEASTER=0;BYDAY=WE"}, "schedule.ical"),  # undecided: refused
        (
            {"ical": "FREQ=MINUTELY;BYSECOND=" + ",".join(map(str, range(60)))},
            "schedule.ical",
        ),  # every second: more often than once a minute
        ({"cron": "0 2 * * *", "ical": "FREQ=DAILY"}, "schedule"),
        ({}, "schedule"),
        (
            {"cron": "0 2 * * *", "start": "2031-01-02T00:00:00Z", "end": "2031-01-01T00:00:00Z"},
            "schedule.end",
        ),
        ({"cron": "0 2 * * *", "start": "tomorrow"}, "schedule.start"),
        ({"cron": "0 2 * * *", "every": "day"}, "schedule.every"),
    ],
)
def test_bad_triggers_are_refused_with_nothing_created(
    sfn: FunctionUnderTest, schedule: dict[str, Any], field: str
) -> None:
    sfn.service.reset_stats()
    status, answer = sfn.invoke(request(**schedule), gateway=True)
    assert status == 400, answer
    assert field in {d["field"] for d in answer["error"]["details"]}, answer
    assert sfn.service.stats() == {}


def test_dry_run_shows_the_create_schedule_details(sfn: FunctionUnderTest) -> None:
    sfn.service.reset_stats()
    body = {
        **request(cron="0 1 * * *", name="nightly"),
        "dryRun": True,
        "parameters": {"count": 2},
        "environmentVariables": {"TOKEN": "s3cr3t"},
    }
    answer = sfn.launch(body)
    details = answer["schedule"]
    assert details["displayName"] == "nightly"
    assert details["trigger"] == {"triggerType": "CRON", "cronExpression": "0 1 * * *"}
    action = details["action"]["actionDetails"]
    assert action["httpActionType"] == "CREATE_JOB_RUN"
    run = action["createJobRunDetails"]
    assert answer["jobDigest"] in run["jobId"]
    assert set(run["jobConfigurationOverrideDetails"]["environmentVariables"]) == {
        "NOTEBOOK_PARAMETERS",
        "TOKEN",
    }
    assert "s3cr3t" not in json.dumps(answer)
    assert answer["job"]["kind"] == "job"  # the launch dry run's job definition as well
    stats = sfn.service.stats()
    assert not any(op.startswith("Create") for op in stats), stats


def test_dry_run_of_an_existing_job_names_that_job_in_the_create_schedule_details(
    sfn: FunctionUnderTest,
) -> None:
    """With jobId, the dry run's CreateJobRunDetails carry the job's own id, project,
    compartment and name (the launch preview's typed target), and nothing is created."""
    made = sfn.launch(request(cron="15 3 * * *", name=f"made-{uuid.uuid4().hex[:6]}"))
    job = sfn.service.datascience_client().get_job(made["jobId"]).data
    sfn.service.reset_stats()
    body = {
        "action": "schedule",
        "jobId": job.id,
        "dryRun": True,
        "schedule": {"cron": "0 2 * * *"},
    }
    answer = sfn.launch(body)
    details = answer["schedule"]
    run = details["action"]["actionDetails"]["createJobRunDetails"]
    assert (run["jobId"], run["projectId"], run["compartmentId"]) == (
        job.id,
        job.project_id,
        job.compartment_id,
    )
    assert (details["projectId"], details["compartmentId"]) == (job.project_id, job.compartment_id)
    assert details["displayName"].startswith(f"{job.display_name}-schedule-")
    assert run["displayName"] == f"{details['displayName']}-run"
    assert answer["job"]["id"] == job.id
    stats = sfn.service.stats()
    assert not any(op.startswith("Create") for op in stats), stats


def test_the_oci_cli_reads_a_function_made_schedule(sfn: FunctionUnderTest) -> None:
    made = sfn.launch(request(cron="45 23 * * *", name=f"oci-cli-{uuid.uuid4().hex[:6]}"))
    common = ["--config-file", str(sfn.service.config_file), "--endpoint", sfn.service.endpoint]

    def oci_cli(*args: str) -> Any:
        done = subprocess.run(
            [str(OCI_CLI), *common, "data-science", "schedule", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    listed = oci_cli(
        "list", "--compartment-id", sfn.service.tenancy_id, "--display-name", made["displayName"]
    )
    assert [s["id"] for s in listed["data"]] == [made["id"]]
    got = oci_cli("get", "--schedule-id", made["id"])["data"]
    assert got["trigger"]["cron-expression"] == "45 23 * * *"
    run = got["action"]["action-details"]["create-job-run-details"]
    assert run["job-id"] == made["jobId"]
    assert got["time-next-scheduled-run"] is not None


def test_the_cli_creates_lists_shows_pauses_resumes_and_deletes(
    sfn: FunctionUnderTest, clocked: EmbeddedService
) -> None:
    runner = CliRunner()

    def cli(*args: str) -> dict[str, Any]:
        result = runner.invoke(main, [*args, "--data-dir", str(clocked.data_dir)])
        assert result.exit_code == 0, result.output
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    made = cli(
        "schedule", "create", "--notebook", notebook("typed_params.ipynb"),
        "--job-name", f"cli-{uuid.uuid4().hex[:6]}", "--every", "daily", "--count", "2",
        "--param", "count=5",
    )  # fmt: skip
    assert made["trigger"]["frequency"] == "DAILY" and made["trigger"]["interval"] == 2
    assert made["timeNextScheduledRun"] is not None
    assert made["id"] in {s["id"] for s in cli("schedules")["schedules"]}
    assert cli("schedule", "show", made["id"])["id"] == made["id"]
    assert cli("schedule", "pause", made["id"])["lifecycleState"] == "INACTIVE"
    assert cli("schedule", "resume", made["id"])["lifecycleState"] == "ACTIVE"
    assert cli("schedule", "delete", made["id"])["lifecycleState"] == "DELETED"

    refused = runner.invoke(
        main,
        ["schedule", "create", "--notebook", notebook("typed_params.ipynb"), "--cron", "bad",
         "--data-dir", str(clocked.data_dir)],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "schedule.cron" in refused.stdout
