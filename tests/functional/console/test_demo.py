"""`python -m notebook_launcher demo` (what `make demo` runs) as a real process: it launches
the example to SUCCEEDED, says where the executed notebook is, and stops its service, also
when interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from notebook_launcher.console.errors import ExitCode

REPO_ROOT = Path(__file__).resolve().parents[3]
DEMO_TIMEOUT_SECONDS = 120


def demo_command(data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "notebook_launcher", "demo", "--data-dir", str(data_dir)]


def clean_env() -> dict[str, str]:
    """No OCI settings of the caller; the repository importable from any folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCI_", "NB_SESSION_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_the_example_to_succeeded_and_points_at_the_output(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    done = subprocess.run(
        demo_command(data_dir),
        cwd=tmp_path,  # not the repository: the example's path is relative to it, not to cwd
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "SUCCEEDED  Job run artifact execution succeeded."
    rows = {line[:14].strip(): line[14:] for line in lines[1:]}
    on_disk = Path(rows["on disk"])
    assert on_disk.is_relative_to(data_dir.resolve())
    executed = json.loads((on_disk / "sales-report.ipynb").read_text())
    shown = json.dumps(executed)
    assert "apac" in shown  # the request's parameters reached the executed notebook
    summary = json.loads((on_disk / "summary.json").read_text())
    assert summary == {"region": "apac", "months": 6, "total": summary["total"]}
    assert Path(rows["notebook file"]) == on_disk / "sales-report.ipynb"
    # It ends with the run report: the notebook's outputs, typed, and the HTML page's path.
    outputs = [line[14:] for line in lines if line[:14].strip() == "output"]
    assert outputs == [
        f"total = {summary['total']}",
        f"summary = {json.dumps(summary, sort_keys=True)}",
    ]
    assert Path(rows["html"]) == on_disk / "sales-report.html" and Path(rows["html"]).is_file()
    assert rows["run page"].startswith("http://127.0.0.1:")
    assert "/ui/runs/ocid1.datasciencejobrun." in rows["run page"]
    assert "?token=" in rows["run page"]
    assert "the function answered 200" in done.stderr
    assert "stopping the local service" in done.stderr
    assert not (data_dir / "service.json").exists()  # the service it started has stopped


def test_an_interrupted_demo_stops_the_service_it_started(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        demo_command(data_dir),
        cwd=REPO_ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test runner may start us with SIGINT ignored; the demo must see Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert demo.stderr is not None
        for line in demo.stderr:
            if line.startswith("local service at"):
                break
        service_pid = json.loads((data_dir / "service.json").read_text())["pid"]
        assert alive(service_pid)
        demo.send_signal(signal.SIGINT)
        _, rest = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
    deadline = time.monotonic() + 10
    while alive(service_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left_running = alive(service_pid)
    if left_running:
        os.kill(service_pid, signal.SIGTERM)  # not to leak it when this test fails
    assert not left_running
    assert demo.returncode == ExitCode.INTERRUPTED, rest
    assert "interrupted; the local service was stopped" in rest
