"""Runs job runs for real, as local processes.

What OCI does with a job run, done on this machine: unpack the job artifact (a zip or a
tar, compressed or not, or a single script) in a fresh folder that is the run's working
directory, start its `JOB_RUN_ENTRYPOINT` (relative to that folder, so `root/main.py` for
an archive whose code sits under a root folder) with the job's environment variables
overlaid by the run's, plus the variables OCI documents for every run (TENANCY_OCID,
PROJECT_OCID, PROJECT_COMPARTMENT_OCID, JOB_OCID, JOB_COMPARTMENT_OCID,
JOB_ARTIFACT_FILE_NAME, JOB_RUN_OCID, JOB_RUN_COMPARTMENT_OCID) and a resource-principal
session for the run, with the command-line arguments, and follow it to the end. Conda
slugs are recorded in the run's environment but not installed: the run uses the service's
own interpreter (see `runenv`).

At most `concurrency` runs execute at once; the others wait in order, ACCEPTED. A run's
stdout and stderr go to `<data-dir>/logs/<run id>.log` as they are written. Cancel and an
exceeded maximum runtime stop the whole process tree (the notebook kernel is a grandchild in
a session of its own).

Runs are not isolated: every run is a process of the service's OS user, and its
resource-principal session may call every route of the service (see `middleware`).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.identity.provisioning import LocalIdentity
from notebook_launcher.localservice.identity.session_tokens import issue_resource_principal
from notebook_launcher.localservice.layout import DataDir
from notebook_launcher.localservice.runenv import RunRuntime
from notebook_launcher.localservice.store import JOB_RUNS, JOBS, PROJECTS, Record, Store
from notebook_launcher.oci_facts.archive_paths import member_problem, shown_name

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
TERMINATE_GRACE_SECONDS = 1.0
RUN_RESOURCE_TYPE = "datasciencejobrun"
# Local limits on what one artifact may unpack to (every run unpacks it afresh).
MAX_UNPACKED_BYTES = 1024**3
MAX_ARTIFACT_ENTRIES = 100_000


class RunSetupError(Exception):
    """The run could not be started (bad artifact, missing entrypoint)."""


@dataclass(frozen=True)
class ExecutorSettings:
    """Where runs live and how they are scheduled."""

    data_dir: Path
    endpoint: str
    concurrency: int
    runtime_minute_seconds: float = 60.0
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES
    max_artifact_entries: int = MAX_ARTIFACT_ENTRIES


class _Active:
    """A run a worker is executing; `wake` interrupts its wait (cancel or shutdown)."""

    def __init__(self) -> None:
        self.wake = threading.Event()


class Executor:
    """A FIFO queue of run ids served by `concurrency` worker threads."""

    def __init__(
        self,
        store: Store,
        identity: LocalIdentity,
        settings: ExecutorSettings,
        artifact_path: Callable[[str], Path],
    ) -> None:
        if settings.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._store = store
        self._identity = identity
        self._settings = settings
        self._artifact_path = artifact_path
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._active: dict[str, _Active] = {}
        self._active_lock = threading.Lock()
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._finish_listeners: list[Callable[[str], None]] = []
        self._layout = DataDir(settings.data_dir)
        self.runs_dir = self._layout.runs
        self.logs_dir = self._layout.logs
        self.runtime = RunRuntime(self._layout.runtime)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Prepare folders, settle runs left by a previous process, start the workers."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.runtime.install()
        self.recover()
        self._remove_run_folders()
        for index in range(self._settings.concurrency):
            worker = threading.Thread(
                target=self._work, name=f"job-run-worker-{index}", daemon=True
            )
            worker.start()
            self._workers.append(worker)

    def recover(self) -> None:
        """Runs in flight when the last process died fail; queued runs are queued again."""
        with self._store.transaction() as tx:
            in_flight = tx.ids_in_states(JOB_RUNS, (lifecycle.IN_PROGRESS, lifecycle.CANCELING))
            queued = tx.ids_in_states(JOB_RUNS, (lifecycle.ACCEPTED,))
        for run_id in in_flight:
            self._kill_orphan(run_id)
            with self._store.transaction() as tx:
                record = tx.get(JOB_RUNS, run_id)
                if record is None:
                    continue
                if record.state == lifecycle.CANCELING:
                    state, details = lifecycle.CANCELED, lifecycle.SERVICE_STOPPED_CANCEL_DETAILS
                else:
                    state, details = lifecycle.FAILED, lifecycle.SERVICE_STOPPED_DETAILS
                lifecycle.transition_in(
                    tx, run_id, (record.state,), state, details=details, finished=True
                )
            self._notify_finished(run_id)
        for run_id in queued:
            self.submit(run_id)
        if in_flight or queued:
            logger.info(
                "recovered %d interrupted and %d queued job run(s)", len(in_flight), len(queued)
            )

    def _remove_run_folders(self) -> None:
        """Remove the folders runs left behind (a killed service never cleaned them up);
        nothing runs yet, and a queued run makes its folder afresh."""
        for folder in self.runs_dir.iterdir():
            shutil.rmtree(folder, ignore_errors=True)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop running processes (their runs fail: the service stopped) and the workers."""
        self._stopping.set()
        with self._active_lock:
            for active in self._active.values():
                active.wake.set()
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def submit(self, run_id: str) -> None:
        self._queue.put(run_id)

    def add_finish_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(run_id)` after a run this executor ends (or settles at start-up)
        reaches its final state; it runs on the worker's thread, so it must be quick."""
        self._finish_listeners.append(listener)

    def _notify_finished(self, run_id: str) -> None:
        for listener in self._finish_listeners:
            try:
                listener(run_id)
            except Exception:
                logger.exception("a finish listener failed for job run %s", run_id)

    def cancel(self, run_id: str) -> None:
        """Wake the worker of a run the API moved to CANCELING."""
        with self._active_lock:
            active = self._active.get(run_id)
        if active is not None:
            active.wake.set()

    def log_path(self, run_id: str) -> Path:
        return self._layout.log_path(run_id)

    # ----------------------------------------------------------------- workers

    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            if run_id is None or self._stopping.is_set():
                return
            try:
                self._execute(run_id)
            except Exception:
                logger.exception("job run %s failed inside the local service", run_id)
                self._finish(run_id, None, failure=lifecycle.INTERNAL_ERROR_DETAILS)

    def _execute(self, run_id: str) -> None:
        active = _Active()
        with self._active_lock:
            self._active[run_id] = active
        try:
            record = lifecycle.transition(
                self._store, run_id, (lifecycle.ACCEPTED,), lifecycle.IN_PROGRESS, started=True
            )
            if record is None:
                return  # canceled or deleted while it waited
            self._run_process(record, active)
        finally:
            with self._active_lock:
                self._active.pop(run_id, None)

    def _run_process(self, run: Record, active: _Active) -> None:
        """Set the run up in a folder of its own, run it, remove the folder (its log and
        outputs live elsewhere), then record how it ended."""
        run_dir = self.runs_dir / run.id
        shutil.rmtree(run_dir, ignore_errors=True)
        try:
            exit_code, exceeded, failure = self._run_in(run, run_dir, active)
        finally:
            # Before the final state: whoever sees the run finished sees its folder gone.
            shutil.rmtree(run_dir, ignore_errors=True)
        # A cancel may have arrived meanwhile (CANCELING): _finish ends it CANCELED.
        self._finish(run.id, exit_code, exceeded, failure=failure)

    def _run_in(
        self, run: Record, run_dir: Path, active: _Active
    ) -> tuple[int | None, int | None, str | None]:
        """(exit code, minutes of an exceeded maximum runtime, failure details) of a run."""
        run_id = run.id
        job = self._store.get(JOBS, str(run.doc["jobId"]))
        if job is None:
            raise RuntimeError(f"job {run.doc['jobId']} of run {run_id} is missing")
        configuration = _effective_configuration(job.doc, run.doc)
        work_dir = run_dir / "artifact"
        work_dir.mkdir(parents=True)
        log_path = self.log_path(run_id)
        with open(log_path, "ab") as log:
            try:
                command, env = self._prepare(run, job, configuration, run_dir, work_dir)
            except RunSetupError as exc:
                log.write(f"{exc}\n".encode())
                return None, None, lifecycle.SETUP_FAILED_DETAILS.format(reason=exc)
            started = time.monotonic()
            process = subprocess.Popen(
                command,
                cwd=work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _write_process_file(run_dir, process.pid)
        logger.info("job run %s started as process %d", run_id, process.pid)
        max_minutes = configuration.get("maximumRuntimeInMinutes")
        deadline = (
            started + max_minutes * self._settings.runtime_minute_seconds
            if isinstance(max_minutes, int)
            else None
        )
        exit_code: int | None = None
        exceeded: int | None = None
        while True:
            exit_code = process.poll()
            if exit_code is not None:
                break
            if active.wake.is_set() or self._stopping.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                exceeded = max_minutes
                break
            active.wake.wait(POLL_SECONDS)
        if exit_code is None:
            kill_process_tree(process.pid)
            process.wait()
            exit_code = _exit_code(process.returncode)
        else:
            exit_code = _exit_code(exit_code)
            kill_process_tree(process.pid)  # anything the entrypoint left behind
        return exit_code, exceeded, None

    def _finish(
        self,
        run_id: str,
        exit_code: int | None,
        exceeded_minutes: int | None = None,
        *,
        failure: str | None = None,
    ) -> None:
        """Move a started run (IN_PROGRESS or CANCELING) to its final state."""
        with self._store.transaction() as tx:
            record = tx.get(JOB_RUNS, run_id)
            if record is None or record.state not in (lifecycle.IN_PROGRESS, lifecycle.CANCELING):
                return
            if self._stopping.is_set() and record.state == lifecycle.IN_PROGRESS:
                state, details = lifecycle.FAILED, lifecycle.SERVICE_STOPPED_DETAILS
            else:
                state, details = lifecycle.finish_state(
                    record.state,
                    exit_code,
                    runtime_exceeded_minutes=exceeded_minutes,
                    failure=failure,
                )
            lifecycle.transition_in(
                tx, run_id, (record.state,), state, details=details, finished=True
            )
        self._notify_finished(run_id)

    # ----------------------------------------------------------------- preparation

    def _prepare(
        self,
        run: Record,
        job: Record,
        configuration: Mapping[str, Any],
        run_dir: Path,
        work_dir: Path,
    ) -> tuple[list[str], dict[str, str]]:
        info_file = self._artifact_path(job.id)
        with self._store.transaction() as tx:
            artifact = tx.get_artifact(job.id)
        if artifact is None or not Path(info_file).is_file():
            raise RunSetupError("the job has no artifact.")
        unpack_artifact(
            Path(info_file),
            artifact.file_name,
            work_dir,
            max_bytes=self._settings.max_unpacked_bytes,
            max_entries=self._settings.max_artifact_entries,
        )
        variables: dict[str, str] = dict(configuration.get("environmentVariables") or {})
        entrypoint = variables.get("JOB_RUN_ENTRYPOINT")
        if not entrypoint:
            if is_archive(Path(info_file)):
                raise RunSetupError("JOB_RUN_ENTRYPOINT is not set for a zip or tar artifact.")
            entrypoint = artifact.file_name
        entry_path = (work_dir / entrypoint).resolve()
        if not entry_path.is_relative_to(work_dir.resolve()) or not entry_path.is_file():
            raise RunSetupError(f"the entrypoint {entrypoint} is not in the artifact.")
        if entry_path.suffix == ".py":
            command = [sys.executable, str(entry_path)]
        elif entry_path.suffix == ".sh":
            command = ["/bin/bash", str(entry_path)]
        else:
            raise RunSetupError(f"the entrypoint {entrypoint} is neither a .py nor a .sh file.")
        arguments = configuration.get("commandLineArguments")
        if arguments:
            try:
                command.extend(shlex.split(str(arguments)))
            except ValueError as exc:
                raise RunSetupError(f"commandLineArguments cannot be parsed ({exc}).") from None
        if variables.get("CONDA_ENV_SLUG") or variables.get("CONDA_ENV_OBJECT_NAME"):
            logger.info(
                "job run %s: conda environment %s recorded, not installed locally",
                run.id,
                variables.get("CONDA_ENV_SLUG") or variables.get("CONDA_ENV_OBJECT_NAME"),
            )
        env = self.runtime.run_environment(run_dir, self._settings.endpoint, variables)
        env.update(
            issue_resource_principal(
                self._identity,
                run_dir / "resource-principal",
                resource_id=run.id,
                resource_type=RUN_RESOURCE_TYPE,
                compartment_id=str(run.doc["compartmentId"]),
            )
        )
        env.update(self._service_variables(run, job, artifact.file_name))
        return command, env

    def _service_variables(self, run: Record, job: Record, artifact_name: str) -> dict[str, str]:
        """The variables OCI sets in every job run ("Job Environment Variables",
        docs.oracle.com/en-us/iaas/data-science/using/jobs-env-vars.htm)."""
        project_id = str(run.doc["projectId"])
        project = self._store.get(PROJECTS, project_id)
        return {
            "TENANCY_OCID": self._identity.tenancy_id,
            "PROJECT_OCID": project_id,
            "PROJECT_COMPARTMENT_OCID": str(
                project.doc["compartmentId"] if project else run.doc["compartmentId"]
            ),
            "JOB_OCID": job.id,
            "JOB_COMPARTMENT_OCID": str(job.doc["compartmentId"]),
            "JOB_ARTIFACT_FILE_NAME": artifact_name,
            "JOB_RUN_OCID": run.id,
            "JOB_RUN_COMPARTMENT_OCID": str(run.doc["compartmentId"]),
        }

    def _kill_orphan(self, run_id: str) -> None:
        """Stop a run process that outlived a killed service, if it is still there."""
        process_file = self.runs_dir / run_id / "process.json"
        try:
            recorded = json.loads(process_file.read_text(encoding="utf-8"))
            process = psutil.Process(int(recorded["pid"]))
            if abs(process.create_time() - float(recorded["createTime"])) > 0.01:
                return  # the pid now belongs to another process
        except (OSError, ValueError, KeyError, psutil.Error):
            return
        logger.info("stopping process %d left over from job run %s", process.pid, run_id)
        kill_process_tree(process.pid)


def _effective_configuration(job: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The job's configuration with the run's override applied (variables merged)."""
    base: dict[str, Any] = dict(job.get("jobConfigurationDetails") or {})
    override: Mapping[str, Any] = run.get("jobConfigurationOverrideDetails") or {}
    variables = dict(base.get("environmentVariables") or {})
    variables.update(override.get("environmentVariables") or {})
    base["environmentVariables"] = variables
    for field in ("commandLineArguments", "maximumRuntimeInMinutes"):
        if override.get(field) is not None:
            base[field] = override[field]
    return base


def is_archive(artifact: Path) -> bool:
    """Whether an artifact is a zip or a (compressed) tar, the archives OCI unpacks."""
    return zipfile.is_zipfile(artifact) or tarfile.is_tarfile(artifact)


def unpack_artifact(
    artifact: Path,
    file_name: str,
    destination: Path,
    *,
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_entries: int = MAX_ARTIFACT_ENTRIES,
) -> None:
    """Unpack a zip or (compressed) tar artifact into `destination`, or copy a single-file
    artifact there.

    An archive is checked before anything is written: at most `max_entries` entries whose
    declared sizes add up to at most `max_bytes` (extraction never writes more than an
    entry declares), no path leaving `destination`, and (tar) only files and folders. Every
    refusal or failure, the file system's included, is a RunSetupError saying why.
    """
    try:
        if zipfile.is_zipfile(artifact):
            _unzip(artifact, destination, max_bytes, max_entries)
        elif tarfile.is_tarfile(artifact):
            _untar(artifact, destination, max_bytes, max_entries)
        else:
            name = os.path.basename(file_name)
            if name in ("", ".", ".."):
                raise RunSetupError("the artifact cannot be unpacked: its file name is not usable.")
            shutil.copyfile(artifact, destination / name)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, NotImplementedError) as exc:
        raise RunSetupError(f"the artifact cannot be unpacked ({exc}).") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RunSetupError(f"the artifact cannot be unpacked ({reason}).") from None


def _check_members(
    root: Path, names: list[str], total: int, max_bytes: int, max_entries: int
) -> None:
    if len(names) > max_entries:
        raise RunSetupError(f"the artifact holds more than {max_entries} entries.")
    if total > max_bytes:
        raise RunSetupError(
            f"the artifact unpacks to more than {max_bytes} bytes, the local service's limit."
        )
    for name in names:
        # The rule the function applies to a caller's folder or archive, then the file
        # system's own answer.
        if member_problem(name) or not (root / name).resolve().is_relative_to(root):
            raise RunSetupError(f"the artifact holds an unsafe path {shown_name(name)}.")


def _unzip(artifact: Path, destination: Path, max_bytes: int, max_entries: int) -> None:
    root = destination.resolve()
    with zipfile.ZipFile(artifact) as archive:
        members = archive.infolist()
        _check_members(
            root,
            [m.filename for m in members],
            sum(m.file_size for m in members),
            max_bytes,
            max_entries,
        )
        archive.extractall(root)  # noqa: S202 (every member checked above)


def _untar(artifact: Path, destination: Path, max_bytes: int, max_entries: int) -> None:
    root = destination.resolve()
    with tarfile.open(artifact) as archive:
        members = archive.getmembers()
        for member in members:
            if not (member.isfile() or member.isdir()):
                raise RunSetupError(
                    f"the artifact holds {member.name!r}, which is not a file or a folder."
                )
        _check_members(
            root, [m.name for m in members], sum(m.size for m in members), max_bytes, max_entries
        )
        archive.extractall(root, filter="data")


def _exit_code(returncode: int) -> int:
    """A shell-style exit code: 128 + N for a process ended by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def _write_process_file(run_dir: Path, pid: int) -> None:
    try:
        create_time = psutil.Process(pid).create_time()
    except psutil.Error:
        return
    (run_dir / "process.json").write_text(
        json.dumps({"pid": pid, "createTime": create_time}), encoding="utf-8"
    )


def kill_process_tree(pid: int) -> None:
    """Stop a process, its process group and every descendant (TERM, then KILL).

    Descendants are listed before anything is signalled: once their parent dies they are
    re-parented and could no longer be found. Zombies count as stopped; the caller reaps
    its own child with `Popen.wait`.
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        processes = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            try:
                process.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        deadline = time.monotonic() + TERMINATE_GRACE_SECONDS
        while time.monotonic() < deadline:
            processes = [p for p in processes if _running(p)]
            if not processes:
                return
            time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
