"""The run report, as the `status` action serves it.

Once a run has ended, `status` reads the `report.json` the run wrote (see
`notebook_launcher.artifact.run_report_writer`) from the job's output folder in Object
Storage, with the function's principal, within the invocation's deadline and a size cap,
and answers, beside the run brief: `failure`, `outputs` (the inlined values, by name),
`outputsNotInlined` (when some were too large), `reportUri`, `notebookUri` and `htmlUri`.
A run without a report (still running, canceled, an older job, a report that could not be
written or read) gets one field instead, `reportUnavailable`, saying why: never an error.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from notebook_launcher.artifact import run_report_writer as writer
from notebook_launcher.function.datascience_port import DataSciencePort, Job, JobRun
from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import LauncherError, NotFoundError
from notebook_launcher.function.job_spec import RUN_OUTPUT_SUFFIX
from notebook_launcher.function.oci_edge import OciEdge
from notebook_launcher.oci_facts.object_uri import ObjectUri
from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES, JobRunState

logger = logging.getLogger(__name__)

ENDED_STATES = frozenset(JOB_RUN_TERMINAL_STATES)
# The writer keeps at most KEPT_TOTAL_BYTES of values plus bounded lists: this is ample.
REPORT_READ_MAX_BYTES = 8 * 1024 * 1024
# Reading the report is skipped when less than this is left before the deadline.
REPORT_READ_MIN_SECONDS = 2.0
UNAVAILABLE = "reportUnavailable"


class ReportUnavailable(ValueError):
    """Why there is no report to serve."""


_Unavailable = ReportUnavailable


def output_folder(job: Job, run_id: str) -> tuple[str, str, str]:
    """(namespace, bucket, prefix) of the run's output folder, from the job's OUTPUT_URI."""
    variables = job.environment
    if variables.get(writer.ENTRYPOINT_ENV) != writer.ENTRYPOINT_FILE:
        raise _Unavailable(
            "the job's runs write no report (a job made before run reports, or not by "
            "notebook-launcher); launch with noteBook to get a job whose runs do"
        )
    uri = str(variables.get("OUTPUT_URI") or "")
    uri = uri.replace(RUN_OUTPUT_SUFFIX, run_id).replace("$JOB_RUN_OCID", run_id)
    folder = ObjectUri.parse(uri)
    if folder is None:
        raise _Unavailable("the job has no oci:// output folder")
    return folder.namespace, folder.bucket, folder.prefix


def _read(
    edge: OciEdge, namespace: str, bucket: str, name: str, state: str, deadline: Deadline
) -> bytes:
    client = edge.objectstorage
    try:
        response = edge.call(
            "GetObject",
            client,
            client.get_object,
            deadline,
            namespace_name=namespace,
            bucket_name=bucket,
            object_name=name,
        )
    except NotFoundError:
        if state == JobRunState.CANCELED:
            raise _Unavailable("no report: the run was canceled before it wrote one") from None
        raise _Unavailable(
            "no report was found (the run did not write one: see its log), or a policy "
            "does not let the function read the output bucket"
        ) from None
    length = response.headers.get("content-length")
    if length and str(length).isdigit() and int(length) > REPORT_READ_MAX_BYTES:
        raise _Unavailable(f"the report is larger than {REPORT_READ_MAX_BYTES} bytes")
    content = bytearray()
    for chunk in response.data.raw.stream(65536, decode_content=False):
        content.extend(chunk)
        if len(content) > REPORT_READ_MAX_BYTES:
            raise _Unavailable(f"the report is larger than {REPORT_READ_MAX_BYTES} bytes")
        if deadline.remaining() <= 0:
            raise _Unavailable("the report could not be read before the function's deadline")
    return bytes(content)


def parse_report(content: bytes, run_id: str) -> dict[str, Any]:
    """A report document read from the output folder, checked to be this run's (schema name,
    known version, run id); ReportUnavailable says what is wrong."""
    try:
        report = json.loads(content)
    except ValueError:
        raise _Unavailable("the report is not JSON") from None
    if not isinstance(report, dict) or report.get("schema") != writer.REPORT_SCHEMA:
        raise _Unavailable("the report is not a notebook-launcher run report")
    if report.get("schemaVersion") != writer.REPORT_SCHEMA_VERSION:
        raise _Unavailable(
            f"the report's schema version {report.get('schemaVersion')!r} is unknown"
        )
    if report.get("jobRunId") not in (None, run_id):
        raise _Unavailable("the report in the output folder belongs to another run")
    return report


def served_fields(report: dict[str, Any], folder_uri: str) -> dict[str, Any]:
    """The status answer's report fields from a report. Pure."""
    outputs: dict[str, Any] = {}
    not_inlined: list[dict[str, Any]] = []
    for entry in report.get("outputs") or []:
        if entry.get("inlined") and "value" in entry:
            outputs[entry["name"]] = entry["value"]
        else:
            not_inlined.append(
                {"name": entry.get("name"), "type": entry.get("type"), "bytes": entry.get("bytes")}
            )
    fields: dict[str, Any] = {
        "failure": report.get("failure"),
        "outputs": outputs,
        "reportUri": f"{folder_uri}/{writer.REPORT_FILE}",
        "notebookUri": f"{folder_uri}/{report.get('notebook')}",
        "htmlUri": f"{folder_uri}/{report['html']}" if report.get("html") else None,
    }
    if not_inlined:
        fields["outputsNotInlined"] = not_inlined
    return fields


def report_for_run(
    edge: OciEdge, run: JobRun, deadline: Deadline, datascience: DataSciencePort | None = None
) -> dict[str, Any]:
    """The report fields of the status answer for run (GetJobRun's), or reportUnavailable.
    The run's job is read through the Data Science port (the edge unless another is given),
    the report from Object Storage through the edge."""
    try:
        if run.lifecycle_state not in ENDED_STATES:
            raise _Unavailable("the run has not ended")
        if deadline.remaining() < REPORT_READ_MIN_SECONDS:
            raise _Unavailable("no time was left to read the report before the deadline")
        port: DataSciencePort = edge if datascience is None else datascience
        try:
            job = port.get_job(run.job_id, deadline)
        except LauncherError as exc:
            raise _Unavailable(f"the run's job could not be read ({exc.code})") from None
        namespace, bucket, prefix = output_folder(job, run.id)
        name = f"{prefix}/{writer.REPORT_FILE}" if prefix else writer.REPORT_FILE
        try:
            content = _read(edge, namespace, bucket, name, run.lifecycle_state, deadline)
        except LauncherError as exc:
            raise _Unavailable(f"the report could not be read ({exc.code})") from None
        report = parse_report(content, run.id)
    except _Unavailable as why:
        return {UNAVAILABLE: str(why)}
    folder = f"oci://{bucket}@{namespace}" + (f"/{prefix}" if prefix else "")
    return served_fields(report, folder)
