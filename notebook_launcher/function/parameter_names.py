"""Run parameters checked against the names the notebook's `parameters` cell assigns.

papermill warns of a "Passed unknown parameter"; here a name the cell does not assign is a
warning in the launch's answer (with a "did you mean" when a declared name is close), or,
with `strictParameters`, a 400 naming `parameters.<name>` before anything is created. The
names are read with Python's ast from the first cell tagged `parameters` (the one the
injected cell follows): top-level assignments, annotated and augmented assignments, tuple,
list and starred targets. IPython magics and shell lines (`%`, `!`) are skipped.
"""

from __future__ import annotations

import ast
import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from notebook_launcher.function.errors import FieldProblem
from notebook_launcher.function.parameters import PARAMETERS_TAG
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

# difflib's own default: 'regoin' → 'region' (0.67), 'months' ↛ 'region'.
SUGGESTION_CUTOFF = 0.6
_MAGIC_PREFIXES = ("%", "!")


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


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def assigned_names(source: str) -> frozenset[str]:
    """The names a cell's source assigns at its top level; SyntaxError if it is not Python."""
    lines = [
        "" if line.lstrip().startswith(_MAGIC_PREFIXES) else line for line in source.splitlines()
    ]
    tree = ast.parse("\n".join(lines))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(_target_names(target))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            names.update(_target_names(node.target))
    return frozenset(names)


def _tags(cell: Mapping[str, Any]) -> list[Any]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags", []) if isinstance(metadata, Mapping) else []
    return tags if isinstance(tags, list) else []


def read_cell(notebook: Mapping[str, Any]) -> ParametersCell:
    """The first `parameters` cell's names, from a notebook (nbformat 4, as a dict)."""
    cells = [c for c in notebook.get("cells", []) if isinstance(c, Mapping)]
    cell = next((c for c in cells if PARAMETERS_TAG in _tags(c)), None)
    if cell is None:
        return ParametersCell(found=False)
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    try:
        return ParametersCell(found=True, names=assigned_names(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return ParametersCell(found=True, problem=f"it is not valid Python{where}")


def read_prepared(prepared: bytes) -> ParametersCell:
    """read_cell of a prepared notebook's bytes (the parameters cell is kept as it was)."""
    return read_cell(json.loads(prepared))


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The declared name closest to a misspelt one, if any is close (difflib)."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=SUGGESTION_CUTOFF)
    return matches[0] if matches else None


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
        suggestion = closest_name(name, cell.names)
        hint = f"; did you mean {suggestion!r}?" if suggestion else ""
        findings.append(
            Finding(
                f"parameters.{name[:64]}",
                f"{name[:64]!r} is not assigned in the notebook's 'parameters' cell, so it "
                f"sets a new variable and overrides no default{hint}",
                unknown=True,
                suggestion=suggestion,
            )
        )
    return findings


def is_strict(requested: bool | None, settings: Settings) -> bool:
    """Whether unknown names are refused: the request's strictParameters, else the setting."""
    return settings.strict_parameters if requested is None else requested
