"""Import contracts, read from the source with an AST walk (every import: lazy, TYPE_CHECKING too).

- The function (func.py, notebook_launcher/function, notebook_launcher/artifact and every
  shared rules module they reach, such as oci_facts and schedule_rules) imports nothing from
  the local service, the console or the operator kit: those are not in the function image, and
  the function must not know whether it talks to OCI or to the local service.
- The console's modules, and the function's, import each other without a cycle (run logs
  depend on protocols, not on the target module; the function's actions answer in
  function.answers and are dispatched from function.actions, never from each other).
- The local service imports nothing from the function: both stand on oci_facts and artifact
  (the run-time contract between a launch and its job run), side by side.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "notebook_launcher"
FUNCTION_ROOTS = ("func", f"{PACKAGE}.function", f"{PACKAGE}.artifact")
FORBIDDEN = tuple(f"{PACKAGE}.{name}" for name in ("localservice", "console", "operator"))


def module_files(root: Path) -> dict[str, Path]:
    """Every module of the checkout at root (func.py and the package), by dotted name."""
    files = {"func": root / "func.py"}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        files[name] = path
    return files


def imports_of(name: str, path: Path, known: Iterable[str]) -> set[str]:
    """The project modules `name` imports, at any depth of its code; parents packages included."""
    modules = set(known)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            found.add(source)
            found |= {f"{source}.{alias.name}" for alias in node.names}
    result: set[str] = set()
    for imported in found:
        parts = imported.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c imports a and a.b too
            if ".".join(parts[:depth]) in modules:
                result.add(".".join(parts[:depth]))
    return result - {name}


def import_graph(root: Path) -> dict[str, set[str]]:
    files = module_files(root)
    return {name: imports_of(name, path, files) for name, path in files.items()}


def function_closure(graph: dict[str, set[str]]) -> dict[str, str]:
    """Every module the function reaches, each with the module that first imported it."""
    start = [m for m in graph if any(m == r or m.startswith(f"{r}.") for r in FUNCTION_ROOTS)]
    reached = dict.fromkeys(start, "(root)")
    queue = list(start)
    while queue:
        current = queue.pop()
        for imported in sorted(graph[current]):
            if imported not in reached:
                reached[imported] = current
                queue.append(imported)
    return reached


def violations(root: Path) -> list[str]:
    reached = function_closure(import_graph(root))
    return sorted(
        f"{by} imports {module}" for module, by in reached.items() if module.startswith(FORBIDDEN)
    )


def test_the_function_imports_nothing_from_localservice_console_or_operator() -> None:
    reached = function_closure(import_graph(ROOT))
    # The walk follows imports into the shared rules modules (it cannot pass by seeing nothing).
    shared = {f"{PACKAGE}.oci_facts.identifiers", f"{PACKAGE}.oci_facts.archive_paths"}
    assert shared | {f"{PACKAGE}.schedule_rules"} <= set(reached)
    assert f"{PACKAGE}.function.handler" in reached
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("from notebook_launcher.localservice.layout import SERVICE_FILE", "localservice.layout"),
        ("import notebook_launcher.console.target", "console.target"),
        ("from notebook_launcher.operator import policies", "operator.policies"),
    ],
)
def test_a_forbidden_import_in_a_shared_module_is_found(
    tmp_path: Path, statement: str, forbidden: str
) -> None:
    """The contract fails when a module the function reaches (here the OCI facts' OCID grammar)
    breaks it, even inside a function body."""
    shutil.copy2(ROOT / "func.py", tmp_path / "func.py")
    shutil.copytree(
        ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    rules = tmp_path / PACKAGE / "oci_facts" / "identifiers.py"
    rules.write_text(rules.read_text() + f"\n\ndef _planted() -> None:\n    {statement}\n")
    expected = f"{PACKAGE}.oci_facts.identifiers imports {PACKAGE}.{forbidden}"
    assert expected in violations(tmp_path)


def test_relative_imports_resolve_against_their_package(tmp_path: Path) -> None:
    function = tmp_path / PACKAGE / "function"
    function.mkdir(parents=True)
    (tmp_path / "func.py").write_text("")
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (function / "__init__.py").write_text("")
    (function / "handler.py").write_text("from ..console import target\n")
    (tmp_path / PACKAGE / "console").mkdir()
    (tmp_path / PACKAGE / "console" / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "console" / "target.py").write_text("")
    assert violations(tmp_path) == [
        f"{PACKAGE}.function.handler imports {PACKAGE}.console",
        f"{PACKAGE}.function.handler imports {PACKAGE}.console.target",
    ]


def cycles(graph: dict[str, set[str]], prefix: str) -> list[list[str]]:
    """The import cycles among the modules under prefix, each as a path back to its start."""
    inside = {m: {i for i in deps if i.startswith(prefix)} for m, deps in graph.items()}
    inside = {m: deps for m, deps in inside.items() if m.startswith(prefix)}
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for imported in sorted(inside.get(module, ())):
            visit(imported, [*path, module])
        done.add(module)

    for module in sorted(inside):
        visit(module, [])
    return found


def test_the_console_has_no_import_cycle() -> None:
    graph = import_graph(ROOT)
    assert f"{PACKAGE}.console.run_log" in graph[f"{PACKAGE}.console.target"]
    assert cycles(graph, f"{PACKAGE}.console.") == []


def test_the_function_has_no_import_cycle() -> None:
    graph = import_graph(ROOT)
    # The walk sees the function's lazy imports (ADS is imported inside a method).
    assert f"{PACKAGE}.function.ads_job" in graph[f"{PACKAGE}.function.launcher"]
    assert f"{PACKAGE}.function.schedules" in graph[f"{PACKAGE}.function.actions"]
    assert cycles(graph, f"{PACKAGE}.function.") == []


def test_a_lazy_import_back_into_the_function_is_a_cycle(tmp_path: Path) -> None:
    """The cycle check fails when a module the dispatcher calls imports back, even lazily."""
    shutil.copy2(ROOT / "func.py", tmp_path / "func.py")
    shutil.copytree(
        ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    launcher = tmp_path / PACKAGE / "function" / "launcher.py"
    planted = "\n\ndef _planted() -> None:\n    from notebook_launcher.function import schedules\n"
    launcher.write_text(launcher.read_text() + planted)
    function = f"{PACKAGE}.function"
    assert [f"{function}.launcher", f"{function}.schedules", f"{function}.launcher"] in cycles(
        import_graph(tmp_path), f"{function}."
    )


def localservice_imports_of_the_function(root: Path) -> list[str]:
    graph = import_graph(root)
    service = f"{PACKAGE}.localservice"
    return sorted(
        f"{module} imports {imported}"
        for module, deps in graph.items()
        if module == service or module.startswith(f"{service}.")
        for imported in deps
        if imported == f"{PACKAGE}.function" or imported.startswith(f"{PACKAGE}.function.")
    )


def test_the_local_service_imports_nothing_from_the_function() -> None:
    graph = import_graph(ROOT)
    # The walk reaches the local service's UI, which uses the run-time contract in artifact/.
    assert f"{PACKAGE}.artifact.redaction" in set().union(
        *(deps for module, deps in graph.items() if module.startswith(f"{PACKAGE}.localservice."))
    )
    assert localservice_imports_of_the_function(ROOT) == []


def test_a_local_service_import_of_the_function_is_found(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "func.py", tmp_path / "func.py")
    shutil.copytree(
        ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    store = tmp_path / PACKAGE / "localservice" / "store.py"
    planted = "\n\ndef _planted() -> None:\n    from ..function.request import LaunchRequest\n"
    store.write_text(store.read_text() + planted)
    assert f"{PACKAGE}.localservice.store imports {PACKAGE}.function.request" in (
        localservice_imports_of_the_function(tmp_path)
    )


def test_a_cycle_is_found() -> None:
    graph = {"p.a": {"p.b"}, "p.b": {"p.c", "q.x"}, "p.c": {"p.a"}, "q.x": {"p.a"}}
    assert cycles(graph, "p.") == [["p.a", "p.b", "p.c", "p.a"]]
