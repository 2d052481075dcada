"""Operator commands: ``policies`` prints the IAM policies a deployment needs, ``di-task`` the
Data Integration REST task that launches notebooks through the function."""

from __future__ import annotations

import json
from typing import TextIO

import click

from notebook_launcher.operator import dataintegration
from notebook_launcher.operator import policies as policy_templates


@click.command()
@click.option("--compartment", help="Compartment name (or path A:B) the statements apply in.")
@click.option("--compartment-id", help="Compartment OCID, for the job runs' dynamic group.")
@click.option("--function-id", help="OCID of the deployed launch function.")
@click.option("--workspace-id", help="OCID of the Data Integration workspace.")
@click.option("--output-bucket", help="Bucket the job runs write outputs to.")
@click.option("--notebook-bucket", help="Bucket the function reads oci:// notebooks from.")
@click.option("--conda-bucket", help="Bucket holding published conda packs.")
@click.option("--log-group-id", help="OCID of the log group for job run logs.")
@click.option(
    "--dynamic-group",
    default=policy_templates.PLACEHOLDERS["dynamic_group"].default,
    show_default=True,
    help="Name of the dynamic group of job runs.",
)
@click.option(
    "--schedule-dynamic-group",
    help="Name of the dynamic group of Data Science schedules (prints their statements).",
)
@click.option(
    "--fallback",
    is_flag=True,
    help="Print the family-level fallback statements instead of the narrow ones.",
)
@click.option(
    "--section",
    "sections",
    multiple=True,
    type=click.Choice(policy_templates.SECTION_NAMES),
    help="Print only this section (repeatable).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def policies(
    compartment: str | None,
    compartment_id: str | None,
    function_id: str | None,
    workspace_id: str | None,
    output_bucket: str | None,
    notebook_bucket: str | None,
    conda_bucket: str | None,
    log_group_id: str | None,
    dynamic_group: str | None,
    schedule_dynamic_group: str | None,
    fallback: bool,
    sections: tuple[str, ...],
    output_format: str,
) -> None:
    """Print the IAM statements and dynamic-group rule for a deployment, checked.

    The narrow statements by default; --fallback prints the broad family-level ones in their
    place. Every placeholder a printed statement uses must be given: the command refuses,
    naming the option, rather than print a statement with a hole in it.
    """
    given = {
        "compartment": compartment,
        "compartment_id": compartment_id,
        "function_id": function_id,
        "workspace_id": workspace_id,
        "output_bucket": output_bucket,
        "notebook_bucket": notebook_bucket,
        "conda_bucket": conda_bucket,
        "log_group_id": log_group_id,
        "dynamic_group": dynamic_group,
        "schedule_dynamic_group": schedule_dynamic_group,
    }
    values = {k: v for k, v in given.items() if v is not None}
    try:
        rendered = policy_templates.render(values, fallback=fallback, only=sections or None)
    except (
        policy_templates.MissingPlaceholderError,
        policy_templates.InvalidValueError,
    ) as exc:
        raise click.UsageError(str(exc)) from None
    except policy_templates.PolicyError as exc:
        raise click.ClickException(str(exc)) from None

    if output_format == "json":
        click.echo(json.dumps({"sections": [s.to_dict() for s in rendered]}, indent=2))
        return
    for index, section in enumerate(rendered):
        if index:
            click.echo()
        click.echo(f"# {section.title}")
        for statement in section.statements:
            click.echo(statement.text)


@click.command("di-task")
@click.option("--function-id", required=True, help="OCID of the deployed launch function.")
@click.option(
    "--invoke-endpoint",
    required=True,
    help="The function's invoke endpoint, https://<id>.<region>.functions.oci.oraclecloud.com.",
)
@click.option("--project-key", required=True, help="Key of the Data Integration project/folder.")
@click.option("--region", help="Region of the Data Science service, e.g. us-ashburn-1.")
@click.option("--datascience-endpoint", help="Data Science endpoint, instead of --region.")
@click.option(
    "--max-runtime-minutes",
    type=int,
    default=dataintegration.DEFAULT_MAX_RUNTIME_MINUTES,
    show_default=True,
    help="Longest a run may take; polling lasts this plus the provisioning allowance.",
)
@click.option(
    "--provisioning-minutes",
    type=int,
    default=dataintegration.DEFAULT_PROVISIONING_MINUTES,
    show_default=True,
    help="Allowance for a run waiting ACCEPTED while its infrastructure is provisioned.",
)
@click.option(
    "--poll-interval-seconds",
    type=int,
    default=dataintegration.DEFAULT_POLL_INTERVAL_SECONDS,
    show_default=True,
)
@click.option(
    "--default-request",
    type=click.File("r", encoding="utf-8"),
    help="JSON file: the request REQUEST_BODY defaults to.",
)
@click.option("--name", default="Launch notebook", show_default=True)
@click.option("--identifier", default="LAUNCH_NOTEBOOK", show_default=True)
@click.option(
    "--poll",
    type=click.Choice(["jobrun", "function", "pipeline"]),
    default="jobrun",
    show_default=True,
    help="Poll GetJobRun (documented features only), or the function's status action, whose "
    "last answer carries the run report's outputs and failure (see dataintegration/README.md), "
    "or GetPipelineRun for a pipeline request (steps).",
)
def di_task(
    function_id: str,
    invoke_endpoint: str,
    project_key: str,
    region: str | None,
    datascience_endpoint: str | None,
    max_runtime_minutes: int,
    provisioning_minutes: int,
    poll_interval_seconds: int,
    default_request: TextIO | None,
    name: str,
    identifier: str,
    poll: str,
) -> None:
    """Print the Data Integration REST task (CreateTaskDetails JSON) for this deployment."""
    request: dict[str, object] = {}
    if default_request is not None:
        try:
            loaded = json.load(default_request)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--default-request") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must hold a JSON object", param_hint="--default-request")
        request = loaded
    try:
        settings = dataintegration.TaskSettings(
            function_id=function_id,
            invoke_endpoint=invoke_endpoint.rstrip("/"),
            project_key=project_key,
            region=region,
            datascience_endpoint=datascience_endpoint,
            max_runtime_minutes=max_runtime_minutes,
            provisioning_minutes=provisioning_minutes,
            poll_interval_seconds=poll_interval_seconds,
            name=name,
            identifier=identifier,
            default_request=request,
        )
        if poll == "function":
            from notebook_launcher.operator.dataintegration_status import render_status_task

            task = render_status_task(settings)
        elif poll == "pipeline":
            from notebook_launcher.operator.dataintegration_pipeline import render_pipeline_task

            task = render_pipeline_task(settings)
        else:
            task = dataintegration.render_task(settings)
    except dataintegration.DataIntegrationError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(task, indent=2))


@click.group()
def operator() -> None:
    """Operator kit: IAM policies and the Data Integration REST task."""


operator.add_command(policies)
operator.add_command(di_task)
