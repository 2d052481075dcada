"""The run report on the command line: `report RUN_OCID`, and the end of `wait`.

The report is read from the run's output folder through Object Storage on the selected
target (the local service or OCI), checked as the function's status action checks it, and
shown as the failing cell and its error, or the outputs, plus where the HTML page is (its
file path with the local service).
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from notebook_launcher.artifact import run_report_writer as writer
from notebook_launcher.console.errors import ConsoleError
from notebook_launcher.console.follow import TERMINAL_STATES, RunOutput, run_output
from notebook_launcher.console.output import emit_json, make_console
from notebook_launcher.console.target import Target, TargetOptions, parse_oci_uri, target_options
from notebook_launcher.function.run_report import (
    REPORT_READ_MAX_BYTES,
    ReportUnavailable,
    parse_report,
)

SHOWN_VALUE_CHARS = 200


def load_report(target: Target, run: Any, output: RunOutput) -> dict[str, Any]:
    """The run's report; ReportUnavailable says why there is none."""
    import oci

    if run.lifecycle_state not in TERMINAL_STATES:
        raise ReportUnavailable("the run has not ended")
    if output.folder is None:
        raise ReportUnavailable("the job sets no OUTPUT_URI")
    location = parse_oci_uri(f"{output.folder}/{writer.REPORT_FILE}")
    if location is None:
        raise ReportUnavailable("the output folder is not an oci:// URI")
    bucket, namespace, name = location
    kwargs: dict[str, Any] = {"retry_strategy": target.retry_strategy(), "timeout": (5, 60)}
    if target.endpoint:
        kwargs["service_endpoint"] = target.endpoint
    client = oci.object_storage.ObjectStorageClient(target.config, **kwargs)
    try:
        response = target.call("GetObject", client.get_object, namespace, bucket, name)
    except ConsoleError as exc:
        if "404" in str(exc):
            raise ReportUnavailable(
                f"no report in {output.folder} (the run wrote none: see its log)"
            ) from None
        raise
    content = bytearray()
    for chunk in response.data.raw.stream(65536, decode_content=False):
        content.extend(chunk)
        if len(content) > REPORT_READ_MAX_BYTES:
            raise ReportUnavailable(f"the report is larger than {REPORT_READ_MAX_BYTES} bytes")
    return parse_report(bytes(content), run.id)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def html_location(target: Target, report: dict[str, Any], output: RunOutput) -> str | None:
    """Where the run's HTML page is: a file path with the local service, else its URI."""
    if not report.get("html") or output.folder is None:
        return None
    uri = f"{output.folder}/{report['html']}"
    local = target.local_path(uri)
    return str(local) if local is not None else uri


def print_report(
    console: Console, target: Target, report: dict[str, Any], output: RunOutput
) -> None:
    """The failing cell and its error, or the outputs, and where the page is."""

    def row(label: str, value: str) -> None:
        console.print(Text.assemble((f"{label:<14}", "dim"), value), soft_wrap=True)

    failure = report.get("failure")
    if failure:
        where = (
            f"cell {failure['sourceCellIndex']} of the notebook (id {failure['cellId']}, "
            f"In [{failure['executionCount']}])"
            if failure.get("cellIndex") is not None
            else "outside any cell"
        )
        row("failed in", where)
        row("error", f"{failure['ename']}: {failure['evalue']}")
        console.print(Text(failure.get("traceback") or "", style="red"), soft_wrap=True)
    outputs = report.get("outputs") or []
    if not outputs and not failure:
        row("outputs", "(none recorded)")
    for entry in outputs:
        shown = _shown(entry["value"]) if "value" in entry else "(not kept: too large)"
        row("output", f"{entry['name']} = {shown}")
    slowest = (report.get("timings") or {}).get("slowestCells") or []
    if slowest:
        top = slowest[0]
        row("slowest cell", f"{top['index']} (id {top['id']}), {top['seconds']:.2f} s")
    page = html_location(target, report, output)
    row("html", page or f"(not rendered: {report.get('htmlNote') or 'no page'})")


def show_report_after_wait(console: Console, target: Target, run: Any, output: RunOutput) -> None:
    """`wait`'s last lines: the report in brief, or why there is none."""
    try:
        report = load_report(target, run, output)
    except (ReportUnavailable, ConsoleError) as why:
        console.print(Text.assemble(("report        ", "dim"), f"(none: {why})"), soft_wrap=True)
        return
    print_report(console, target, report, output)


@click.command()
@click.argument("run_id", metavar="RUN_ID")
@click.option("--json", "as_json", is_flag=True, help="Print the report document as it is.")
@target_options
def report(run_id: str, as_json: bool, target: TargetOptions) -> None:
    """Print an ended run's report: its failure or outputs, and where its HTML page is.

    Exits 1 when the run has no report (the reason is printed).
    """
    from notebook_launcher.console.target import resolve_target

    resolved = resolve_target(target)
    ds = resolved.datascience
    run = resolved.call("GetJobRun", ds.get_job_run, run_id).data
    output = run_output(resolved, run)
    try:
        document = load_report(resolved, run, output)
    except ReportUnavailable as why:
        raise ConsoleError(f"run {run_id} has no report: {why}") from None
    if as_json:
        emit_json(document)
        return
    console = make_console(stderr=False)
    console.print(Text.assemble(("state         ", "dim"), run.lifecycle_state), soft_wrap=True)
    print_report(console, resolved, document, output)
