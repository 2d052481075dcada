"""Launch benchmark: ours (reuse and create paths) against the single-shot baseline.

All on one local service (concurrency 1). Before anything is timed, one untimed setup
process launches a "blocker" run (a notebook that sleeps) and creates the job that the
reuse path finds; the blocker holds the service's only execution slot, so every run the
benchmark launches waits ACCEPTED and no notebook executes while launches are timed (on 2
shared cores a running notebook would skew them). The service is stopped at the end,
which ends the blocker; the queued runs are never executed.

Cold: a fresh `python -m bench.launch_child` per launch, timed from just before spawning it
to its answer (split into interpreter start-up, imports and the call), peak RSS of that
child alone (its VmHWM; see bench/launch_child.py for why not ru_maxrss). Warm: one child
per variant, one untimed warm-up launch, then N timed launches. Variants are interleaved
(rotated order) so that machine noise falls on all of them alike. Data Science API calls
per launch come from the service's own counts, reset before each launch.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from bench.launch_parent import ROOT, ChildError, LaunchChild
from bench.stats import Summary, summarize
from notebook_launcher.local_profile import (
    LOCAL_LOG_GROUP,
    OUTPUT_BUCKET,
    local_function_config,
    service_namespace,
)
from notebook_launcher.localservice.embedded import EmbeddedService

NOTEBOOK = ROOT / "examples" / "sales-report.ipynb"
BLOCKER_NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "sleeps.ipynb"
OBJECT_STORAGE_OPERATIONS = frozenset({"GetNamespace", "PutObject", "HeadObject", "GetObject"})
VARIANTS = ("ours-reuse", "ours-create", "baseline")
LAUNCH_TIMEOUT = 120.0

Progress = Callable[[str], None]


@dataclass
class LaunchSample:
    """One measured launch."""

    variant: str
    mode: str  # cold | warm
    ok: bool
    seconds: float  # cold: spawn → answer; warm: the call alone
    call_seconds: float
    startup_seconds: float | None  # cold: spawn → the child's first line
    import_seconds: float | None  # cold: the implementation's imports
    exit_seconds: float | None  # cold: spawn → process exit
    max_rss_mb: float  # the child's own peak RSS so far (VmHWM), at its answer
    rss_after_import_mb: float
    wait4_max_rss_mb: float | None  # cold: ru_maxrss from wait4 (includes the parent's size)
    ds_calls: int
    operations: dict[str, int]
    ads_loaded: bool
    job_reused: bool | None
    error: str | None = None


@dataclass
class VariantResult:
    """The samples of one variant in one mode, summarized."""

    variant: str
    mode: str
    samples: list[LaunchSample]
    process_peak_rss_mb: float | None = None  # warm: the process's peak at exit

    @property
    def good(self) -> list[LaunchSample]:
        return [s for s in self.samples if s.ok]

    @property
    def failures(self) -> int:
        return len(self.samples) - len(self.good)

    def time(self) -> Summary:
        return summarize([s.seconds for s in self.good])

    def rss(self) -> Summary:
        return summarize([s.max_rss_mb for s in self.good])

    def calls(self) -> Summary:
        return summarize([float(s.ds_calls) for s in self.good])

    def part(self, name: str) -> Summary:
        values = [getattr(s, name) for s in self.good]
        return summarize([v for v in values if v is not None])

    def operations(self) -> str:
        """The most common per-launch operation mix, e.g. 'ListJobs+CreateJobRun'."""
        mixes = Counter(
            "+".join(f"{op}x{n}" if n > 1 else op for op, n in sorted(s.operations.items()))
            for s in self.good
        )
        return mixes.most_common(1)[0][0] if mixes else ""

    def ads_loaded_count(self) -> int:
        return sum(1 for s in self.samples if s.ads_loaded)


@dataclass
class ImportCost:
    """`python -X importtime` of one cold reuse-path child, attributed."""

    total_seconds: float
    by_package: list[tuple[str, float]]  # top-level package → summed self time (s)
    top_level: list[tuple[str, float]]  # first-level imports → cumulative time (s)


@dataclass
class LaunchResults:
    """Everything the launch section measured."""

    cold_runs: int
    warm_runs: int
    notebook: str
    variants: dict[str, VariantResult] = field(default_factory=dict)
    import_cost: ImportCost | None = None
    setup_notes: list[str] = field(default_factory=list)

    def get(self, variant: str, mode: str) -> VariantResult:
        return self.variants[f"{variant}/{mode}"]


class _Bodies:
    """The request body of each variant (unique job names where a job must be created)."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.config = config

    def body(self, variant: str) -> dict[str, Any]:
        tag = uuid.uuid4().hex[:10]
        if variant == "ours-reuse":
            return {"noteBook": str(NOTEBOOK), "jobName": "bench-reuse"}
        if variant == "ours-create":
            return {"noteBook": str(NOTEBOOK), "jobName": f"bench-create-{tag}"}
        if variant == "baseline":
            return {
                "noteBook": str(NOTEBOOK),
                "jobName": f"bench-baseline-{tag}",
                "projectId": self.config["NL_PROJECT_ID"],
                "compartmentId": self.config["NL_COMPARTMENT_ID"],
                "logGroupId": self.config.get("NL_LOG_GROUP_ID", LOCAL_LOG_GROUP),
                "outputFolder": self.config["NL_OUTPUT_FOLDER"].replace("/runs", "/baseline"),
            }
        raise ValueError(variant)


