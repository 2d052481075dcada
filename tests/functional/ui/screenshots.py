"""`make screenshots`: the console's main pages, captured in headless Chromium into docs/.

Starts its own local service in a temporary data dir, launches the example (SUCCEEDED), a
failing notebook (FAILED) and a sleeping one (IN_PROGRESS) through the function's core, and
a pipeline of four script steps and an hourly schedule through the oci SDK, and saves
console-runs.png, console-run.png, console-failed-run.png, console-jobs.png,
console-pipeline-run.png and console-schedules.png.

    python -m tests.functional.ui.screenshots docs
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner
from playwright.sync_api import sync_playwright

from notebook_launcher.cli import main as cli
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import MODELS, create_script_job
from tests.functional.ui.conftest import CHROMIUM, CHROMIUM_ARGS

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOKS = REPO_ROOT / "tests" / "fixtures" / "notebooks"


def invoke(service: EmbeddedService, *args: str) -> str:
    result = CliRunner().invoke(cli, ["invoke", *args, "--data-dir", str(service.data_dir)])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return str(json.loads(result.stdout)["id"])


def wait(service: EmbeddedService, run_id: str, states: set[str]) -> None:
    client = service.datascience_client()
    deadline = time.monotonic() + 180
    while client.get_job_run(run_id).data.lifecycle_state not in states:
        if time.monotonic() > deadline:
            raise SystemExit(f"{run_id} did not reach {states}")
        time.sleep(0.3)


def pipeline_and_schedule(service: EmbeddedService) -> tuple[str, str]:
    """A finished pipeline run of four steps (one fails, so its dependent is skipped) and an
    hourly schedule of a job: (pipeline run id, schedule id)."""
    ds = service.datascience_client()
    project = service.create_project(name="screenshots")
    compartment = service.tenancy_id
    script = "import os, sys, time\ntime.sleep(1)\nsys.exit(int(os.environ.get('EXIT', '0')))\n"
    job = create_script_job(ds, project, compartment, script, name="etl-step")

    def step(name: str, after: list[str], env: dict[str, str] | None = None) -> object:
        config = MODELS.PipelineStepConfigurationDetails(environment_variables=env)
        return MODELS.PipelineMLJobStepDetails(
            step_name=name,
            job_id=job,
            depends_on=after,
            step_configuration_details=config if env else None,
        )

    pipeline = ds.create_pipeline(
        MODELS.CreatePipelineDetails(
            project_id=project,
            compartment_id=compartment,
            display_name="nightly-etl",
            step_details=[
                step("extract", []),
                step("transform", ["extract"]),
                step("validate", ["extract"], {"EXIT": "1"}),
                step("publish", ["transform", "validate"]),
            ],
        )
    ).data
    run = ds.create_pipeline_run(
        MODELS.CreatePipelineRunDetails(
            compartment_id=compartment, pipeline_id=pipeline.id, display_name="nightly-etl run"
        )
    ).data
    deadline = time.monotonic() + 180
    while ds.get_pipeline_run(run.id).data.lifecycle_state not in {"SUCCEEDED", "FAILED"}:
        if time.monotonic() > deadline:
            raise SystemExit(f"{run.id} did not finish")
        time.sleep(0.3)
    schedule = ds.create_schedule(
        MODELS.CreateScheduleDetails(
            display_name="hourly-report",
            project_id=project,
            compartment_id=compartment,
            trigger=MODELS.ScheduleCronTrigger(cron_expression="0 * * * *"),
            action=MODELS.ScheduleHttpAction(
                action_details=MODELS.CreateJobRunScheduleActionDetails(
                    create_job_run_details=MODELS.CreateJobRunDetails(
                        project_id=project, compartment_id=compartment, job_id=job
                    )
                )
            ),
        )
    ).data
    return str(run.id), str(schedule.id)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir, EmbeddedService(Path(data_dir)) as service:
        succeeded = invoke(service, str(REPO_ROOT / "examples" / "launch.json"))
        failed = invoke(
            service,
            "--notebook",
            str(NOTEBOOKS / "fails.ipynb"),
            "--job-name",
            "nightly-load",
            "--param",
            'source="s3-export"',
            "--param",
            'api_token="not-shown"',
        )
        wait(service, succeeded, {"SUCCEEDED", "FAILED"})
        wait(service, failed, {"SUCCEEDED", "FAILED"})
        running = invoke(service, "--notebook", str(NOTEBOOKS / "sleeps.ipynb"))
        wait(service, running, {"IN_PROGRESS"})
        pipeline_run, _ = pipeline_and_schedule(service)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            shots = [
                ("runs", "console-runs.png", False),
                (f"runs/{succeeded}", "console-run.png", True),
                (f"runs/{failed}", "console-failed-run.png", True),
                ("jobs", "console-jobs.png", False),
                (f"pipeline-runs/{pipeline_run}", "console-pipeline-run.png", False),
                ("schedules", "console-schedules.png", False),
            ]
            for path, name, full in shots:
                # a tall viewport rather than full_page: a full-page capture leaves the
                # sandboxed (out-of-process) notebook frame blank
                page.set_viewport_size({"width": 1200, "height": 2200 if full else 800})
                page.goto(service.console_page(path))
                page.wait_for_load_state("networkidle")
                if page.locator("#notebook").count():  # nbconvert renders it on request
                    frame = page.frame_locator("#notebook").locator(".jp-Notebook")
                    frame.first.wait_for(timeout=60_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(out_dir / name))
                print(out_dir / name)
            browser.close()
        service.datascience_client().cancel_job_run(running)
        wait(service, running, {"CANCELED", "FAILED", "SUCCEEDED"})


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
