"""Auth paths and service faults: the resource-principal path, 429/500, and the deadline."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.functional.function.conftest import FunctionUnderTest, count_runs, notebook


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
