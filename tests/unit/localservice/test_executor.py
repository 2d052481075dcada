"""The executor: unpacking artifacts, run configuration, process trees, run setup."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import psutil
import pytest

from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.executor import (
    Executor,
    ExecutorSettings,
    RunSetupError,
    _effective_configuration,
    kill_process_tree,
    unpack_artifact,
)
from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.store import Record, Store
from tests.unit.localservice.datascience.test_models import (
    USER,
    RecordingScheduler,
    active_job,
    run_body,
)


def zip_with(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_unpack_refuses_paths_outside_the_run_folder(tmp_path: Path) -> None:
    artifact = tmp_path / "a.bin"
    artifact.write_bytes(zip_with({"../evil.py": "x"}))
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="unsafe"):
        unpack_artifact(artifact, "a.zip", tmp_path / "run")
    assert not (tmp_path / "evil.py").exists()


def test_unpack_zip_and_single_file(tmp_path: Path) -> None:
    zipped = tmp_path / "z.bin"
    zipped.write_bytes(zip_with({"code/main.py": "print(1)"}))
    (tmp_path / "one").mkdir()
    unpack_artifact(zipped, "job.zip", tmp_path / "one")
    assert (tmp_path / "one" / "code" / "main.py").read_text() == "print(1)"
    single = tmp_path / "s.bin"
    single.write_text("print(2)")
    (tmp_path / "two").mkdir()
    unpack_artifact(single, "script.py", tmp_path / "two")
    assert (tmp_path / "two" / "script.py").read_text() == "print(2)"


def test_run_overrides_merge_into_the_job_configuration() -> None:
    merged = _effective_configuration(
        {
            "jobConfigurationDetails": {
                "environmentVariables": {"A": "job", "B": "job"},
                "commandLineArguments": "job-args",
                "maximumRuntimeInMinutes": 10,
            }
        },
        {
            "jobConfigurationOverrideDetails": {
                "environmentVariables": {"B": "run"},
                "maximumRuntimeInMinutes": 2,
            }
        },
    )
    assert merged["environmentVariables"] == {"A": "job", "B": "run"}
    assert merged["commandLineArguments"] == "job-args"
    assert merged["maximumRuntimeInMinutes"] == 2


def test_kill_process_tree_reaches_descendants_in_other_sessions() -> None:
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert parent.stdout is not None
    grandchild = int(parent.stdout.readline())
    assert psutil.pid_exists(grandchild)

    kill_process_tree(parent.pid)
    parent.wait(timeout=10)
    parent.stdout.close()

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, 9)
        pytest.fail("the grandchild in its own session survived")


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentity:
    return ensure_identity(tmp_path_factory.mktemp("svc"))


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


class _CancelDuringSetup(Executor):
    """An executor whose setup is interrupted by a cancel, then fails."""

    datascience: DataScience

    def _prepare(self, run: Record, *args: Any) -> tuple[list[str], dict[str, str]]:
        self.datascience.cancel_job_run(run.id, None)  # the API moves it to CANCELING
        raise RunSetupError("the artifact is broken.")


def test_unpacking_refuses_an_artifact_larger_than_the_cap(tmp_path: Path) -> None:
    artifact = tmp_path / "bomb.bin"
    artifact.write_bytes(zip_of([("a", b"\0" * 600_000), ("b", b"\0" * 600_000)]))
    assert artifact.stat().st_size < 10_000
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="unpacks to more than 1000000 bytes"):
        unpack_artifact(artifact, "bomb.zip", tmp_path / "run", max_bytes=1_000_000)
    assert list((tmp_path / "run").iterdir()) == []
    unpack_artifact(artifact, "bomb.zip", tmp_path / "run", max_bytes=1_200_000)
    assert (tmp_path / "run" / "b").stat().st_size == 600_000


def test_unpacking_refuses_too_many_entries(tmp_path: Path) -> None:
    artifact = tmp_path / "many.bin"
    artifact.write_bytes(zip_of([(f"f{n}", b"") for n in range(30)]))
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="more than 20 entries"):
        unpack_artifact(artifact, "many.zip", tmp_path / "run", max_entries=20)


@pytest.mark.parametrize(
    ("content", "file_name"),
    [
        (zip_of([("lnk", b"x"), ("lnk/pwn", b"y")]), "clash.zip"),
        (b"print(1)\n", ".."),
        (b"print(1)\n", "."),
    ],
)
def test_os_errors_while_unpacking_are_setup_errors(
    tmp_path: Path, content: bytes, file_name: str
) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(content)
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="cannot be unpacked"):
        unpack_artifact(artifact, file_name, tmp_path / "run")


def test_a_cancel_during_a_failed_setup_ends_canceled(
    tmp_path: Path, identity: LocalIdentity
) -> None:
    store = Store(tmp_path / "db")
    executor = _CancelDuringSetup(
        store,
        identity,
        ExecutorSettings(data_dir=tmp_path, endpoint="http://127.0.0.1:9", concurrency=1),
        lambda job_id: tmp_path / "artifacts" / f"{job_id}.bin",
    )
    executor.runs_dir.mkdir()
    executor.logs_dir.mkdir()
    ds = DataScience(store, tmp_path / "artifacts", RecordingScheduler())
    executor.datascience = ds
    project, job = active_job(ds)
    run = ds.create_job_run(run_body(project, job), USER, None)[0]

    executor._execute(run.id)

    finished = ds.get_job_run(run.id)
    assert finished.state == lifecycle.CANCELED
    assert finished.doc["lifecycleDetails"] == lifecycle.CANCELED_DETAILS
    assert "timeFinished" in finished.doc
    assert not (executor.runs_dir / run.id).exists()


def test_folders_left_by_earlier_runs_are_removed_at_start(
    tmp_path: Path, identity: LocalIdentity
) -> None:
    executor = Executor(
        Store(tmp_path / "db"),
        identity,
        ExecutorSettings(data_dir=tmp_path, endpoint="http://127.0.0.1:9", concurrency=1),
        lambda job_id: tmp_path / "artifacts" / f"{job_id}.bin",
    )
    leftover = executor.runs_dir / ("ocid1.datasciencejobrun.oc1.iad." + "a" * 60) / "artifact"
    leftover.mkdir(parents=True)
    (leftover / "unpacked.bin").write_bytes(b"\0" * 1000)
    executor.start()
    try:
        assert list(executor.runs_dir.iterdir()) == []
    finally:
        executor.shutdown()
