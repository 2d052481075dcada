"""Run logs through the Logging API, as the oci SDK, the oci CLI and ADS read them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    MODELS,
    job_details,
    script_artifact,
    start_run,
    wait_for_run,
)

SCRIPT = "for i in range(3):\n    print(f'line {i}', flush=True)\n"


def logging_client(service: EmbeddedService) -> Any:
    return oci.logging.LoggingManagementClient(
        service.oci_config(),
        service_endpoint=service.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )


def search_client(service: EmbeddedService) -> Any:
    return oci.loggingsearch.LogSearchClient(
        service.oci_config(),
        service_endpoint=service.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )


def create_log_group(service: EmbeddedService) -> str:
    """CreateLogGroup and its work request, as the SDK's composite waits for it."""
    composite = oci.logging.LoggingManagementClientCompositeOperations(logging_client(service))
    done = composite.create_log_group_and_wait_for_state(
        oci.logging.models.CreateLogGroupDetails(
            compartment_id=service.tenancy_id, display_name=f"runs-{uuid.uuid4().hex[:8]}"
        ),
        wait_for_states=["SUCCEEDED"],
        waiter_kwargs={"max_wait_seconds": 30, "max_interval_seconds": 1},
    )
    return str(done.data.resources[0].identifier)


def logged_run(service: EmbeddedService, client: Any, project_id: str, group_id: str) -> Any:
    details = job_details(project_id, service.tenancy_id)
    details.job_log_configuration_details = MODELS.JobLogConfigurationDetails(
        enable_logging=True, enable_auto_log_creation=True, log_group_id=group_id
    )
    job = client.create_job(details).data
    client.create_job_artifact(
        job.id, script_artifact(SCRIPT), content_disposition="attachment; filename=job.zip"
    )
    run = start_run(client, project_id, service.tenancy_id, job.id)
    return wait_for_run(client, run.id)


@pytest.fixture(scope="module")
def group_and_run(local_service: EmbeddedService, project_id: str) -> tuple[str, Any]:
    client = local_service.datascience_client()
    group_id = create_log_group(local_service)
    return group_id, logged_run(local_service, client, project_id, group_id)


def test_a_run_of_a_job_naming_a_log_group_gets_a_log_of_its_own(
    local_service: EmbeddedService, group_and_run: tuple[str, Any]
) -> None:
    group_id, run = group_and_run
    assert run.lifecycle_state == "SUCCEEDED"
    assert run.log_details.log_group_id == group_id
    log = logging_client(local_service).get_log(group_id, run.log_details.log_id).data
    assert log.log_group_id == group_id and log.lifecycle_state == "ACTIVE"
    listed = logging_client(local_service).list_logs(group_id).data
    assert run.log_details.log_id in [item.id for item in listed]


def test_search_logs_answers_the_query_ads_sends(
    local_service: EmbeddedService, group_and_run: tuple[str, Any]
) -> None:
    group_id, run = group_and_run
    query = (
        f'SEARCH "{local_service.tenancy_id}/{group_id}/{run.log_details.log_id}"'
        f" | WHERE source = '*{run.id}' | SORT BY datetime DESC"
    )
    now = dt.datetime.now(dt.UTC)
    response = search_client(local_service).search_logs(
        oci.loggingsearch.models.SearchLogsDetails(
            time_start=now - dt.timedelta(hours=1), time_end=now, search_query=query
        ),
        limit=2,
    )
    messages = [r.data["logContent"]["data"]["message"] for r in response.data.results]
    assert messages == ["line 2", "line 1"]
    assert response.headers["opc-next-page"]
    rest = search_client(local_service).search_logs(
        oci.loggingsearch.models.SearchLogsDetails(
            time_start=now - dt.timedelta(hours=1), time_end=now, search_query=query
        ),
        limit=2,
        page=response.headers["opc-next-page"],
    )
    assert [r.data["logContent"]["data"]["message"] for r in rest.data.results] == ["line 0"]
    first = response.data.results[0].data
    assert first["logContent"]["source"] == run.id
    assert first["logContent"]["oracle"]["logid"] == run.log_details.log_id
    with pytest.raises(oci.exceptions.ServiceError) as unsupported:
        search_client(local_service).search_logs(
            oci.loggingsearch.models.SearchLogsDetails(
                time_start=now - dt.timedelta(hours=1),
                time_end=now,
                search_query=f'search "{local_service.tenancy_id}" | stats count(*)',
            )
        )
    assert unsupported.value.status == 400


