"""Call statistics and fault injection (the session service runs with --fault-injection)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import oci
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService, EmbeddedServiceError
from tests.functional.localservice.conftest import job_details


def test_stats_count_calls_per_operation(
    service: EmbeddedService, client: Any, compartment_id: str, project_id: str
) -> None:
    service.reset_stats()
    client.list_jobs(compartment_id)
    client.list_jobs(compartment_id)
    client.get_project(project_id)

    stats = service.stats()

    assert stats["ListJobs"] == 2
    assert stats["GetProject"] == 1
    assert "CreateJob" not in stats
    service.reset_stats()
    assert service.stats() == {}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_injected_errors_answer_and_do_nothing(
    service: EmbeddedService,
    client: Any,
    compartment_id: str,
    project_id: str,
    status: int,
) -> None:
    name = f"faulted-{uuid.uuid4().hex[:8]}"
    token = uuid.uuid4().hex
    details = job_details(project_id, compartment_id, name=name)
    service.reset_stats()
    service.inject_fault("CreateJob", status=status, count=2)

    for _ in range(2):
        with pytest.raises(oci.exceptions.ServiceError) as caught:
            client.create_job(details, opc_retry_token=token)
        assert caught.value.status == status

    assert client.list_jobs(compartment_id, display_name=name).data == []
    created = client.create_job(details, opc_retry_token=token).data  # token not consumed
    assert created.display_name == name
    assert service.stats()["CreateJob"] == 3


def test_sdk_retry_strategy_rides_over_injected_throttling(
    service: EmbeddedService, compartment_id: str
) -> None:
    retrying = service.datascience_client(
        retry_strategy=oci.retry.RetryStrategyBuilder(
            max_attempts_check=True,
            max_attempts=4,
            total_elapsed_time_check=False,
            retry_max_wait_between_calls_seconds=0.2,
            retry_base_sleep_time_seconds=0.05,
            backoff_type=oci.retry.BACKOFF_FULL_JITTER_VALUE,
        ).get_retry_strategy()
    )
    service.reset_stats()
    service.inject_fault("ListProjects", status=429, count=2)

    assert retrying.list_projects(compartment_id).status == 200
    assert service.stats()["ListProjects"] == 3


def test_injected_delay_slows_the_call_then_it_succeeds(
    service: EmbeddedService, client: Any, project_id: str
) -> None:
    service.inject_fault("GetProject", delay_seconds=1.0)
    started = time.monotonic()
    assert client.get_project(project_id).data.id == project_id
    assert time.monotonic() - started >= 1.0
    started = time.monotonic()
    client.get_project(project_id)
    assert time.monotonic() - started < 1.0  # used up


def test_clearing_faults_removes_pending_ones(
    service: EmbeddedService, client: Any, project_id: str
) -> None:
    service.inject_fault("GetProject", status=500, count=5)
    service.clear_faults()
    assert client.get_project(project_id).status == 200


def test_fault_for_an_unknown_operation_is_refused(service: EmbeddedService) -> None:
    with pytest.raises(EmbeddedServiceError, match="400"):
        service.inject_fault("CreateWidget", status=500)
    with pytest.raises(EmbeddedServiceError, match="400"):
        service.inject_fault("GetProject", status=418)
