"""The reliability suite's harness: func.handler through fdk's fixtures, against local services.

`FunctionClient` invokes the real `func.handler` the way OCI Functions does (fdk's request
handling, direct or through API Gateway, with a deadline), with the function's configuration
set as environment variables for the duration of the call only, so that one client can serve
a whole hypothesis run. It fails the test if an exception escapes the handler or the answer
is not a JSON object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import oci
import pytest

from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import FunctionClient

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
SHARED_NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
# The operations that create or change something in Data Science.
MUTATING_PREFIXES = ("Create", "Update", "Delete", "Cancel")


def function_config(service: EmbeddedService, project_id: str, **changes: str) -> dict[str, str]:
    """The function's configuration for `service` (the local profile), with changes."""
    config = local_function_config(service, project_id, service_namespace(service.data_dir))
    config.update(changes)
    return config


@pytest.fixture(scope="session")
def function(local_service: EmbeddedService, project_id: str) -> FunctionClient:
    """The function configured for the session's local service (local notebooks allowed)."""
    return FunctionClient(function_config(local_service, project_id))


@pytest.fixture
def service(local_service: EmbeddedService) -> Iterator[EmbeddedService]:
    """The session's service with no injected fault left over, before or after a test."""
    local_service.clear_faults()
    yield local_service
    local_service.clear_faults()


def mutating_calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls of creating or changing operations between two `stats()` snapshots."""
    return {
        op: after[op] - before.get(op, 0)
        for op in after
        if op.startswith(MUTATING_PREFIXES) and after[op] != before.get(op, 0)
    }


def all_records(service: EmbeddedService) -> dict[str, dict[str, str]]:
    """Every project, job and run in the tenancy (id -> lifecycle state), deleted ones too."""
    client = service.datascience_client()
    found: dict[str, dict[str, str]] = {}
    for kind, method in (
        ("projects", client.list_projects),
        ("jobs", client.list_jobs),
        ("runs", client.list_job_runs),
    ):
        found[kind] = {}
        # Lists leave deleted resources out unless a lifecycleState filter asks for them.
        for state in (None, "DELETED"):
            filters = {"lifecycle_state": state} if state else {}
            items = oci.pagination.list_call_get_all_results(
                method, compartment_id=service.tenancy_id, **filters
            ).data
            found[kind].update({item.id: item.lifecycle_state for item in items})
    return found
