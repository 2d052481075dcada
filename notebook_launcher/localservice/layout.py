"""The data dir's layout: where each part of the local service keeps its files.

One place for the names, so the server, the executor, the services, `EmbeddedService` and the
console (`console/target.py` finds a running service by them) agree on them:

    <data-dir>/
      service.json   the running service announces itself ({"endpoint", "pid", "configFile",
                     "namespace"}); removed on a clean stop
      service.lock   held for the life of the process: one service per data dir
      service.log    the service process's own output (when `EmbeddedService` starts it)
      service.db     records: projects, jobs, job runs, schedules, artifacts' metadata, retry
                     tokens
      clock.json     the controlled clock's time (`serve --controlled-clock`, tests only)
      oci/           the service's identity: OCI config, API key, session-token signing key
      artifacts/     job artifacts, `<job id>.bin`
      uploads/       request bodies being streamed in (emptied at start)
      logs/          job runs' stdout and stderr, `<job run id>.log`
      runs/          one working folder per job run in progress
      runtime/       what every run's interpreter loads (sitecustomize, kernel spec)
      principals/    resource-principal sessions issued to callers (`EmbeddedService`)
      objectstorage/ Object Storage objects, `<namespace>/<bucket>/<object name>`
      objectstorage.db  what OCI keeps beside an object's bytes (etag, content type, metadata),
                     buckets, multipart uploads
      logging.db     log groups, logs, and the entries of runs' logs taken in by searches
      multipart/     the parts of multipart uploads in progress, `<upload id>/<part number>`

Dependency-free on purpose: tools that only look at a data dir import it without the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SERVICE_FILE = "service.json"


def artifact_file(artifacts_dir: Path, job_id: str) -> Path:
    """A job's artifact in the artifacts folder."""
    return artifacts_dir / f"{job_id}.bin"


@dataclass(frozen=True)
class DataDir:
    """The paths of one data dir (`root` as given; callers resolve it first)."""

    root: Path

    @property
    def service_file(self) -> Path:
        return self.root / SERVICE_FILE

    @property
    def service_lock(self) -> Path:
        return self.root / "service.lock"

    @property
    def service_log(self) -> Path:
        return self.root / "service.log"

    @property
    def database(self) -> Path:
        return self.root / "service.db"

    @property
    def clock_file(self) -> Path:
        return self.root / "clock.json"

    @property
    def oci_dir(self) -> Path:
        return self.root / "oci"

    @property
    def oci_config(self) -> Path:
        """The OCI config file that signs as the service's user (the SDK and the CLI read it)."""
        return self.oci_dir / "config"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    @property
    def principals(self) -> Path:
        return self.root / "principals"

    @property
    def objectstorage(self) -> Path:
        return self.root / "objectstorage"

    @property
    def objectstorage_db(self) -> Path:
        return self.root / "objectstorage.db"

    @property
    def logging_db(self) -> Path:
        return self.root / "logging.db"

    @property
    def multipart_uploads(self) -> Path:
        return self.root / "multipart"

    def artifact_path(self, job_id: str) -> Path:
        """Where a job's artifact is kept."""
        return artifact_file(self.artifacts, job_id)

    def log_path(self, run_id: str) -> Path:
        """Where a job run's combined stdout and stderr are written."""
        return self.logs / f"{run_id}.log"

    def object_path(self, namespace: str, bucket: str, name: str) -> Path:
        """Where an object lives on disk (no checks: `ObjectStore.object_path` makes them)."""
        return self.objectstorage.joinpath(namespace, bucket, *name.split("/"))
