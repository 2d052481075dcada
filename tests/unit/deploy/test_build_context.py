"""The function image's build context, as Docker computes it from .dockerignore.

`fn build` is a plain `docker build` of the checkout (`ADD . /function/`), so the build context
is whatever .dockerignore lets through. These tests compute it with the docker SDK's own
implementation of Docker's ignore rules (`docker.utils.build.exclude_paths`, which `docker
build` in docker-py uses to make the context tar), in a copy of a checkout that has run
`make demo`: a .local-ds with the local service's private keys, a .venv, caches, .git.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths

from notebook_launcher.localservice.identity.provisioning import ensure_identity

ROOT = Path(__file__).resolve().parents[3]
# fn writes its generated Dockerfile into the folder for the build. Docker always sends it and
# .dockerignore to the daemon (docker-py's PatternMatcher re-includes both), but ADD/COPY never
# copy them into the image, so neither counts as content.
FN_DOCKERFILE = "Dockerfile"
CONTROL_FILES = {FN_DOCKERFILE, ".dockerignore"}


def dockerignore_patterns(checkout: Path) -> list[str]:
    """.dockerignore as docker-py reads it (docker/api/build.py): no blanks, no comments."""
    lines = (checkout / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def build_context(checkout: Path) -> set[str]:
    """Every file Docker would send for `docker build` of `checkout` (directories left out)."""
    paths = exclude_paths(str(checkout), dockerignore_patterns(checkout), dockerfile=FN_DOCKERFILE)
    return {p for p in paths if (checkout / p).is_file()} - CONTROL_FILES


@pytest.fixture(scope="module")
def demo_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this checkout as it looks after `make demo` (and some development)."""
    checkout = tmp_path_factory.mktemp("checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in tracked)):
        source = ROOT / name
        if source.is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, checkout / name)
    # make demo: the local service's identity (real private keys) and a run's session key
    ensure_identity(checkout / ".local-ds")
    run_dir = checkout / ".local-ds" / "runs" / "ocid1.datasciencejobrun.oc1.iad.r1"
    run_dir.mkdir(parents=True)
    (run_dir / "rp_session_key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (checkout / ".local-ds" / "state.sqlite3").write_bytes(b"SQLite format 3\0")
    # the venv make creates, caches, git metadata, editor and OS leftovers
    site = checkout / ".venv" / "lib" / "python3.11" / "site-packages" / "oci"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    (checkout / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for cache in (".pytest_cache", ".mypy_cache", ".ruff_cache"):
        (checkout / cache).mkdir()
        (checkout / cache / "CACHEDIR.TAG").write_text("x")
    (checkout / ".git").mkdir()
    (checkout / ".git" / "config").write_text("[core]\n")
    for package in ("notebook_launcher", "notebook_launcher/function", "tests/unit"):
        pycache = checkout / package / "__pycache__"
        pycache.mkdir(parents=True, exist_ok=True)
        (pycache / "x.cpython-311.pyc").write_bytes(b"\0")
    (checkout / "notebook_launcher" / "function" / "stray.pyc").write_bytes(b"\0")
    (checkout / "bench" / "results" / "scratch.json").write_text("{}")
    return checkout


def function_modules(checkout: Path) -> set[str]:
    """The function's core and the code it ships into job artifacts (the run-report writer)."""
    packages = [checkout / "notebook_launcher" / name for name in ("function", "artifact")]
    return {p.relative_to(checkout).as_posix() for d in packages for p in d.glob("*.py")}


def test_the_context_is_exactly_the_function(demo_checkout: Path) -> None:
    context = build_context(demo_checkout)
    expected = {"func.py", "func.yaml", "requirements.txt", "notebook_launcher/__init__.py"}
    # The OCI facts the function shares with the local service ship with it.
    facts = demo_checkout / "notebook_launcher" / "oci_facts"
    expected |= {p.relative_to(demo_checkout).as_posix() for p in facts.glob("*.py")}
    assert "notebook_launcher/oci_facts/states.py" in expected
    # The schedule trigger checks it shares with the local service (croniter, dateutil).
    expected |= {"notebook_launcher/schedule_rules.py"}
    expected |= function_modules(demo_checkout)
    assert "notebook_launcher/function/handler.py" in expected
    assert context == expected, (
        f"extra: {sorted(context - expected)}; missing: {sorted(expected - context)}"
    )


def test_no_key_or_local_state_reaches_the_image(demo_checkout: Path) -> None:
    context = build_context(demo_checkout)
    assert not [p for p in context if p.endswith((".pem", ".key", "config", ".sqlite3"))]
    assert not [p for p in context if p.split("/")[0] in {".local-ds", ".venv", ".git", "tests"}]
    # and the keys the test relies on are really there in the checkout
    assert (demo_checkout / ".local-ds" / "oci" / "oci_api_key.pem").is_file()


def _imported_names(path: Path) -> set[str]:
    """Every notebook_launcher module a file imports, at any depth (function-level too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n.split(".")[0] == "notebook_launcher"}


def test_every_import_of_the_function_resolves_inside_the_context(
    demo_checkout: Path, tmp_path: Path
) -> None:
    """Statically (lazy imports included) and by importing func in a fresh interpreter that sees
    only the context and the installed packages, as in the image (PYTHONPATH=/function:/python)."""
    image = tmp_path / "function"
    for name in build_context(demo_checkout):
        (image / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(demo_checkout / name, image / name)

    for source in [p for p in image.rglob("*.py")]:
        for name in _imported_names(source):
            parts = name.split(".")
            candidates = [image.joinpath(*parts).with_suffix(".py"), image.joinpath(*parts)]
            as_attribute = image.joinpath(*parts[:-1]).with_suffix(".py")
            assert any(c.exists() for c in candidates) or as_attribute.is_file(), (
                f"{source.relative_to(image)} imports {name}, which is not in the image"
            )

    probe = (
        "import json, sys, importlib, pkgutil\n"
        "sys.path[:] = [p for p in sys.path if p.startswith(sys.argv[1]) or 'site-packages' in p"
        " or p.startswith(sys.base_prefix)]\n"
        "import func, notebook_launcher.function as f\n"
        "for m in pkgutil.iter_modules(f.__path__):\n"
        "    importlib.import_module(f.__name__ + '.' + m.name)\n"
        "print(json.dumps({n: getattr(m, '__file__', None) for n, m in sys.modules.items()"
        " if n == 'func' or n.startswith('notebook_launcher')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(image)],
        cwd=image,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(image), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "notebook_launcher.function.handler" in loaded
    outside = {n: f for n, f in loaded.items() if f and not f.startswith(str(image))}
    assert not outside, f"loaded from outside the image: {outside}"
