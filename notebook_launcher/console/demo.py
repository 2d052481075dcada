"""`demo` (what `make demo` runs): the whole flow on this machine, from a fresh clone.

It starts the local service, invokes the function's core with `examples/launch.json` (its
noteBook path is relative to the repository root), follows the run with the same display as
`wait`, prints the final state, where the executed notebook and outputs are on disk, and the
run report (the notebook's outputs and the HTML page's path), and exits 0 only if the run
SUCCEEDED. Run from a terminal (stdin and stdout both terminals) it then keeps the service
up, so the run page it printed stays usable, until Ctrl-C; otherwise (tests, CI, a pipe) it
stops the service and exits at once; `--keep-serving/--no-keep-serving` forces either. The
service it started is stopped on every way out: success, failure, Ctrl-C, or SIGTERM (e.g. a
CI job being cancelled).

The service's data dir is `.local-ds/demo`, not a temporary folder, so that the executed
notebook the demo points at is still there afterwards; and not `.local-ds` itself, so it
never collides with a service that `make serve` runs there (the demo's service takes any free
port). A second demo reuses the job the first one created.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click
from rich.text import Text

from notebook_launcher.console.errors import ConsoleError, ExitCode, TargetUnavailableError
from notebook_launcher.console.follow import follow_run, make_display, print_outcome, run_output
from notebook_launcher.console.function_call import LocalFunction
from notebook_launcher.console.output import configure_logging, make_console, say
from notebook_launcher.console.request_body import RequestFlags, build_request, load_request
from notebook_launcher.console.run_report_view import show_report_after_wait
from notebook_launcher.console.target import LocalTarget
from notebook_launcher.oci_facts.states import JobRunState

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REQUEST = REPO_ROOT / "examples" / "launch.json"
DEFAULT_DATA_DIR = Path(".local-ds") / "demo"


def interactive() -> bool:
    """Whether a person is at the demo: stdin and stdout both terminals."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit, so that `with` blocks (the service) clean up."""

    def handle(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Data dir for the demo's own local service (kept afterwards, with the outputs).",
)
@click.option(
    "--request",
    "request_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_REQUEST,
    help="Request JSON to invoke the function with  [default: examples/launch.json]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300,
    show_default=True,
    help="Give up on the run after this many seconds.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=0.5,
    show_default=True,
    help="Seconds between polls of the run.",
)
@click.option(
    "--keep-serving/--no-keep-serving",
    default=None,
    help="After the run, keep the service (and the run's web page) up until Ctrl-C, or stop"
    " it at once. Default: keep serving when stdin and stdout are both terminals.",
)
def demo(
    data_dir: Path,
    request_path: Path,
    timeout: float,
    interval: float,
    keep_serving: bool | None,
) -> None:
    """Start the local service, launch the example notebook through the function, follow the
    run to its end, and show where the executed notebook is and the run's web page. Exits 0
    only on SUCCEEDED."""
    from notebook_launcher.localservice.embedded import EmbeddedService, EmbeddedServiceError

    if keep_serving is None:
        keep_serving = interactive()
    configure_logging()
    progress = make_console(stderr=True)
    results = make_console(stderr=False)
    with request_path.open(encoding="utf-8") as source:
        body = build_request(load_request(source), RequestFlags(), relative_to=REPO_ROOT)

    say(progress, f"starting the local service in {data_dir} …")
    service = EmbeddedService(data_dir)
    try:
        with _sigterm_as_exit():
            try:
                service.start()
            except EmbeddedServiceError as exc:
                raise TargetUnavailableError(f"the local service did not start: {exc}") from None
            try:
                say(progress, f"local service at {service.endpoint}")
                target = LocalTarget(
                    service.data_dir, service.endpoint, service.config_file, service.namespace
                )
                function = LocalFunction(target.function_config(target.ensure_project()))
                say(
                    progress,
                    f"invoking the function with {request_path.name} "
                    "(the first time it creates the job, which takes a few seconds) …",
                )
                answer = function.invoke(json.dumps(body).encode("utf-8"))
                say(progress, f"the function answered {answer.status}: {json.dumps(answer.body)}")
                if answer.is_error:
                    raise ConsoleError("the function answered an error; nothing was launched")
                run_id = str(answer.body["id"])
                page = service.console_page(f"runs/{run_id}")
                say(progress, f"the run's page in the web console: {page}")
                run = follow_run(
                    target,
                    run_id,
                    make_display(progress, run_id),
                    interval=interval,
                    timeout=timeout,
                )
                output = run_output(target, run)
                print_outcome(results, target, run, output)
                show_report_after_wait(results, target, run, output)
                results.print(Text.assemble((f"{'run page':<14}", "dim"), page), soft_wrap=True)
                if keep_serving:
                    say(progress, "Open the run page above; Ctrl-C stops the local service.")
                    while service.running:
                        time.sleep(0.5)
                else:
                    say(
                        progress,
                        "not a terminal: stopping the local service now (the run page is served"
                        " only while it runs; --keep-serving keeps it up until Ctrl-C)",
                    )
            finally:
                say(progress, "stopping the local service …")
                service.stop()
    except KeyboardInterrupt:
        say(progress, "interrupted; the local service was stopped")
        raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
    if run.lifecycle_state != JobRunState.SUCCEEDED:
        raise click.exceptions.Exit(ExitCode.FAILED)
