"""What a pipeline launch asks for, pure: the DAG expanded (fan-out), checked and digested.

A pipeline request's steps become the Data Science pipeline's ML_JOB steps. A step with
`forEach` (a list of parameter sets) becomes one step per set, of the same job, named
`<step>-<value>` when the sets differ in exactly one key whose values are all safe name parts
(`by-region-apac`), else `<step>-<n>` (1-based, in list order); `dependsOn` naming a fanned-out
step means every one of its steps. The pipeline is identified, like a job, by a digest of its
structure (step names, their jobs, their dependencies) and pipeline-level settings: it carries
the digest as the freeform tag `notebook-launcher-digest` and in its display name, so a
recurring launch finds it with one ListPipelines. Per-run values (parameters, environment,
step runtime limits) are not in the digest: they travel in the run's stepOverrideDetails.

Limits: OCI's documentation states no limit on steps per pipeline, parallel steps or the size
of step overrides (searched; see the README). The launcher applies the job-run environment
budget (20,000 characters) to each step's override, and a conservative cap of
MAX_PIPELINE_STEPS steps and MAX_PIPELINE_JOBS distinct notebooks per launch, refused before
anything is fetched or created.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from notebook_launcher.function.errors import FieldProblem
from notebook_launcher.oci_facts.states import StepRunState

PIPELINE_SPEC_VERSION = "1"
MAX_PIPELINE_STEPS = 100
MAX_PIPELINE_JOBS = 10
MAX_FOR_EACH = MAX_PIPELINE_STEPS
# Step names: a letter first, then letters, digits, '-' and '_' (used with fullmatch).
STEP_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
# A fan-out value usable as a name suffix.
NAME_PART_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
RERUN_TAG = "notebook-launcher-rerun-of"


@dataclass(frozen=True)
class StepDeclaration:
    """One entry of the request's `steps`, as written."""

    index: int
    name: str
    depends_on: tuple[str, ...]
    for_each: tuple[Mapping[str, Any], ...] | None
    launch: Mapping[str, Any]  # the launch fields of the step (noteBook, parameters, ...)


@dataclass(frozen=True)
class ExpandedStep:
    """One step of the pipeline: a declared step, or one set of a fanned-out step."""

    name: str
    declared: str  # the name of the declared step it came from
    index: int  # the declared step's position in `steps`
    depends_on: tuple[str, ...]
    launch: dict[str, Any]  # launch fields, parameters merged with the fan-out set


def fan_out_names(name: str, sets: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of a fanned-out step's steps, stable for the same sets in the same order."""
    keys = sorted({key for item in sets for key in item})
    varying = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in sets}) > 1]
    if len(varying) == 1:
        values = [sets[i].get(varying[0]) for i in range(len(sets))]
        parts = [str(v).lower() if isinstance(v, str | int) and not isinstance(v, bool) else None
                 for v in values]  # fmt: skip
        if all(p is not None and NAME_PART_RE.fullmatch(p) for p in parts) and len(
            set(parts)
        ) == len(parts):
            return [f"{name}-{part}" for part in parts]
    return [f"{name}-{i}" for i in range(1, len(sets) + 1)]


def expand(declared: Sequence[StepDeclaration]) -> tuple[list[ExpandedStep], list[FieldProblem]]:
    """The pipeline's steps, and every problem with the DAG (each naming its step)."""
    problems: list[FieldProblem] = []
    seen: dict[str, int] = {}
    for step in declared:
        if step.name in seen:
            problems.append(
                FieldProblem(
                    f"steps[{step.index}].name",
                    f"step {step.name!r} is declared twice (also steps[{seen[step.name]}])",
                )
            )
        else:
            seen[step.name] = step.index
    members: dict[str, list[str]] = {}
    for step in declared:
        if step.for_each is None:
            members[step.name] = [step.name]
        else:
            members[step.name] = fan_out_names(step.name, step.for_each)
    for step in declared:
        where = f"steps[{step.index}].dependsOn"
        for dep in step.depends_on:
            if dep == step.name:
                problems.append(FieldProblem(where, f"step {step.name!r} depends on itself"))
            elif dep not in members:
                problems.append(
                    FieldProblem(where, f"step {step.name!r} depends on {dep!r}, no such step")
                )
        if len(set(step.depends_on)) != len(step.depends_on):
            problems.append(FieldProblem(where, f"step {step.name!r} names a step twice"))
    if not problems:
        cycle = dependency_cycle({s.name: list(s.depends_on) for s in declared})
        if cycle:
            problems.append(
                FieldProblem(
                    f"steps[{seen[cycle[0]]}].dependsOn",
                    f"step {cycle[0]!r} is in a dependency cycle ({' -> '.join(cycle)})",
                )
            )
    expanded: list[ExpandedStep] = []
    all_names: dict[str, str] = {}
    for step in declared:
        upstream = tuple(name for dep in step.depends_on for name in members.get(dep, []))
        sets = step.for_each if step.for_each is not None else (None,)
        for name, item in zip(members[step.name], sets, strict=True):
            if name in all_names and all_names[name] != step.name:
                problems.append(
                    FieldProblem(
                        f"steps[{step.index}].forEach",
                        f"step {step.name!r} makes a step named {name!r}, which step "
                        f"{all_names[name]!r} also has",
                    )
                )
            all_names[name] = step.name
            launch = dict(step.launch)
            if item is not None:
                launch["parameters"] = {**dict(launch.get("parameters") or {}), **item}
            expanded.append(ExpandedStep(name, step.name, step.index, upstream, launch))
    if len(expanded) > MAX_PIPELINE_STEPS:
        problems.append(
            FieldProblem(
                "steps",
                f"{len(expanded)} steps after fan-out; at most {MAX_PIPELINE_STEPS} per pipeline "
                "(OCI documents no limit: this is the launcher's conservative cap)",
            )
        )
    return expanded, problems


