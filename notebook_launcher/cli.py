"""The `python -m notebook_launcher` command group.

Each concern keeps its commands in its own module; this module only assembles them,
importing each lazily so that `--help` and light commands stay fast.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command
_COMMANDS: dict[str, str] = {
    "serve": "notebook_launcher.localservice.cli:serve",
    "policies": "notebook_launcher.operator.cli:policies",
    "invoke": "notebook_launcher.console.invoke:invoke",
    "dry-run": "notebook_launcher.console.invoke:dry_run",
    "wait": "notebook_launcher.console.runs:wait",
    "status": "notebook_launcher.console.runs:status",
    "cancel": "notebook_launcher.console.runs:cancel",
    "logs": "notebook_launcher.console.runs:logs",
    "runs": "notebook_launcher.console.runs:runs",
    "report": "notebook_launcher.console.run_report_view:report",
    "schedules": "notebook_launcher.console.schedules:schedules",
    "schedule": "notebook_launcher.console.schedules:schedule",
    "demo": "notebook_launcher.console.demo:demo",
    "di-task": "notebook_launcher.operator.cli:di_task",
}


class _LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup)
@click.version_option(version=importlib.import_module("notebook_launcher").__version__)
def main() -> None:
    """Launch Jupyter notebooks as OCI Data Science job runs, locally or on OCI."""
