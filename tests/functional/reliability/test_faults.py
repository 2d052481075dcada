"""Launches while Data Science throttles, fails or stalls on the creating calls.

Seeded trials place 429s, 500s and stalls on CreateJob, CreateJobArtifact and CreateJobRun.
A caller retries with the same idempotency key until it gets a run; every answer on the way
is a success or a clear retryable error given before the function's deadline. Afterwards:
exactly one run per key, the job it ran on is ACTIVE with an artifact, and no run exists on
a job that never became ACTIVE (a half-made job is never reused).
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import Answer, FunctionClient
from tests.functional.reliability.conftest import SHARED_NOTEBOOKS

SEED = 20240611
TRIALS = 10
FN_DEADLINE_SECONDS = 8.0
SHORT_DEADLINE_SECONDS = 6.0
MAX_INVOCATIONS = 6
CREATING_OPERATIONS = ("CreateJob", "CreateJobArtifact", "CreateJobRun")
NOTEBOOK = str(SHARED_NOTEBOOKS / "hello.ipynb")
MODELS = oci.data_science.models


@dataclass(frozen=True)
class Fault:
    """One injected fault: the next `count` calls of `operation` stall, then fail."""

    operation: str
    status: int | None
    count: int
    delay_seconds: float

    def inject(self, service: EmbeddedService) -> None:
        service.inject_fault(
            self.operation,
            status=self.status,
            count=self.count,
            delay_seconds=self.delay_seconds,
        )


@pytest.fixture(scope="module", autouse=True)
def warm_create_path(function: FunctionClient) -> None:
    """Import ADS and build a job once, so that the short deadlines below measure retries
    and not the one-off cold import of ADS (seconds; `make bench` measures that)."""
    answer = function.invoke({"noteBook": NOTEBOOK, "dryRun": True})
    assert answer.status == 200, answer


def plan_faults(rng: random.Random, outlasting: str | None) -> list[Fault]:
    """Faults on one to three creating operations (429s, 500s, stalls of about a second),
    plus, if `outlasting` names an operation, a stall on it that outlasts the deadline."""
    faults = []
    others = [op for op in CREATING_OPERATIONS if op != outlasting]
    for operation in rng.sample(others, rng.randint(0 if outlasting else 1, len(others))):
        kind = rng.choice(["throttle", "error", "stall"])
        if kind == "stall":
            faults.append(Fault(operation, None, 1, 1.0))
        else:
            status = 429 if kind == "throttle" else 500
            faults.append(Fault(operation, status, rng.randint(1, 3), 0.0))
    if outlasting:
        faults.append(Fault(outlasting, None, 1, FN_DEADLINE_SECONDS + 4))
    rng.shuffle(faults)
    return faults


def assert_success_or_retryable(answer: Answer, context: str) -> None:
    where = f"{context}: {answer}"
    assert answer.elapsed < FN_DEADLINE_SECONDS, f"answered after the deadline; {where}"
    if answer.status == 200:
        assert answer.body["id"].startswith("ocid1.datasciencejobrun."), where
        return
    assert answer.status in (429, 503), where
    assert answer.error["code"] in ("TooManyRequests", "ServiceUnavailable"), where
    assert "try again" in answer.error["message"].lower(), where


def trial_jobs(client: Any, compartment: str, job_name: str) -> list[Any]:
    """Every job a trial's launches made, in any state (deleted ones included)."""
    jobs = []
    for state in (None, "DELETED"):
        filters = {"lifecycle_state": state} if state else {}
        listed = oci.pagination.list_call_get_all_results(
            client.list_jobs, compartment_id=compartment, **filters
        ).data
        jobs += [job for job in listed if job.display_name.startswith(f"{job_name}-nl")]
    return jobs


def runs_of(client: Any, compartment: str, job_id: str) -> list[Any]:
    runs: list[Any] = oci.pagination.list_call_get_all_results(
        client.list_job_runs, compartment_id=compartment, job_id=job_id
    ).data
    return runs


def stop_run(client: Any, run_id: str) -> None:
    """Cancel a run whose execution is not under test (it may have finished already)."""
    try:
        client.cancel_job_run(run_id)
    except oci.exceptions.ServiceError as exc:
        if exc.status != 409:
            raise