def dependency_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle among the steps (names, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in depends_on.get(name, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in depends_on and dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[name] = 2
        return None

    for name in depends_on:
        if name not in state and (found := visit(name)):
            return found
    return None


@dataclass(frozen=True)
class PipelineStepPlan:
    """An ML_JOB step of the pipeline."""

    name: str
    job_id: str
    depends_on: tuple[str, ...]


@dataclass(frozen=True)
class PipelineSpec:
    """The pipeline's structure and pipeline-level settings: what its digest covers."""

    name: str
    project_id: str
    compartment_id: str
    log_group_id: str | None
    log_id: str | None
    steps: tuple[PipelineStepPlan, ...]
    rerun_of: str | None = None  # the pipeline a re-run pipeline was derived from
    tags: Mapping[str, str] = field(default_factory=dict)

    def digest(self) -> str:
        canonical = json.dumps(
            {
                "version": PIPELINE_SPEC_VERSION,
                "name": self.name,
                "projectId": self.project_id,
                "compartmentId": self.compartment_id,
                "logGroupId": self.log_group_id,
                "logId": self.log_id,
                "rerunOf": self.rerun_of,
                "steps": sorted([s.name, s.job_id, sorted(s.depends_on)] for s in self.steps),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def display_name(self) -> str:
        return f"{self.name[:230]}-nl{self.digest()[:16]}"

    def dag(self) -> list[str]:
        """The DAG in ADS's notation (`a >> b` per edge; a lone step by its name)."""
        edges = [f"{dep} >> {s.name}" for s in self.steps for dep in s.depends_on]
        linked = {n for s in self.steps for n in (s.name, *s.depends_on) if s.depends_on}
        return edges + [s.name for s in self.steps if s.name not in linked]


def step_override(
    step_name: str, environment: Mapping[str, str], max_runtime: int | None
) -> dict[str, Any] | None:
    """One stepOverrideDetails entry (camelCase, as the REST body has it), or None."""
    configuration: dict[str, Any] = {}
    if environment:
        configuration["environmentVariables"] = dict(environment)
    if max_runtime:
        configuration["maximumRuntimeInMinutes"] = max_runtime
    if not configuration:
        return None
    return {"stepName": step_name, "stepConfigurationDetails": configuration}


def steps_to_rerun(
    step_details: Sequence[Mapping[str, Any]], states: Mapping[str, str]
) -> list[str]:
    """The steps a re-run runs: every step that did not succeed (failed, canceled, skipped or
    never started) and everything downstream of them, in the pipeline's order."""
    downstream: dict[str, list[str]] = {}
    for step in step_details:
        for dep in step.get("dependsOn") or ():
            downstream.setdefault(str(dep), []).append(str(step["stepName"]))
    chosen: set[str] = set()
    names = [str(s["stepName"]) for s in step_details]
    todo = [name for name in names if states.get(name) != StepRunState.SUCCEEDED]
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(downstream.get(name, ()))
    return [str(s["stepName"]) for s in step_details if str(s["stepName"]) in chosen]


def rerun_spec(
    pipeline: Mapping[str, Any], chosen: Sequence[str], name: str, tags: Mapping[str, str]
) -> PipelineSpec:
    """The derived pipeline of a re-run: the chosen steps of `pipeline` (GetPipeline's, as a
    camelCase document), their jobs, and the dependencies among them."""
    keep = set(chosen)
    log = pipeline.get("logConfigurationDetails") or {}
    return PipelineSpec(
        name=name,
        project_id=str(pipeline["projectId"]),
        compartment_id=str(pipeline["compartmentId"]),
        log_group_id=log.get("logGroupId"),
        log_id=log.get("logId") if not log.get("enableAutoLogCreation") else None,
        steps=tuple(
            PipelineStepPlan(
                str(s["stepName"]),
                str(s["jobId"]),
                tuple(str(d) for d in s.get("dependsOn") or () if d in keep),
            )
            for s in pipeline["stepDetails"]
            if s["stepName"] in keep
        ),
        rerun_of=str(pipeline["id"]),
        tags=dict(tags),
    )