def _impl(variant: str) -> str:
    return "baseline" if variant == "baseline" else "ours"


def _ds_calls(stats: Mapping[str, int]) -> dict[str, int]:
    return {op: n for op, n in stats.items() if op not in OBJECT_STORAGE_OPERATIONS and n}


def _sample(
    variant: str,
    mode: str,
    child: LaunchChild,
    result: Mapping[str, Any],
    stats: Mapping[str, int],
    *,
    cold_exit: Any = None,
) -> LaunchSample:
    body = result.get("body") or {}
    ok = result.get("status") == 200 and bool(body.get("id"))
    error = None if ok else str(body.get("error") or body)[:500]
    expected_reuse = {"ours-reuse": True, "ours-create": False}.get(variant)
    if ok and expected_reuse is not None and body.get("jobReused") is not expected_reuse:
        # e.g. the job digest changed because someone edited the code or notebook meanwhile
        ok = False
        error = f"jobReused was {body.get('jobReused')}, expected {expected_reuse}"
    operations = _ds_calls(stats)
    call_seconds = result["tAnswer"] - result["tStart"]
    sample = LaunchSample(
        variant=variant,
        mode=mode,
        ok=ok,
        seconds=call_seconds,
        call_seconds=call_seconds,
        startup_seconds=None,
        import_seconds=None,
        exit_seconds=None,
        max_rss_mb=result["maxRssKb"] / 1024,
        rss_after_import_mb=result["maxRssAfterImportKb"] / 1024,
        wait4_max_rss_mb=None,
        ds_calls=sum(operations.values()),
        operations=operations,
        ads_loaded=bool(result.get("adsLoaded")),
        job_reused=body.get("jobReused"),
        error=error,
    )
    if cold_exit is not None:
        sample.seconds = result["tAnswer"] - child.t_spawn
        sample.startup_seconds = result["tMain"] - child.t_spawn
        sample.import_seconds = result["tImported"] - result["tMain"]
        sample.exit_seconds = cold_exit.t_exit - child.t_spawn
        sample.wait4_max_rss_mb = cold_exit.max_rss_mb
    return sample


def _failed(variant: str, mode: str, error: str) -> LaunchSample:
    nan = float("nan")
    return LaunchSample(
        variant, mode, False, nan, nan, None, None, None, nan, nan, None, 0, {}, False, None, error
    )


def _cold(service: EmbeddedService, variant: str, bodies: _Bodies, log: IO[bytes]) -> LaunchSample:
    service.reset_stats()
    child = LaunchChild(_impl(variant), log=log)
    try:
        result = child.launch(bodies.body(variant), bodies.config, LAUNCH_TIMEOUT)
    except ChildError as exc:
        return _failed(variant, "cold", str(exc))
    finally:
        child_exit = child.close()
    return _sample(variant, "cold", child, result, service.stats(), cold_exit=child_exit)


def _warm(
    service: EmbeddedService, variant: str, bodies: _Bodies, runs: int, log: IO[bytes]
) -> VariantResult:
    child = LaunchChild(_impl(variant), log=log)
    samples: list[LaunchSample] = []
    try:
        child.launch(bodies.body(variant), bodies.config, LAUNCH_TIMEOUT)  # warm-up, untimed
        for _ in range(runs):
            service.reset_stats()
            result = child.launch(bodies.body(variant), bodies.config, LAUNCH_TIMEOUT)
            samples.append(_sample(variant, "warm", child, result, service.stats()))
    except ChildError as exc:
        samples.append(_failed(variant, "warm", str(exc)))
    finally:
        child_exit = child.close()
    return VariantResult(variant, "warm", samples, process_peak_rss_mb=child_exit.max_rss_mb)