def test_retrying_with_one_key_through_faults_gives_exactly_one_run(
    service: EmbeddedService, function: FunctionClient
) -> None:
    rng = random.Random(SEED)
    client = service.datascience_client()
    compartment = service.tenancy_id
    retryable_answers = 0
    calls_before = service.stats()
    for trial in range(TRIALS):
        # The first trials each stall one operation past the deadline; the rest are random.
        outlasting = CREATING_OPERATIONS[trial] if trial < len(CREATING_OPERATIONS) else None
        faults = plan_faults(rng, outlasting)
        job_name = f"fault-{trial}-{uuid.uuid4().hex[:6]}"
        body = {"noteBook": NOTEBOOK, "jobName": job_name, "idempotencyKey": uuid.uuid4().hex}
        service.clear_faults()
        for fault in faults:
            fault.inject(service)
        context = f"trial {trial} with {faults}"

        answers = []
        for _ in range(MAX_INVOCATIONS):
            answer = function.invoke(body, gateway=True, timeout=FN_DEADLINE_SECONDS)
            answers.append(answer)
            assert_success_or_retryable(answer, context)
            if answer.status == 200:
                break
        else:
            raise AssertionError(f"{context}: no success in {MAX_INVOCATIONS} tries: {answers}")
        retryable_answers += len(answers) - 1
        service.clear_faults()
        launched = answers[-1].body

        # The same key once more: the same run, not a second one.
        replay = function.invoke(body, gateway=True, timeout=FN_DEADLINE_SECONDS)
        assert replay.status == 200 and replay.body["id"] == launched["id"], context

        job = client.get_job(launched["jobId"]).data
        assert job.lifecycle_state == "ACTIVE", context
        artifact = client.head_job_artifact(job.id)
        assert int(artifact.headers["content-length"]) > 0, context
        for made in trial_jobs(client, compartment, job_name):
            runs = runs_of(client, compartment, made.id)
            if made.id == job.id:
                assert [run.id for run in runs] == [launched["id"]], context
            else:  # a job left behind by a failed attempt: never run, never reused
                assert made.lifecycle_state != "ACTIVE" and runs == [], (context, made)
        stop_run(client, launched["id"])

    calls = service.stats()
    created = {op: calls.get(op, 0) - calls_before.get(op, 0) for op in CREATING_OPERATIONS}
    # The faults were real: failed attempts and retries happened, not just clean launches.
    assert retryable_answers > 0
    assert created["CreateJobRun"] > 2 * TRIALS, created


def test_cleaning_up_a_half_made_job_stays_within_the_deadline(
    service: EmbeddedService, function: FunctionClient
) -> None:
    # The upload fails until the deadline, then the clean-up's DeleteJob stalls: the answer
    # must still come before the deadline (the job is left CREATING, never reused).
    job_name = f"slow-delete-{uuid.uuid4().hex[:6]}"
    service.inject_fault("CreateJobArtifact", status=500, count=1_000)
    service.inject_fault("DeleteJob", count=1, delay_seconds=SHORT_DEADLINE_SECONDS)
    answer = function.invoke(
        {"noteBook": NOTEBOOK, "jobName": job_name}, gateway=True, timeout=SHORT_DEADLINE_SECONDS
    )
    assert answer.status == 503 and "CreateJobArtifact" in answer.error["message"], answer
    assert answer.elapsed < SHORT_DEADLINE_SECONDS, f"answered after {answer.elapsed:.1f} s"

    # The stalled DeleteJob still lands on the service; let it, so that no later test sees
    # this job change state under it.
    client = service.datascience_client()
    (job,) = trial_jobs(client, service.tenancy_id, job_name)
    end = time.monotonic() + 2 * SHORT_DEADLINE_SECONDS
    while client.get_job(job.id).data.lifecycle_state != "DELETED":
        assert time.monotonic() < end, "the stalled DeleteJob never completed"
        time.sleep(0.2)


def test_a_half_made_job_is_never_reused(
    service: EmbeddedService, function: FunctionClient
) -> None:
    # A job with the launch's exact name and digest that never got its artifact (a crash
    # between CreateJob and CreateJobArtifact) must be passed over, not run.
    body = {"noteBook": NOTEBOOK, "jobName": f"half-{uuid.uuid4().hex[:6]}"}
    dry = function.invoke({**body, "dryRun": True})
    assert dry.status == 200, dry
    spec = dry.body["job"]["spec"]
    infrastructure = spec["infrastructure"]["spec"]
    client = service.datascience_client()
    half_made = client.create_job(
        MODELS.CreateJobDetails(
            project_id=infrastructure["projectId"],
            compartment_id=infrastructure["compartmentId"],
            display_name=spec["name"],
            freeform_tags=spec["runtime"]["spec"]["freeformTags"],
            job_configuration_details=MODELS.DefaultJobConfigurationDetails(),
            job_infrastructure_configuration_details=(
                MODELS.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
                    shape_name="VM.Standard2.1", block_storage_size_in_gbs=50
                )
            ),
        )
    ).data
    assert half_made.lifecycle_state == "CREATING"

    launched = function.invoke(body, gateway=True)
    assert launched.status == 200, launched
    assert launched.body["jobId"] != half_made.id and launched.body["jobReused"] is False
    assert client.get_job(half_made.id).data.lifecycle_state == "CREATING"
    assert runs_of(client, service.tenancy_id, half_made.id) == []
    again = function.invoke(body, gateway=True)
    assert again.body["jobId"] == launched.body["jobId"] and again.body["jobReused"] is True
    for answer in (launched, again):
        stop_run(client, answer.body["id"])
