"""Every command in README.md runs, as written, against a local service.

Commands are read from the README's ```bash and ```python blocks. The only changes made to
them are the data folder and port (this test's own service instead of `.local-ds` on 8765)
and RUN_OCID (the run an earlier command launched). Commands that need an OCI tenancy and the
fn CLI cannot run here; they must be listed in NEEDS_TENANCY, so a new README command is
either run by this test or consciously listed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebook_launcher.localservice.embedded import EmbeddedService

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()

# The fn CLI and a tenancy: not available here (no OCI account, no Docker engine).
NEEDS_TENANCY = ("fn ", 'echo \'{"noteBook": "oci://notebooks@myns/')
# Run by other means: `make test` is this very suite; `make demo` runs
# `python -m notebook_launcher demo` (tests/functional/console runs it as a process), and
# `make serve` runs the serve command this test starts itself.
ELSEWHERE = {"make demo", "make test", "make serve"}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    """Shell commands of the bash blocks, continuation lines joined, comments dropped."""
    found = []
    for block in blocks("bash"):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """A folder laid out like the repository root, with a served `.local-ds` in it."""
    work = tmp_path_factory.mktemp("readme")
    (work / "examples").symlink_to(ROOT / "examples")
    port = free_port()
    service = EmbeddedService(work / ".local-ds", port=port)
    service.start()
    try:
        yield work, port
    finally:
        service.stop()


def run(command: str, work: Path, port: int, **replace: str) -> subprocess.CompletedProcess[str]:
    command = command.replace("8765", str(port))
    for old, new in replace.items():
        command = command.replace(old, new)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}:" + os.environ["PATH"],
        "SUPPRESS_LABEL_WARNING": "True",
    }
    if command.startswith("python "):
        command = f"{shlex.quote(sys.executable)} {command[len('python ') :]}"
    return subprocess.run(
        ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=180
    )


def test_every_readme_command_is_accounted_for() -> None:
    runnable = {c for c in commands() if not c.startswith(NEEDS_TENANCY)}
    assert runnable, "no commands found in README.md"
    for command in runnable - ELSEWHERE:
        assert command.startswith(("python -m notebook_launcher", "oci ")), (
            f"README command not run by test_readme.py: {command}"
        )


def test_readme_commands_run(workdir: tuple[Path, int]) -> None:
    work, port = workdir
    run_id = ""
    for command in commands():
        if command.startswith(NEEDS_TENANCY) or command in ELSEWHERE:
            continue
        if command.startswith("python -m notebook_launcher serve"):
            continue  # the fixture runs exactly this, on a free port
        done = run(command, work, port, RUN_OCID=run_id)
        assert done.returncode == 0, f"{command}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        if " invoke " in f" {command} ":
            answer = json.loads(done.stdout)
            if "steps" in answer:  # a pipeline launch: its run is a pipeline run
                assert answer["pipelineRunId"].startswith("ocid1.datasciencepipelinerun.")
            else:
                run_id = answer["id"]
        if command.startswith("python -m notebook_launcher policies"):
            assert "allow any-user to read data-science-jobs" in done.stdout
        if command.startswith("python -m notebook_launcher wait"):
            assert done.stdout.startswith("SUCCEEDED")
    assert run_id, "the README's invoke command did not run"


def test_readme_python_snippet_runs(workdir: tuple[Path, int]) -> None:
    work, port = workdir
    [snippet] = [b for b in blocks("python") if "DataScienceClient" in b]
    check = (
        snippet
        + "\nprojects = ds.list_projects(compartment_id=config['tenancy']).data"
        + "\nprint(len(projects))"
        + "\nfrom ads.jobs import DataScienceJob"
        + "\nprint(type(DataScienceJob.list_jobs(compartment_id=config['tenancy'])).__name__)"
    )
    done = run(f"python -c {shlex.quote(check)}", work, port)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "list"
