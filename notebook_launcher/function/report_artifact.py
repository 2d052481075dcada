"""The run-report writer in the job artifact: what is added to ADS's zip, and its digest.

ADS builds the artifact (its `driver_notebook.py`, `driver_utils.py`, `code/<notebook>`);
this module adds `notebook_launcher_run.py` (the source of
`notebook_launcher.artifact.run_report_writer`, verbatim) and the launcher's redaction module
(`artifact/redaction.py`, as `notebook_launcher_redaction.py`), and points
the job's `JOB_RUN_ENTRYPOINT` at it, so every run, on OCI or on the local service, runs
ADS's driver and then writes its report with the same code. `CODE_DIGEST` enters the job
digest: a change to the writer or to the redaction rules makes new jobs (one re-creation per
notebook) instead of reusing jobs whose artifact lacks it.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

from notebook_launcher.artifact import parameter_names, redaction
from notebook_launcher.artifact import run_report_writer as writer

ENTRYPOINT_ENV = writer.ENTRYPOINT_ENV
WRITER_SOURCE = Path(writer.__file__).read_bytes()
# The same redaction rules as the injected parameters cell, by the same source.
REDACTION_SOURCE = Path(redaction.__file__).read_bytes()
# The parameter-name rule the launcher warns by, for the run's log and report.
PARAMETER_NAMES_SOURCE = Path(parameter_names.__file__).read_bytes()
CODE_DIGEST = hashlib.sha256(
    WRITER_SOURCE + b"\0" + REDACTION_SOURCE + b"\0" + PARAMETER_NAMES_SOURCE
).hexdigest()


def with_report_writer(artifact: bytes, details: Any) -> bytes:
    """ADS's artifact zip plus the report writer; details (CreateJobDetails) is changed in
    place to start the writer instead of ADS's driver (which the writer runs)."""
    source = zipfile.ZipFile(io.BytesIO(artifact))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename not in (
                writer.ENTRYPOINT_FILE,
                writer.REDACTION_FILE,
                writer.PARAMETER_NAMES_FILE,
            ):
                target.writestr(info, source.read(info))
        target.writestr(writer.ENTRYPOINT_FILE, WRITER_SOURCE)
        target.writestr(writer.REDACTION_FILE, REDACTION_SOURCE)
        target.writestr(writer.PARAMETER_NAMES_FILE, PARAMETER_NAMES_SOURCE)
    configuration = details.job_configuration_details
    variables = dict(configuration.environment_variables or {})
    variables[ENTRYPOINT_ENV] = writer.ENTRYPOINT_FILE
    configuration.environment_variables = variables
    return out.getvalue()
