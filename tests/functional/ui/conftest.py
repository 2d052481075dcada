"""The web console in a real headless Chromium (Debian's `chromium`), driven by Playwright.

No browser is downloaded: Playwright is pointed at the system's executable. Where it is
missing or cannot start, the browser tests are skipped with the reason (never passed).
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from notebook_launcher.cli import main
from notebook_launcher.localservice.embedded import EmbeddedService

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FINISHED = {"SUCCEEDED", "FAILED", "CANCELED"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium; skips (with why) when it cannot be launched on this machine.

    Per module, not per session: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is started, and every later test in the process that calls
    `asyncio.run` (fdk's handler is async) would then fail."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `make install` installs Debian's chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"Playwright is not installed ({exc}): pip install -r requirements-dev.txt")
    manager = sync_playwright().start()
    try:
        launched = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:
        manager.stop()
        pytest.skip(f"Chromium could not be launched: {exc}")
    try:
        yield launched
    finally:
        launched.close()
        manager.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) and page."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def write_notebook(path: Path, *sources: str) -> Path:
    """A notebook of code cells, written to `path`."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


Launch = Callable[..., dict[str, Any]]


@pytest.fixture
def launch(local_service: EmbeddedService) -> Launch:
    """Launch a notebook through the function's core (`invoke`); the function's answer."""
    runner = CliRunner()

    def run(notebook: Path, *args: str) -> dict[str, Any]:
        result = runner.invoke(
            main,
            [
                "invoke",
                "--notebook",
                str(notebook),
                "--job-name",
                f"ui-{uuid.uuid4().hex[:8]}",
                *args,
                "--data-dir",
                str(local_service.data_dir),
            ],
        )
        assert result.exit_code == 0, result.output
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    return run


def wait_for_state(
    service: EmbeddedService, run_id: str, states: set[str], timeout: float = 120
) -> Any:
    client = service.datascience_client()
    deadline = time.monotonic() + timeout
    run = client.get_job_run(run_id).data
    while run.lifecycle_state not in states:
        assert time.monotonic() < deadline, f"{run_id} is {run.lifecycle_state}"
        time.sleep(0.2)
        run = client.get_job_run(run_id).data
    return run


def ensure_stopped(service: EmbeddedService, run_id: str) -> None:
    """Cancel a run a test left running (so it does not hold a slot for minutes)."""
    client = service.datascience_client()
    if client.get_job_run(run_id).data.lifecycle_state in ("ACCEPTED", "IN_PROGRESS"):
        client.cancel_job_run(run_id)
    wait_for_state(service, run_id, FINISHED, timeout=60)
