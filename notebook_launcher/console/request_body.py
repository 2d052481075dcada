"""The function's request, built from a JSON file and command-line flags (flags win).

Building is pure: it does not validate what the function validates (the function answers
every problem at once, naming each field); it only parses what the flags carry. A relative
local `noteBook` path is made absolute against a base folder, because the function reads it
from wherever the tool runs.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# flag (python name) -> request field, for the flags that set one field to their value
SCALAR_FIELDS: dict[str, str] = {
    "notebook": "noteBook",
    "job_name": "jobName",
    "run_name": "runName",
    "idempotency_key": "idempotencyKey",
    "job_id": "jobId",
    "project_id": "projectId",
    "compartment_id": "compartmentId",
    "log_group_id": "logGroupId",
    "output_folder": "outputFolder",
    "shape": "shape",
    "conda_env": "condaEnv",
    "max_runtime_minutes": "maxRuntimeInMinutes",
}


@dataclass(frozen=True)
class RequestFlags:
    """The request flags as given (None: not given)."""

    notebook: str | None = None
    job_name: str | None = None
    run_name: str | None = None
    idempotency_key: str | None = None
    job_id: str | None = None
    project_id: str | None = None
    compartment_id: str | None = None
    log_group_id: str | None = None
    output_folder: str | None = None
    shape: str | None = None
    conda_env: str | None = None
    max_runtime_minutes: int | None = None
    params: tuple[str, ...] = field(default_factory=tuple)
    env: tuple[str, ...] = field(default_factory=tuple)
    tags: tuple[str, ...] = field(default_factory=tuple)
    reuse_job: bool | None = None
    dry_run: bool | None = None


def parse_param(text: str) -> tuple[str, Any]:
    """NAME=JSON → (name, value); the value keeps its JSON type."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(
            f"{text!r}: expected NAME=JSON, e.g. months=6", param_hint="--param"
        )
    try:
        value = json.loads(raw)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: the value must be JSON (a string needs quotes: {name}='\"{raw}\"')",
            param_hint="--param",
        ) from None
    return name, value


def parse_pair(text: str, option: str) -> tuple[str, str]:
    """KEY=VALUE → (key, value), the value taken as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r}: expected KEY=VALUE", param_hint=option)
    return key, value


def load_request(source: TextIO | None) -> dict[str, Any]:
    """The JSON object in source ({} without one)."""
    if source is None:
        return {}
    name = getattr(source, "name", "the request")
    try:
        body = json.load(source)
    except ValueError as exc:
        raise click.BadParameter(f"{name} is not valid JSON: {exc}", param_hint="REQUEST") from None
    if not isinstance(body, dict):
        raise click.BadParameter(f"{name} must hold a JSON object", param_hint="REQUEST")
    return body


def is_local_path(notebook: str) -> bool:
    """A noteBook that is neither a URL nor an oci:// URI."""
    return "://" not in notebook


def build_request(
    base: dict[str, Any], flags: RequestFlags, *, relative_to: Path | None = None
) -> dict[str, Any]:
    """The request: base (the file's JSON) with the flags applied over it.

    Maps (parameters, environmentVariables, freeformTags) are merged key by key, the flag's
    value winning. A relative local noteBook path is resolved against `relative_to`.
    """
    body = dict(base)
    for attr, name in SCALAR_FIELDS.items():
        value = getattr(flags, attr)
        if value is not None:
            body[name] = value
    if flags.reuse_job is not None:
        body["reuseJob"] = flags.reuse_job
    if flags.dry_run:
        body["dryRun"] = True
    for name, pairs in (
        ("parameters", [parse_param(p) for p in flags.params]),
        ("environmentVariables", [parse_pair(p, "--env") for p in flags.env]),
        ("freeformTags", [parse_pair(p, "--tag") for p in flags.tags]),
    ):
        if pairs:
            merged = dict(body.get(name) or {}) if isinstance(body.get(name), dict) else {}
            merged.update(pairs)
            body[name] = merged
    if relative_to is not None:
        _resolve_local(body, relative_to)
        # a pipeline's steps are launches too: each one's local noteBook alike
        for step in body.get("steps") or []:
            if isinstance(step, dict):
                _resolve_local(step, relative_to)
    return body


def _resolve_local(launch: dict[str, Any], relative_to: Path) -> None:
    notebook = launch.get("noteBook")
    if isinstance(notebook, str) and is_local_path(notebook):
        path = Path(notebook).expanduser()
        if not path.is_absolute():
            launch["noteBook"] = str((relative_to / path).resolve())


def request_options(command: F) -> F:
    """Add the request argument and flags, passed on as `request_file` and `flags`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _FLAG_NAMES}
        values["params"] = tuple(values["params"])
        values["env"] = tuple(values["env"])
        values["tags"] = tuple(values["tags"])
        return command(*args, flags=RequestFlags(**values), **kwargs)

    decorators = [
        click.argument(
            "request_file", metavar="[REQUEST.json]", type=click.File("r"), required=False
        ),
        click.option(
            "--notebook", metavar="PATH|URL", help="noteBook: a local path, https:// or oci:// URL."
        ),
        click.option(
            "--param",
            "params",
            metavar="NAME=JSON",
            multiple=True,
            help="A notebook parameter, its value as JSON (repeatable): --param months=6.",
        ),
        click.option("--job-name", help="jobName."),
        click.option("--run-name", help="runName."),
        click.option(
            "--idempotency-key", metavar="KEY", help="idempotencyKey: a retry gives the same run."
        ),
        click.option("--job-id", metavar="OCID", help="jobId: run this existing job."),
        click.option("--project-id", metavar="OCID", help="projectId."),
        click.option("--compartment-id", metavar="OCID", help="compartmentId."),
        click.option("--log-group-id", metavar="OCID", help="logGroupId."),
        click.option(
            "--output-folder", metavar="URI", help="outputFolder: oci://bucket@namespace/prefix."
        ),
        click.option("--shape", help="shape, e.g. VM.Standard.E4.Flex."),
        click.option("--conda-env", metavar="SLUG|URI", help="condaEnv."),
        click.option("--max-runtime-minutes", type=int, help="maxRuntimeInMinutes."),
        click.option(
            "--env",
            metavar="NAME=VALUE",
            multiple=True,
            help="An environment variable (repeatable).",
        ),
        click.option(
            "--tag", "tags", metavar="KEY=VALUE", multiple=True, help="A freeform tag (repeatable)."
        ),
        click.option(
            "--reuse-job/--no-reuse-job",
            default=None,
            help="reuseJob: run an existing identical job (the function's default: reuse).",
        ),
    ]
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper  # type: ignore[return-value]


_FLAG_NAMES = tuple(f for f in RequestFlags.__dataclass_fields__ if f != "dry_run")
