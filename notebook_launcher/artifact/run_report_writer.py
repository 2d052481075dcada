"""The job artifact's entrypoint: ADS's notebook driver, then the run report.

Shipped in every job artifact the launcher makes, as `notebook_launcher_run.py` (the job's
`JOB_RUN_ENTRYPOINT`), beside ADS's `driver_notebook.py` and `driver_utils.py`, with the
launcher's redaction rules in `notebook_launcher_redaction.py`. It runs ADS's driver
unchanged, in-process (the driver executes the notebook, writes it to its output folder and
uploads that folder to `OUTPUT_URI`), then, success or failure, writes `report.json` and
`<notebook stem>.html` beside the executed notebook and uploads those two files to
`OUTPUT_URI` with the driver's own Object Storage client set-up.

The run ends exactly as the driver alone would end it: the driver's exception is re-raised
(exit code 1, its traceback in the log) and a clean return exits 0. Anything that goes wrong
while building, writing or uploading the report is printed to stderr and swallowed.

Only the standard library, nbformat, nbconvert and the oci SDK may be used here (what a Data
Science conda environment has); nothing of notebook_launcher is importable in a job run. The
report's format is documented in `report_schema.json` (schema version REPORT_SCHEMA_VERSION).
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

REPORT_SCHEMA = "notebook-launcher/run-report"
REPORT_SCHEMA_VERSION = 1
REPORT_FILE = "report.json"
REDACTION_FILE = "notebook_launcher_redaction.py"
PARAMETER_NAMES_FILE = "notebook_launcher_parameter_names.py"  # artifact/parameter_names.py
ENTRYPOINT_ENV = "JOB_RUN_ENTRYPOINT"
ENTRYPOINT_FILE = "notebook_launcher_run.py"
PARAMETERS_ENV = "NOTEBOOK_PARAMETERS"
REDACTED = "<redacted>"

SCRAP_JSON_MIMETYPE = "application/scrapbook.scrap.json+json"
SCRAP_TEXT_MIMETYPE = "application/scrapbook.scrap.text+json"

# Caps (bytes of a value's compact UTF-8 JSON). "Inlined" values travel in the function's
# status answer (a Data Integration REST response is capped at 512 KB); larger ones stay in
# this report file only, marked not inlined. Values beyond the "kept" caps are not copied
# into the report (they stay in the executed notebook), so the file stays small to read.
INLINE_VALUE_BYTES = 64 * 1024
INLINE_TOTAL_BYTES = 256 * 1024
KEPT_VALUE_BYTES = 1024 * 1024
KEPT_TOTAL_BYTES = 4 * 1024 * 1024
MAX_OUTPUTS = 1000
MAX_FILES = 1000
MAX_CELLS = 1000
SLOWEST_CELLS = 5
TRACEBACK_LINES = 60
TRACEBACK_CHARS = 8000
EVALUE_CHARS = 2000

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_RAISES_TAG = "raises-exception"
# The tag of the cell notebook-launcher injects (notebook_launcher.function.parameters).
INJECTED_TAG = "injected-parameters"


# ----------------------------------------------------------------------- pure builders


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def strip_ansi(text: str) -> str:
    """Text without terminal colour and cursor codes."""
    return _ANSI_RE.sub("", text)


def json_type(value: Any) -> str:
    """The JSON type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def json_size(value: Any) -> int:
    """Bytes of value as compact UTF-8 JSON (what the caps count)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8"))


def load_redaction(path: Path) -> ModuleType | None:
    """The launcher's redaction module (`notebook_launcher/artifact/redaction.py`, shipped in
    the artifact as REDACTION_FILE), or None if it cannot be loaded."""
    try:
        spec = importlib.util.spec_from_file_location("notebook_launcher_redaction", path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001  # no redaction: every value is withheld
        return None
    return module if callable(getattr(module, "redact", None)) else None


def parameter_warnings(path: Path, notebook_path: Path) -> list[Any]:
    """The run's parameters that the notebook's `parameters` cell does not assign, as the
    launcher warned at launch (the shipped `artifact/parameter_names.py`); [] if unknown."""
    try:
        spec = importlib.util.spec_from_file_location("notebook_launcher_parameter_names", path)
        if spec is None or spec.loader is None:
            return []
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        encoding = os.environ.get("NOTEBOOK_ENCODING", "utf-8")
        notebook = json.loads(notebook_path.read_text(encoding=encoding))
        warnings: list[Any] = module.unknown_parameters(_run_parameters()[0], notebook)
    except Exception:  # noqa: BLE001 - a warning that cannot be computed is not given
        return []
    return warnings


def redact_parameters(values: Mapping[str, Any], redaction: ModuleType | None) -> list[Any]:
    """The run's parameters for the report: every name, and its value with everything under a
    secret-looking name hidden at any depth, by the same rules (the same module) the injected
    parameters cell uses. Without that module every value is withheld. The one place the
    report redacts."""
    entries: list[Any] = []
    for name in sorted(values):
        if redaction is None or redaction.looks_secret(name):
            entries.append({"name": name, "redacted": True})
        else:
            entries.append(
                {"name": name, "redacted": False, "value": redaction.redact(values[name])}
            )
    return entries


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value)


def _trim_traceback(lines: Iterable[Any]) -> tuple[str, bool]:
    text = strip_ansi("\n".join(_text(line) for line in lines))
    split = text.splitlines()
    truncated = len(split) > TRACEBACK_LINES
    text = "\n".join(split[-TRACEBACK_LINES:])
    if len(text) > TRACEBACK_CHARS:
        text, truncated = text[-TRACEBACK_CHARS:], True
    return text, truncated


def _cell_tags(cell: Mapping[str, Any]) -> list[str]:
    tags = (cell.get("metadata") or {}).get("tags") or []
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def find_failure(cells: list[Any], error: BaseException | None) -> dict[str, Any] | None:
    """The failing cell of an executed notebook: the first cell with an error output that is
    not tagged raises-exception (the driver stops there). Without one, the driver's own
    exception (e.g. a dead kernel) with no cell."""
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code" or _RAISES_TAG in _cell_tags(cell):
            continue
        for output in cell.get("outputs") or []:
            if output.get("output_type") != "error":
                continue
            tb, truncated = _trim_traceback(output.get("traceback") or [])
            injected = sum(INJECTED_TAG in _cell_tags(c) for c in cells[:index])
            return {
                "cellIndex": index,
                "sourceCellIndex": index - injected,
                "cellId": cell.get("id"),
                "executionCount": cell.get("execution_count"),
                "ename": strip_ansi(str(output.get("ename", "")))[:EVALUE_CHARS],
                "evalue": strip_ansi(str(output.get("evalue", "")))[:EVALUE_CHARS],
                "traceback": tb,
                "tracebackTruncated": truncated,
            }
    if error is None:
        return None
    tb, truncated = _trim_traceback(traceback.format_exception_only(type(error), error))
    return {
        "cellIndex": None,
        "sourceCellIndex": None,
        "cellId": None,
        "executionCount": None,
        "ename": type(error).__name__,
        "evalue": strip_ansi(str(error))[:EVALUE_CHARS],
        "traceback": tb,
        "tracebackTruncated": truncated,
    }


def cell_timings(cells: list[Any]) -> tuple[list[dict[str, Any]], bool]:
    """Per-cell durations from nbclient's timing metadata (executed code cells only)."""
    timings: list[dict[str, Any]] = []
    for index, cell in enumerate(cells):
        execution = (cell.get("metadata") or {}).get("execution") or {}
        start = _parse_time(execution.get("iopub.execute_input"))
        end = _parse_time(execution.get("shell.execute_reply"))
        if start is None or end is None:
            continue
        timings.append(
            {
                "index": index,
                "id": cell.get("id"),
                "executionCount": cell.get("execution_count"),
                "seconds": round(max(0.0, (end - start).total_seconds()), 6),
            }
        )
    return timings[:MAX_CELLS], len(timings) > MAX_CELLS


