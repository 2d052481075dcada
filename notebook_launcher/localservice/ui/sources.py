"""What the console shows, read from the service's own store, backend and files.

No second copy: runs and jobs are the store's records (the same documents the API answers),
actions go through the `DataScience` backend (so they follow the API's rules), outputs are
the local Object Storage's objects, and a run's log is the executor's log file. The run
report (`report.json`, written by runs of jobs that carry the report writer) is read when
the run's output folder holds one; without it the console finds the failing cell in the
executed notebook itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from notebook_launcher.artifact.redaction import redact
from notebook_launcher.artifact.run_report_writer import (
    PARAMETERS_ENV,
    REPORT_FILE,
    REPORT_SCHEMA,
    REPORT_SCHEMA_VERSION,
)
from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.errors import NotFoundError, ServiceError
from notebook_launcher.localservice.objectstorage.models import ObjectStore
from notebook_launcher.localservice.store import (
    JOB_RUNS,
    JOBS,
    PIPELINE_RUNS,
    PIPELINES,
    SCHEDULES,
    Document,
    Record,
    Store,
)
from notebook_launcher.localservice.ui.redacted import redacted_value
from notebook_launcher.oci_facts.object_uri import OCI_URI_RE
from notebook_launcher.oci_facts.states import PipelineRunState, PipelineState, ScheduleState

PAGE_SIZE = 25
LOG_TAIL_BYTES = 64 * 1024
REPORT_MAX_BYTES = 8 * 1024 * 1024
NOTEBOOK_MAX_BYTES = 50 * 1024 * 1024
MAX_LISTED_FILES = 1000
_RUN_ID_PLACEHOLDERS = ("${JOB_RUN_OCID}", "$JOB_RUN_OCID")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class RunFilter:
    """The runs page's filters; empty strings filter nothing."""

    state: str = ""
    job_id: str = ""
    text: str = ""
    page: int = 1


@dataclass(frozen=True)
class RunPage:
    runs: list[Document]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class OutputFolder:
    namespace: str
    bucket: str
    prefix: str

    @property
    def uri(self) -> str:
        return f"oci://{self.bucket}@{self.namespace}/{self.prefix}".rstrip("/")

    def object_name(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name


@dataclass(frozen=True)
class OutputFile:
    name: str
    size: int


@dataclass(frozen=True)
class Failure:
    """The failing cell: from the report, or found in the executed notebook."""

    cell_index: int | None
    source: str | None
    ename: str
    evalue: str
    traceback: str


@dataclass
class RunOutputs:
    """Everything a finished (or running) run left in its output folder."""

    folder: OutputFolder | None
    files: list[OutputFile] = field(default_factory=list)
    report: Document | None = None
    report_note: str | None = None
    notebook: str | None = None  # the executed notebook's file name
    html: str | None = None  # the report's rendered page, when there is one
    failure: Failure | None = None
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (name, JSON text)


def duration_seconds(run: Document, now: datetime | None = None) -> float | None:
    """From start to finish (or to now while it runs); None before it started."""
    started = _parse_time(run.get("timeStarted"))
    if started is None:
        return None
    finished = _parse_time(run.get("timeFinished")) or now or datetime.now(started.tzinfo)
    return max(0.0, (finished - started).total_seconds())


def _paged(records: list[Record], wanted: int) -> RunPage:
    total = len(records)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, wanted), pages)
    chosen = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return RunPage([r.doc for r in chosen], page, pages, total)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def run_environment(job: Document | None, run: Document) -> dict[str, str]:
    """The run's environment as the executor gives it: the job's overlaid by the run's."""
    merged: dict[str, str] = {}
    for doc, key in ((job, "jobConfigurationDetails"), (run, "jobConfigurationOverrideDetails")):
        config = (doc or {}).get(key) or {}
        variables = config.get("environmentVariables") or {}
        merged.update({str(k): str(v) for k, v in variables.items()})
    return merged


def parameters(environment: dict[str, str]) -> list[tuple[str, str]]:
    """The run's notebook parameters (name, shown value), secrets redacted; [] when none or
    not readable."""
    try:
        values = json.loads(environment.get(PARAMETERS_ENV) or "{}")
    except ValueError:
        return []
    if not isinstance(values, dict):
        return []
    return [(str(name), redacted_value(str(name), value)) for name, value in sorted(values.items())]


