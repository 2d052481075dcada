"""Job run commands: `wait`, `status`, `cancel`, `logs` and `runs` (`wait` and `runs` also
for pipeline runs, see pipeline_runs.py).

They talk to Data Science directly (GetJobRun, CancelJobRun, ListJobRuns) on the selected
target, so they work for runs however they were launched. `status` and `cancel` print the
run in brief on stdout as JSON, the shape of the function's own status action.
"""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from notebook_launcher.console.errors import ConsoleError, ExitCode
from notebook_launcher.console.follow import (
    TERMINAL_STATES,
    elapsed_seconds,
    follow_run,
    format_seconds,
    make_display,
    print_outcome,
    run_output,
    state_text,
)
from notebook_launcher.console.output import emit_json, make_console, note
from notebook_launcher.console.pipeline_runs import (
    PipelineRunView,
    follow_pipeline_run,
    is_pipeline_run,
    pipeline_runs_table,
    steps_table,
)
from notebook_launcher.console.target import Target, TargetOptions, resolve_target, target_options
from notebook_launcher.oci_facts.states import (
    JOB_RUN_CANCELABLE_STATES,
    JobRunState,
    PipelineRunState,
    StepRunState,
)

RUN_STATES = tuple(
    state.value
    for state in (
        JobRunState.ACCEPTED,
        JobRunState.IN_PROGRESS,
        JobRunState.NEEDS_ATTENTION,
        JobRunState.SUCCEEDED,
        JobRunState.FAILED,
        JobRunState.CANCELING,
        JobRunState.CANCELED,
        JobRunState.DELETED,
    )
)  # plain strings, in the order --state lists them
RUN_ID = click.argument("run_id", metavar="RUN_ID")


def _get_run(target: Target, run_id: str) -> Any:
    ds = target.datascience
    return target.call("GetJobRun", ds.get_job_run, run_id).data


def _brief(target: Target, run: Any) -> dict[str, Any]:
    from notebook_launcher.function.answers import run_brief

    brief = run_brief(run)
    output = run_output(target, run)
    brief["outputUri"] = output.folder
    local = target.local_path(output.folder) if output.folder else None
    if local is not None:
        brief["outputPath"] = str(local)
    return brief


def _wait_pipeline(resolved: Target, run_id: str, timeout: float | None, interval: float) -> None:
    """`wait` on a pipeline run: its steps live until it ends; exit as for a job run."""
    progress = make_console(stderr=True)
    try:
        run = follow_pipeline_run(
            resolved, run_id, PipelineRunView(progress), interval=interval, timeout=timeout
        )
    except KeyboardInterrupt:
        raise _stopped(run_id) from None
    console = make_console(stderr=False)
    console.print(steps_table(run))
    failed = [
        s.step_name for s in run.step_runs or () if s.lifecycle_state != StepRunState.SUCCEEDED
    ]
    if run.lifecycle_state != PipelineRunState.SUCCEEDED:
        note(
            f"steps that did not succeed: {', '.join(failed)}; re-run only those and what "
            f'follows them with {{"action": "rerun", "id": "{run_id}"}}'
        )
        raise click.exceptions.Exit(ExitCode.FAILED)


def _stopped(run_id: str) -> click.exceptions.Exit:
    note(
        f"stopped following {run_id}; the run goes on "
        f"(`python -m notebook_launcher cancel {run_id}` stops it)"
    )
    return click.exceptions.Exit(ExitCode.INTERRUPTED)


@click.command()
@RUN_ID
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Give up after this many seconds (exit 4); default: wait until the run ends.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between polls of GetJobRun and the log.",
)
@target_options
def wait(run_id: str, timeout: float | None, interval: float, target: TargetOptions) -> None:
    """Follow a run to its end (state, elapsed time, the tail of its log).

    Exits 0 only when it SUCCEEDED; 1 when it ended FAILED, CANCELED, NEEDS_ATTENTION or
    DELETED; 4 on --timeout. Then prints the final state, where its output is, and its
    report: the failing cell and its error, or the outputs, and where the HTML page is.
    """
    from notebook_launcher.console.run_report_view import show_report_after_wait

    resolved = resolve_target(target)
    progress = make_console(stderr=True)
    if is_pipeline_run(run_id):
        _wait_pipeline(resolved, run_id, timeout, interval)
        return
    try:
        run = follow_run(
            resolved, run_id, make_display(progress, run_id), interval=interval, timeout=timeout
        )
    except KeyboardInterrupt:
        raise _stopped(run_id) from None
    output = run_output(resolved, run)
    console = make_console(stderr=False)
    print_outcome(console, resolved, run, output)
    show_report_after_wait(console, resolved, run, output)
    if run.lifecycle_state != JobRunState.SUCCEEDED:
        raise click.exceptions.Exit(ExitCode.FAILED)


