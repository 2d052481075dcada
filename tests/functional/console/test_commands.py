"""invoke → wait → status / logs / runs, failures, cancel and timeouts, dry runs, end to end
on the session's local service with real notebooks executing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from notebook_launcher.cli import main
from notebook_launcher.console.errors import ExitCode
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.console.conftest import Cli, launch

REPO_ROOT = Path(__file__).resolve().parents[3]


def outcome_rows(stdout: str) -> dict[str, str]:
    """The `label  value` lines `wait` prints after the state line."""
    return {line[:14].strip(): line[14:] for line in stdout.splitlines()[1:]}


def test_invoke_wait_status_logs_runs_and_dry_run_as_the_readme_shows_them(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "Command-line tool", as written: examples/launch.json's noteBook is relative to
    the repository root, where the commands run."""
    monkeypatch.chdir(REPO_ROOT)
    invoked = cli("invoke", "examples/launch.json")
    assert invoked.exit_code == 0, invoked.output
    answer = json.loads(invoked.stdout)  # stdout holds the answer and nothing else
    run_id = answer["id"]
    assert run_id.startswith("ocid1.datasciencejobrun.") and answer["lifecycleState"] == "ACCEPTED"
    assert f"wait {run_id}" in invoked.stderr

    waited = cli("wait", run_id, "--interval", "0.2", "--timeout", "60")
    assert waited.exit_code == 0, waited.output
    assert waited.stdout.startswith("SUCCEEDED")
    assert f"following {run_id}" in waited.stderr
    assert "  | region = 'apac'" in waited.stderr
    rows = outcome_rows(waited.stdout)
    assert rows["run"] == run_id
    assert rows["output folder"] == answer["outputUri"]
    on_disk = Path(rows["on disk"])
    summary = json.loads((on_disk / "summary.json").read_text())
    assert (summary["region"], summary["months"]) == ("apac", 6)
    assert Path(rows["notebook file"]) == on_disk / "sales-report.ipynb"
    assert json.loads(Path(rows["notebook file"]).read_text())["cells"]

    status = cli("status", run_id)
    assert status.exit_code == 0
    brief = json.loads(status.stdout)
    assert brief["lifecycleState"] == "SUCCEEDED"
    assert brief["outputUri"] == answer["outputUri"]
    assert brief["outputPath"] == str(on_disk)

    followed = cli("logs", run_id, "--follow")
    assert followed.exit_code == 0 and '"region": "apac"' in followed.stdout

    assert run_id in cli("runs").stdout
    listed = cli("runs", "--job-id", answer["jobId"], "--state", "succeeded")
    assert listed.exit_code == 0
    assert "SUCCEEDED" in next(line for line in listed.stdout.splitlines() if run_id in line)
    assert run_id not in cli("runs", "--state", "failed").stdout

    dry = cli("dry-run", "examples/launch.json")
    assert dry.exit_code == 0, dry.output
    runtime = yaml.safe_load(dry.stdout)["spec"]["runtime"]
    assert runtime["spec"]["notebookPathURI"] == "sales-report.ipynb"


def test_a_failed_run_makes_wait_exit_1(cli: Cli, notebooks: Path) -> None:
    run_id = launch(cli, "--notebook", str(notebooks / "fails.ipynb"))["id"]
    waited = cli("wait", run_id, "--interval", "0.2", "--timeout", "60")
    assert waited.exit_code == ExitCode.FAILED
    assert waited.stdout.startswith("FAILED")
    assert "  | before the failure" in waited.stderr
    followed = cli("logs", run_id, "--follow")
    assert followed.exit_code == 0
    assert "the notebook failed on purpose" in followed.stdout
    assert "never printed" not in followed.stdout
    assert f"{run_id} ended FAILED" in followed.stderr


