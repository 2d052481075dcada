"""Concurrent first launches of one new notebook converge on one job (issue 8, item 5).

Ten invocations of the real func.handler start together (a barrier) against the local
service, for a notebook and job name no job has yet: whatever the idempotency keys, they
must leave exactly one job for the digest, and one run per distinct key (per invocation
without a key).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import Answer, FunctionClient
from tests.functional.reliability.conftest import SHARED_NOTEBOOKS

NOTEBOOK = str(SHARED_NOTEBOOKS / "hello.ipynb")
LAUNCHES = 10
DEADLINE_SECONDS = 120.0


def launch_together(function: FunctionClient, bodies: list[dict[str, Any]]) -> list[Answer]:
    """Invoke the function once per body, all at the same moment, each in its own thread."""
    barrier = threading.Barrier(len(bodies))
    answers: list[Answer | BaseException] = [RuntimeError("not run")] * len(bodies)

    def one(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = function.invoke(bodies[index], gateway=True, timeout=DEADLINE_SECONDS)
        except BaseException as exc:  # reported below, with the others
            answers[index] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS + 30)
    failures = [a for a in answers if not isinstance(a, Answer)]
    assert not failures, failures
    return [a for a in answers if isinstance(a, Answer)]


def jobs_named(client: Any, compartment: str, job_name: str) -> list[Any]:
    """Every job (any state but DELETED) whose display name starts with job_name."""
    jobs = oci.pagination.list_call_get_all_results(
        client.list_jobs, compartment_id=compartment
    ).data
    return [job for job in jobs if job.display_name.startswith(f"{job_name}-nl")]


@pytest.mark.parametrize("keys", ["none", "distinct", "shared"])
def test_parallel_first_launches_make_one_job(
    service: EmbeddedService,
    function: FunctionClient,
    monkeypatch: pytest.MonkeyPatch,
    keys: str,
) -> None:
    # The configuration stays set for the whole test: each invocation sets and restores it,
    # and ten of them overlap.
    for name, value in function.config.items():
        monkeypatch.setenv(name, value)
    # Warm the process (ADS loaded), so the launches race on the service, not on an import.
    assert function.invoke({"noteBook": NOTEBOOK, "dryRun": True}).status == 200
    job_name = f"race-{keys}-{uuid.uuid4().hex[:6]}"
    shared_key = uuid.uuid4().hex
    bodies: list[dict[str, Any]] = []
    for _ in range(LAUNCHES):
        body: dict[str, Any] = {"noteBook": NOTEBOOK, "jobName": job_name}
        if keys == "distinct":
            body["idempotencyKey"] = uuid.uuid4().hex
        elif keys == "shared":
            body["idempotencyKey"] = shared_key
        bodies.append(body)
    client = service.datascience_client()
    compartment = service.tenancy_id
    assert jobs_named(client, compartment, job_name) == []

    started = time.monotonic()
    answers = launch_together(function, bodies)
    elapsed = time.monotonic() - started

    assert all(a.status == 200 for a in answers), [a.body for a in answers if a.status != 200]
    jobs = jobs_named(client, compartment, job_name)
    runs = [
        run
        for job in jobs
        for run in oci.pagination.list_call_get_all_results(
            client.list_job_runs, compartment_id=compartment, job_id=job.id
        ).data
    ]
    print(f"{keys}: {len(jobs)} job(s), {len(runs)} run(s), {elapsed:.1f} s for {LAUNCHES}")
    for run in runs:
        try:
            client.cancel_job_run(run.id)
        except oci.exceptions.ServiceError as exc:
            if exc.status != 409:  # already finished
                raise
    assert [job.lifecycle_state for job in jobs] == ["ACTIVE"], jobs
    assert {a.body["jobId"] for a in answers} == {jobs[0].id}
    expected_runs = 1 if keys == "shared" else LAUNCHES
    assert len({a.body["id"] for a in answers}) == expected_runs
    assert sorted(run.id for run in runs) == sorted({a.body["id"] for a in answers})
