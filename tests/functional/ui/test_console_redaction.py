"""The console never shows a secret, at any depth, on any page (plain HTTP).

A run, a schedule (and the run its fire made) and a pipeline run are made through the
function with `{"config": {"password": ..., "user": "bob"}}` among their parameters, and a
caller's own JSON environment variable holding a token; then every console page reachable
from the navigation (each link followed, the live endpoints and the run's files included) is
fetched, and none may hold the secrets, while the pages that show parameters do show the
rest of them, with `<redacted>` in the secrets' place.
"""

from __future__ import annotations

import html
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.function.conftest import FunctionUnderTest, notebook
from tests.functional.ui.conftest import wait_for_state

PASSWORD = f"hunter2-{uuid.uuid4().hex[:8]}"
VARIABLE_TOKEN = f"tok-{uuid.uuid4().hex[:8]}"
SECRETS = (PASSWORD, VARIABLE_TOKEN)
PARAMETERS = {"config": {"password": PASSWORD, "user": "bob"}, "region": "apac"}
ENVIRONMENT = {"SETTINGS": json.dumps({"upstream": {"token": VARIABLE_TOKEN, "port": 443}})}
ENDED = {"SUCCEEDED", "FAILED", "CANCELED"}
LINK_RE = re.compile(r'(?:href|src|data-live-[a-z-]+)="(/ui/[^"]*)"')
MAX_PAGES = 400


@dataclass(frozen=True)
class Made:
    """What the module made: the run, the schedule and its fired run, the pipeline run."""

    service: EmbeddedService
    run_id: str
    job_id: str
    schedule_id: str
    fired_run_id: str
    pipeline_run_id: str
    step_run_id: str


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Made]:
    service = EmbeddedService(
        tmp_path_factory.mktemp("ui-redaction"), controlled_clock=True, concurrency=2
    )
    service.start()
    try:
        project = service.create_project(name="ui-redaction")
        config = local_function_config(service, project, service_namespace(service.data_dir))
        with pytest.MonkeyPatch.context() as monkeypatch:
            for key in ("OCI_RESOURCE_PRINCIPAL_VERSION", "NB_SESSION_OCID", "OCI_CONFIG_FILE"):
                monkeypatch.delenv(key, raising=False)
            fn = FunctionUnderTest(service, config, monkeypatch)
            common = {"parameters": PARAMETERS, "environmentVariables": ENVIRONMENT}
            job_name = f"redaction-{uuid.uuid4().hex[:8]}"
            launched = fn.launch(
                {"noteBook": notebook("hello.ipynb"), "jobName": job_name, **common}
            )
            scheduled = fn.launch(
                {
                    "action": "schedule",
                    "noteBook": notebook("hello.ipynb"),
                    "jobName": job_name,
                    "schedule": {"cron": "*/10 * * * *"},
                    **common,
                }
            )
            service.set_clock(_iso(datetime.fromisoformat(scheduled["timeNextScheduledRun"])))
            shown = fn.launch({"action": "schedule-show", "id": scheduled["id"]})
            fired = shown["lastRun"]["id"]
            pipeline = fn.launch(
                {
                    "name": f"redaction-{uuid.uuid4().hex[:8]}",
                    "steps": [{"name": "only", "noteBook": notebook("hello.ipynb"), **common}],
                }
            )
        ds = service.datascience_client()
        for run_id in (launched["id"], fired):
            assert wait_for_state(service, run_id, ENDED).lifecycle_state == "SUCCEEDED"
        deadline = time.monotonic() + 240
        while ds.get_pipeline_run(pipeline["pipelineRunId"]).data.lifecycle_state not in ENDED:
            assert time.monotonic() < deadline, "the pipeline run did not end"
            time.sleep(0.5)
        step = ds.get_pipeline_run(pipeline["pipelineRunId"]).data.step_runs[0]
        yield Made(
            service,
            launched["id"],
            launched["jobId"],
            scheduled["id"],
            fired,
            pipeline["pipelineRunId"],
            step.job_run_id,
        )
    finally:
        service.stop()


