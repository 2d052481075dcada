"""Operator commands: ``policies`` prints the IAM policies a deployment needs."""

from __future__ import annotations

import json

import click

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
