"""The names a notebook's `parameters` cell assigns, and the warning for a run parameter
that is not one of them: one definition for the launcher (at launch) and the job run.

Shipped in every job artifact as `notebook_launcher_parameter_names.py` beside the report
writer, which prints the warnings at the start of the run's log and writes them in the run's
report. Standard library only (it runs in the job's conda environment).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

PARAMETERS_TAG = "parameters"
# difflib's own default: 'regoin' → 'region' (0.67), 'months' ↛ 'region'.
SUGGESTION_CUTOFF = 0.6
_MAGIC_PREFIXES = ("%", "!")


def _target_names(target: ast.expr) -> Iterable[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def assigned_names(source: str) -> frozenset[str]:
    """The names a cell's source assigns at its top level: assignments, annotated and
    augmented assignments, tuple, list and starred targets (IPython `%` and `!` lines are
    skipped). SyntaxError if it is not Python."""
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


def parameters_cell_source(notebook: Mapping[str, Any]) -> str | None:
    """The source of the first cell tagged `parameters` (the one the injected cell follows)."""
    cells = notebook.get("cells", [])
    for cell in cells if isinstance(cells, list) else []:
        if isinstance(cell, Mapping) and PARAMETERS_TAG in _tags(cell):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    return None


def closest_name(name: str, known: Iterable[str]) -> str | None:
    """The declared name closest to a misspelt one, if any is close (difflib)."""
    matches = difflib.get_close_matches(name, sorted(known), n=1, cutoff=SUGGESTION_CUTOFF)
    return matches[0] if matches else None


def unknown_warning(name: str, declared: Iterable[str]) -> dict[str, Any]:
    """The warning for a parameter the cell does not assign: field, message, didYouMean."""
    shown = name[:64]
    suggestion = closest_name(name, declared)
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    warning: dict[str, Any] = {
        "field": f"parameters.{shown}",
        "message": f"{shown!r} is not assigned in the notebook's 'parameters' cell, so it "
        f"sets a new variable and overrides no default{hint}",
    }
    if suggestion is not None:
        warning["didYouMean"] = suggestion
    return warning


def unknown_parameters(values: Mapping[str, Any], notebook: Mapping[str, Any]) -> list[Any]:
    """The warnings for a run's parameters that notebook's parameters cell does not assign
    (none when it has no such cell, or the cell is not Python), sorted by name."""
    source = parameters_cell_source(notebook)
    if source is None or not values:
        return []
    try:
        declared = assigned_names(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [unknown_warning(name, declared) for name in sorted(set(values) - declared)]