def _wait_for_blocker(service: EmbeddedService, run_id: str, timeout: float = 120.0) -> None:
    """Until the blocker's kernel is sleeping (its set-up CPU burst is over)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "kernel pid=" in service.logs(run_id):
            time.sleep(1.0)
            return
        time.sleep(0.2)
    raise RuntimeError(f"the blocker run {run_id} did not start within {timeout} s")


IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def parse_importtime(text: str) -> ImportCost:
    """Attribute `-X importtime` output to top-level packages and first-level imports."""
    by_package: defaultdict[str, float] = defaultdict(float)
    top_level: list[tuple[str, float]] = []
    total = 0.0
    for match in IMPORT_LINE.finditer(text):
        self_us, cumulative_us, indent, name = match.groups()
        by_package[name.split(".")[0]] += int(self_us) / 1e6
        if not indent:
            top_level.append((name, int(cumulative_us) / 1e6))
            total += int(cumulative_us) / 1e6
    top_level.sort(key=lambda item: -item[1])
    packages = sorted(by_package.items(), key=lambda item: -item[1])
    return ImportCost(total, packages[:12], top_level[:10])


def _import_cost(
    service: EmbeddedService, bodies: _Bodies, work: Path, log: IO[bytes]
) -> ImportCost:
    trace = work / "importtime-reuse.txt"
    with open(trace, "wb") as err:
        child = LaunchChild("ours", log=err, python_args=("-X", "importtime"))
        try:
            child.launch(bodies.body("ours-reuse"), bodies.config, LAUNCH_TIMEOUT)
        finally:
            child.close()
    return parse_importtime(trace.read_text(errors="replace"))


def run_launch_benchmark(
    work: Path, cold_runs: int, warm_runs: int, progress: Progress
) -> LaunchResults:
    """Run the whole launch section in `work` (a scratch folder)."""
    results = LaunchResults(cold_runs=cold_runs, warm_runs=warm_runs, notebook=NOTEBOOK.name)
    log_path = work / "launch-children.log"
    with (
        EmbeddedService(work / "launch-ds", concurrency=1) as service,
        open(log_path, "ab") as log,
    ):
        project = service.create_project(name="bench-launch")
        config = local_function_config(
            cast(Any, service), project, service_namespace(service.data_dir)
        )
        bodies = _Bodies(config)
        output = config["NL_OUTPUT_FOLDER"]
        assert output.startswith(f"oci://{OUTPUT_BUCKET}@")

        progress("launch: setting up (blocker run, reuse job; untimed)")
        setup = LaunchChild("ours", log=log)
        try:
            blocker = setup.launch(
                {"noteBook": str(BLOCKER_NOTEBOOK), "jobName": "bench-blocker"}, config, 120
            )
            reuse_job = setup.launch(bodies.body("ours-reuse"), config, 120)
        finally:
            setup.close()
        for answer in (blocker, reuse_job):
            if answer.get("status") != 200:
                raise RuntimeError(f"set-up launch failed: {answer.get('body')}")
        _wait_for_blocker(service, blocker["body"]["id"])
        results.setup_notes.append(
            "runs launched here wait ACCEPTED behind a sleeping blocker run (concurrency 1): "
            "no notebook executes while launches are timed"
        )

        cold: dict[str, list[LaunchSample]] = {v: [] for v in VARIANTS}
        for index in range(cold_runs):
            order = VARIANTS[index % 3 :] + VARIANTS[: index % 3]
            for variant in order:
                sample = _cold(service, variant, bodies, log)
                cold[variant].append(sample)
                progress(
                    f"launch cold {variant} {index + 1}/{cold_runs}: "
                    + (
                        f"{sample.seconds:.2f} s, {sample.max_rss_mb:.0f} MB, "
                        f"{sample.ds_calls} calls"
                        if sample.ok
                        else f"FAILED {sample.error}"
                    )
                )
        for variant in VARIANTS:
            results.variants[f"{variant}/cold"] = VariantResult(variant, "cold", cold[variant])

        for variant in VARIANTS:
            warm = _warm(service, variant, bodies, warm_runs, log)
            results.variants[f"{variant}/warm"] = warm
            progress(f"launch warm {variant}: median {warm.time().median:.3f} s")

        progress("launch: -X importtime of a cold reuse-path process (not in the medians)")
        results.import_cost = _import_cost(service, bodies, work, log)
    return results