def _scraps(cells: list[Any]) -> Iterable[tuple[Any, Any]]:
    """(payload, mimetype) of every scrapbook scrap in the executed notebook, in order."""
    for cell in cells:
        for output in cell.get("outputs") or []:
            if output.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = output.get("data") or {}
            for mimetype in (SCRAP_JSON_MIMETYPE, SCRAP_TEXT_MIMETYPE):
                if mimetype in data:
                    yield data[mimetype], mimetype


def collect_outputs(cells: list[Any], notes: list[str]) -> list[dict[str, Any]]:
    """The values the notebook recorded (scrapbook glue, or a display of the same mimetype),
    last one per name winning as in scrapbook, with the caps applied."""
    found: dict[str, Any] = {}
    for payload, mimetype in _scraps(cells):
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                notes.append("an output record is not JSON; ignored")
                continue
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            notes.append("an output record has no name; ignored")
            continue
        name = payload["name"]
        encoder = payload.get("encoder", "json" if mimetype == SCRAP_JSON_MIMETYPE else "text")
        if encoder not in ("json", "text"):
            notes.append(f"output {name!r}: encoder {encoder!r} is not supported; ignored")
            continue
        value = payload.get("data")
        if encoder == "text" and not isinstance(value, str):
            value = str(value)
        found.pop(name, None)
        found[name] = value
    entries: list[dict[str, Any]] = []
    inline_total = 0
    kept_total = 0
    for name, value in list(found.items())[:MAX_OUTPUTS]:
        try:
            size = json_size(value)
        except (TypeError, ValueError):
            notes.append(f"output {name!r} is not finite JSON; ignored")
            continue
        entry: dict[str, Any] = {"name": name, "type": json_type(value), "bytes": size}
        kept = size <= KEPT_VALUE_BYTES and kept_total + size <= KEPT_TOTAL_BYTES
        inlined = kept and size <= INLINE_VALUE_BYTES and inline_total + size <= INLINE_TOTAL_BYTES
        entry["inlined"] = inlined
        entry["kept"] = kept
        if kept:
            entry["value"] = value
            kept_total += size
        if inlined:
            inline_total += size
        entries.append(entry)
    if len(found) > MAX_OUTPUTS:
        notes.append(f"more than {MAX_OUTPUTS} outputs; the rest were left out")
    return entries


