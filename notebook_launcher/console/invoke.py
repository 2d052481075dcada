"""`invoke` and `dry-run`: call the function with a request built from a file and flags.

By default the function's core runs in this process, configured for the local service
(where local notebook paths are allowed); with `--function-id` the deployed function is
invoked through OCI. stdout carries only the function's answer.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TextIO

import click
import yaml

from notebook_launcher.console.errors import ConsoleError
from notebook_launcher.console.function_call import (
    DeployedFunction,
    FunctionAnswer,
    FunctionCaller,
    LocalFunction,
)
from notebook_launcher.console.output import configure_logging, emit_json, note
from notebook_launcher.console.request_body import (
    RequestFlags,
    build_request,
    is_local_path,
    load_request,
    request_options,
)
from notebook_launcher.console.target import LocalTarget, OciTarget, TargetOptions, target_options

FUNCTION_ID_HELP = "Invoke this deployed function through OCI (with --profile/--region)."


def prepare_call(
    target: TargetOptions,
    base: dict[str, Any],
    flags: RequestFlags,
    function_id: str | None,
    *,
    relative_to: Path | None = None,
) -> tuple[FunctionCaller, dict[str, Any]]:
    """The function to call and the request to send it.

    Locally, a relative noteBook path is resolved against `relative_to` (default: the
    current folder), and the tool's project is the default project unless the request
    names one (or an existing job).
    """
    local_base = None if function_id is not None else (relative_to or Path.cwd())
    body = build_request(base, flags, relative_to=local_base)
    if function_id is not None:
        if target.endpoint is not None:
            raise click.UsageError("--function-id invokes a deployed function; drop --endpoint")
        notebooks = [body.get("noteBook")] + [
            s.get("noteBook") for s in body.get("steps") or [] if isinstance(s, dict)
        ]
        for notebook in notebooks:
            if not (isinstance(notebook, str) and is_local_path(notebook)):
                continue
            raise ConsoleError(
                f"a deployed function cannot read the local file {notebook!r}: put the notebook "
                "in Object Storage (oci://bucket@namespace/path.ipynb) or behind https://"
            )
        oci_target = OciTarget(target.profile, target.region)
        return DeployedFunction(oci_target.config, function_id), body
    if target.wants_oci:
        raise click.UsageError(
            "--profile/--region without --function-id: invoke runs the function's core against "
            "the local service; give --function-id to invoke a function deployed in OCI"
        )
    local = LocalTarget.from_options(target)
    project_id = ""
    if not body.get("projectId") and not body.get("jobId"):
        project_id = local.ensure_project()
    return LocalFunction(local.function_config(project_id)), body


def call_function(caller: FunctionCaller, body: dict[str, Any]) -> FunctionAnswer:
    if not body.get("dryRun"):
        note(f"invoking {caller.describe()} …")
    return caller.invoke(json.dumps(body).encode("utf-8"))


def fail_on_error(answer: FunctionAnswer) -> None:
    """Exit non-zero (after the answer was printed) when the function answered an error."""
    if answer.is_error:
        error = answer.body.get("error") or {}
        raise ConsoleError(
            f"the function answered {answer.status} {error.get('code', '')}: "
            f"{error.get('message', '(no message)')}"
        )


@click.command()
@request_options
@click.option("--dry-run", is_flag=True, help="dryRun: answer the job definition; create nothing.")
@click.option("--function-id", metavar="OCID", help=FUNCTION_ID_HELP)
@target_options
def invoke(
    request_file: TextIO | None,
    flags: RequestFlags,
    dry_run: bool,
    function_id: str | None,
    target: TargetOptions,
) -> None:
    """Invoke the function with REQUEST.json (or - for stdin) and/or flags (flags win).

    Prints the function's JSON answer on stdout, and exits 1 when it is an error.
    """
    configure_logging()
    flags = dataclasses.replace(flags, dry_run=dry_run or None)
    caller, body = prepare_call(target, load_request(request_file), flags, function_id)
    answer = call_function(caller, body)
    emit_json(answer.body)
    fail_on_error(answer)
    if "id" in answer.body and not body.get("dryRun"):
        note(f"follow it with: python -m notebook_launcher wait {answer.body['id']}")
    if "pipelineRunId" in answer.body:
        note(f"follow it with: python -m notebook_launcher wait {answer.body['pipelineRunId']}")


@click.command("dry-run")
@request_options
@click.option("--function-id", metavar="OCID", help=FUNCTION_ID_HELP)
@target_options
def dry_run(
    request_file: TextIO | None,
    flags: RequestFlags,
    function_id: str | None,
    target: TargetOptions,
) -> None:
    """Print the ADS job definition the request would create, as YAML; create no job or run.

    The function answers it with dryRun true (it fetches and checks the notebook). Locally,
    the tool's project is found or created first, as for `invoke`.
    """
    configure_logging()
    flags = dataclasses.replace(flags, dry_run=True)
    caller, body = prepare_call(target, load_request(request_file), flags, function_id)
    answer = call_function(caller, body)
    if not answer.is_error and "pipelineYaml" in answer.body:
        click.echo(answer.body["pipelineYaml"], nl=False)  # ADS's Pipeline.to_yaml()
        for step in answer.body.get("steps") or []:
            note(f"step {step['name']}: job {step['job']} (digest {step['jobDigest'][:16]}…)")
        return
    if answer.is_error or "job" not in answer.body:
        emit_json(answer.body)
        fail_on_error(answer)
        raise ConsoleError("the function's answer holds no job definition")
    click.echo(yaml.safe_dump(answer.body["job"], sort_keys=False, allow_unicode=True), nl=False)
    run = answer.body.get("run") or {}
    note(f"job digest {answer.body.get('jobDigest')}; an identical ACTIVE job would be reused")
    if run.get("environmentVariableNames"):
        names = ", ".join(run["environmentVariableNames"])
        note(f"each run would set the environment variables {names}")
    if source := answer.body.get("source"):
        # A folder or archive noteBook: what would ship with the notebook.
        note(
            f"{source['fileCount']} files would ship, {source['totalBytes']} bytes in all "
            f"(the notebook: {source['notebook']}):"
        )
        for shipped in source["files"]:
            note(f"  {shipped['path']}  {shipped['bytes']} bytes")
