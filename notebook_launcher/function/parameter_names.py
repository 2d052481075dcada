"""Run parameters checked against the names the notebook's `parameters` cell assigns.

papermill warns of a "Passed unknown parameter"; here a name the cell does not assign is a
warning in the launch's answer (with a "did you mean" when a declared name is close), or,
with `strictParameters`, a 400 naming `parameters.<name>` before anything is created. The
names and the warning's words are `notebook_launcher.artifact.parameter_names`, which the
job run uses too (the run's log and report carry the same warning).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notebook_launcher.artifact.parameter_names import (
    assigned_names,
    closest_name,
    parameters_cell_source,
    unknown_warning,
)
from notebook_launcher.function.errors import FieldProblem
from notebook_launcher.function.settings import Settings

__all__ = [
    "Finding",
    "ParametersCell",
    "assigned_names",
    "closest_name",
    "is_strict",
    "parameter_findings",
    "read_cell",
]


@dataclass(frozen=True)
class ParametersCell:
    """What a notebook declares: the names its parameters cell assigns (None: not readable)."""

    found: bool  # the notebook has a cell tagged `parameters`
    names: frozenset[str] | None = None  # None with found: the cell is not valid Python
    problem: str | None = None  # why names is None


@dataclass(frozen=True)
class Finding:
    """One warning about a launch's parameters; `unknown` ones are refused when strict."""

    field: str  # "parameters.regoin", or "parameters" for the notebook as a whole
    message: str
    unknown: bool = False
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"field": self.field, "message": self.message}
        if self.suggestion is not None:
            body["didYouMean"] = self.suggestion
        return body

    def problem(self) -> FieldProblem:
        return FieldProblem(self.field, self.message)


def read_cell(notebook: Mapping[str, Any]) -> ParametersCell:
    """The first `parameters` cell's names, from a notebook (nbformat 4, as a dict)."""
    source = parameters_cell_source(notebook)
    if source is None:
        return ParametersCell(found=False)
    try:
        return ParametersCell(found=True, names=assigned_names(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return ParametersCell(found=True, problem=f"it is not valid Python{where}")


def read_prepared(prepared: bytes) -> ParametersCell:
    """read_cell of a prepared notebook's bytes (the parameters cell is kept as it was)."""
    return read_cell(json.loads(prepared))


def parameter_findings(parameters: Mapping[str, Any] | None, cell: ParametersCell) -> list[Finding]:
    """What to warn about a launch's parameters, given the notebook's parameters cell."""
    if not parameters:
        return []
    if not cell.found:
        return [
            Finding(
                "parameters",
                "the notebook has no cell tagged 'parameters': the parameters are set in a "
                "cell added at its top, and their names are not checked",
            )
        ]
    if cell.names is None:
        return [
            Finding(
                "parameters",
                f"the notebook's 'parameters' cell cannot be read ({cell.problem}): "
                "parameter names are not checked",
            )
        ]
    findings = []
    for name in sorted(set(parameters) - cell.names):
        warning = unknown_warning(name, cell.names)
        findings.append(
            Finding(
                warning["field"],
                warning["message"],
                unknown=True,
                suggestion=warning.get("didYouMean"),
            )
        )
    return findings


def is_strict(requested: bool | None, settings: Settings) -> bool:
    """Whether unknown names are refused: the request's strictParameters, else the setting."""
    return settings.strict_parameters if requested is None else requested
