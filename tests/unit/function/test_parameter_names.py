"""The names a notebook's parameters cell assigns, and the warnings a launch's parameters get."""

from __future__ import annotations

from typing import Any

import pytest

from notebook_launcher.function.parameter_names import (
    ParametersCell,
    assigned_names,
    closest_name,
    is_strict,
    parameter_findings,
    read_cell,
)
from notebook_launcher.function.parameters import prepare_notebook
from notebook_launcher.function.settings import Settings


def _notebook(*cells: tuple[list[str], str | list[str]]) -> dict[str, Any]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "metadata": {"tags": tags}, "source": source, "outputs": []}
            for tags, source in cells
        ],
    }


def test_assigned_names_reads_every_top_level_assignment_form() -> None:
    source = "\n".join(
        [
            "region = 'global'",
            "months: int = 6",
            "threshold: float",  # annotated, no value: still a declared parameter
            "a, (b, [c, *rest]) = 1, (2, [3, 4, 5])",
            "x = y = 0",
            "counter += 1",
            "%matplotlib inline",
            "!echo shell",
            "import os",  # imports, defs and nested assignments are not parameters
            "def f():\n    inner = 1",
            "if True:\n    nested = 2",
            "for loop_var in []:\n    pass",
        ]
    )
    assert assigned_names(source) == {
        "region", "months", "threshold", "a", "b", "c", "rest", "x", "y", "counter",
    }  # fmt: skip


def test_assigned_names_raises_on_source_that_is_not_python() -> None:
    with pytest.raises(SyntaxError):
        assigned_names("region = = 'x'")


def test_read_cell_takes_the_first_parameters_cell_and_joins_its_source_lines() -> None:
    notebook = _notebook(
        ([], "ignored = 1"),
        (["parameters"], ["region = 'global'\n", "months = 6\n"]),
        (["parameters"], "later = 1"),
    )
    assert read_cell(notebook) == ParametersCell(found=True, names=frozenset({"region", "months"}))
    assert read_cell(_notebook(([], "x = 1"))) == ParametersCell(found=False)
    broken = read_cell(_notebook((["parameters"], "x = (")))
    assert broken.found and broken.names is None and "line 1" in (broken.problem or "")


def test_the_prepared_notebook_keeps_the_names_of_its_parameters_cell() -> None:
    import json

    prepared = prepare_notebook(_notebook((["parameters"], "region = 'global'"), ([], "print(1)")))
    assert read_cell(json.loads(prepared)).names == frozenset({"region"})


def test_closest_name_suggests_only_a_close_declared_name() -> None:
    assert closest_name("regoin", {"region", "months"}) == "region"
    assert closest_name("month", {"region", "months"}) == "months"
    assert closest_name("zzz", {"region", "months"}) is None
    assert closest_name("regoin", set()) is None


def test_findings_name_each_unknown_parameter_with_a_suggestion() -> None:
    cell = ParametersCell(found=True, names=frozenset({"region", "months"}))
    findings = parameter_findings({"regoin": "apac", "months": 3, "zzz": 1}, cell)
    assert [f.field for f in findings] == ["parameters.regoin", "parameters.zzz"]
    assert all(f.unknown for f in findings)
    first = findings[0].to_dict()
    assert first["didYouMean"] == "region" and "did you mean 'region'?" in first["message"]
    assert "didYouMean" not in findings[1].to_dict()
    assert parameter_findings({"region": "apac"}, cell) == []
    assert parameter_findings(None, cell) == []


def test_findings_without_a_readable_cell_warn_once_and_are_never_refusals() -> None:
    missing = parameter_findings({"value": 1}, ParametersCell(found=False))
    assert [(f.field, f.unknown) for f in missing] == [("parameters", False)]
    assert "no cell tagged 'parameters'" in missing[0].message
    unreadable = parameter_findings(
        {"value": 1}, ParametersCell(found=True, problem="it is not valid Python (line 1)")
    )
    assert [(f.field, f.unknown) for f in unreadable] == [("parameters", False)]
    assert parameter_findings({}, ParametersCell(found=False)) == []


def test_strictness_is_the_request_field_else_the_setting() -> None:
    strict = Settings.from_config({"NL_STRICT_PARAMETERS": "true"})
    assert strict.strict_parameters is True and Settings().strict_parameters is False
    assert is_strict(None, strict) is True and is_strict(False, strict) is False
    assert is_strict(None, Settings()) is False and is_strict(True, Settings()) is True
