"""Following a run with a fake Data Science: states, log lines, timeout, and the outcome."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from notebook_launcher.console.errors import ExitCode, TargetUnavailableError, WaitTimeoutError
from notebook_launcher.console.follow import (
    PlainRunDisplay,
    follow_run,
    format_seconds,
    print_outcome,
    run_output,
)
from notebook_launcher.console.run_log import RunLog
from notebook_launcher.console.target import Target

RUN_ID = "ocid1.datasciencejobrun.oc1.iad.run1"
JOB_ID = "ocid1.datasciencejob.oc1.iad.job1"
T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def run(state: str, seconds: float = 0, details: str | None = None, env: Any = None) -> Any:
    finished = state in ("SUCCEEDED", "FAILED", "CANCELED")
    return SimpleNamespace(
        id=RUN_ID,
        job_id=JOB_ID,
        lifecycle_state=state,
        lifecycle_details=details,
        time_accepted=T0,
        time_finished=T0 + dt.timedelta(seconds=seconds) if finished else None,
        job_configuration_override_details=(
            SimpleNamespace(environment_variables=env) if env is not None else None
        ),
    )


class FakeDataScience:
    def __init__(self, runs: list[Any], job_env: dict[str, str]) -> None:
        self.runs = runs
        self.job_env = job_env
        self.polls = 0

    def get_job_run(self, run_id: str) -> Any:
        assert run_id == RUN_ID
        current = self.runs[min(self.polls, len(self.runs) - 1)]
        self.polls += 1
        return SimpleNamespace(data=current)

    def get_job(self, job_id: str) -> Any:
        assert job_id == JOB_ID
        details = SimpleNamespace(environment_variables=self.job_env)
        return SimpleNamespace(data=SimpleNamespace(job_configuration_details=details))


class ScriptedLog:
    note: str | None = None

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = chunks

    def read_new(self) -> str:
        return self.chunks.pop(0) if self.chunks else ""


class FakeTarget(Target):
    def __init__(self, ds: FakeDataScience, data_dir: Path | None = None) -> None:
        super().__init__({"tenancy": "ocid1.tenancy.oc1..t"}, "http://fake")
        self._datascience = ds
        self.data_dir = data_dir

    def describe(self) -> str:
        return "a fake"

    def unreachable(self, reason: str) -> TargetUnavailableError:
        return TargetUnavailableError(reason)

    def run_log(self, run: Any) -> RunLog:
        raise AssertionError("the tests pass their log")

    def local_path(self, uri: str) -> Path | None:
        if self.data_dir is None:
            return None
        return self.data_dir / uri.removeprefix("oci://").replace("@", "/")


JOB_ENV = {"OUTPUT_URI": "oci://out@ns/runs/${JOB_RUN_OCID}", "JOB_RUN_NOTEBOOK": "report.ipynb"}


def plain_console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, highlight=False), buffer


def test_follow_reports_each_state_once_and_each_log_line_until_the_end() -> None:
    ds = FakeDataScience(
        [run("ACCEPTED"), run("IN_PROGRESS"), run("IN_PROGRESS"), run("SUCCEEDED", 3.5, "done")],
        JOB_ENV,
    )
    console, out = plain_console()
    sleeps: list[float] = []
    final = follow_run(
        FakeTarget(ds),
        RUN_ID,
        PlainRunDisplay(console, RUN_ID),
        interval=0.25,
        log=ScriptedLog(["", "start\nhal", "f way\n", "last line without newline"]),
        sleep=sleeps.append,
    )
    assert final.lifecycle_state == "SUCCEEDED"
    assert sleeps == [0.25, 0.25, 0.25]
    lines = out.getvalue().splitlines()
    assert lines[0] == f"following {RUN_ID}"
    assert [line.split("] ")[1] for line in lines if line.startswith("[")] == [
        "ACCEPTED",
        "IN_PROGRESS",
        "SUCCEEDED  done",
    ]
    assert [line for line in lines if line.startswith("  | ")] == [
        "  | start",
        "  | half way",
        "  | last line without newline",
    ]


def test_follow_gives_up_after_the_timeout() -> None:
    ds = FakeDataScience([run("IN_PROGRESS")], JOB_ENV)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    console, _ = plain_console()
    with pytest.raises(WaitTimeoutError, match="still IN_PROGRESS after 3 s") as caught:
        follow_run(
            FakeTarget(ds),
            RUN_ID,
            PlainRunDisplay(console, RUN_ID),
            interval=1,
            timeout=3,
            log=ScriptedLog([]),
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert caught.value.exit_code == ExitCode.TIMEOUT
    assert ds.polls == 4


@pytest.mark.parametrize("state", ["FAILED", "CANCELED", "NEEDS_ATTENTION", "DELETED"])
def test_every_terminal_state_ends_the_follow(state: str) -> None:
    ds = FakeDataScience([run(state)], JOB_ENV)
    console, _ = plain_console()
    final = follow_run(
        FakeTarget(ds), RUN_ID, PlainRunDisplay(console, RUN_ID), log=ScriptedLog([])
    )
    assert final.lifecycle_state == state and ds.polls == 1


def test_run_output_puts_the_run_in_the_per_run_folder() -> None:
    target = FakeTarget(FakeDataScience([], JOB_ENV))
    output = run_output(target, run("SUCCEEDED"))
    assert output.folder == f"oci://out@ns/runs/{RUN_ID}"
    assert output.notebook == f"oci://out@ns/runs/{RUN_ID}/report.ipynb"


def test_a_runs_own_output_uri_wins_and_a_job_without_one_has_none() -> None:
    target = FakeTarget(FakeDataScience([], JOB_ENV))
    overridden = run("SUCCEEDED", env={"OUTPUT_URI": "oci://other@ns/x/"})
    assert run_output(target, overridden).folder == "oci://other@ns/x"
    bare = FakeTarget(FakeDataScience([], {"JOB_RUN_NOTEBOOK": "n.ipynb"}))
    assert run_output(bare, run("SUCCEEDED")).folder is None


def test_the_outcome_says_where_the_output_is_on_disk(tmp_path: Path) -> None:
    target = FakeTarget(FakeDataScience([], JOB_ENV), data_dir=tmp_path)
    finished = run("SUCCEEDED", 75, "Job run artifact execution succeeded.")
    output = run_output(target, finished)
    folder = target.local_path(output.folder or "")
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / "report.ipynb").write_text("{}")
    console, out = plain_console()
    print_outcome(console, target, finished, output)
    lines = out.getvalue().splitlines()
    assert lines[0] == "SUCCEEDED  Job run artifact execution succeeded."
    rows = {line[:14].strip(): line[14:] for line in lines[1:]}
    assert rows["run"] == RUN_ID
    assert rows["took"] == "1m15s"
    assert rows["output folder"] == f"oci://out@ns/runs/{RUN_ID}"
    assert rows["on disk"] == str(folder)
    assert rows["notebook file"] == str(folder / "report.ipynb")


def test_format_seconds() -> None:
    assert format_seconds(None) == "-"
    assert format_seconds(4.26) == "4.3 s"
    assert format_seconds(61) == "1m01s"
    assert format_seconds(3 * 3600 + 5) == "3h00m05s"
