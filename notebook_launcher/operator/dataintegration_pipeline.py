"""The Data Integration REST task's pipeline variant: one task for a whole notebook workflow.

`dataintegration/rest-task-pipeline.json` executes like `rest-task.json` (the function's
request, here a pipeline request with `steps`, bound to REQUEST_BODY), takes RUN_ID from the
answer's `pipelineRunId`, polls GetPipelineRun (`/20190101/pipelineRuns/#{RUN_ID}`) while the
run is not in a terminal state (SUCCEEDED, FAILED, CANCELED, DELETED: a pipeline run has no
NEEDS_ATTENTION), and cancels with CancelPipelineRun. It uses only the features the job-run
variant uses, and its success condition is the same: the run SUCCEEDED. The request's
`maxRuntimeInMinutes` bounds the whole pipeline run, so the task's polling window covers it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from notebook_launcher.operator import dataintegration as di

PIPELINE_TEMPLATE_PATH = (
    Path(__file__).resolve().parents[2] / "dataintegration" / "rest-task-pipeline.json"
)


def render_pipeline_task(settings: di.TaskSettings) -> dict[str, Any]:
    """The pipeline-run variant of the REST task for these settings."""
    return di.render_task(settings, di.load_template(PIPELINE_TEMPLATE_PATH))
