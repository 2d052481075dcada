"""Auth paths and service faults: the resource-principal path, 429/500, and the deadline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.functional.function.conftest import FunctionUnderTest, count_runs, notebook


@pytest.fixture(autouse=True)
def warm_instance() -> None:
    """These tests model a warm function instance: ADS is already loaded, so a short deadline
    is spent on the faults under test, not on the cold import (tested separately below)."""
    import ads  # noqa: F401


def test_resource_principal_path(fn: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in fn.service.function_rp_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NL_OCI_CONFIG_FILE")
    answer = fn.launch(
        {"noteBook": notebook("typed_params.ipynb"), "jobName": f"rp-{uuid.uuid4().hex[:6]}"}
    )
    assert answer["id"].startswith("ocid1.datasciencejobrun.")


@pytest.mark.parametrize("status", [429, 500])
def test_transient_faults_are_retried(fn: FunctionUnderTest, status: int) -> None:
    fn.service.inject_fault("CreateJobRun", status=status, count=2)
    key = f"k-{uuid.uuid4().hex}"
    answer = fn.launch(
        {
            "noteBook": notebook("typed_params.ipynb"),
            "jobName": f"f-{uuid.uuid4().hex[:6]}",
            "idempotencyKey": key,
        }
    )
    assert fn.service.stats().get("CreateJobRun", 0) >= 3
    assert count_runs(fn.service, fn.config["NL_COMPARTMENT_ID"], answer["jobId"]) == 1


def test_persistent_throttling_answers_before_the_deadline(fn: FunctionUnderTest) -> None:
    fn.service.inject_fault("CreateJobRun", status=429, count=10_000)
    started = time.monotonic()
    status, answer = fn.invoke(
        {"noteBook": notebook("typed_params.ipynb"), "jobName": f"t-{uuid.uuid4().hex[:6]}"},
        gateway=True,
        timeout=12,
    )
    elapsed = time.monotonic() - started
    assert status in (429, 503), answer
    assert "try again" in answer["error"]["message"].lower()
    assert elapsed < 12


def test_stalled_service_answers_503_before_the_deadline(fn: FunctionUnderTest) -> None:
    fn.service.inject_fault("ListJobs", delay_seconds=30, count=100)
    started = time.monotonic()
    status, answer = fn.invoke(
        {"noteBook": notebook("typed_params.ipynb"), "jobName": f"s-{uuid.uuid4().hex[:6]}"},
        gateway=True,
        timeout=10,
    )
    assert status == 503, answer
    assert time.monotonic() - started < 10


def test_failed_artifact_upload_leaves_no_half_made_job(fn: FunctionUnderTest) -> None:
    name = f"a-{uuid.uuid4().hex[:6]}"
    fn.service.inject_fault("CreateJobArtifact", status=500, count=10_000)
    status, answer = fn.invoke(
        {"noteBook": notebook("typed_params.ipynb"), "jobName": name}, gateway=True, timeout=10
    )
    assert status == 503, answer
    client = fn.service.datascience_client()
    jobs = client.list_jobs(compartment_id=fn.config["NL_COMPARTMENT_ID"]).data
    mine = [j for j in jobs if j.display_name.startswith(name)]
    assert all(j.lifecycle_state in ("DELETING", "DELETED") for j in mine)
    fn.service.clear_faults()
    answer = fn.launch({"noteBook": notebook("typed_params.ipynb"), "jobName": name})
    assert answer["jobReused"] is False


def test_cold_instance_with_too_little_time_creates_nothing(
    fn: FunctionUnderTest, tmp_path: Path
) -> None:
    """A fresh process (ADS not loaded) with a short deadline answers 503 at once, before any
    job is created, instead of starting an ADS import it cannot finish."""
    fn.service.reset_stats()
    body = {"noteBook": notebook("typed_params.ipynb"), "jobName": f"c-{uuid.uuid4().hex[:6]}"}
    script = (
        "import json, sys, datetime as dt\n"
        "from notebook_launcher.function.handler import Invocation, invoke\n"
        "deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=8)).isoformat()\n"
        "status, answer = invoke(Invocation(sys.argv[1].encode(), {}, json.loads(sys.argv[2]),"
        " deadline, 'cold'))\n"
        "print(json.dumps({'status': status, 'answer': answer, 'ads': 'ads' in sys.modules}))\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(body), json.dumps(fn.config)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 503 and "try again" in result["answer"]["error"]["message"]
    assert result["ads"] is False
    stats = fn.service.stats()
    assert not stats.get("CreateJob") and not stats.get("CreateJobArtifact"), stats