def output_folder(environment: dict[str, str], run_id: str) -> OutputFolder | None:
    uri = environment.get("OUTPUT_URI") or ""
    for placeholder in _RUN_ID_PLACEHOLDERS:
        uri = uri.replace(placeholder, run_id)
    match = OCI_URI_RE.fullmatch(uri)
    if not match:
        return None
    return OutputFolder(match.group(2), match.group(1), (match.group(3) or "").strip("/"))


def strip_ansi(text: str) -> str:
    return _ANSI_RE.sub("", text)


def failure_in_notebook(notebook: Document) -> Failure | None:
    """The first code cell with an error output, in an executed notebook (nbformat 4 JSON)."""
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return None
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            if isinstance(output, dict) and output.get("output_type") == "error":
                source = cell.get("source", "")
                return Failure(
                    cell_index=index,
                    source="".join(source) if isinstance(source, list) else str(source),
                    ename=str(output.get("ename", "")),
                    evalue=str(output.get("evalue", "")),
                    traceback=strip_ansi("\n".join(str(t) for t in output.get("traceback", []))),
                )
    return None


def _cell_source(notebook: Document | None, index: object) -> str | None:
    if notebook is None or not isinstance(index, int):
        return None
    cells = notebook.get("cells")
    if not isinstance(cells, list) or not 0 <= index < len(cells):
        return None
    source = cells[index].get("source", "") if isinstance(cells[index], dict) else ""
    return "".join(source) if isinstance(source, list) else str(source)


