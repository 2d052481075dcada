"""Which Data Science the commands talk to, decided in one place.

- Default: the local service whose `service.json` is in `--data-dir` (default `.local-ds`,
  or `$NL_DATA_DIR`), or the one at `--endpoint URL`, signed with that data dir's
  `oci/config`.
- `--profile`/`--region` (without `--endpoint`): OCI itself, with `~/.oci/config`.

Every call to the service goes through `Target.call`, which turns oci SDK and connection
failures into one-line `ConsoleError`s. For the local target the tool keeps one project,
named `notebook-launcher`, found by name or created with a fixed retry token; nothing is
cached on disk.
"""

from __future__ import annotations

import functools
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from notebook_launcher.console.errors import (
    ConsoleError,
    ServiceRefusedError,
    TargetUnavailableError,
    connection_errors,
)
from notebook_launcher.console.run_log import OciRunLog, RunLog, UnavailableRunLog
from notebook_launcher.localservice.layout import DataDir
from notebook_launcher.oci_facts.object_uri import ObjectUri
from notebook_launcher.oci_facts.states import JobRunState, ProjectState

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DATA_DIR = Path(".local-ds")
DATA_DIR_ENV = "NL_DATA_DIR"
PROJECT_NAME = "notebook-launcher"
# One project per compartment: two first invocations at once create it once.
PROJECT_RETRY_TOKEN = "notebook-launcher-console-project"  # noqa: S105 - not a secret
START_HINT = "start it with `make serve` (or `python -m notebook_launcher serve`)"


@dataclass(frozen=True)
class TargetOptions:
    """The target options as given on the command line."""

    data_dir: Path = DEFAULT_DATA_DIR
    endpoint: str | None = None
    profile: str | None = None
    region: str | None = None

    @property
    def wants_oci(self) -> bool:
        return self.endpoint is None and (self.profile is not None or self.region is not None)


