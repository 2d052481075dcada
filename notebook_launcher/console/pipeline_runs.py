"""Pipeline runs in the console: `wait` on a pipeline run (a live view of its steps) and the
pipeline-run table of `runs`. They read Data Science directly (GetPipelineRun,
ListPipelineRuns) on the selected target, as the job-run commands do."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table

from notebook_launcher.console.errors import WaitTimeoutError
from notebook_launcher.console.follow import elapsed_seconds, format_seconds, state_text
from notebook_launcher.console.target import Target
from notebook_launcher.oci_facts.states import PIPELINE_RUN_TERMINAL_STATES

PIPELINE_RUN_TYPE = "datasciencepipelinerun"
PIPELINE_TERMINAL_STATES = frozenset(PIPELINE_RUN_TERMINAL_STATES)


def is_pipeline_run(run_id: str) -> bool:
    return run_id.startswith(f"ocid1.{PIPELINE_RUN_TYPE}.")


def steps_table(run: Any) -> Table:
    """The pipeline run's steps: name, state, job run, time taken."""
    table = Table(
        title=f"{run.display_name}  {run.lifecycle_state}", title_justify="left", expand=False
    )
    table.add_column("STEP", no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("JOB RUN", no_wrap=True)
    table.add_column("TOOK", justify="right", no_wrap=True)
    for step in run.step_runs or ():
        took = "-"
        if step.time_started is not None:
            end = step.time_finished or dt.datetime.now(dt.UTC)
            took = format_seconds(max(0.0, (end - step.time_started).total_seconds()))
        table.add_row(
            step.step_name,
            state_text(step.lifecycle_state or "-"),
            getattr(step, "job_run_id", None) or "-",
            took,
        )
    return table


class PipelineRunView:
    """Live on a terminal (the steps table, redrawn), plain lines elsewhere (one per change)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Live | None = None
        self.seen: dict[str, str] = {}

    def __enter__(self) -> PipelineRunView:
        if self.console.is_terminal and not self.console.is_dumb_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def update(self, run: Any) -> None:
        if self.live is not None:
            renderable: RenderableType = steps_table(run)
            self.live.update(renderable)
            return
        states = {"(run)": run.lifecycle_state}
        states.update({s.step_name: s.lifecycle_state for s in run.step_runs or ()})
        for name, state in states.items():
            if self.seen.get(name) != state:
                self.seen[name] = state
                self.console.print(f"{name}: {state}", highlight=False)


def follow_pipeline_run(
    target: Target,
    run_id: str,
    view: PipelineRunView,
    *,
    interval: float = 1.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll GetPipelineRun until the run ends; returns the final run."""
    ds = target.datascience
    give_up = None if timeout is None else clock() + timeout
    with view:
        while True:
            run = target.call("GetPipelineRun", ds.get_pipeline_run, run_id).data
            view.update(run)
            if run.lifecycle_state in PIPELINE_TERMINAL_STATES:
                return run
            if give_up is not None and clock() >= give_up:
                raise WaitTimeoutError(
                    f"pipeline run {run_id} is still {run.lifecycle_state} after {timeout:g} s; "
                    "it keeps running (wait again, or cancel it)"
                )
            sleep(interval)


def pipeline_runs_table(target: Target, compartment_id: str, limit: int) -> Table | None:
    """The newest pipeline runs as a table, or None when there are none."""
    ds = target.datascience
    found = target.call(
        "ListPipelineRuns",
        ds.list_pipeline_runs,
        compartment_id=compartment_id,
        sort_by="timeAccepted",
        sort_order="DESC",
        limit=min(limit, 100),
    ).data
    if not found:
        return None
    table = Table(title=f"pipeline runs at {target.describe()}", title_justify="left")
    table.add_column("PIPELINE RUN", no_wrap=True, min_width=max(len(r.id) for r in found))
    table.add_column("NAME")
    table.add_column("STATE", no_wrap=True)
    table.add_column("ACCEPTED", no_wrap=True)
    table.add_column("TOOK", justify="right", no_wrap=True)
    for run in found[:limit]:
        accepted = (
            run.time_accepted.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if run.time_accepted
            else "-"
        )
        took = format_seconds(elapsed_seconds(run)) if run.time_finished else "-"
        table.add_row(run.id, run.display_name, state_text(run.lifecycle_state), accepted, took)
    return table
