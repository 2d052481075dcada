"""The injected parameters cell: typed values per run, same artifact for every run."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from notebook_launcher.artifact.redaction import REDACTED, redact
from notebook_launcher.function.parameters import INJECTED_TAG, looks_secret, prepare_notebook


def notebook(*cells: dict[str, Any], minor: int = 5) -> dict[str, Any]:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def code(source: str, *tags: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "source": source,
        "metadata": {"tags": list(tags)},
        "outputs": [],
        "execution_count": None,
    }


def run_cells(
    prepared: bytes, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], str, str]:
    """Execute the notebook's code cells in order, as a kernel would."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    namespace: dict[str, Any] = {}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for cell in json.loads(prepared)["cells"]:
            if cell["cell_type"] == "code":
                exec("".join(cell["source"]), namespace)  # the test plays the kernel
    return namespace, out.getvalue(), err.getvalue()


def test_injected_after_parameters_cell_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    nb = notebook(
        code("import math"), code("alpha = 1\nname = 'x'", "parameters"), code("y = alpha")
    )
    prepared = prepare_notebook(nb)
    cells = json.loads(prepared)["cells"]
    assert INJECTED_TAG in cells[2]["metadata"]["tags"]
    values = {
        "alpha": 2.5,
        "name": 'ünï "q" \\',
        "flag": True,
        "nothing": None,
        "items": [1, "a"],
        "cfg": {"k": [1, 2]},
    }
    ns, out, err = run_cells(prepared, {"NOTEBOOK_PARAMETERS": json.dumps(values)}, monkeypatch)
    for key, value in values.items():
        assert ns[key] == value and type(ns[key]) is type(value)
    assert ns["y"] == 2.5
    assert "alpha = 2.5" in out and "WARNING" not in err


def test_defaults_kept_without_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = prepare_notebook(notebook(code("alpha = 1", "parameters")))
    monkeypatch.delenv("NOTEBOOK_PARAMETERS", raising=False)
    ns, out, _ = run_cells(prepared, {}, monkeypatch)
    assert ns["alpha"] == 1 and out == ""


def test_no_parameters_cell_gets_top_cell_and_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = prepare_notebook(notebook(code("z = alpha * 2")))
    cells = json.loads(prepared)["cells"]
    assert INJECTED_TAG in cells[0]["metadata"]["tags"]
    ns, _, err = run_cells(prepared, {"NOTEBOOK_PARAMETERS": '{"alpha": 21}'}, monkeypatch)
    assert ns["z"] == 42
    assert "no cell tagged 'parameters'" in err


def test_secret_looking_values_are_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = prepare_notebook(notebook(code("", "parameters")))
    values = {"db_password": "hunter2", "api_key": "sk-123", "rows": 5}
    ns, out, _ = run_cells(prepared, {"NOTEBOOK_PARAMETERS": json.dumps(values)}, monkeypatch)
    assert ns["db_password"] == "hunter2"
    assert "hunter2" not in out and "sk-123" not in out and "rows = 5" in out


def test_deterministic_and_idempotent() -> None:
    nb = notebook(code("a = 1", "parameters"))
    first = prepare_notebook(nb)
    assert first == prepare_notebook(nb)
    assert prepare_notebook(json.loads(first)) == first  # re-preparing replaces, never stacks


def test_cell_ids_valid_for_nbformat_45() -> None:
    cells = json.loads(prepare_notebook(notebook(code("a"), code("b"))))["cells"]
    ids = [c["id"] for c in cells]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    "name",
    ["password", "DB_PASS", "apiKey", "API_KEY", "secret_x", "token", "AUTH_HEADER", "private_key"],
)
def test_looks_secret(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["rows", "alpha", "bucket", "date"])
def test_not_secret(name: str) -> None:
    assert not looks_secret(name)


def test_parameters_named_like_builtins_do_not_break_the_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prepared = prepare_notebook(notebook(code("", "parameters")))
    values = {"print": 2, "sorted": "s", "repr": None, "globals": [1], "a": 1}
    ns, out, _ = run_cells(prepared, {"NOTEBOOK_PARAMETERS": json.dumps(values)}, monkeypatch)
    assert ns["print"] == 2 and ns["globals"] == [1] and "a = 1" in out


@pytest.mark.parametrize(
    "bad",
    [
        {"cells": [{"cell_type": "code", "source": "", "metadata": []}], "nbformat": 4},
        {"cells": [], "nbformat": 4, "nbformat_minor": "5"},
        {"cells": [{"cell_type": "code", "source": "", "metadata": {"tags": "x"}}], "nbformat": 4},
    ],
)
def test_malformed_notebooks_are_invalid_not_crashes(bad: dict[str, Any]) -> None:
    from notebook_launcher.function.errors import InvalidNotebookError
    from notebook_launcher.function.notebook_fetch import validate_notebook

    with pytest.raises(InvalidNotebookError):
        prepare_notebook(validate_notebook(json.dumps(bad).encode()))


def test_deeply_nested_metadata_is_invalid_not_a_crash() -> None:
    from notebook_launcher.function.errors import InvalidNotebookError

    deep: Any = {}
    for _ in range(5000):
        deep = {"x": deep}
    with pytest.raises(InvalidNotebookError):
        prepare_notebook({"cells": [], "metadata": deep, "nbformat": 4, "nbformat_minor": 5})


@pytest.mark.parametrize(
    "name", ["bearer", "jwt", "dsn", "conn_str", "connection_string", "PRIVATE_KEY"]
)
def test_names_the_issue_found_in_clear_look_secret(name: str) -> None:
    assert looks_secret(name)


def test_redaction_reaches_every_depth() -> None:
    value = {
        "host": "db",
        "password": "p1",
        "replicas": [{"dsn": "p2", "port": 5432}, [{"auth": {"user": "u"}}]],
        "nested": {"deeper": {"jwt": "p3", "keep": [1, "two"]}},
    }
    assert redact(value, "config") == {
        "host": "db",
        "password": REDACTED,
        "replicas": [{"dsn": REDACTED, "port": 5432}, [{"auth": REDACTED}]],
        "nested": {"deeper": {"jwt": REDACTED, "keep": [1, "two"]}},
    }
    assert value["password"] == "p1"  # a copy: the notebook keeps the real value
    assert redact("x", "db_password") == REDACTED
    deep: object = "p4"
    for _ in range(5000):
        deep = {"k": deep}
    assert redact(deep, "config") == REDACTED  # too deep to walk: hidden, never shown


def test_injected_cell_prints_nested_secrets_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared = prepare_notebook(notebook(code("", "parameters")))
    cell = next(c for c in json.loads(prepared)["cells"] if INJECTED_TAG in c["metadata"]["tags"])
    values = {"config": {"user": "u", "password": "hunter2", "hosts": [{"conn_str": "dsn://s"}]}}
    monkeypatch.setenv("NOTEBOOK_PARAMETERS", json.dumps(values))
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec("".join(cell["source"]), namespace)
    assert namespace["config"] == values["config"]  # the notebook gets the real value
    assert "hunter2" not in out.getvalue() and "dsn://s" not in out.getvalue()
    assert "'password': '<redacted>'" in out.getvalue() and "'user': 'u'" in out.getvalue()
