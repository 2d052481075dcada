"""The pipeline request: many notebooks in one launch, and actions on pipeline runs.

A body with `steps` is a pipeline launch; `{"action": "status" | "cancel", "id": <pipeline
run OCID>}` and `{"action": "rerun", "id": <pipeline run OCID>}` act on a pipeline run. Any
other body is a single launch (request.py), unchanged.

Each step is validated exactly as a single launch is (request.py's model and checks, the
same defaults), with the pipeline-level project, compartment and logging filled in; its
problems are reported as `steps[<i>].<field>`, naming the step. Then the DAG is expanded
and checked (pipeline_spec.expand): every problem is reported at once, and nothing is
fetched or created for a refused request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from notebook_launcher.function.errors import FieldProblem
from notebook_launcher.function.oci_names import ocid_problem
from notebook_launcher.function.pipeline_spec import (
    MAX_FOR_EACH,
    MAX_PIPELINE_JOBS,
    MAX_PIPELINE_STEPS,
    STEP_NAME_RE,
    ExpandedStep,
    StepDeclaration,
    expand,
)
from notebook_launcher.function.request import (
    MAX_NAME_CHARS,
    MAX_RUNTIME_MINUTES,
    OCID_TYPES,
    RETRY_TOKEN_RE,
    LaunchRequest,
    _check_tags,
    _pydantic_problems,
    decode_body,
    raise_problems,
    validate_fields,
)
from notebook_launcher.function.settings import Settings

PIPELINE_RUN_TYPE = "datasciencepipelinerun"
# Set once for the whole pipeline (on the pipeline, or on its run), never per step.
PIPELINE_LEVEL_FIELDS = ("projectId", "compartmentId", "logGroupId", "logId")
# Launch fields that have no meaning for one step of a pipeline run.
NOT_IN_STEPS = {
    "action": "the pipeline request has one action",
    "id": "only for actions on a run",
    "idempotencyKey": "set it on the pipeline",
    "dryRun": "set it on the pipeline",
    "jobId": "a pipeline step runs a notebook (noteBook); give the notebook",
    "reuseJob": "pipeline steps always reuse their jobs (the pipeline is reused by them)",
    "runName": "the pipeline run has one name (runName on the pipeline)",
    "freeformTags": "tags go on the pipeline run (freeformTags on the pipeline)",
    "definedTags": "tags go on the pipeline run (definedTags on the pipeline)",
}
STEP_KEYS = ("name", "dependsOn", "forEach")

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]


class PipelineBody(BaseModel):
    """The pipeline-level fields of a pipeline launch (steps are checked one by one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    action: Literal["launch"] = "launch"
    name: Name | None = None
    runName: Name | None = None
    projectId: str | None = None
    compartmentId: str | None = None
    logGroupId: str | None = None
    logId: str | None = None
    maxRuntimeInMinutes: Annotated[int, Field(ge=1, le=MAX_RUNTIME_MINUTES)] | None = None
    idempotencyKey: str | None = None
    freeformTags: dict[str, str] | None = None
    definedTags: dict[str, dict[str, Any]] | None = None
    dryRun: bool = False
    strictParameters: bool | None = None  # every step's default (a step may set its own)
    steps: Annotated[list[Any], Field(min_length=1, max_length=MAX_PIPELINE_STEPS)]


@dataclass(frozen=True)
class PipelineStepRequest:
    """One step of the pipeline, validated as a single launch."""

    step: ExpandedStep
    launch: LaunchRequest


@dataclass(frozen=True)
class PipelineRequest:
    """A validated pipeline launch."""

    body: PipelineBody
    steps: tuple[PipelineStepRequest, ...]

    @property
    def action(self) -> str:
        return "pipeline-launch"

    @property
    def dryRun(self) -> bool:
        return self.body.dryRun

    @property
    def idempotencyKey(self) -> str | None:
        return self.body.idempotencyKey


@dataclass(frozen=True)
class PipelineRunAction:
    """status, cancel or rerun of a pipeline run."""

    kind: Literal["status", "cancel", "rerun"]
    id: str
    idempotencyKey: str | None = None
    dryRun: bool = False  # no dry run of an action on a run

    @property
    def action(self) -> str:
        return f"pipeline-{self.kind}"


def is_pipeline_body(raw: Mapping[str, Any]) -> bool:
    """Whether a decoded body is for this module (steps, rerun, or a pipeline run id)."""
    if "steps" in raw or raw.get("action") == "rerun":
        return True
    run_id = raw.get("id")
    return (
        raw.get("action") in ("status", "cancel")
        and isinstance(run_id, str)
        and run_id.startswith(f"ocid1.{PIPELINE_RUN_TYPE}.")
    )


AnyRequest = LaunchRequest | PipelineRequest | PipelineRunAction


def parse_any(body: bytes, settings: Settings) -> AnyRequest:
    """The request of a body: a single launch (request.py), a pipeline, or a run action."""
    raw = decode_body(body)
    if not is_pipeline_body(raw):
        request, problems = validate_fields(raw, settings)
        raise_problems(problems)
        assert request is not None
        return request
    if "steps" not in raw:
        return _parse_action(raw)
    return _parse_pipeline(raw, settings)


def _parse_action(raw: Mapping[str, Any]) -> PipelineRunAction:
    problems: list[FieldProblem] = []
    action = raw.get("action")
    allowed = {"action", "id"} | ({"idempotencyKey"} if action == "rerun" else set())
    for name in sorted(set(raw) - allowed):
        problems.append(FieldProblem(name[:64], f"not a field of action {action}"))
    run_id = raw.get("id")
    if not isinstance(run_id, str):
        problems.append(FieldProblem("id", f"required for action {action}: a pipeline run OCID"))
    elif problem := ocid_problem(run_id, (PIPELINE_RUN_TYPE,)):
        problems.append(FieldProblem("id", problem))
    key = raw.get("idempotencyKey")
    if key is not None and not (isinstance(key, str) and RETRY_TOKEN_RE.fullmatch(key)):
        problems.append(FieldProblem("idempotencyKey", "1-64 characters: letters, digits, . _ : -"))
    raise_problems(problems)
    assert isinstance(run_id, str)
    kind: Literal["status", "cancel", "rerun"] = (
        "rerun" if action == "rerun" else "cancel" if action == "cancel" else "status"
    )
    return PipelineRunAction(kind, run_id, key if isinstance(key, str) else None)


def _parse_pipeline(raw: Mapping[str, Any], settings: Settings) -> PipelineRequest:
    problems: list[FieldProblem] = []
    body: PipelineBody | None = None
    try:
        body = PipelineBody.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc))
    if body is not None:
        problems.extend(_pipeline_level_problems(body))
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or body is None:
        raise_problems(problems or [FieldProblem("steps", "must be a list of steps")])
        raise AssertionError("unreachable")
    declared, step_problems = _declarations(steps_raw)
    problems.extend(step_problems)
    if problems:
        raise_problems(problems)
    expanded, dag_problems = expand(declared)
    problems.extend(dag_problems)
    inherited: dict[str, Any] = {
        f: getattr(body, f) for f in PIPELINE_LEVEL_FIELDS if getattr(body, f)
    }
    if body.strictParameters is not None:
        inherited["strictParameters"] = body.strictParameters
    validated: list[PipelineStepRequest] = []
    reported: set[tuple[str, str]] = set()
    for step in expanded:
        launch, found = validate_fields({**inherited, **step.launch}, settings)
        for problem in found:
            where = f"steps[{step.index}].{problem.field}"
            if (where, problem.message) not in reported:  # fanned-out steps share problems
                reported.add((where, problem.message))
                problems.append(FieldProblem(where, f"step {step.name!r}: {problem.message}"))
        if launch is not None:
            validated.append(PipelineStepRequest(step, launch))
    notebooks = {json.dumps(_job_key(s.launch), sort_keys=True) for s in validated}
    if len(notebooks) > MAX_PIPELINE_JOBS:
        problems.append(
            FieldProblem(
                "steps",
                f"{len(notebooks)} distinct notebooks and job settings; at most "
                f"{MAX_PIPELINE_JOBS} per pipeline launch (each may need fetching and a job "
                "created within one invocation)",
            )
        )
    raise_problems(problems)
    return PipelineRequest(body=body, steps=tuple(validated))


