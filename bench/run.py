"""`python -m bench.run [--quick] [--out .bench]`: the benchmarks of issue 5.

1. Launch: ours (reuse and create paths) against the single-shot ADS baseline, cold process
   and warm, on one local service (bench/launch.py).
2. Local service: a run against nbconvert, N launches at once under the concurrency bound,
   GetJobRun latency under a polling load (bench/service.py).
3. Paging: ListJobRuns' twentieth page against its first at 2,000 runs, as a ratio
   (bench/paging.py; issue 10).

Prints rich tables and writes `<out>/latest.md`, `<out>/latest.json` and
`<out>/launch.png` (`.bench/`, untracked: a run leaves the checkout clean; `make bench-publish`
copies a run to the published figures in `bench/results/`). It says whether the environment
has bytecode: without .pyc every cold process compiles oci, pydantic and ADS from source.
Everything talks to local services on 127.0.0.1 only, every loop is
bounded in count and time, and every process the benchmark starts is stopped by it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.launch import LaunchResults, run_launch_benchmark
from bench.launch_parent import ROOT, RUN_RESULTS
from bench.paging import PagingResults, paging_table, run_paging_benchmark
from bench.report import (
    Table,
    breakdown_table,
    launch_chart,
    launch_table,
    print_rich,
    ratio_table,
    service_tables,
    target_table,
    to_markdown,
    write_json,
)
from bench.service import ServiceResults, run_service_benchmark


@dataclass(frozen=True)
class Plan:
    """How much of everything to measure."""

    cold_runs: int
    warm_runs: int
    service_runs: int
    concurrent: int
    concurrency: int
    poll_seconds: float
    poll_rate: float
    poll_threads: int


FULL = Plan(7, 7, 5, 20, 2, 30.0, 100.0, 8)
QUICK = Plan(2, 3, 2, 6, 2, 5.0, 100.0, 8)


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.rstrip("\n")


def _memory_total() -> str:
    try:
        import psutil

        return f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _tree_changes() -> str:
    """Tracked files changed in the work tree outside bench/ (others' work in progress)."""
    lines = _git("status", "--porcelain", "--untracked-files=no").splitlines()
    changed = [line[3:] for line in lines if not line[3:].startswith("bench/")]
    return ", ".join(changed)


def machine_meta(mode: str, plan: Plan) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "plan": plan.__dict__,
        "uname": " ".join(platform.uname()),
        "nproc": os.cpu_count(),
        "memory": _memory_total(),
        "cpu": _cpu_model(),
        "python": sys.version.split()[0],
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommittedOutsideBench": _tree_changes(),
        "loadAverageStart": [round(x, 2) for x in os.getloadavg()],
        "bytecode": _bytecode(),
    }


