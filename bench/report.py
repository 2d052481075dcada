"""Results as tables (rich on the terminal, markdown in latest.md), raw JSON and a chart."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.launch import LaunchResults, VariantResult
from bench.service import KeepAliveCheck, ServiceResults
from bench.stats import Summary, ratio

TARGET_REUSE_COLD_SECONDS = 1.0
TARGET_REUSE_PEAK_RSS_MB = 128.0
TARGET_CREATE_CALLS = 4
TARGET_WARM_REPEAT_CALLS = 1  # issue 21: a warm instance remembers the job (CreateJobRun only)
YES, NO = "✓", "✗"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _x(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}x"


def _seconds(summary: Summary) -> str:
    return f"{_fmt(summary.median)} s"


def _span(summary: Summary, digits: int = 2, scale: float = 1.0) -> str:
    return summary.span(digits, scale)


LABELS = {"ours-reuse": "ours, reuse path", "ours-create": "ours, create path"}


def launch_table(results: LaunchResults) -> Table:
    table = Table(
        "Launch: ours against the single-shot baseline (same local service, same run)",
        [
            "implementation",
            "process",
            "n",
            "time s, median (min-max)",
            "start-up s",
            "imports s",
            "call s",
            "peak RSS MB, median (min-max)",
            "DS calls / launch",
            "operations",
            "ads imported",
        ],
    )
    for variant in ("ours-reuse", "ours-create", "baseline"):
        for mode in ("cold", "warm"):
            result = results.get(variant, mode)
            n = f"{len(result.good)}" + (f" (+{result.failures} failed)" if result.failures else "")
            cold = mode == "cold"
            table.rows.append(
                [
                    LABELS.get(variant, "baseline (single-shot ADS)"),
                    mode,
                    n,
                    _span(result.time(), 3 if not cold else 2),
                    _fmt(result.part("startup_seconds").median) if cold else "—",
                    _fmt(result.part("import_seconds").median) if cold else "—",
                    _fmt(result.part("call_seconds").median, 3),
                    _span(result.rss(), 0),
                    _fmt(result.calls().median, 0),
                    result.operations(),
                    f"{result.ads_loaded_count()} of {len(result.samples)}",
                ]
            )
    table.notes += [
        f"Notebook: {results.notebook}. Cold: a fresh Python process per launch, timed from "
        "just before it is spawned to its answer. Peak RSS: the measured process's own "
        "high-water mark (VmHWM) at its answer; not ru_maxrss, which on Linux starts from "
        "the spawning process's size (wait4's value is kept in latest.json). "
        f"Warm: one process, one untimed warm-up launch, then {results.warm_runs} timed "
        "launches; RSS is the process's peak so far. DS calls: Data Science API calls per "
        "launch counted by the local service (reset before each launch).",
        "The baseline creates a new job and uploads a new artifact on every call (it has no "
        "reuse path), so it is compared with both of our paths.",
        *results.setup_notes,
    ]
    for variant_result in results.variants.values():
        errors = {s.error for s in variant_result.samples if s.error}
        for error in sorted(errors):
            table.notes.append(
                f"FAILED {variant_result.variant}/{variant_result.mode}: {error[:300]}"
            )
    return table


def _ratios(baseline: VariantResult, ours: VariantResult) -> tuple[float, float, float]:
    return (
        ratio(baseline.time().median, ours.time().median),
        ratio(baseline.rss().median, ours.rss().median),
        ratio(baseline.calls().median, ours.calls().median),
    )


def ratio_table(results: LaunchResults, keepalive: KeepAliveCheck | None = None) -> Table:
    table = Table(
        "Ratios: baseline / ours (medians; above 1x means ours is faster, smaller, fewer)",
        [
            "compared with",
            "cold time",
            "warm time",
            "cold peak RSS",
            "warm peak RSS",
            "DS calls / launch",
        ],
    )
    for variant in ("ours-reuse", "ours-create"):
        cold_t, cold_rss, calls = _ratios(
            results.get("baseline", "cold"), results.get(variant, "cold")
        )
        warm_t, warm_rss, _ = _ratios(results.get("baseline", "warm"), results.get(variant, "warm"))
        table.rows.append(
            [LABELS[variant], _x(cold_t), _x(warm_t), _x(cold_rss), _x(warm_rss), _x(calls)]
        )
    table.notes.append(
        "Our create path imports ADS too (to build the job and its artifact exactly as ADS "
        "does), so its cold time and peak RSS are close to the baseline's; the gain there "
        "is in what is created (one job per notebook and settings, retry tokens), not speed."
    )
    if keepalive is not None and keepalive.nagle_suspected:
        table.notes.append(
            "Local artifact that favours the baseline: on this service every request after "
            "the first on a kept-alive connection waits about 40 ms (see the keep-alive check "
            "under GetJobRun latency). Ours keeps one connection per process; ADS makes a "
            "new client, so a new connection, for most requests."
        )
    return table


def target_rows(results: LaunchResults) -> list[list[str]]:
    reuse = results.get("ours-reuse", "cold")
    create = [*results.get("ours-create", "cold").good, *results.get("ours-create", "warm").good]
    time_median = reuse.time().median
    rss = reuse.rss()
    max_calls = max((s.ds_calls for s in create), default=-1)
    warm = results.get("ours-reuse", "warm").good
    warm_calls = max((s.ds_calls for s in warm), default=-1)
    ads = reuse.ads_loaded_count()

    def met(ok: bool) -> str:
        return YES if ok else NO

    return [
        [
            f"reuse path, cold: ≤ {TARGET_REUSE_COLD_SECONDS:g} s",
            f"median {_fmt(time_median)} s (min {_fmt(reuse.time().min)}, "
            f"max {_fmt(reuse.time().max)})",
            met(time_median <= TARGET_REUSE_COLD_SECONDS),
        ],
        [
            f"reuse path, cold: ≤ {TARGET_REUSE_PEAK_RSS_MB:g} MB peak RSS",
            f"max {_fmt(rss.max, 0)} MB (median {_fmt(rss.median, 0)})",
            met(rss.n > 0 and rss.max <= TARGET_REUSE_PEAK_RSS_MB),
        ],
        [
            f"create path: ≤ {TARGET_CREATE_CALLS} Data Science calls",
            f"max {max_calls} over {len(create)} launches",
            met(0 <= max_calls <= TARGET_CREATE_CALLS),
        ],
        [
            f"reuse path, warm repeat: {TARGET_WARM_REPEAT_CALLS} Data Science call",
            f"max {warm_calls} over {len(warm)} launches",
            met(0 <= warm_calls <= TARGET_WARM_REPEAT_CALLS and len(warm) > 0),
        ],
        [
            "reuse path, cold: never imports ads",
            f"'ads' in sys.modules in {ads} of {len(reuse.samples)} processes",
            met(ads == 0 and reuse.failures == 0),
        ],
    ]


def target_table(results: LaunchResults) -> Table:
    return Table("Targets (issues 3 and 21)", ["target", "measured", "met"], target_rows(results))


def breakdown_table(results: LaunchResults) -> Table:
    reuse = results.get("ours-reuse", "cold")
    table = Table(
        "Where a cold reuse-path launch spends its time and memory",
        ["part", "value"],
    )
    table.rows += [
        ["interpreter start-up (spawn -> first line)", _seconds(reuse.part("startup_seconds"))],
        ["imports (handler and its dependencies)", _seconds(reuse.part("import_seconds"))],
        [
            "the call (invoke, incl. the lazy import of oci, auth, clients, API calls)",
            _seconds(reuse.part("call_seconds")),
        ],
        ["peak RSS after the imports", f"{_fmt(reuse.part('rss_after_import_mb').median, 0)} MB"],
        ["peak RSS at exit", f"{_fmt(reuse.rss().median, 0)} MB"],
    ]
    cost = results.import_cost
    if cost is not None:
        packages = ", ".join(f"{name} {secs * 1000:.0f}" for name, secs in cost.by_package[:8])
        first = ", ".join(f"{name} {secs * 1000:.0f}" for name, secs in cost.top_level[:5])
        table.rows += [
            [
                "-X importtime: total (one extra run, inflated by tracing)",
                f"{cost.total_seconds:.2f} s",
            ],
            ["-X importtime: self time by package, ms", packages],
            ["-X importtime: first-level imports (cumulative), ms", first],
        ]
    return table


def service_tables(results: ServiceResults) -> list[Table]:
    versus = results.run_vs_nbconvert
    nb = versus.nbconvert_wall()
    run_table = Table(
        f"Local service: one run of {results.notebook} against jupyter nbconvert --execute",
        ["measure", "n", "seconds, median (min-max)", "ratio to nbconvert"],
        [
            [
                "service run, wall clock (launch call → SUCCEEDED seen, 50 ms polling)",
                str(versus.run_wall().n),
                _span(versus.run_wall()),
                _x(versus.ratio_wall()),
            ],
            [
                "service run, timeAccepted → timeFinished",
                str(versus.run_service().n),
                _span(versus.run_service()),
                _x(versus.ratio_service()),
            ],
            [
                "jupyter nbconvert --to notebook --execute (subprocess)",
                str(nb.n),
                _span(nb),
                "1.0x",
            ],
        ],
    )
    failed = [r for r in versus.runs + versus.nbconvert if not r.ok]
    if failed:
        run_table.notes.append(f"{len(failed)} executions failed: {failed}")
    run_table.notes.append(
        "A service run starts ADS's notebook driver in a fresh process, which starts a kernel, "
        "executes the notebook and uploads the outputs to the local Object Storage; "
        "nbconvert starts a kernel and executes the notebook."
    )

    c = results.concurrent
    launch = Summary(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    if c.launch_seconds:
        from bench.stats import summarize

        launch = summarize(c.launch_seconds)
    concurrent_table = Table(
        f"{c.launches} launches at once (service concurrency {c.bound})",
        [
            "launches answered",
            "SUCCEEDED",
            "max IN_PROGRESS (polled)",
            "max overlap (run times)",
            "bound holds",
            "total s (release → all finished)",
            "service span s",
            "launch answer s, median (max)",
        ],
        [
            [
                f"{c.answered} of {c.launches}",
                f"{c.succeeded} of {c.launches} {YES if c.all_succeeded else NO}",
                f"{c.max_in_progress_polled} ({c.polls} polls)",
                str(c.max_overlap_from_times),
                f"{YES if c.bound_holds else NO} (≤ {c.bound})",
                _fmt(c.total_seconds, 1),
                _fmt(c.service_span_seconds, 1),
                f"{_fmt(launch.median)} ({_fmt(launch.max)})",
            ]
        ],
        [
            "Threads call the function's handler (reuse path) together, released by a barrier. "
            "Max IN_PROGRESS: ListJobRuns every 100 ms; max overlap: from the runs' own "
            "timeStarted/timeFinished. Service span: first timeAccepted → last timeFinished.",
            f"States: {c.states}" + (" (timed out)" if c.timed_out else ""),
        ],
    )

    p = results.polling
    lat = p.latency()
    polling_table = Table(
        "GetJobRun latency under a polling load (127.0.0.1, oci SDK clients)",
        [
            "target rate /s",
            "seconds",
            "threads",
            "requests",
            "achieved /s",
            "errors",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
        ],
        [
            [
                f"{p.target_rate:.0f}",
                f"{p.duration:.0f}",
                str(p.threads),
                str(p.sent),
                _fmt(p.achieved_rate, 1),
                str(sum(p.errors.values())) + (f" {p.errors}" if p.errors else ""),
                _fmt(lat.median, 1),
                _fmt(lat.p90, 1),
                _fmt(lat.p99, 1),
                _fmt(lat.max, 1),
            ]
        ],
        [
            "Each thread has its own DataScienceClient (API-key signing, no retries) and sends "
            "on a fixed schedule; at most rate x seconds requests, stopped after seconds + 15 "
            f"at the latest. Worst lateness against the schedule: {p.worst_lateness_ms:.0f} ms."
        ],
    )
    check = results.keepalive
    if check is not None:
        polling_table.notes.append(
            f"Unloaded, sequential GetJobRun ({check.requests} each): kept-alive SDK "
            f"connection p50 {check.keepalive_ms.median:.1f} ms, new connection per request "
            f"p50 {check.new_connection_ms.median:.1f} ms."
            + (
                " The ~40 ms gap is Nagle's algorithm against delayed ACK: the service "
                "answers a kept-alive connection in two TCP segments without TCP_NODELAY."
                if check.nagle_suspected
                else ""
            )
        )
    return [run_table, concurrent_table, polling_table]


# ------------------------------------------------------------------ rendering


def to_markdown(tables: Sequence[Table]) -> str:
    parts: list[str] = []
    for table in tables:
        parts.append(f"### {table.title}\n")
        parts.append("| " + " | ".join(table.columns) + " |")
        parts.append("|" + "|".join(" --- " for _ in table.columns) + "|")
        for row in table.rows:
            parts.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        parts.append("")
        for note in table.notes:
            parts.append(f"- {note}")
        if table.notes:
            parts.append("")
    return "\n".join(parts)


def print_rich(tables: Sequence[Table], header: Sequence[str]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console(width=200)
    for line in header:
        console.print(line, highlight=False)
    for table in tables:
        rich_table = RichTable(title=table.title, title_justify="left", show_lines=False)
        for column in table.columns:
            rich_table.add_column(column, overflow="fold")
        for row in table.rows:
            rich_table.add_row(*row)
        console.print(rich_table)
        for note in table.notes:
            console.print(f"  [dim]{note}[/dim]", highlight=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_json(path: Path, meta: dict[str, Any], launch: Any, service: Any) -> None:
    data: dict[str, Any] = {"meta": meta}
    if launch is not None:
        data["launch"] = _plain(launch)
        data["launch"]["summary"] = {
            key: {
                "time": _plain(v.time()),
                "rssMb": _plain(v.rss()),
                "dsCalls": _plain(v.calls()),
                "operations": v.operations(),
                "adsLoaded": v.ads_loaded_count(),
                "failures": v.failures,
            }
            for key, v in launch.variants.items()
        }
        data["launch"]["targets"] = target_rows(launch)
    if service is not None:
        data["service"] = _plain(service)
        data["service"]["summary"] = {
            "runWall": _plain(service.run_vs_nbconvert.run_wall()),
            "runService": _plain(service.run_vs_nbconvert.run_service()),
            "nbconvert": _plain(service.run_vs_nbconvert.nbconvert_wall()),
            "ratioWall": _plain(service.run_vs_nbconvert.ratio_wall()),
            "ratioService": _plain(service.run_vs_nbconvert.ratio_service()),
            "concurrentBoundHolds": service.concurrent.bound_holds,
            "concurrentAllSucceeded": service.concurrent.all_succeeded,
            "pollingLatencyMs": _plain(service.polling.latency()),
            "pollingAchievedRate": _plain(service.polling.achieved_rate),
        }
        data["service"]["polling"].pop("latencies_ms", None)
        data["service"]["polling"]["latencyCount"] = len(service.polling.latencies_ms)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def launch_chart(path: Path, results: LaunchResults) -> None:
    """Grouped bars: cold and warm launch time (log scale), peak RSS and DS calls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = ("ours-reuse", "ours-create", "baseline")
    names = ["ours\nreuse", "ours\ncreate", "baseline\nsingle-shot"]
    colors = {"cold": "#4C72B0", "warm": "#DD8452"}
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    width = 0.38
    metrics: tuple[tuple[str, Callable[[VariantResult], float], str], ...] = (
        ("launch time, s (median, log scale)", lambda r: r.time().median, "{:.2f}"),
        ("peak RSS, MB (median)", lambda r: r.rss().median, "{:.0f}"),
        ("Data Science calls per launch", lambda r: r.calls().median, "{:.0f}"),
    )
    for axis, (title, metric, label) in zip(axes, metrics, strict=True):
        for offset, mode in ((-width / 2, "cold"), (width / 2, "warm")):
            values = [metric(results.get(v, mode)) for v in variants]
            xs = [i + offset for i in range(len(variants))]
            bars = axis.bar(xs, values, width, label=mode, color=colors[mode])
            axis.bar_label(bars, labels=[label.format(v) for v in values], fontsize=8)
        axis.set_xticks(range(len(variants)), names)
        axis.set_title(title, fontsize=10)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)
    axes[0].set_yscale("log")
    axes[0].axhline(TARGET_REUSE_COLD_SECONDS, color="grey", linestyle="--", linewidth=1)
    axes[1].axhline(TARGET_REUSE_PEAK_RSS_MB, color="grey", linestyle="--", linewidth=1)
    axes[2].axhline(TARGET_CREATE_CALLS, color="grey", linestyle="--", linewidth=1)
    axes[0].legend(frameon=False)
    fig.suptitle(
        "Launch: ours vs the single-shot ADS baseline (dashed: issue 3 targets, "
        "reuse path <= 1 s and <= 128 MB, create path <= 4 calls)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