def list_files(output_dir: Path, exclude: Iterable[str]) -> tuple[list[dict[str, Any]], bool]:
    """Files the run leaves in its output folder (what ADS's driver uploads), but for the
    executed notebook and the report's own files."""
    skip = set(exclude)
    files: list[dict[str, Any]] = []
    if not output_dir.is_dir():
        return files, False
    for root, _dirs, names in os.walk(output_dir):
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(output_dir).as_posix()
            if relative in skip:
                continue
            try:
                size = path.stat().st_size
            except OSError:
                continue
            files.append({"name": relative, "bytes": size})
    files.sort(key=lambda entry: str(entry["name"]))
    return files[:MAX_FILES], len(files) > MAX_FILES


def build_report(
    notebook: Mapping[str, Any] | None,
    *,
    notebook_name: str,
    state: str,
    started: str,
    finished: str,
    error: BaseException | None,
    parameters: Mapping[str, Any],
    redaction: ModuleType | None,
    files: list[dict[str, Any]],
    files_truncated: bool,
    html_name: str | None,
    html_note: str | None,
    job_run_id: str | None,
    notes: list[str] | None = None,
    warnings: list[Any] | None = None,
) -> dict[str, Any]:
    """The run report (see report_schema.json) of an executed notebook. Pure."""
    notes = list(notes or [])
    cells: list[Any] = list((notebook or {}).get("cells") or [])
    if notebook is None:
        notes.append("the executed notebook could not be read")
    timings, cells_truncated = cell_timings(cells)
    slowest = sorted(timings, key=lambda cell: -float(cell["seconds"]))[:SLOWEST_CELLS]
    begin, end = _parse_time(started), _parse_time(finished)
    duration = round((end - begin).total_seconds(), 3) if begin and end else None
    failure = find_failure(cells, error) if state == "FAILED" else None
    outputs = collect_outputs(cells, notes)
    return {
        "schema": REPORT_SCHEMA,
        "schemaVersion": REPORT_SCHEMA_VERSION,
        "jobRunId": job_run_id,
        "state": state,
        "notebook": notebook_name,
        "html": html_name,
        "htmlNote": html_note,
        "timings": {
            "started": started,
            "finished": finished,
            "seconds": duration,
            "cells": timings,
            "cellsTruncated": cells_truncated,
            "slowestCells": [
                {"index": c["index"], "id": c["id"], "seconds": c["seconds"]} for c in slowest
            ],
        },
        "failure": failure,
        "parameters": redact_parameters(parameters, redaction),
        "warnings": list(warnings or []),
        "files": files,
        "filesTruncated": files_truncated,
        "outputs": outputs,
        "limits": {
            "inlineValueBytes": INLINE_VALUE_BYTES,
            "inlineTotalBytes": INLINE_TOTAL_BYTES,
            "keptValueBytes": KEPT_VALUE_BYTES,
            "keptTotalBytes": KEPT_TOTAL_BYTES,
        },
        "notes": notes,
    }


def render_html(notebook: Any) -> tuple[str | None, str | None]:
    """(HTML, None) of the executed notebook, or (None, why it could not be rendered)."""
    try:
        from nbconvert import HTMLExporter

        body, _resources = HTMLExporter().from_notebook_node(notebook)
        return str(body), None
    except Exception as exc:  # noqa: BLE001 - any rendering problem only skips the page
        return None, f"the HTML page was not rendered ({type(exc).__name__}: {exc})"[:500]


# ----------------------------------------------------------------------- in the job run


def _run_parameters() -> tuple[dict[str, Any], list[str]]:
    raw = os.environ.get(PARAMETERS_ENV) or "{}"
    try:
        values = json.loads(raw)
    except ValueError:
        return {}, [f"{PARAMETERS_ENV} is not JSON; no parameters listed"]
    return (values, []) if isinstance(values, dict) else ({}, [f"{PARAMETERS_ENV} not an object"])


