"""Following a job run to its end, shown live, and reporting where its output is.

`follow_run` polls GetJobRun and the run's log until the run ends (or the timeout passes),
feeding a display: on a terminal a rich Live panel (state, elapsed time, the tail of the
log), elsewhere plain lines (each state change, then each new log line), which read well in
CI logs. `wait` and `demo` share it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from notebook_launcher.console.errors import WaitTimeoutError
from notebook_launcher.console.output import say
from notebook_launcher.console.run_log import RunLog
from notebook_launcher.console.target import Target
from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES, JobRunState

TERMINAL_STATES = frozenset(JOB_RUN_TERMINAL_STATES)
STATE_STYLES: dict[str, str] = {
    JobRunState.ACCEPTED: "cyan",
    JobRunState.IN_PROGRESS: "yellow",
    JobRunState.CANCELING: "magenta",
    JobRunState.SUCCEEDED: "bold green",
    JobRunState.FAILED: "bold red",
    JobRunState.CANCELED: "bold magenta",
    JobRunState.DELETED: "bold red",
    JobRunState.NEEDS_ATTENTION: "bold red",
}
TAIL_LINES = 12
# Where the launcher's per-run output folder puts the run's OCID (function/job_spec.py).
RUN_OCID_PLACEHOLDERS = ("${JOB_RUN_OCID}", "$JOB_RUN_OCID")


def elapsed_seconds(run: Any, now: dt.datetime | None = None) -> float | None:
    """Seconds since the run was accepted (until it finished, once it has)."""
    start = run.time_accepted
    if start is None:
        return None
    end: dt.datetime = run.time_finished or now or dt.datetime.now(dt.UTC)
    return max(0.0, float((end - start).total_seconds()))


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


class RunDisplay(Protocol):
    """Shows a followed run."""

    def __enter__(self) -> RunDisplay: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, run: Any, new_log: str) -> None: ...


class _LogTail:
    """The last lines of a growing log (a partial last line included)."""

    def __init__(self, size: int) -> None:
        self.lines: deque[str] = deque(maxlen=size)
        self.partial = ""

    def add(self, text: str) -> list[str]:
        """Add text; returns the lines it completed."""
        pieces = (self.partial + text).split("\n")
        self.partial = pieces.pop()
        complete = [p.rstrip("\r") for p in pieces]
        self.lines.extend(complete)
        return complete

    def shown(self) -> list[str]:
        return [*self.lines, self.partial] if self.partial else list(self.lines)


class LiveRunDisplay:
    """A rich Live panel on a terminal: state, elapsed time, the tail of the log."""

    def __init__(self, console: Console, run_id: str, tail_lines: int = TAIL_LINES) -> None:
        self.console = console
        self.run_id = run_id
        self.run: Any = None
        self.tail = _LogTail(tail_lines)
        self.spinner = Spinner("dots")
        self.live = Live(self, console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveRunDisplay:
        self.live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.stop()

    def update(self, run: Any, new_log: str) -> None:
        self.run = run
        self.tail.add(new_log)
        self.live.refresh()

    def __rich__(self) -> RenderableType:
        header = Table.grid(padding=(0, 1))
        header.add_column()
        header.add_column()
        state = self.run.lifecycle_state if self.run is not None else "…"
        done = state in TERMINAL_STATES
        line = Text.assemble(
            state_text(state),
            "  ",
            (format_seconds(elapsed_seconds(self.run)) if self.run is not None else "", "dim"),
            "  ",
            (self.run_id, "dim"),
        )
        header.add_row(Text("●", style=STATE_STYLES.get(state, "")) if done else self.spinner, line)
        if self.run is not None and self.run.lifecycle_details:
            header.add_row("", Text(self.run.lifecycle_details, style="dim"))
        log = Text("\n").join(Text.from_ansi(line) for line in self.tail.shown())
        return Group(header, Panel(log or Text("(no log yet)", style="dim"), title="log"))


class PlainRunDisplay:
    """Plain lines for a non-terminal: each state change, then each new log line."""

    def __init__(self, console: Console, run_id: str) -> None:
        self.console = console
        self.run_id = run_id
        self.state: str | None = None
        self.tail = _LogTail(1)

    def __enter__(self) -> PlainRunDisplay:
        say(self.console, f"following {self.run_id}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.tail.partial:
            say(self.console, f"  | {self.tail.partial}")
            self.tail.partial = ""

    def update(self, run: Any, new_log: str) -> None:
        if run.lifecycle_state != self.state:
            self.state = run.lifecycle_state
            details = f"  {run.lifecycle_details}" if run.lifecycle_details else ""
            elapsed = format_seconds(elapsed_seconds(run))
            say(self.console, f"[{elapsed:>8}] {self.state}{details}")
        for line in self.tail.add(new_log):
            say(self.console, f"  | {line}")


def make_display(console: Console, run_id: str) -> RunDisplay:
    """Live on a terminal, plain lines elsewhere."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveRunDisplay(console, run_id)
    return PlainRunDisplay(console, run_id)