@click.command()
@RUN_ID
@target_options
def status(run_id: str, target: TargetOptions) -> None:
    """Print a run in brief as JSON (state, details, times, output folder)."""
    resolved = resolve_target(target)
    emit_json(_brief(resolved, _get_run(resolved, run_id)))


@click.command()
@RUN_ID
@target_options
def cancel(run_id: str, target: TargetOptions) -> None:
    """Cancel a run (CancelJobRun) and print it in brief as JSON.

    Exits 1 when the run has already ended.
    """
    resolved = resolve_target(target)
    run = _get_run(resolved, run_id)
    if run.lifecycle_state not in JOB_RUN_CANCELABLE_STATES | {JobRunState.CANCELING}:
        raise ConsoleError(
            f"run {run_id} has already ended ({run.lifecycle_state}); there is nothing to cancel"
        )
    if run.lifecycle_state != JobRunState.CANCELING:
        ds = resolved.datascience
        resolved.call("CancelJobRun", ds.cancel_job_run, run_id)
        run = _get_run(resolved, run_id)
    emit_json(_brief(resolved, run))


@click.command()
@RUN_ID
@click.option("--follow", "-f", is_flag=True, help="Keep printing the log until the run ends.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between reads with --follow.",
)
@target_options
def logs(run_id: str, follow: bool, interval: float, target: TargetOptions) -> None:
    """Print a run's log (its notebook's output and the driver's messages)."""
    import time

    resolved = resolve_target(target)
    run = _get_run(resolved, run_id)
    log = resolved.run_log(run)
    if log.note:
        note(f"{run_id}: {log.note}")
    click.echo(log.read_new(), nl=False)
    try:
        while follow and run.lifecycle_state not in TERMINAL_STATES:
            time.sleep(interval)
            run = _get_run(resolved, run_id)
            click.echo(log.read_new(), nl=False)
    except KeyboardInterrupt:
        raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
    if follow:
        click.echo(log.read_new(), nl=False)
        note(f"{run_id} ended {run.lifecycle_state}")


@click.command()
@click.option("--job-id", metavar="OCID", help="Only runs of this job.")
@click.option(
    "--state",
    type=click.Choice(RUN_STATES, case_sensitive=False),
    help="Only runs in this state.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="At most this many.",
)
@click.option(
    "--compartment-id",
    metavar="OCID",
    help="Compartment to list (default: the tenancy, the local service's only one).",
)
@target_options
def runs(
    job_id: str | None,
    state: str | None,
    limit: int,
    compartment_id: str | None,
    target: TargetOptions,
) -> None:
    """List job runs, newest first, as a table; then pipeline runs (without filters)."""
    resolved = resolve_target(target)
    ds = resolved.datascience
    kwargs: dict[str, Any] = {
        "compartment_id": compartment_id or resolved.compartment_id,
        "sort_by": "timeCreated",
        "sort_order": "DESC",
    }
    if job_id:
        kwargs["job_id"] = job_id
    if state:
        kwargs["lifecycle_state"] = state.upper()
    found: list[Any] = []
    page: str | None = None
    while len(found) < limit:
        response = resolved.call(
            "ListJobRuns", ds.list_job_runs, limit=min(100, limit - len(found)), page=page, **kwargs
        )
        found.extend(response.data)
        page = response.next_page
        if not page:
            break
    table = Table(title=f"job runs at {resolved.describe()}", title_justify="left")
    # The OCIDs are what a reader copies into the next command: never cropped, however narrow.
    table.add_column("RUN", no_wrap=True, min_width=max((len(r.id) for r in found), default=3))
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
    console = make_console(stderr=False)
    if found:
        console.print(table)
    else:
        note(f"no job runs at {resolved.describe()}")
    if job_id is None and state is None:
        pipelines = pipeline_runs_table(resolved, compartment_id or resolved.compartment_id, limit)
        if pipelines is not None:
            console.print(pipelines)