def _upload(helper: Any, output_dir: Path, names: list[str]) -> list[str]:
    """Put the named files of output_dir to OUTPUT_URI, as ADS's driver puts the others."""
    from urllib.parse import urlparse

    output_uri = os.environ.get("OUTPUT_URI")
    if not output_uri:
        return []
    parsed = urlparse(helper.substitute_output_uri(output_uri))
    bucket, namespace = parsed.username, parsed.hostname
    if not bucket or not namespace:
        raise ValueError("OUTPUT_URI is not oci://bucket@namespace/prefix")
    import oci

    client = helper.init_oci_client(oci.object_storage.ObjectStorageClient)
    prefix = parsed.path.strip("/")
    uploaded = []
    for name in names:
        object_name = f"{prefix}/{name}" if prefix else name
        with open(output_dir / name, "rb") as body:
            client.put_object(namespace, bucket, object_name, body)
        uploaded.append(f"oci://{bucket}@{namespace}/{object_name}")
    return uploaded


def write_report(
    driver: Any,
    started: str,
    error: BaseException | None,
    here: Path,
    warnings: list[Any] | None = None,
) -> dict[str, Any]:
    """Build the report of the run the driver just finished, write it and the HTML page
    beside the executed notebook, and upload both. Returns the report."""
    import nbformat

    notebook_rel = os.environ.get("JOB_RUN_NOTEBOOK") or ""
    notebook_path = Path(driver.CODE_DIR) / notebook_rel
    output_dir = Path(os.environ.get("OUTPUT_DIR") or notebook_path.parent)
    executed = output_dir / notebook_path.name
    notes: list[str] = []
    notebook: Any = None
    try:
        with open(executed, encoding=os.environ.get("NOTEBOOK_ENCODING", "utf-8")) as handle:
            notebook = nbformat.read(handle, as_version=4)
    except Exception as exc:  # noqa: BLE001 - an unreadable notebook still gets a report
        notes.append(f"executed notebook unreadable ({type(exc).__name__})")
    html_name: str | None = f"{executed.stem}.html"
    html_note: str | None = None
    if notebook is None:
        html_name, html_note = None, "the HTML page was not rendered: no executed notebook"
    else:
        html, html_note = render_html(notebook)
        if html is None:
            html_name = None
        else:
            (output_dir / str(html_name)).write_text(html, encoding="utf-8")
    files, truncated = list_files(
        output_dir, {executed.name, REPORT_FILE, *([html_name] if html_name else [])}
    )
    parameters, parameter_notes = _run_parameters()
    report = build_report(
        notebook,
        notebook_name=executed.name,
        state="FAILED" if error is not None else "SUCCEEDED",
        started=started,
        finished=_now(),
        error=error,
        parameters=parameters,
        redaction=load_redaction(here / REDACTION_FILE),
        files=files,
        files_truncated=truncated,
        html_name=html_name,
        html_note=html_note,
        job_run_id=os.environ.get("JOB_RUN_OCID"),
        notes=notes + parameter_notes,
        warnings=warnings,
    )
    text = json.dumps(report, ensure_ascii=False, indent=1, allow_nan=False)
    (output_dir / REPORT_FILE).write_text(text, encoding="utf-8")
    # The page first: a report that exists always finds its page uploaded.
    uploaded = _upload(driver.OCIHelper, output_dir, [*([html_name] if html_name else [])])
    uploaded += _upload(driver.OCIHelper, output_dir, [REPORT_FILE])
    for uri in uploaded:
        print(f"notebook-launcher: run report file {uri}", file=sys.stderr)
    return report


def main() -> None:
    """Run ADS's notebook driver, then write the report; end as the driver ended."""
    started = _now()
    here = Path(__file__).resolve().parent
    driver = importlib.import_module("driver_notebook")
    notebook = Path(driver.CODE_DIR) / (os.environ.get("JOB_RUN_NOTEBOOK") or "")
    warnings = parameter_warnings(here / PARAMETER_NAMES_FILE, notebook)
    for warning in warnings:  # before the notebook runs: the first lines of the run's log
        print(
            f"notebook-launcher: WARNING {warning['field']}: {warning['message']}", file=sys.stderr
        )
    error: BaseException | None = None
    try:
        driver.main()
    except Exception as exc:  # noqa: BLE001 - re-raised below, after the report
        error = exc
    begin = time.monotonic()
    try:
        write_report(driver, started, error, here, warnings)
        print(
            f"notebook-launcher: run report written in {time.monotonic() - begin:.2f} s",
            file=sys.stderr,
        )
    except Exception as exc:  # noqa: BLE001 - a report failure never changes the run's end
        print(
            f"notebook-launcher: the run report could not be written ({type(exc).__name__}: "
            f"{str(exc)[:300]})",
            file=sys.stderr,
        )
    if error is not None:
        raise error


if __name__ == "__main__":
    main()
