"""The pipeline runs and schedules pages in a real headless Chromium: a pipeline run's steps
and their states changing without a reload, a schedule's next and last fire, its redacted
definition and the run it made; both refused without the token (plain HTTP)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import expect

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import MODELS, create_script_job

# A step's script: it waits for the file MARKER names (when set), then ends.
STEP_SCRIPT = """\
import os, pathlib, time
marker = os.environ.get("MARKER")
while marker and not pathlib.Path(marker).exists():
    time.sleep(0.05)
print("step", os.environ.get("PIPELINE_STEP_NAME"), flush=True)
"""
PIPELINE_FINISHED = {"SUCCEEDED", "FAILED", "CANCELED"}


def step(name: str, job_id: str, depends_on: list[str], marker: Path | None = None) -> Any:
    env = {"MARKER": str(marker)} if marker else None
    return MODELS.PipelineMLJobStepDetails(
        step_name=name,
        job_id=job_id,
        depends_on=depends_on,
        step_configuration_details=(
            MODELS.PipelineStepConfigurationDetails(environment_variables=env) if env else None
        ),
    )


def step_state(page: Any, name: str) -> str:
    return str(page.locator(f'[data-step="{name}"] [data-field="state"]').inner_text())


def expect_step(page: Any, name: str, state: str, timeout: float = 30_000) -> None:
    """The step's badge shows `state` (polled: the page's CSP forbids evaluated strings)."""
    badge = page.locator(f'[data-step="{name}"] [data-field="state"]')
    expect(badge).to_have_text(state, timeout=timeout)


def wait_for_step(client: Any, run_id: str, name: str, states: set[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        run = client.get_pipeline_run(run_id).data
        state = {s.step_name: s.lifecycle_state for s in run.step_runs}[name]
        if state in states:
            return
        assert time.monotonic() < deadline, f"step {name} is {state}"
        time.sleep(0.1)


def test_a_pipeline_run_page_shows_every_step_and_their_states_change_without_a_reload(
    local_service: EmbeddedService, page: Any, project_id: str, tmp_path: Path
) -> None:
    client = local_service.datascience_client()
    compartment = local_service.tenancy_id
    job_id = create_script_job(client, project_id, compartment, STEP_SCRIPT, name="ui-step")
    first, second = tmp_path / "first", tmp_path / "second"
    pipeline = client.create_pipeline(
        MODELS.CreatePipelineDetails(
            project_id=project_id,
            compartment_id=compartment,
            display_name=f"ui-pipeline-{uuid.uuid4().hex[:6]}",
            step_details=[
                step("extract", job_id, [], first),
                step("transform", job_id, ["extract"], second),
                step("report", job_id, ["extract"]),
                step("publish", job_id, ["transform", "report"]),
            ],
        )
    ).data
    run = client.create_pipeline_run(
        MODELS.CreatePipelineRunDetails(
            compartment_id=compartment, pipeline_id=pipeline.id, display_name="ui-dag"
        )
    ).data
    try:
        page.goto(local_service.console_page("pipeline-runs"))
        assert page.locator("h1").inner_text() == "Pipeline runs"
        row = page.locator(f'tr[data-run-id="{run.id}"]')
        assert "ui-dag" in row.inner_text() and pipeline.display_name in row.inner_text()

        page.goto(local_service.console_page(f"pipeline-runs/{run.id}"))
        page.evaluate("window.__sameDocument = 'still here'")  # a reload would drop it
        names = page.locator("[data-step]").evaluate_all("cards => cards.map(c => c.dataset.step)")
        assert names == ["extract", "transform", "report", "publish"]  # layer by layer
        layers = page.locator("#dag > .layer").evaluate_all(
            "ls => ls.map(l => [...l.querySelectorAll('[data-step]')].map(c => c.dataset.step))"
        )
        assert layers == [["extract"], ["transform", "report"], ["publish"]]
        assert "after transform, report" in page.locator('[data-step="publish"]').inner_text()
        assert step_state(page, "publish") == "WAITING"

        wait_for_step(client, run.id, "extract", {"IN_PROGRESS"})
        expect_step(page, "extract", "IN_PROGRESS")
        first.touch()
        # transform waits for its marker, report runs and ends: the run is still going
        wait_for_step(client, run.id, "report", {"SUCCEEDED"})
        expect_step(page, "report", "SUCCEEDED")
        assert step_state(page, "extract") == "SUCCEEDED"
        assert step_state(page, "publish") == "WAITING"
        assert page.evaluate("window.__sameDocument") == "still here"
        link = page.locator('[data-step="extract"] [data-field="jobRun"] a')
        job_run_id = {
            s.step_name: s.job_run_id for s in client.get_pipeline_run(run.id).data.step_runs
        }
        assert link.get_attribute("href") == f"/ui/runs/{job_run_id['extract']}"

        second.touch()
        expect(page.locator("#run-state")).to_have_text("SUCCEEDED", timeout=60_000)
        page.wait_for_load_state("load")
        for name in ("extract", "transform", "report", "publish"):
            expect_step(page, name, "SUCCEEDED")
        page.locator('[data-step="publish"] [data-field="jobRun"] a').click()
        page.wait_for_url("**/ui/runs/**")
        assert page.locator("#run-state").inner_text() in {"SUCCEEDED", "IN_PROGRESS"}
    finally:
        first.touch()
        second.touch()
        deadline = time.monotonic() + 60
        while client.get_pipeline_run(run.id).data.lifecycle_state not in PIPELINE_FINISHED:
            assert time.monotonic() < deadline
            time.sleep(0.2)


# --------------------------------------------------------------------------- schedules


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """A private service whose schedules run on a clock the test moves."""
    service = EmbeddedService(tmp_path_factory.mktemp("ui-clocked"), controlled_clock=True)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_schedules_pages_show_next_and_last_fire_the_redacted_definition_and_its_run(
    clocked: EmbeddedService, page: Any
) -> None:
    ds = clocked.datascience_client()
    project = clocked.create_project(name="ui-schedules")
    job_id = create_script_job(ds, project, clocked.tenancy_id, "print('scheduled')")
    start = at(clocked.clock()) + timedelta(minutes=10)
    schedule = ds.create_schedule(
        MODELS.CreateScheduleDetails(
            display_name="nightly-load",
            project_id=project,
            compartment_id=clocked.tenancy_id,
            trigger=MODELS.ScheduleIntervalTrigger(
                frequency="HOURLY", interval=2, time_start=start
            ),
            action=MODELS.ScheduleHttpAction(
                action_details=MODELS.CreateJobRunScheduleActionDetails(
                    create_job_run_details=MODELS.CreateJobRunDetails(
                        project_id=project,
                        compartment_id=clocked.tenancy_id,
                        job_id=job_id,
                        display_name="from-the-schedule",
                        job_configuration_override_details=MODELS.DefaultJobConfigurationDetails(
                            environment_variables={
                                "REGION": "apac",
                                "DB_PASSWORD": "hunter2-not-shown",
                                "NOTEBOOK_PARAMETERS": json.dumps(
                                    {"source": "s3", "api_token": "tok-not-shown"}
                                ),
                            }
                        ),
                    )
                )
            ),
        )
    ).data
    next_fire = ds.get_schedule(schedule.id).data.time_next_scheduled_run
    shown_next = next_fire.strftime("%Y-%m-%d %H:%M:%S UTC")

    page.goto(clocked.console_page("schedules"))
    assert page.locator("h1").inner_text() == "Schedules"
    row = page.locator(f'tr[data-schedule-id="{schedule.id}"]')
    assert "nightly-load" in row.inner_text()
    assert "every 2 hourly" in row.inner_text()
    assert row.locator('[data-field="next"]').inner_text() == shown_next
    assert row.locator('[data-field="last"]').inner_text() == "-"

    clocked.set_clock(next_fire.isoformat())  # returns once the due schedule fired
    runs = list(ds.list_job_runs(compartment_id=clocked.tenancy_id, created_by=schedule.id).data)
    assert len(runs) == 1
    page.reload()
    row = page.locator(f'tr[data-schedule-id="{schedule.id}"]')
    assert row.locator('[data-field="last"]').inner_text() == shown_next
    later = (next_fire + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert row.locator('[data-field="next"]').inner_text() == later
    last_run = row.locator('[data-field="lastRun"] a')
    assert last_run.get_attribute("href") == f"/ui/runs/{runs[0].id}"

    row.locator("a", has_text="nightly-load").click()
    page.wait_for_url(f"**/ui/schedules/{schedule.id}")
    assert page.locator("#schedule-next").inner_text() == later
    assert page.locator("#schedule-last").inner_text() == shown_next
    definition = page.locator("#schedule-definition").inner_text()
    assert '"REGION": "apac"' in definition
    assert '"DB_PASSWORD": "<redacted>"' in definition
    assert "hunter2" not in page.content() and "tok-not-shown" not in page.content()
    assert "api_token" in definition and '\\"source\\": \\"s3\\"' in definition
    made = page.locator(f'#schedule-runs tr[data-run-id="{runs[0].id}"]')
    assert "from-the-schedule" in made.inner_text()
    ds.delete_schedule(schedule.id)


def test_the_new_pages_refuse_requests_without_the_token(local_service: EmbeddedService) -> None:
    base = local_service.endpoint
    paths = (
        "/ui/pipeline-runs",
        "/ui/pipeline-runs/rows",
        "/ui/pipeline-runs/ocid1.datasciencepipelinerun.oc1.iad.x",
        "/ui/api/pipeline-runs/ocid1.datasciencepipelinerun.oc1.iad.x",
        "/ui/schedules",
        "/ui/schedules/ocid1.datascienceschedule.oc1.iad.x",
    )
    for path in paths:
        response = httpx.get(base + path)
        assert response.status_code == 403, path
        assert "token" in response.text
        assert "pipeline" not in response.text.lower() or "token" in response.text
    token = local_service.console_url.partition("?token=")[2]
    logged_in = httpx.get(f"{base}/ui/schedules?token={token}")
    cookie = logged_in.headers["set-cookie"].split(";")[0].partition("=")
    for path in ("/ui/pipeline-runs", "/ui/schedules"):
        assert httpx.get(base + path, cookies={cookie[0]: cookie[2]}).status_code == 200, path
    missing = httpx.get(
        f"{base}/ui/schedules/ocid1.datascienceschedule.oc1.iad.x", cookies={cookie[0]: cookie[2]}
    )
    assert missing.status_code == 404
