"""What a pipeline's bodies may hold, checked: CreatePipeline's steps (a DAG of ML_JOB
steps), the configuration shapes shared by CreatePipeline, CreatePipelineRun and the
updates, and the refusals of what the local service does not run. Each refusal is a 400
naming the field or the step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError, NoEtagMatchError
from notebook_launcher.localservice.ids import JOB
from notebook_launcher.localservice.store import Document, Record

STEP_TYPES = ("ML_JOB", "CUSTOM_SCRIPT", "CONTAINER", "DATAFLOW")


def _empty(value: object) -> bool:
    return value is None or value == [] or value == {}


def refuse_unsupported(details: Mapping[str, Any], prefix: str, *fields: str) -> None:
    for name in fields:
        if not _empty(details.get(name)):
            where = f"{prefix}.{name}" if prefix else name
            raise InvalidParameterError(f"{where} is not supported by the local service.")


def check_etag(record: Record, if_match: str | None) -> None:
    if if_match is not None and if_match not in ("*", record.etag):
        raise NoEtagMatchError("The if-match etag does not match the resource's current etag.")


def step_configuration(value: object, prefix: str) -> Document:
    """A PipelineStepConfigurationDetails (no jobType), within the job-run limits."""
    body = validation.as_object(value, prefix)
    checked = validation.job_configuration({**body, "jobType": "DEFAULT"}, prefix)
    checked.pop("jobType")
    return checked


def pipeline_configuration(value: object, prefix: str) -> Document:
    """A PipelineConfigurationDetails: type DEFAULT, the step fields."""
    body = validation.as_object(value, prefix)
    if validation.required(body, "type", prefix) != "DEFAULT":
        raise InvalidParameterError(f"{prefix}.type must be DEFAULT.")
    rest = {key: item for key, item in body.items() if key != "type"}
    return {"type": "DEFAULT", **step_configuration(rest, prefix)}


def dependency_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle (its step names, the first repeated at the end), or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for dependency in depends_on[name]:
            if cycle := visit(dependency):
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in depends_on:
        if cycle := visit(name):
            return cycle
    return None


def step_details(value: object) -> list[Document]:
    """The pipeline's steps, checked: each ML_JOB step well formed, names unique, every
    `dependsOn` naming a step of this pipeline, and no dependency cycle."""
    if not isinstance(value, list) or not value:
        raise InvalidParameterError("stepDetails must be a non-empty list of steps.")
    steps: list[Document] = []
    names: set[str] = set()
    for index, raw in enumerate(value):
        where = f"stepDetails[{index}]"
        item = validation.as_object(raw, where)
        step_name = validation.string(item, "stepName", where, needed=True)
        assert step_name is not None
        where = f"step {step_name}"
        if step_name in names:
            raise InvalidParameterError(
                f"{where}: the step name is used twice; step names must be unique."
            )
        names.add(step_name)
        step_type = validation.required(item, "stepType", where)
        if step_type not in STEP_TYPES:
            raise InvalidParameterError(
                f"{where}: stepType must be one of {', '.join(STEP_TYPES)}."
            )
        if step_type != "ML_JOB":
            raise InvalidParameterError(
                f"{where}: stepType {step_type} is not supported by the local service;"
                " only ML_JOB steps run locally."
            )
        refuse_unsupported(
            item,
            where,
            "stepParameters",
            "stepInfrastructureConfigurationDetails",
            "stepStorageMountConfigurationDetailsList",
        )
        depends_on = item.get("dependsOn") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise InvalidParameterError(f"{where}: dependsOn must be a list of step names.")
        if len(set(depends_on)) != len(depends_on):
            raise InvalidParameterError(f"{where}: dependsOn names a step twice.")
        step: Document = {
            "stepType": "ML_JOB",
            "stepName": step_name,
            "jobId": validation.ocid(item, "jobId", JOB, prefix=where),
            "dependsOn": list(depends_on),
        }
        for field in ("description", "stepRunName"):
            if (text := validation.string(item, field, where)) is not None:
                step[field] = text
        if item.get("stepConfigurationDetails") is not None:
            step["stepConfigurationDetails"] = step_configuration(
                item["stepConfigurationDetails"], f"{where}: stepConfigurationDetails"
            )
        steps.append(step)
    for step in steps:
        unknown = [d for d in step["dependsOn"] if d not in names]
        if unknown:
            raise InvalidParameterError(
                f"step {step['stepName']}: dependsOn names {', '.join(unknown)}, which"
                " is not a step of this pipeline."
            )
    cycle = dependency_cycle({s["stepName"]: s["dependsOn"] for s in steps})
    if cycle:
        raise InvalidParameterError(
            f"step {cycle[0]}: the steps depend on each other in a cycle"
            f" ({' -> '.join(cycle)}); a pipeline must be a directed acyclic graph."
        )
    return steps