def follow_run(
    target: Target,
    run_id: str,
    display: RunDisplay,
    *,
    interval: float = 1.0,
    timeout: float | None = None,
    log: RunLog | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Poll the run until it ends; returns the final run (oci JobRun)."""
    ds = target.datascience
    give_up = None if timeout is None else clock() + timeout
    with display:
        while True:
            run = target.call("GetJobRun", ds.get_job_run, run_id).data
            if log is None:
                log = target.run_log(run)
            display.update(run, log.read_new())
            if run.lifecycle_state in TERMINAL_STATES:
                return run
            if give_up is not None and clock() >= give_up:
                raise WaitTimeoutError(
                    f"run {run_id} is still {run.lifecycle_state} after {timeout:g} s; "
                    "it keeps running (wait again, or cancel it)"
                )
            sleep(interval)


@dataclass(frozen=True)
class RunOutput:
    """Where a run's outputs go: its output folder and executed notebook (oci:// URIs)."""

    folder: str | None
    notebook: str | None


def run_output(target: Target, run: Any) -> RunOutput:
    """The run's OUTPUT_URI (the run's override, else its job's) and notebook file name."""
    ds = target.datascience
    job = target.call("GetJob", ds.get_job, run.job_id).data
    env: dict[str, str] = dict(job.job_configuration_details.environment_variables or {})
    override = run.job_configuration_override_details
    if override is not None:
        env.update(override.environment_variables or {})
    folder = env.get("OUTPUT_URI")
    if not folder:
        return RunOutput(None, None)
    for placeholder in RUN_OCID_PLACEHOLDERS:
        folder = folder.replace(placeholder, run.id)
    folder = folder.rstrip("/")
    name = env.get("JOB_RUN_NOTEBOOK")
    notebook = f"{folder}/{Path(name).name}" if name else None
    return RunOutput(folder, notebook)


def print_outcome(console: Console, target: Target, run: Any, output: RunOutput) -> None:
    """The run's final state, its details, and where its outputs are (one fact a line)."""
    console.print(
        Text.assemble(state_text(run.lifecycle_state), "  ", run.lifecycle_details or ""),
        soft_wrap=True,
    )
    rows = [("run", run.id), ("took", format_seconds(elapsed_seconds(run)))]
    if output.folder is None:
        rows.append(("output folder", "(none: the job sets no OUTPUT_URI)"))
    else:
        rows.append(("output folder", output.folder))
        if output.notebook:
            rows.append(("notebook", output.notebook))
        on_disk = target.local_path(output.folder)
        if on_disk is not None:
            shown = str(on_disk) if on_disk.exists() else f"{on_disk} (nothing written)"
            rows.append(("on disk", shown))
            notebook_file = target.local_path(output.notebook) if output.notebook else None
            if notebook_file is not None and notebook_file.is_file():
                rows.append(("notebook file", str(notebook_file)))
    for label, value in rows:
        console.print(Text.assemble((f"{label:<14}", "dim"), value), soft_wrap=True)
