"""Shared fixtures: one embedded local Data Science service for the whole session.

The service runs as a real subprocess (`python -m notebook_launcher serve`) in a temporary
data dir, with fault injection on and one "minute" of maximumRuntimeInMinutes lasting
RUNTIME_MINUTE_SECONDS, so runtime limits can be tested quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebook_launcher.localservice.embedded import EmbeddedService

RUNTIME_MINUTE_SECONDS = 4.0
SESSION_CONCURRENCY = 3
NOTEBOOKS = Path(__file__).resolve().parent / "fixtures" / "notebooks"

# Nothing in the suite may reach a real tenancy or a notebook session's settings.
for _name in list(os.environ):
    if _name.startswith(("OCI_", "NB_SESSION_")):
        del os.environ[_name]


@pytest.fixture(scope="session")
def local_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """The session's local service (fault injection enabled; clear faults you inject)."""
    service = EmbeddedService(
        tmp_path_factory.mktemp("local-ds"),
        fault_injection=True,
        runtime_minute_seconds=RUNTIME_MINUTE_SECONDS,
        concurrency=SESSION_CONCURRENCY,
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def project_id(local_service: EmbeddedService) -> str:
    """A project in the local tenancy."""
    return local_service.create_project(name="tests")


@pytest.fixture(scope="session")
def notebooks() -> Path:
    """The folder of tiny real notebooks used as fixtures."""
    return NOTEBOOKS