def _client(service: EmbeddedService) -> httpx.Client:
    token = service.console_url.partition("?token=")[2]
    return httpx.Client(
        base_url=service.endpoint, headers={"authorization": f"Bearer {token}"}, timeout=60
    )


def _crawl(made: Made) -> dict[str, str]:
    """Every console page reachable from the sections and the runs' own pages: path → body."""
    queue = [
        "/ui/runs",
        "/ui/jobs",
        "/ui/pipeline-runs",
        "/ui/schedules",
        "/ui/api/runs",
        *(
            f"/ui/api/runs/{run_id}"
            for run_id in (made.run_id, made.fired_run_id, made.step_run_id)
        ),
    ]
    seen: dict[str, str] = {}
    with _client(made.service) as client:
        while queue and len(seen) < MAX_PAGES:
            path = queue.pop(0)
            if path in seen or path.startswith("/ui/static/"):
                continue
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            seen[path] = response.text
            for link in LINK_RE.findall(response.text):
                queue.append(html.unescape(link))
    return seen


def test_no_console_page_shows_a_nested_or_json_carried_secret(made: Made) -> None:
    pages = _crawl(made)
    wanted = {
        f"/ui/runs/{made.run_id}",
        f"/ui/runs/{made.fired_run_id}",
        f"/ui/runs/{made.step_run_id}",
        f"/ui/jobs/{made.job_id}",
        f"/ui/schedules/{made.schedule_id}",
        f"/ui/pipeline-runs/{made.pipeline_run_id}",
        f"/ui/untrusted/runs/{made.run_id}/notebook",
    }
    assert wanted <= set(pages), sorted(wanted - set(pages))
    assert any("/files/" in path for path in pages), sorted(pages)
    for path, body in pages.items():
        for secret in SECRETS:
            assert secret not in body and secret not in html.unescape(body), (path, secret)


@pytest.mark.parametrize("which", ["run_id", "fired_run_id", "step_run_id"])
def test_a_run_page_shows_the_parameters_with_the_nested_secret_redacted(
    made: Made, which: str
) -> None:
    with _client(made.service) as client:
        page = html.unescape(client.get(f"/ui/runs/{getattr(made, which)}").text)
    assert '"password": "<redacted>"' in page and '"user": "bob"' in page
    assert "apac" in page
    assert '"token": "<redacted>"' in page and '"port": 443' in page
    assert PASSWORD not in page and VARIABLE_TOKEN not in page


def test_the_schedule_page_shows_its_definition_with_the_nested_secret_redacted(
    made: Made,
) -> None:
    with _client(made.service) as client:
        page = html.unescape(client.get(f"/ui/schedules/{made.schedule_id}").text)
    definition = page.partition('<pre id="schedule-definition">')[2].partition("</pre>")[0]
    environment = json.loads(definition)["action"]["actionDetails"]["createJobRunDetails"][
        "jobConfigurationOverrideDetails"
    ]["environmentVariables"]
    assert json.loads(environment["NOTEBOOK_PARAMETERS"]) == {
        "config": {"password": "<redacted>", "user": "bob"},
        "region": "apac",
    }
    assert json.loads(environment["SETTINGS"]) == {"upstream": {"token": "<redacted>", "port": 443}}
    assert PASSWORD not in page and VARIABLE_TOKEN not in page


def test_the_run_and_schedule_still_carry_the_real_values(made: Made) -> None:
    """The redaction is the console's: the records keep the values the run needs."""
    ds = made.service.datascience_client()
    run = ds.get_job_run(made.fired_run_id).data
    env = run.job_configuration_override_details.environment_variables
    assert json.loads(env["NOTEBOOK_PARAMETERS"]) == PARAMETERS
    assert json.loads(env["SETTINGS"])["upstream"]["token"] == VARIABLE_TOKEN