def _bytecode() -> dict[str, Any]:
    """Whether the packages a cold launch imports have .pyc files beside their sources, and
    whether this process may write them (PYTHONDONTWRITEBYTECODE)."""
    import importlib.util

    present: dict[str, bool] = {}
    for name in ("oci", "pydantic", "ads", "fdk", "notebook_launcher"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        present[name] = (
            origin is not None and Path(importlib.util.cache_from_source(origin)).is_file()
        )
    return {"compiled": present, "dontWriteBytecode": bool(sys.flags.dont_write_bytecode)}


def _bytecode_line(meta: dict[str, Any]) -> str:
    info = meta.get("bytecode") or {}
    compiled = info.get("compiled") or {}
    missing = sorted(name for name, ok in compiled.items() if not ok)
    writes = "not written" if info.get("dontWriteBytecode") else "written on import"
    if not missing:
        return f"Bytecode: .pyc present for {', '.join(sorted(compiled))} (new .pyc {writes})"
    return (
        f"WARNING: no bytecode for {', '.join(missing)} (new .pyc {writes}): cold figures "
        "include compiling from source; `make install` compiles it (uv --compile-bytecode)"
    )


def header_lines(meta: dict[str, Any]) -> list[str]:
    lines = [
        f"Date: {meta['date']} ({meta['mode']} run, {meta.get('elapsedSeconds', 0):.0f} s)",
        f"Machine: {meta['uname']}; {meta['nproc']} cores ({meta['cpu']}), {meta['memory']}",
        f"Python: {meta['python']}",
        _bytecode_line(meta),
        f"Commit: {meta['commit']}"
        + (
            f" (HEAD moved to {meta['commitEnd']} during the run)"
            if meta.get("commitEnd") and meta["commitEnd"] != meta["commit"]
            else ""
        ),
        f"Load average (1, 5, 15 min) at start {meta['loadAverageStart']}, "
        f"at end {meta.get('loadAverageEnd')}",
    ]
    for error in meta.get("errors") or []:
        lines.append(f"ERROR: {error}")
    if meta.get("uncommittedOutsideBench"):
        lines.append(f"Uncommitted changes in the work tree: {meta['uncommittedOutsideBench']}")
    return lines


def render_markdown(meta: dict[str, Any], tables: list[Table], chart: bool) -> str:
    parts = ["# Benchmark results", ""]
    parts += [f"- {line}" for line in header_lines(meta)]
    parts += [
        "",
        "Produced by `make bench` (`python -m bench.run`"
        + (" --quick" if meta["mode"] == "quick" else "")
        + "). Medians with (min-max); 2 shared, noisy cores, so compare the ratios measured "
        "side by side in this run rather than absolute numbers across runs.",
        "",
    ]
    if chart:
        parts += ["![launch time, peak RSS and API calls](launch.png)", ""]
    parts.append(to_markdown(tables))
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, 5 s polling (smoke)")
    parser.add_argument("--out", type=Path, default=RUN_RESULTS)
    parser.add_argument(
        "--only",
        choices=("launch", "service", "paging"),
        help="run one section (development)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    for name in ("notebook_launcher", "oci", "ads"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in list(os.environ):
        if name.startswith(("OCI_", "NB_SESSION_")):
            del os.environ[name]  # never reach a real tenancy or a notebook session

    from rich.console import Console

    console = Console(stderr=True)
    plan = QUICK if args.quick else FULL
    mode = "quick" if args.quick else "full"
    meta = machine_meta(mode, plan)
    started = time.monotonic()

    def progress(message: str) -> None:
        console.log(message, highlight=False)

    launch: LaunchResults | None = None
    service: ServiceResults | None = None
    paging: PagingResults | None = None
    errors: list[str] = []
    work_dir = Path(tempfile.mkdtemp(prefix="nl-bench-"))
    try:
        if args.only in (None, "launch"):
            section = time.monotonic()
            try:
                launch = run_launch_benchmark(
                    work_dir, plan.cold_runs, plan.warm_runs, progress=progress
                )
            except Exception as exc:
                console.print_exception()
                errors.append(f"launch section failed: {type(exc).__name__}: {exc}")
            meta["launchSeconds"] = round(time.monotonic() - section, 1)
        if args.only in (None, "service"):
            section = time.monotonic()
            try:
                service = run_service_benchmark(
                    work_dir,
                    runs=plan.service_runs,
                    concurrent=plan.concurrent,
                    concurrency=plan.concurrency,
                    poll_seconds=plan.poll_seconds,
                    poll_rate=plan.poll_rate,
                    poll_threads=plan.poll_threads,
                    progress=progress,
                )
            except Exception as exc:
                console.print_exception()
                errors.append(f"service section failed: {type(exc).__name__}: {exc}")
            meta["serviceSeconds"] = round(time.monotonic() - section, 1)
        if args.only in (None, "paging"):
            progress("paging: ListJobRuns page 1 and page 20 at 2,000 runs")
            try:
                paging = run_paging_benchmark(work_dir)
                meta["paging"] = {
                    "runs": paging.runs,
                    "firstPageMs": round(paging.first_ms, 2),
                    "farPageMs": round(paging.far_ms, 2),
                    "farPage": paging.far_page,
                    "ratio": round(paging.ratio, 3),
                }
            except Exception as exc:
                console.print_exception()
                errors.append(f"paging section failed: {type(exc).__name__}: {exc}")
    finally:
        if args.keep:
            console.log(f"scratch folder kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    meta["errors"] = errors
    meta["elapsedSeconds"] = round(time.monotonic() - started, 1)
    meta["loadAverageEnd"] = [round(x, 2) for x in os.getloadavg()]
    meta["commitEnd"] = _git("rev-parse", "--short", "HEAD")

    tables: list[Table] = []
    if launch is not None:
        tables += [
            launch_table(launch),
            ratio_table(launch, service.keepalive if service else None),
            target_table(launch),
            breakdown_table(launch),
        ]
    if service is not None:
        tables += service_tables(service)
    if paging is not None:
        tables.append(paging_table(paging))

    args.out.mkdir(parents=True, exist_ok=True)
    chart = False
    if launch is not None:
        launch_chart(args.out / "launch.png", launch)
        chart = True
    (args.out / "latest.md").write_text(render_markdown(meta, tables, chart), encoding="utf-8")
    write_json(args.out / "latest.json", meta, launch, service)
    print_rich(tables, header_lines(meta))
    console.log(f"wrote {args.out / 'latest.md'}, latest.json" + (", launch.png" if chart else ""))
    for error in errors:
        console.log(f"[red]{error}[/red]")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
