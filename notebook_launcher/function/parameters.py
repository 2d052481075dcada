"""Papermill-style parameters that vary per run without changing the job artifact.

The artifact's notebook gets one extra cell, right after the cell tagged `parameters`
(or at the top when there is none). At run time that cell reads the run's parameters
from the `NOTEBOOK_PARAMETERS` environment variable (JSON, set per run by CreateJobRun)
and binds them as globals with their JSON types, printing what it set so the executed
notebook shows the values used. Because the cell is the same for every run, the artifact
and so the job are reused across runs with different parameters.
"""

from __future__ import annotations

import copy
import inspect
import json
from typing import Any

from notebook_launcher.artifact import redaction
from notebook_launcher.artifact.redaction import looks_secret
from notebook_launcher.artifact.run_report_writer import PARAMETERS_ENV
from notebook_launcher.function.errors import InvalidNotebookError

__all__ = ["INJECTED_TAG", "PARAMETERS_TAG", "injected_cell", "looks_secret", "prepare_notebook"]

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
# The redaction module's own source, run inside the job run in a private namespace: the cell
# redacts exactly as the launcher does, from one definition.
_REDACTION_SOURCE = inspect.getsource(redaction)


_CELL_TEMPLATE = """\
# Parameters for this run, injected by notebook-launcher. Each job run passes its values
# as JSON in the {env} environment variable; they override the defaults above.
# Printed values are redacted by name at any depth (notebook_launcher.artifact.redaction).
import builtins as _nl_b, json as _nl_json, os as _nl_os, sys as _nl_sys
_nl_values = _nl_json.loads(_nl_os.environ.get("{env}") or "{{}}")
_nl_globals = _nl_b.globals()
_nl_redaction = {{}}
_nl_b.exec({redaction!r}, _nl_redaction)
if _nl_values and {warn}:
    _nl_b.print("WARNING: this notebook has no cell tagged 'parameters'; run parameters were "
                "set in a cell added at the top.", file=_nl_sys.stderr)
for _nl_name, _nl_value in _nl_b.sorted(_nl_values.items()):
    _nl_globals[_nl_name] = _nl_value  # a parameter may be named like a builtin: use _nl_b
    _nl_b.print(_nl_redaction["shown"](_nl_name, _nl_value))
del _nl_b, _nl_json, _nl_os, _nl_sys, _nl_values, _nl_globals, _nl_redaction
"""


def injected_cell(has_parameters_cell: bool) -> dict[str, Any]:
    source = _CELL_TEMPLATE.format(
        env=PARAMETERS_ENV, warn=not has_parameters_cell, redaction=_REDACTION_SOURCE
    )
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INJECTED_TAG]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def _tags(cell: dict[str, Any]) -> list[str]:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def prepare_notebook(notebook: dict[str, Any]) -> bytes:
    """The artifact's notebook (see _prepare); a notebook it cannot handle is invalid."""
    try:
        return _prepare(notebook)
    except (RecursionError, TypeError, ValueError, AttributeError):
        raise InvalidNotebookError(
            "noteBook cannot be prepared: its structure is not a valid nbformat 4 notebook."
        ) from None


def _prepare(notebook: dict[str, Any]) -> bytes:
    """The artifact's notebook: the caller's, plus the injected parameters cell.

    Deterministic: the same input gives the same bytes, so the artifact digest is stable.
    An earlier injected cell (from a notebook that was itself an output) is replaced.
    """
    prepared = copy.deepcopy(notebook)
    cells = [c for c in prepared["cells"] if INJECTED_TAG not in _tags(c)]
    index = next((i for i, c in enumerate(cells) if PARAMETERS_TAG in _tags(c)), None)
    cell = injected_cell(has_parameters_cell=index is not None)
    cells.insert(0 if index is None else index + 1, cell)
    prepared["cells"] = cells
    prepared.setdefault("nbformat_minor", 4)
    if prepared["nbformat_minor"] >= 5:
        for position, each in enumerate(cells):
            each.setdefault("id", f"nl-cell-{position}")
        cell["id"] = "nl-injected-parameters"
    return json.dumps(prepared, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
