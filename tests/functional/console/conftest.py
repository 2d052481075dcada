"""The command-line tool against the session's local service, through click in-process."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from notebook_launcher.cli import main
from notebook_launcher.localservice.embedded import EmbeddedService

Cli = Callable[..., Result]


@pytest.fixture
def service(local_service: EmbeddedService) -> Iterator[EmbeddedService]:
    """The session's service with no injected fault left over, before or after a test."""
    local_service.clear_faults()
    yield local_service
    local_service.clear_faults()


@pytest.fixture
def cli(service: EmbeddedService) -> Cli:
    """Run `python -m notebook_launcher ARGS` in-process against the session's service."""
    # Output as a pipe gets it (no COLUMNS: pytest-xdist's workers may inherit one, and rich
    # would crop the tables' OCIDs to it).
    runner = CliRunner(env={"COLUMNS": None})

    def run(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(service.data_dir)])

    return run


def launch(cli: Cli, *args: str) -> dict[str, Any]:
    """`invoke` that must succeed; the function's answer."""
    result = cli("invoke", "--job-name", f"cli-{uuid.uuid4().hex[:8]}", *args)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer
