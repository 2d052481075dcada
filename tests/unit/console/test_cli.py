"""The commands through click, where no service is needed: registration, usage errors, the
missing-service error, and what reaches stdout."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from notebook_launcher.cli import main
from notebook_launcher.console.errors import ExitCode
from tests.unit.console.test_target import write_oci_config

COMMANDS = {"invoke", "dry-run", "wait", "status", "cancel", "logs", "runs", "demo"}
RUN_ID = "ocid1.datasciencejobrun.oc1.iad.aaaa"
START_HINT = "start it with `make serve` (or `python -m notebook_launcher serve`)"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_commands_are_registered_and_imported_only_when_used() -> None:
    code = (
        "import sys; from notebook_launcher.cli import main, _COMMANDS; "
        "print(sorted(_COMMANDS)); print(any(m.startswith('notebook_launcher.console') "
        "for m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert COMMANDS <= set(json.loads(out[0].replace("'", '"')))
    assert out[1] == "False"


@pytest.mark.parametrize(
    "args",
    [
        ["runs"],
        ["status", RUN_ID],
        ["cancel", RUN_ID],
        ["logs", RUN_ID],
        ["wait", RUN_ID],
        ["invoke", "--notebook", "n.ipynb"],
        ["dry-run", "--notebook", "n.ipynb"],
    ],
)
def test_without_a_local_service_every_command_says_how_to_start_one(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    result = runner.invoke(main, [*args, "--data-dir", str(tmp_path / "ds")])
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert result.stdout == ""
    assert f"Error: no local service at {tmp_path / 'ds'}: {START_HINT}" in result.stderr


def test_the_data_dir_comes_from_nl_data_dir(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["runs"], env={"NL_DATA_DIR": str(tmp_path / "elsewhere")})
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert f"no local service at {tmp_path / 'elsewhere'}" in result.stderr


def test_a_service_that_does_not_answer_is_unavailable(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "ds"
    config = write_oci_config(data_dir / "oci" / "config")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    info = {"endpoint": endpoint, "pid": os.getpid(), "configFile": str(config)}
    (data_dir / "service.json").write_text(json.dumps(info))
    result = runner.invoke(main, ["status", RUN_ID, "--data-dir", str(data_dir)])
    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    assert f"cannot reach the local service at {endpoint}" in result.stderr
    assert result.stdout == ""


def test_a_deployed_function_cannot_read_a_local_notebook(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["invoke", "--function-id", "ocid1.fnfunc.oc1.iad.f", "--notebook", "n.ipynb"]
    )
    assert result.exit_code == ExitCode.FAILED
    assert result.stdout == ""
    assert "a deployed function cannot read the local file 'n.ipynb'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--function-id", "ocid1.fnfunc.oc1.iad.f", "--endpoint", "http://x"], "drop --endpoint"),
        (["--profile", "P", "--notebook", "https://h/n.ipynb"], "give --function-id"),
        (["--param", "region=apac"], "the value must be JSON"),
        (["--param", "novalue"], "expected NAME=JSON"),
        (["--tag", "novalue"], "expected KEY=VALUE"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(main, ["invoke", *args])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert message in result.stderr
    assert result.stdout == ""


def test_a_request_file_that_is_not_json_is_a_usage_error(
    runner: CliRunner, tmp_path: Path
) -> None:
    request = tmp_path / "r.json"
    request.write_text("{not json")
    result = runner.invoke(main, ["invoke", str(request)])
    assert result.exit_code == ExitCode.USAGE
    assert "is not valid JSON" in result.stderr
