"""The local service's testing helper: run it as a real subprocess, drive it, break it.

    with EmbeddedService(tmp_path / "ds") as service:
        client = service.datascience_client()
        project_id = service.create_project()

Like fdk's own `fdk/fixtures.py` (a test case for functions, shipped in the fdk package so
that users' tests can import it), this module is test equipment kept in the product package
on purpose: the tests, the benchmarks, `make demo` and the console's demo all start the
service through it. Beside starting and stopping the service it holds the controls only
tests need: fault injection (`inject_fault`, `clear_faults`; needs `fault_injection=True`),
call statistics (`stats`, `reset_stats`), the schedules' clock (`set_clock`, `advance_clock`;
needs `controlled_clock=True`), a crash (`kill`), a function's resource principal
(`function_rp_env`), and the on-disk paths of objects and run logs.

The service is `python -m notebook_launcher serve` in its own process, reached over HTTP
with signed requests exactly as OCI is (the controls are the `/_local` routes of
`developer_api.py`); nothing here reaches into its internals.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import oci
import requests

from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.identity.session_tokens import issue_resource_principal
from notebook_launcher.localservice.ids import new_ocid
from notebook_launcher.localservice.layout import DataDir

logger = logging.getLogger(__name__)

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT_SECONDS = 30
# Variables that would make the service (or code it starts) look elsewhere for OCI.
_SCRUBBED_PREFIXES = ("OCI_", "NB_SESSION_")


class EmbeddedServiceError(RuntimeError):
    """The service did not start, or answered a local helper call with an error."""


class EmbeddedService:
    """A local Data Science service subprocess bound to one data dir."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        concurrency: int | None = None,
        fault_injection: bool = False,
        runtime_minute_seconds: float | None = None,
        controlled_clock: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.layout = DataDir(self.data_dir)
        self.port = port
        self.concurrency = concurrency
        self.fault_injection = fault_injection
        self.runtime_minute_seconds = runtime_minute_seconds
        self.controlled_clock = controlled_clock
        self._process: subprocess.Popen[bytes] | None = None
        self._info: dict[str, Any] | None = None
        self._identity: LocalIdentity | None = None
        self._signer: oci.signer.Signer | None = None

    # ----------------------------------------------------------------- process

    @property
    def service_log(self) -> Path:
        """The service process's own output (not the job runs' logs)."""
        return self.layout.service_log

    def command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "notebook_launcher",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        if self.concurrency is not None:
            command += ["--concurrency", str(self.concurrency)]
        if self.fault_injection:
            command.append("--fault-injection")
        if self.runtime_minute_seconds is not None:
            command += ["--runtime-minute-seconds", str(self.runtime_minute_seconds)]
        if self.controlled_clock:
            command.append("--controlled-clock")
        return command

    def start(self, timeout: float = 30) -> EmbeddedService:
        """Spawn the service and wait until it announces itself in service.json."""
        if self.running:
            raise EmbeddedServiceError("the service is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        service_file = self.layout.service_file
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(_SCRUBBED_PREFIXES)
        }
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        with open(self.service_log, "ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedServiceError(
                    f"the service exited with code {self._process.returncode}:\n{self._log_tail()}"
                )
            info = _read_json(service_file)  # one left by a killed predecessor has its pid
            if info is not None and info.get("pid") == self._process.pid:
                self._info = info
                self._identity = ensure_identity(self.data_dir)
                self._signer = oci.signer.Signer(
                    tenancy=self._identity.tenancy_id,
                    user=self._identity.user_id,
                    fingerprint=self._identity.fingerprint,
                    private_key_file_location=str(self._identity.key_file),
                )
                logger.info("local service up at %s", self.endpoint)
                return self
            time.sleep(0.05)
        self.kill()
        raise EmbeddedServiceError(
            f"the service did not start within {timeout} s:\n{self._log_tail()}"
        )

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM and wait: runs in progress fail, records are kept."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("service did not stop within %s s; killing it", timeout)
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would (service.json and running run processes stay)."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise EmbeddedServiceError("the service is not running")
        return self._process.pid

    def __enter__(self) -> EmbeddedService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.service_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no service log)"
        return "\n".join(text.splitlines()[-lines:])

    # ----------------------------------------------------------------- addresses

    @property
    def endpoint(self) -> str:
        """The service's base URL, e.g. http://127.0.0.1:PORT."""
        return str(self._started_info()["endpoint"])

    @property
    def console_url(self) -> str:
        """The web console's address with its token (`/ui/?token=...`), as `serve` prints it."""
        return str(self._started_info()["consoleUrl"])

    def console_page(self, path: str) -> str:
        """A console page's address that logs the browser in: e.g. `runs/<run id>`."""
        token = self.console_url.partition("?token=")[2]
        return f"{self.endpoint}/ui/{path}?token={token}"

    @property
    def namespace(self) -> str:
        return str(self._started_info()["namespace"])

    @property
    def identity(self) -> LocalIdentity:
        if self._identity is None:
            raise EmbeddedServiceError("the service has not been started")
        return self._identity

    @property
    def config_file(self) -> Path:
        return self.identity.config_file

    @property
    def tenancy_id(self) -> str:
        return self.identity.tenancy_id

    def oci_config(self) -> dict[str, Any]:
        config: dict[str, Any] = oci.config.from_file(str(self.config_file))
        return config

    def _started_info(self) -> dict[str, Any]:
        if self._info is None:
            raise EmbeddedServiceError("the service has not been started")
        return self._info

    @property
    def signer(self) -> oci.signer.Signer:
        """An API-key request signer (a `requests` auth) for raw HTTP calls."""
        if self._signer is None:
            raise EmbeddedServiceError("the service has not been started")
        return self._signer

    def object_path(self, namespace: str, bucket: str, name: str) -> Path:
        """Where an object of the local Object Storage lives on disk."""
        return self.layout.object_path(namespace, bucket, name)

    def log_path(self, run_id: str) -> Path:
        """Where a run's combined stdout and stderr are written."""
        return self.layout.log_path(run_id)

    # ----------------------------------------------------------------- clients

    def datascience_client(self, **kwargs: Any) -> oci.data_science.DataScienceClient:
        """An API-key DataScienceClient for the service (no retries unless given)."""
        kwargs.setdefault("service_endpoint", self.endpoint)
        kwargs.setdefault("retry_strategy", oci.retry.NoneRetryStrategy())
        return oci.data_science.DataScienceClient(self.oci_config(), **kwargs)

    def object_storage_client(self, **kwargs: Any) -> oci.object_storage.ObjectStorageClient:
        kwargs.setdefault("service_endpoint", self.endpoint)
        kwargs.setdefault("retry_strategy", oci.retry.NoneRetryStrategy())
        return oci.object_storage.ObjectStorageClient(self.oci_config(), **kwargs)

    def function_rp_env(self) -> dict[str, str]:
        """OCI_RESOURCE_PRINCIPAL_* variables of a fresh function principal (as OCI Functions
        sets them), whose session the service trusts."""
        function_id = new_ocid("fnfunc")
        return issue_resource_principal(
            self.identity,
            self.layout.principals / uuid.uuid4().hex,
            resource_id=function_id,
            resource_type="fnfunc",
            compartment_id=self.identity.tenancy_id,
        )

    def create_project(self, compartment_id: str | None = None, name: str = "local") -> str:
        """Create a project (in the tenancy unless told otherwise); its OCID."""
        details = oci.data_science.models.CreateProjectDetails(
            compartment_id=compartment_id or self.identity.tenancy_id, display_name=name
        )
        return str(self.datascience_client().create_project(details).data.id)

    # ----------------------------------------------------------------- local helpers

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(
            method,
            f"{self.endpoint}{path}",
            auth=self._signer,
            timeout=HTTP_TIMEOUT_SECONDS,
            **kwargs,
        )
        if response.status_code >= 400:
            raise EmbeddedServiceError(
                f"{method} {path} answered {response.status_code}: {response.text}"
            )
        return response

    def stats(self) -> dict[str, int]:
        """Calls per OCI operation since the start (or the last reset)."""
        counts: dict[str, int] = self._call("GET", "/_local/stats").json()
        return counts

    def transitions(self, resource_id: str) -> list[tuple[str | None, str]]:
        """(step name, state): every lifecycle state the service stored resource_id (step
        None) and its step runs in, oldest first. Tests assert on these, never on what a
        poll happened to see."""
        items = self._call("GET", f"/_local/transitions/{resource_id}").json()["items"]
        return [(item["stepName"], str(item["lifecycleState"])) for item in items]

    def reset_stats(self) -> None:
        self._call("POST", "/_local/stats/reset")

    def inject_fault(
        self,
        operation: str,
        *,
        status: int | None = None,
        count: int = 1,
        delay_seconds: float = 0.0,
    ) -> None:
        """Answer the next `count` calls of `operation` after `delay_seconds` with `status`
        (None: delay only). Needs `fault_injection=True`."""
        body = {
            "operation": operation,
            "status": status,
            "count": count,
            "delaySeconds": delay_seconds,
        }
        self._call("POST", "/_local/faults", json=body)

    def clear_faults(self) -> None:
        self._call("DELETE", "/_local/faults")

    def clock(self) -> str:
        """The time schedules run on (RFC 3339)."""
        return str(self._call("GET", "/_local/clock").json()["time"])

    def set_clock(self, moment: str) -> str:
        """Move the controlled clock to `moment` (RFC 3339); returns once the schedules then
        due have fired. Needs `controlled_clock=True`."""
        return str(self._call("POST", "/_local/clock", json={"time": moment}).json()["time"])

    def advance_clock(self, seconds: float) -> str:
        """Move the controlled clock forward by `seconds` (see `set_clock`)."""
        body = {"advanceSeconds": seconds}
        return str(self._call("POST", "/_local/clock", json=body).json()["time"])

    def logs(self, run_id: str, offset: int = 0) -> str:
        """A run's combined stdout and stderr so far."""
        return self._call("GET", f"/_local/jobRuns/{run_id}/logs", params={"offset": offset}).text


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
