"""`python -m notebook_launcher serve`: run the local OCI Data Science service."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from notebook_launcher.localservice.server import DataDirInUseError, ServiceSettings
from notebook_launcher.localservice.server import serve as run_service


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to bind; 0 picks any free port.",
)
@click.option(
    "--data-dir",
    default=".local-ds",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding the records, artifacts, logs, objects and the OCI config.",
)
@click.option(
    "--concurrency",
    default=None,
    type=click.IntRange(min=1),
    help="Job runs executing at once (default: the number of CPU cores).",
)
@click.option(
    "--fault-injection/--no-fault-injection",
    default=False,
    show_default=True,
    help="Enable the /_local/faults routes (tests and benchmarks).",
)
@click.option(
    "--runtime-minute-seconds",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds one minute of maximumRuntimeInMinutes lasts (tests make it short).",
)
@click.option(
    "--controlled-clock/--system-clock",
    default=False,
    show_default=True,
    help="Schedules run on a clock moved only by POST /_local/clock (tests).",
)
@click.option("--log-level", default="INFO", show_default=True, help="Service log level.")
def serve(
    host: str,
    port: int,
    data_dir: Path,
    concurrency: int | None,
    fault_injection: bool,
    runtime_minute_seconds: float,
    controlled_clock: bool,
    log_level: str,
) -> None:
    """Run the embedded local OCI Data Science service (and Object Storage for run outputs)."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ServiceSettings(
        data_dir=data_dir,
        host=host,
        port=port,
        concurrency=concurrency or os.cpu_count() or 1,
        fault_injection=fault_injection,
        runtime_minute_seconds=runtime_minute_seconds,
        controlled_clock=controlled_clock,
    )
    try:
        run_service(settings, announce=lambda text: click.echo(text, nl=False))
    except (DataDirInUseError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
