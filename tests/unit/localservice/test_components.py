"""Small parts of the local service: validation, faults, object names, run preparation."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil
import pytest

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError
from notebook_launcher.localservice.executor import (
    RunSetupError,
    _effective_configuration,
    kill_process_tree,
    unpack_artifact,
)
from notebook_launcher.localservice.faults import CallStats, FaultInjector
from notebook_launcher.localservice.ids import format_time
from notebook_launcher.localservice.objectstorage.models import ObjectStore


def test_infrastructure_validation_names_nested_fields() -> None:
    with pytest.raises(InvalidParameterError, match=r"infra\.blockStorageSizeInGBs"):
        validation.infrastructure(
            {
                "jobInfrastructureType": "ME_STANDALONE",
                "shapeName": "s",
                "blockStorageSizeInGBs": 10,
            },
            "infra",
        )
    with pytest.raises(InvalidParameterError, match=r"infra\.jobInfrastructureType"):
        validation.infrastructure({"jobInfrastructureType": "MULTI_NODE"}, "infra")
    with pytest.raises(MissingParameterError, match=r"infra\.subnetId"):
        validation.infrastructure(
            {"jobInfrastructureType": "STANDALONE", "shapeName": "s", "blockStorageSizeInGBs": 50},
            "infra",
        )


def test_job_configuration_limits() -> None:
    with pytest.raises(InvalidParameterError, match="commandLineArguments"):
        validation.job_configuration(
            {"jobType": "DEFAULT", "commandLineArguments": "x" * 4001}, "cfg"
        )
    with pytest.raises(InvalidParameterError, match=r"cfg\.environmentVariables\.A"):
        validation.job_configuration(
            {"jobType": "DEFAULT", "environmentVariables": {"A": 1}}, "cfg"
        )
    assert validation.job_configuration({"jobType": "DEFAULT"}, "cfg") == {"jobType": "DEFAULT"}


def test_faults_are_consumed_per_operation_in_order() -> None:
    faults = FaultInjector()
    faults.add("CreateJob", status=429, count=2, delay_seconds=0)
    faults.add("CreateJob", status=None, count=1, delay_seconds=0.5)
    assert faults.take("GetJob") is None
    first, second = faults.take("CreateJob"), faults.take("CreateJob")
    assert first is not None and second is not None
    assert [first.status, second.status] == [429, 429]
    delayed = faults.take("CreateJob")
    assert delayed is not None and delayed.status is None and delayed.delay_seconds == 0.5
    assert faults.take("CreateJob") is None
    with pytest.raises(ValueError, match="status"):
        faults.add("CreateJob", status=404, count=1, delay_seconds=0)
    with pytest.raises(ValueError):
        faults.add("CreateJob", status=None, count=1, delay_seconds=0)


def test_call_stats() -> None:
    stats = CallStats()
    stats.record("B")
    stats.record("A")
    stats.record("B")
    assert stats.snapshot() == {"A": 1, "B": 2}
    stats.reset()
    assert stats.snapshot() == {}


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "a//b", "./a", ""])
def test_object_names_that_leave_the_bucket_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidParameterError):
        ObjectStore(tmp_path).object_path("ns", "bucket", name)


def test_times_are_utc_milliseconds_with_z() -> None:
    moment = datetime(2026, 11, 22, 1, 6, 29, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert format_time(moment) == "2026-11-22T00:06:29.123Z"


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