class ConsoleSources:
    """The console's read and act surface over the service's parts."""

    def __init__(
        self,
        store: Store,
        datascience: DataScience,
        objects: ObjectStore,
        log_path: Callable[[str], Path],
        principal_id: str,
    ) -> None:
        self._store = store
        self._ds = datascience
        self._objects = objects
        self._log_path = log_path
        self._principal_id = principal_id

    # ----------------------------------------------------------------- runs and jobs

    def runs(self, wanted: RunFilter) -> RunPage:
        """Runs newest first, filtered by state and job (exactly) and text (in the name or
        id, any case), one page of PAGE_SIZE."""
        filters: dict[str, str] = {}
        if wanted.state:
            filters["lifecycleState"] = wanted.state
        if wanted.job_id:
            filters["jobId"] = wanted.job_id
        records = self._query(JOB_RUNS, filters, lifecycle.DELETED)
        text = wanted.text.casefold()
        if text:
            records = [
                r
                for r in records
                if text in str(r.doc.get("displayName", "")).casefold() or text in r.id.casefold()
            ]
        return _paged(records, wanted.page)

    def jobs(self) -> list[Document]:
        return [r.doc for r in self._query(JOBS, {}, lifecycle.JOB_DELETED)]

    def job_names(self) -> dict[str, str]:
        return {str(doc["id"]): str(doc.get("displayName", "")) for doc in self.jobs()}

    def runs_of_job(self, job_id: str, limit: int = 50) -> list[Document]:
        return [r.doc for r in self._query(JOB_RUNS, {"jobId": job_id}, lifecycle.DELETED)][:limit]

    def _query(self, kind: Any, filters: dict[str, str], deleted: str) -> list[Record]:
        with self._store.transaction() as tx:
            page = tx.query(
                kind,
                filters,
                sort_by="timeCreated",
                descending=True,
                offset=0,
                limit=1_000_000,
                exclude_states=(deleted,),
            )
        return page.records

    # ----------------------------------------------------------------- pipelines

    def pipeline_runs(self, page: int) -> RunPage:
        """Pipeline runs newest first, one page of PAGE_SIZE."""
        records = self._query(PIPELINE_RUNS, {}, PipelineRunState.DELETED)
        return _paged(records, page)

    def pipeline_names(self) -> dict[str, str]:
        return {
            r.id: str(r.doc.get("displayName", ""))
            for r in self._query(PIPELINES, {}, PipelineState.DELETED)
        }

    def pipeline_run(self, run_id: str) -> Document:
        """A pipeline run's document (NotFoundError if there is none)."""
        record = self._store.get(PIPELINE_RUNS, run_id)
        if record is None:
            raise NotFoundError()
        return record.doc

    def pipeline(self, pipeline_id: str) -> Document | None:
        record = self._store.get(PIPELINES, pipeline_id)
        return None if record is None else record.doc

    # ----------------------------------------------------------------- schedules

    def schedules(self) -> list[Document]:
        return [r.doc for r in self._query(SCHEDULES, {}, ScheduleState.DELETED)]

    def schedule(self, schedule_id: str) -> Document:
        """A schedule's document (NotFoundError if there is none)."""
        record = self._store.get(SCHEDULES, schedule_id)
        if record is None:
            raise NotFoundError()
        return record.doc

    def made_by(self, principal_id: str, limit: int = 50) -> list[tuple[str, Document]]:
        """The job runs and pipeline runs `principal_id` created (a schedule creates its runs
        as itself: ListJobRuns createdBy=<schedule id>), newest first, as (kind, doc) with
        kind "job" or "pipeline"."""
        found = [
            ("job", r.doc)
            for r in self._query(JOB_RUNS, {"createdBy": principal_id}, lifecycle.DELETED)
        ] + [
            ("pipeline", r.doc)
            for r in self._query(
                PIPELINE_RUNS, {"createdBy": principal_id}, PipelineRunState.DELETED
            )
        ]
        found.sort(key=lambda item: str(item[1].get("timeAccepted", "")), reverse=True)
        return found[:limit]

    def run(self, run_id: str) -> Document:
        """A run's document (NotFoundError if there is none)."""
        return self._ds.get_job_run(run_id).doc

    def job(self, job_id: str) -> Document | None:
        try:
            return self._ds.get_job(job_id).doc
        except NotFoundError:
            return None

    # ----------------------------------------------------------------- actions

    def cancel(self, run_id: str) -> None:
        """CancelJobRun, with the API's rules (a finished run: IncorrectStateError)."""
        self._ds.cancel_job_run(run_id, None)

    def rerun(self, run_id: str) -> str:
        """A new run of the same job with the same values (name, parameters, variables,
        runtime limit, logging, tags); its id."""
        run = self.run(run_id)
        body: Document = {
            key: run[key]
            for key in (
                "projectId",
                "compartmentId",
                "jobId",
                "displayName",
                "jobConfigurationOverrideDetails",
                "jobLogConfigurationOverrideDetails",
                "freeformTags",
                "definedTags",
            )
            if run.get(key) is not None
        }
        record, _ = self._ds.create_job_run(body, self._principal_id, None)
        return record.id

    # ----------------------------------------------------------------- logs

    def log_chunk(self, run_id: str, offset: int | None) -> tuple[str, int]:
        """The log from `offset` (None: its last LOG_TAIL_BYTES) and the next offset."""
        path = self._log_path(run_id)
        try:
            with open(path, "rb") as log:
                size = log.seek(0, 2)
                start = max(0, size - LOG_TAIL_BYTES) if offset is None else min(offset, size)
                log.seek(start)
                chunk = log.read(max(0, size - start))
        except FileNotFoundError:
            return "", 0 if offset is None else offset
        return chunk.decode("utf-8", errors="replace"), start + len(chunk)

    # ----------------------------------------------------------------- outputs

    def outputs(self, run: Document) -> RunOutputs:
        """The run's output folder: files, report, executed notebook, failure and outputs."""
        job = self.job(str(run.get("jobId", "")))
        environment = run_environment(job, run)
        folder = output_folder(environment, str(run["id"]))
        result = RunOutputs(folder)
        if folder is None:
            result.report_note = "the run's job has no oci:// output folder"
            return result
        result.files = self._files(folder)
        names = {f.name for f in result.files}
        report = self._report(folder, str(run["id"])) if REPORT_FILE in names else None
        if isinstance(report, str):
            result.report_note = report
            report = None
        result.report = report
        notebook_name = Path(environment.get("JOB_RUN_NOTEBOOK", "")).name
        if report is not None and report.get("notebook") in names:
            result.notebook = str(report["notebook"])
        elif notebook_name in names:
            result.notebook = notebook_name
        else:
            result.notebook = next((n for n in sorted(names) if n.endswith(".ipynb")), None)
        if report is not None and report.get("html") in names:
            result.html = str(report["html"])
        executed = self._notebook_json(folder, result.notebook)
        if report is not None:
            failure = report.get("failure")
            if isinstance(failure, dict):
                result.failure = Failure(
                    cell_index=failure.get("cellIndex"),
                    source=_cell_source(executed, failure.get("cellIndex")),
                    ename=str(failure.get("ename", "")),
                    evalue=str(failure.get("evalue", "")),
                    traceback=str(failure.get("traceback", "")),
                )
            for entry in report.get("outputs") or []:
                if isinstance(entry, dict) and "value" in entry:
                    result.outputs.append(
                        (
                            str(entry.get("name")),
                            json.dumps(
                                redact(entry["value"], entry.get("name")),
                                ensure_ascii=False,
                                indent=1,
                            ),
                        )
                    )
        elif executed is not None:
            result.failure = failure_in_notebook(executed)
        return result

    def _files(self, folder: OutputFolder) -> list[OutputFile]:
        try:
            base = self._objects.object_path(folder.namespace, folder.bucket, "x").parent
            if folder.prefix:
                base = self._objects.object_path(folder.namespace, folder.bucket, folder.prefix)
        except ServiceError:
            return []
        if not base.is_dir():
            return []
        files: list[OutputFile] = []
        for path in sorted(base.rglob("*")):
            relative = path.relative_to(base)
            if path.is_file() and not any(p.startswith(".") for p in relative.parts):
                files.append(OutputFile(relative.as_posix(), path.stat().st_size))
                if len(files) >= MAX_LISTED_FILES:
                    break
        return files

    def output_file(self, run: Document, name: str) -> Path:
        """The file of one output (NotFoundError unless it is listed for the run)."""
        outputs = self.outputs(run)
        if outputs.folder is None or name not in {f.name for f in outputs.files}:
            raise NotFoundError()
        info = self._objects.head(
            outputs.folder.namespace, outputs.folder.bucket, outputs.folder.object_name(name)
        )
        return info.path

    def _read(self, folder: OutputFolder, name: str, limit: int) -> bytes | None:
        try:
            info = self._objects.head(folder.namespace, folder.bucket, folder.object_name(name))
        except ServiceError:
            return None
        if info.size > limit:
            return None
        return info.path.read_bytes()

    def _report(self, folder: OutputFolder, run_id: str) -> Document | str:
        """The report document, or why it cannot be shown."""
        content = self._read(folder, REPORT_FILE, REPORT_MAX_BYTES)
        if content is None:
            return f"the report is missing or larger than {REPORT_MAX_BYTES} bytes"
        try:
            report = json.loads(content)
        except ValueError:
            return "the report is not JSON"
        if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
            return "the report is not a notebook-launcher run report"
        if report.get("schemaVersion") != REPORT_SCHEMA_VERSION:
            return f"the report's schema version {report.get('schemaVersion')!r} is unknown"
        if report.get("jobRunId") not in (None, run_id):
            return "the report in the output folder belongs to another run"
        return report

    def _notebook_json(self, folder: OutputFolder, name: str | None) -> Document | None:
        if name is None:
            return None
        content = self._read(folder, name, NOTEBOOK_MAX_BYTES)
        if content is None:
            return None
        try:
            notebook = json.loads(content)
        except ValueError:
            return None
        return notebook if isinstance(notebook, dict) else None

    def notebook_page(self, run: Document) -> str | None:
        """The executed notebook as HTML: the report's page, else rendered with nbconvert
        here; None when the run left no notebook. Untrusted content: see pages.py."""
        outputs = self.outputs(run)
        if outputs.folder is None:
            return None
        if outputs.html is not None:
            content = self._read(outputs.folder, outputs.html, NOTEBOOK_MAX_BYTES)
            if content is not None:
                return content.decode("utf-8", errors="replace")
        if outputs.notebook is None:
            return None
        content = self._read(outputs.folder, outputs.notebook, NOTEBOOK_MAX_BYTES)
        if content is None:
            return None
        return render_notebook(content)


def render_notebook(content: bytes) -> str:
    """An executed notebook (its file's bytes) as a standalone HTML page, with nbconvert's
    lab template; a page saying why when the file is not a notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        node = nbformat.reads(content.decode("utf-8", errors="replace"), as_version=4)
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(node)
    except Exception as exc:  # noqa: BLE001 (any unreadable file: say so, do not fail)
        return f"<p>The executed notebook could not be rendered ({type(exc).__name__}).</p>"
    return str(body)


def states() -> Iterable[str]:
    return (s for s in lifecycle.RUN_STATES if s != lifecycle.DELETED)