def _job_key(launch: LaunchRequest) -> dict[str, Any]:
    """The fields that define a step's job (what makes two steps share one job)."""
    from notebook_launcher.function.request import JOB_LEVEL_FIELDS

    return {f: getattr(launch, f) for f in sorted(JOB_LEVEL_FIELDS)}


def _pipeline_level_problems(body: PipelineBody) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for name in PIPELINE_LEVEL_FIELDS:
        value = getattr(body, name)
        if value is not None and (problem := ocid_problem(value, OCID_TYPES[name])):
            problems.append(FieldProblem(name, problem))
    if body.idempotencyKey is not None and not RETRY_TOKEN_RE.fullmatch(body.idempotencyKey):
        problems.append(FieldProblem("idempotencyKey", "1-64 characters: letters, digits, . _ : -"))
    tags = LaunchRequest.model_construct(
        freeformTags=body.freeformTags, definedTags=body.definedTags
    )
    _check_tags(problems, tags)
    return problems


def _declarations(steps: list[Any]) -> tuple[list[StepDeclaration], list[FieldProblem]]:
    problems: list[FieldProblem] = []
    declared: list[StepDeclaration] = []
    for index, item in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(item, dict):
            problems.append(FieldProblem(where, "must be an object (a notebook launch)"))
            continue
        name = item.get("name")
        if not isinstance(name, str) or not STEP_NAME_RE.fullmatch(name):
            problems.append(
                FieldProblem(
                    f"{where}.name",
                    "required: 1-63 characters, a letter first, then letters, digits, - and _",
                )
            )
            continue
        label = f"step {name!r}"
        for key, why in NOT_IN_STEPS.items():
            if key in item:
                problems.append(FieldProblem(f"{where}.{key}", f"{label}: not in a step ({why})"))
        for key in PIPELINE_LEVEL_FIELDS:
            if key in item:
                problems.append(
                    FieldProblem(f"{where}.{key}", f"{label}: set once, on the pipeline")
                )
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            problems.append(FieldProblem(f"{where}.dependsOn", f"{label}: a list of step names"))
            depends = []
        for_each = item.get("forEach")
        if for_each is not None and (
            not isinstance(for_each, list)
            or not 1 <= len(for_each) <= MAX_FOR_EACH
            or not all(isinstance(s, dict) for s in for_each)
        ):
            problems.append(
                FieldProblem(
                    f"{where}.forEach",
                    f"{label}: a list of 1-{MAX_FOR_EACH} parameter sets (objects)",
                )
            )
            for_each = None
        elif for_each is not None and len({json.dumps(s, sort_keys=True) for s in for_each}) != len(
            for_each
        ):
            problems.append(
                FieldProblem(f"{where}.forEach", f"{label}: a parameter set is listed twice")
            )
        launch = {k: v for k, v in item.items() if k not in STEP_KEYS and k not in NOT_IN_STEPS}
        declared.append(
            StepDeclaration(
                index,
                name,
                tuple(depends),
                tuple(for_each) if for_each is not None else None,
                launch,
            )
        )
    return declared, problems