def test_oci_cli_logging_search(
    local_service: EmbeddedService, group_and_run: tuple[str, Any]
) -> None:
    group_id, _ = group_and_run
    now = dt.datetime.now(dt.UTC)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("oci")),
            "--config-file", str(local_service.config_file),
            "--endpoint", local_service.endpoint,
            "logging-search", "search-logs",
            "--search-query",
            f'search "{local_service.tenancy_id}/{group_id}" | sort by datetime asc',
            "--time-start", (now - dt.timedelta(hours=1)).isoformat(),
            "--time-end", now.isoformat(),
        ],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)["data"]["results"]
    assert [r["data"]["logContent"]["data"]["message"] for r in results] == [
        "line 0",
        "line 1",
        "line 2",
    ]


def test_ads_run_logs_through_the_run_network_shim(
    local_service: EmbeddedService, group_and_run: tuple[str, Any], tmp_path: Path
) -> None:
    """ADS drops a job run's service_endpoint before it reads the run's logs
    (DataScienceJobRun.logging), so outside a run ADS reaches the local Logging service only
    through the runtime's shim, which a run has and any process can put on its PYTHONPATH."""
    _, run = group_and_run
    script = textwrap.dedent(
        f"""
        import ads
        from ads.jobs import DataScienceJobRun
        ads.set_auth("api_key", oci_config_location={str(local_service.config_file)!r})
        run = DataScienceJobRun.from_ocid({run.id!r})
        print("MESSAGES=" + "|".join(entry["message"] for entry in run.logs()))
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(local_service.data_dir / "runtime" / "python"), os.getcwd()]
        ),
        "NOTEBOOK_LAUNCHER_LOCAL_OCI_ENDPOINT": local_service.endpoint,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("MESSAGES="))
    messages = line[len("MESSAGES=") :].split("|")
    assert [m for m in messages if m.startswith("line ")] == ["line 0", "line 1", "line 2"]


def test_runs_with_the_same_name_get_a_log_each(
    local_service: EmbeddedService, group_and_run: tuple[str, Any], project_id: str
) -> None:
    _, first = group_and_run
    client = local_service.datascience_client()
    runs = [
        start_run(client, project_id, local_service.tenancy_id, first.job_id, display_name="same")
        for _ in range(2)
    ]
    logs = {run.log_details.log_id for run in runs}
    assert len(logs) == 2 and first.log_details.log_id not in logs
    for run in runs:
        assert wait_for_run(client, run.id).lifecycle_state == "SUCCEEDED"


BURST_LINES = 2000
# Block-buffered: the whole burst reaches the log file in a few writes of the same moment.
BURST_SCRIPT = (
    f"import sys\nsys.stdout.write(''.join(f'burst {{i}}\\n' for i in range({BURST_LINES})))\n"
)


def test_ads_run_logs_return_every_line_of_a_burst_dated_after_the_run_was_accepted(
    local_service: EmbeddedService, project_id: str, tmp_path: Path
) -> None:
    """A run that prints 2,000 lines at once: ADS's run.logs() (a search from timeAccepted,
    paged by time, at most 1,000 entries per millisecond) returns all of them, in order,
    with times never before the run was accepted."""
    client = local_service.datascience_client()
    details = job_details(project_id, local_service.tenancy_id)
    details.job_log_configuration_details = MODELS.JobLogConfigurationDetails(
        enable_logging=True,
        enable_auto_log_creation=True,
        log_group_id=create_log_group(local_service),
    )
    job = client.create_job(details).data
    client.create_job_artifact(
        job.id, script_artifact(BURST_SCRIPT), content_disposition="attachment; filename=job.zip"
    )
    run = wait_for_run(client, start_run(client, project_id, local_service.tenancy_id, job.id).id)
    assert run.lifecycle_state == "SUCCEEDED"
    script = textwrap.dedent(
        f"""
        import json
        import ads
        from ads.jobs import DataScienceJobRun
        ads.set_auth("api_key", oci_config_location={str(local_service.config_file)!r})
        run = DataScienceJobRun.from_ocid({run.id!r})
        entries = [e for e in run.logs() if e["message"].startswith("burst ")]
        print("ENTRIES=" + json.dumps([[e["message"], str(e["time"])] for e in entries]))
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(local_service.data_dir / "runtime" / "python"), os.getcwd()]
        ),
        "NOTEBOOK_LAUNCHER_LOCAL_OCI_ENDPOINT": local_service.endpoint,
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("ENTRIES="))
    entries = json.loads(line[len("ENTRIES=") :])
    assert [message for message, _ in entries] == [f"burst {i}" for i in range(BURST_LINES)]
    times = [dt.datetime.fromisoformat(when) for _, when in entries]
    assert times == sorted(times)
    accepted = run.time_accepted.replace(microsecond=run.time_accepted.microsecond // 1000 * 1000)
    assert min(times) >= accepted.replace(tzinfo=times[0].tzinfo or accepted.tzinfo)
    finished = run.time_finished
    assert max(times) <= finished.replace(tzinfo=times[0].tzinfo or finished.tzinfo)
