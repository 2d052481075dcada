"""The parent side of `bench.launch_child` (the measured child): spawn it, send launches, collect
its RSS.

Every read has a deadline; a child that does not answer in time is killed. The child is
reaped with `os.wait4`, whose ru_maxrss is kept for reference only: on Linux it includes
the high-water mark this (larger) parent had when it spawned the child, so the child
reports its own peak (VmHWM) itself.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
# Where `make bench` writes a run (untracked: .gitignore), and the published figures that
# `make bench-publish` copies a run to, deliberately (README links them).
RUN_RESULTS = ROOT / ".bench"
PUBLISHED_RESULTS = ROOT / "bench" / "results"
RESULT_PREFIX = b"BENCH "
# Variables that would make a child look at a real tenancy or a notebook session.
SCRUBBED_PREFIXES = ("OCI_", "NB_SESSION_")


class ChildError(RuntimeError):
    """The child died, timed out or answered something unreadable."""


def child_environment() -> dict[str, str]:
    """The parent's environment without OCI_* / NB_SESSION_*, with the repo on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONSTARTUP", None)
    return env


@dataclass
class ChildExit:
    """How the child ended: exit code, wait4's ru_maxrss (MB) and time of exit (monotonic)."""

    returncode: int
    max_rss_mb: float
    t_exit: float


class LaunchChild:
    """One `python -m bench.launch_child IMPL` process."""

    def __init__(
        self,
        impl: str,
        *,
        log: IO[bytes],
        python_args: tuple[str, ...] = (),
    ) -> None:
        self.impl = impl
        self.t_spawn = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, *python_args, "-m", "bench.launch_child", impl],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=ROOT,
            env=child_environment(),
        )
        self._buffer = b""
        self.exit: ChildExit | None = None

    def launch(
        self, body: Mapping[str, Any], config: Mapping[str, str], timeout: float = 120.0
    ) -> dict[str, Any]:
        """Send one launch and wait for its result line."""
        assert self.process.stdin is not None
        line = json.dumps({"body": body, "config": dict(config)}) + "\n"
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()
        return self._read_result(time.monotonic() + timeout)

    def _read_result(self, deadline: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.startswith(RESULT_PREFIX):
                    result: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
                    return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise ChildError(f"{self.impl} child gave no answer in time")
            ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    self.close()
                    raise ChildError(f"{self.impl} child exited without answering")
                self._buffer += chunk

    def close(self, timeout: float = 30.0) -> ChildExit:
        """Close stdin, reap the child with wait4 and return how it ended."""
        if self.exit is not None:
            return self.exit
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                t_exit = time.monotonic()
                code = os.waitstatus_to_exitcode(status)
                self.process.returncode = code  # reaped here; Popen must not wait again
                if self.process.stdout is not None:
                    self.process.stdout.close()
                self.exit = ChildExit(code, usage.ru_maxrss / 1024, t_exit)
                return self.exit
            if time.monotonic() >= deadline:
                os.kill(self.process.pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            self._drain(0.005)

    def _drain(self, wait: float) -> None:
        """Read what the child printed meanwhile, so that a full pipe never blocks it."""
        stdout = self.process.stdout
        if stdout is None or stdout.closed:
            time.sleep(wait)
            return
        ready, _, _ = select.select([stdout.fileno()], [], [], wait)
        chunk = os.read(stdout.fileno(), 65536) if ready else b""
        if ready and not chunk:
            time.sleep(wait)  # end of file: the child is exiting
        self._buffer += chunk

    def kill(self) -> None:
        """SIGKILL the child (if still there) and reap it."""
        if self.exit is None:
            try:
                os.kill(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.close()
