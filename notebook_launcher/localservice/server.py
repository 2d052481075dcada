"""Starting and stopping the local service: one process serving one data dir.

`serve` binds the socket itself (so port 0 picks any free port), builds the store, the
executor and the app, and runs uvicorn. Once it accepts requests it writes
`<data-dir>/service.json` ({"endpoint", "pid", "configFile", "namespace", "consoleUrl"},
owner-only: the console URL carries its token), which is how
`EmbeddedService` and other tools find it; a clean shutdown removes the file and stops the
runs in progress (they fail: the service stopped during the run).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from notebook_launcher.localservice.app import Monitoring, create_app
from notebook_launcher.localservice.clock import Clock, ControlledClock, SystemClock
from notebook_launcher.localservice.executor import Executor, ExecutorSettings
from notebook_launcher.localservice.faults import CallStats, FaultInjector
from notebook_launcher.localservice.http_protocol import BoundedHeadProtocol
from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.identity.signatures import SignatureVerifier
from notebook_launcher.localservice.layout import SERVICE_FILE, DataDir
from notebook_launcher.localservice.objectstorage.models import LOCAL_NAMESPACE
from notebook_launcher.localservice.rest import ServiceContext
from notebook_launcher.localservice.store import Store
from notebook_launcher.localservice.ui import Console, ConsoleSources, new_token

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceSettings:
    """How to run the service (the `serve` command's options)."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    concurrency: int = os.cpu_count() or 1
    fault_injection: bool = False
    runtime_minute_seconds: float = 60.0
    controlled_clock: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.runtime_minute_seconds <= 0:
            raise ValueError("runtime_minute_seconds must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be between 0 and 65535")


class _Server(uvicorn.Server):  # type: ignore[misc]  # uvicorn is untyped for mypy here
    """uvicorn's server, announcing itself once it is up."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._on_started()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol is TCP;
    # with protocol 0 a response's body waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def endpoint_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def usage_text(endpoint: str, identity: LocalIdentity, namespace: str) -> str:
    """How to point the oci SDK, ADS and the oci CLI at the service."""
    config = identity.config_file
    return f"""\
Local OCI Data Science service at {endpoint}
  data dir:  {identity.data_dir}
  config:    {config} (profile DEFAULT, region {identity.region})
  tenancy:   {identity.tenancy_id}  (use it as a compartment id)
  namespace: {namespace} (Object Storage, files under objectstorage/)

oci SDK:  oci.data_science.DataScienceClient(oci.config.from_file("{config}"),
              service_endpoint="{endpoint}")
ADS:      ads.set_auth("api_key", oci_config_location="{config}",
              client_kwargs={{"service_endpoint": "{endpoint}"}})
oci CLI:  oci --config-file {config} --endpoint {endpoint} data-science job list \\
              --compartment-id {identity.tenancy_id}
"""


def serve(settings: ServiceSettings, announce: Callable[[str], None] = print) -> None:
    """Run the service until SIGINT/SIGTERM."""
    data_dir = settings.data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    identity = ensure_identity(data_dir)
    sock = _bind(settings.host, settings.port)
    port = int(sock.getsockname()[1])
    endpoint = endpoint_url(settings.host, port)
    layout = DataDir(data_dir)
    service_file = layout.service_file
    store = Store(layout.database)
    # Uploads in flight are streamed here; any left by a killed process are garbage.
    shutil.rmtree(layout.uploads, ignore_errors=True)
    layout.uploads.mkdir()
    executor = Executor(
        store,
        identity,
        ExecutorSettings(
            data_dir=data_dir,
            endpoint=endpoint,
            concurrency=settings.concurrency,
            runtime_minute_seconds=settings.runtime_minute_seconds,
        ),
        layout.artifact_path,
    )
    clock: Clock = (
        ControlledClock(layout.clock_file) if settings.controlled_clock else SystemClock()
    )
    context = ServiceContext(layout=layout, store=store, executor=executor, clock=clock)
    app = create_app(
        context,
        SignatureVerifier(identity),
        Monitoring(
            stats=CallStats(),
            faults=FaultInjector() if settings.fault_injection else None,
        ),
        console=lambda backends: Console(
            ConsoleSources(
                store,
                backends["datascience"],
                backends["objectstorage"],
                layout.log_path,
                identity.user_id,
            ),
            new_token(),
        ),
    )
    console: Console = app.state.console

    def on_started() -> None:
        info = {
            "endpoint": endpoint,
            "pid": os.getpid(),
            "configFile": str(identity.config_file),
            "namespace": LOCAL_NAMESPACE,
            "consoleUrl": console.url(endpoint),
        }
        staged = service_file.with_name(f".{SERVICE_FILE}.tmp")
        # Owner-only: it holds the console's token (as Jupyter's runtime file does).
        staged.unlink(missing_ok=True)
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(json.dumps(info, indent=2) + "\n")
        os.replace(staged, service_file)
        announce(usage_text(endpoint, identity, LOCAL_NAMESPACE))
        announce(f"Web console: {console.url(endpoint)}\n")
        logger.info("serving %s on %s", data_dir, endpoint)

    config = uvicorn.Config(
        app, http=BoundedHeadProtocol, log_level="warning", lifespan="off", access_log=False
    )
    server = _Server(config, on_started)
    executor.start()
    context.background.start()  # after the executor has re-queued the runs left ACCEPTED
    # uvicorn re-raises the signal that stopped it once it is done; a no-op handler lets
    # the clean-up below run and the process exit normally.
    previous = _quiet_stop_signals()
    try:
        server.run(sockets=[sock])
    finally:
        service_file.unlink(missing_ok=True)
        context.background.stop()
        executor.shutdown()
        store.close()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(lock)
        logger.info("service on %s stopped", endpoint)


class DataDirInUseError(RuntimeError):
    """Another service process is already serving the data dir."""


def _lock_data_dir(data_dir: Path) -> int:
    """Hold an exclusive lock on the data dir for the life of the process (the OS drops it
    even on kill -9), so two services never run the same runs."""
    fd = os.open(DataDir(data_dir).service_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirInUseError(f"another local service is already serving {data_dir}") from None
    return fd


def _quiet_stop_signals() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {
        sig: signal.signal(sig, lambda signum, frame: None)
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