def interrupt_wait(service: EmbeddedService, run_id: str) -> subprocess.CompletedProcess[str]:
    """`wait` as a process, sent Ctrl-C (SIGINT) once it follows the run."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "notebook_launcher", "wait", run_id]
    command += ["--data-dir", str(service.data_dir), "--interval", "0.2"]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith("following"), first
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(command, process.returncode, stdout, first + stderr)


def test_timeout_interrupt_cancel_then_wait(
    cli: Cli, service: EmbeddedService, notebooks: Path
) -> None:
    run_id = launch(cli, "--notebook", str(notebooks / "sleeps.ipynb"))["id"]
    timed_out = cli("wait", run_id, "--interval", "0.2", "--timeout", "1")
    assert timed_out.exit_code == ExitCode.TIMEOUT
    assert "after 1 s; it keeps running" in timed_out.stderr
    assert timed_out.stdout == ""

    interrupted = interrupt_wait(service, run_id)
    assert interrupted.returncode == ExitCode.INTERRUPTED, interrupted.stderr
    assert f"stopped following {run_id}; the run goes on" in interrupted.stderr

    canceled = cli("cancel", run_id)
    assert canceled.exit_code == 0, canceled.output
    assert json.loads(canceled.stdout)["lifecycleState"] in ("CANCELING", "CANCELED")

    waited = cli("wait", run_id, "--interval", "0.2", "--timeout", "60")
    assert waited.exit_code == ExitCode.FAILED
    assert waited.stdout.startswith("CANCELED")

    again = cli("cancel", run_id)
    assert again.exit_code == ExitCode.FAILED
    assert "has already ended (CANCELED)" in again.stderr
    assert again.stdout == ""


def test_an_error_answer_is_json_on_stdout_and_exit_1(cli: Cli, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"noteBook": "missing.ipynb", "jobNmae": "typo"}))
    result = cli("invoke", str(request), "--shape", "not a shape")
    assert result.exit_code == ExitCode.FAILED
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "InvalidRequest"
    assert {d["field"] for d in error["details"]} == {"jobNmae", "shape"}
    assert "Error: the function answered 400 InvalidRequest" in result.stderr


def test_a_missing_local_notebook_is_an_error_answer(cli: Cli, tmp_path: Path) -> None:
    result = cli("invoke", "--notebook", str(tmp_path / "absent.ipynb"))
    assert result.exit_code == ExitCode.FAILED
    assert json.loads(result.stdout)["error"]["code"] == "NotebookFetchFailed"


def test_dry_run_prints_the_ads_job_as_yaml_and_creates_nothing(
    cli: Cli, service: EmbeddedService, notebooks: Path
) -> None:
    launch(cli, "--notebook", str(notebooks / "hello.ipynb"))  # the tool's project exists
    service.reset_stats()
    result = cli("dry-run", "--notebook", str(notebooks / "hello.ipynb"), "--param", "n=2")
    assert result.exit_code == 0, result.output
    job = yaml.safe_load(result.stdout)
    assert job["kind"] == "job"
    assert job["spec"]["runtime"]["type"] == "notebook"
    assert job["spec"]["runtime"]["spec"]["notebookPathURI"] == "hello.ipynb"
    assert job["spec"]["infrastructure"]["type"] == "dataScienceJob"
    assert "NOTEBOOK_PARAMETERS" in result.stderr
    stats = service.stats()
    created = {op: n for op, n in stats.items() if op.startswith("Create") and n}
    assert created == {}, stats


def test_one_project_for_the_tool(cli: Cli, service: EmbeddedService, notebooks: Path) -> None:
    first = launch(cli, "--notebook", str(notebooks / "hello.ipynb"))
    second = launch(cli, "--notebook", str(notebooks / "hello.ipynb"))
    client = service.datascience_client()
    projects = client.list_projects(
        compartment_id=service.tenancy_id, display_name="notebook-launcher"
    ).data
    assert len(projects) == 1
    runs = [client.get_job_run(a["id"]).data for a in (first, second)]
    assert {r.project_id for r in runs} == {projects[0].id}


def test_a_service_named_by_endpoint_is_signed_for_with_the_data_dirs_config(
    cli: Cli, service: EmbeddedService, notebooks: Path, tmp_path: Path
) -> None:
    run_id = launch(cli, "--notebook", str(notebooks / "hello.ipynb"))["id"]
    elsewhere = tmp_path / "ds"
    (elsewhere / "oci").mkdir(parents=True)
    (elsewhere / "oci" / "config").write_text(service.config_file.read_text())
    args = ["status", run_id, "--endpoint", service.endpoint, "--data-dir", str(elsewhere)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == run_id