def target_options(command: F) -> F:
    """Add --data-dir, --endpoint, --profile and --region, passed on as `target: TargetOptions`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        data_dir: Path,
        endpoint: str | None,
        profile: str | None,
        region: str | None,
        **kwargs: Any,
    ) -> Any:
        options = TargetOptions(data_dir, endpoint, profile, region)
        return command(*args, target=options, **kwargs)

    decorators = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=DEFAULT_DATA_DIR,
            envvar=DATA_DIR_ENV,
            show_default=True,
            show_envvar=True,
            help="Data dir of the local service (its service.json and oci/config).",
        ),
        click.option(
            "--endpoint",
            metavar="URL",
            help="URL of a local service (default: the one in --data-dir's service.json).",
        ),
        click.option(
            "--profile",
            help="Use OCI itself, with this profile of ~/.oci/config.",
        ),
        click.option(
            "--region",
            help="Use OCI itself, in this region (default: the profile's).",
        ),
    ]
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper  # type: ignore[return-value]


class Target(ABC):
    """A Data Science service the commands can use (the oci SDK's config and endpoint)."""

    def __init__(self, config: dict[str, Any], endpoint: str | None) -> None:
        self.config = config
        self.endpoint = endpoint
        self._datascience: Any = None

    @abstractmethod
    def describe(self) -> str:
        """Where the target is, for messages."""

    @abstractmethod
    def unreachable(self, reason: str) -> TargetUnavailableError:
        """The error for a target that does not answer."""

    def run_log(self, run: Any) -> RunLog:
        """The source of a job run's log text: its Logging log, searched (both targets)."""
        details = run.log_details
        if details is None or not details.log_id:
            return UnavailableRunLog(
                "the run has no log (its job was created without logging)"
                if run.lifecycle_state != JobRunState.ACCEPTED
                else "the run has no log yet"
            )
        return OciRunLog(self, run)

    def local_path(self, uri: str) -> Path | None:
        """The file an oci:// URI is on this machine (the local service's objects)."""
        return None

    def retry_strategy(self) -> Any:
        """None by default: a local service that does not answer is gone, say so at once."""
        import oci

        return oci.retry.NoneRetryStrategy()

    @property
    def compartment_id(self) -> str:
        """The default compartment for listings: the tenancy (root compartment)."""
        return str(self.config["tenancy"])

    @property
    def datascience(self) -> Any:
        """An oci DataScienceClient for the target."""
        if self._datascience is None:
            import oci
            from oci.circuit_breaker import NoCircuitBreakerStrategy

            kwargs: dict[str, Any] = {
                "retry_strategy": self.retry_strategy(),
                "circuit_breaker_strategy": NoCircuitBreakerStrategy(),
                "timeout": (5, 60),
            }
            if self.endpoint:
                kwargs["service_endpoint"] = self.endpoint
            self._datascience = oci.data_science.DataScienceClient(self.config, **kwargs)
        return self._datascience

    def call(self, operation: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call one SDK operation; failures leave as ConsoleErrors."""
        import oci

        try:
            return method(*args, **kwargs)
        except oci.exceptions.ServiceError as exc:
            raise ServiceRefusedError(
                f"{operation} failed at {self.describe()}: {exc.status} {exc.code}: {exc.message}"
            ) from None
        except connection_errors() as exc:
            raise self.unreachable(f"{operation}: {type(exc).__name__}") from None


@dataclass
class _Tenancy:
    tenancy_id: str


class LocalTarget(Target):
    """The embedded local service: a data dir, its endpoint, its OCI config."""

    endpoint: str

    def __init__(
        self, data_dir: Path, endpoint: str, config_file: Path, namespace: str | None = None
    ) -> None:
        import oci

        self.data_dir = data_dir
        self.config_file = config_file
        self._namespace = namespace
        try:
            config = oci.config.from_file(str(config_file))
        except (oci.exceptions.ClientError, OSError) as exc:
            raise TargetUnavailableError(
                f"cannot use the local service's OCI config {config_file}: {exc}"
            ) from None
        super().__init__(config, endpoint.rstrip("/"))
        # What the function's local profile needs of a service's identity: its tenancy.
        self.identity: Any = _Tenancy(str(config["tenancy"]))

    @classmethod
    def from_options(cls, options: TargetOptions) -> LocalTarget:
        """The service running in options.data_dir, or the one at options.endpoint."""
        data_dir = options.data_dir.expanduser()
        layout = DataDir(data_dir)  # the data dir's one layout (service.json, oci/config)
        info = _read_service_file(layout.service_file)
        if options.endpoint is None:
            if info is None:
                raise TargetUnavailableError(f"no local service at {data_dir}: {START_HINT}")
            pid = info.get("pid")
            if isinstance(pid, int) and not _process_alive(pid):
                raise TargetUnavailableError(
                    f"no local service at {data_dir} (its service.json is stale: process "
                    f"{pid} is not running): {START_HINT}"
                )
            endpoint = str(info["endpoint"])
        else:
            endpoint = options.endpoint
        config_file = Path(str((info or {}).get("configFile") or layout.oci_config))
        if not config_file.is_file():
            raise TargetUnavailableError(
                f"no OCI config for the local service at {config_file}: give the service's "
                f"--data-dir, or {START_HINT}"
            )
        namespace = (info or {}).get("namespace")
        return cls(data_dir.resolve(), endpoint, config_file, str(namespace) if namespace else None)

    def describe(self) -> str:
        return f"the local service at {self.endpoint}"

    def unreachable(self, reason: str) -> TargetUnavailableError:
        return TargetUnavailableError(
            f"cannot reach the local service at {self.endpoint} ({reason}): is it running? "
            f"{START_HINT}"
        )

    @property
    def signer(self) -> Any:
        import oci

        return oci.signer.Signer.from_config(self.config)

    @property
    def namespace(self) -> str:
        """The service's Object Storage namespace (service.json's, else GetNamespace's)."""
        if self._namespace is None:
            import oci

            client = oci.object_storage.ObjectStorageClient(
                self.config,
                service_endpoint=self.endpoint,
                retry_strategy=oci.retry.NoneRetryStrategy(),
            )
            self._namespace = str(self.call("GetNamespace", client.get_namespace).data)
        return self._namespace

    def local_path(self, uri: str) -> Path | None:
        """Objects of the local Object Storage are files under <data-dir>/objectstorage/."""
        location = parse_oci_uri(uri)
        if location is None:
            return None
        bucket, namespace, name = location
        parts = [p for p in name.split("/") if p]
        return self.data_dir.joinpath("objectstorage", namespace, bucket, *parts)

    # -- the tool's project ----------------------------------------------------------------

    def find_project(self) -> str | None:
        """The ACTIVE project named notebook-launcher in the tenancy, if there is one."""
        ds = self.datascience
        projects = self.call(
            "ListProjects",
            ds.list_projects,
            compartment_id=self.compartment_id,
            display_name=PROJECT_NAME,
            lifecycle_state=ProjectState.ACTIVE.value,
        ).data
        return str(projects[0].id) if projects else None

    def ensure_project(self) -> str:
        """The tool's project: found by name, or created (once, thanks to the retry token)."""
        import oci

        found = self.find_project()
        if found:
            return found
        ds = self.datascience
        details = oci.data_science.models.CreateProjectDetails(
            compartment_id=self.compartment_id,
            display_name=PROJECT_NAME,
            description="Jobs and runs launched by `python -m notebook_launcher`.",
        )
        project = self.call(
            "CreateProject",
            ds.create_project,
            details,
            opc_retry_token=PROJECT_RETRY_TOKEN,
        ).data
        if project.lifecycle_state != ProjectState.ACTIVE:  # the token's project was deleted
            project = self.call("CreateProject", ds.create_project, details).data
        return str(project.id)

    def function_config(self, project_id: str) -> dict[str, str]:
        """The function's configuration for this service (local notebook paths allowed)."""
        from notebook_launcher.local_profile import local_function_config

        return local_function_config(self, project_id, self.namespace)


class OciTarget(Target):
    """OCI Data Science in a region, with a profile of the user's OCI config file."""

    def __init__(self, profile: str | None, region: str | None) -> None:
        import oci

        self.profile = profile or "DEFAULT"
        try:
            config = oci.config.from_file(oci.config.DEFAULT_LOCATION, self.profile)
            if region:
                config["region"] = region
            oci.config.validate_config(config)
        except (oci.exceptions.ClientError, OSError) as exc:
            raise TargetUnavailableError(
                f"cannot use OCI profile {self.profile!r} of {oci.config.DEFAULT_LOCATION}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        super().__init__(config, None)

    def describe(self) -> str:
        return f"OCI ({self.config.get('region')}, profile {self.profile})"

    def retry_strategy(self) -> Any:
        """A few retries of throttling, 5xx and network errors, bounded in time."""
        import oci

        return oci.retry.RetryStrategyBuilder(
            max_attempts=3, total_elapsed_time_seconds=20
        ).get_retry_strategy()

    def unreachable(self, reason: str) -> TargetUnavailableError:
        return TargetUnavailableError(f"cannot reach {self.describe()} ({reason})")


def resolve_target(options: TargetOptions) -> Target:
    """The target the options select (see the module docstring)."""
    if options.wants_oci:
        return OciTarget(options.profile, options.region)
    if options.profile is not None or options.region is not None:
        raise ConsoleError("--endpoint selects a local service; drop --profile/--region")
    return LocalTarget.from_options(options)


def parse_oci_uri(uri: str) -> tuple[str, str, str] | None:
    """oci://bucket@namespace/name → (bucket, namespace, name); None if it is not one."""
    parsed = ObjectUri.parse(uri)
    return None if parsed is None else (parsed.bucket, parsed.namespace, parsed.prefix)


def _read_service_file(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("endpoint") else None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True
