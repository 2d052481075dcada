"""Fast checks of the benchmark's pure helpers (the benchmark itself runs in `make bench`)."""

from __future__ import annotations

import datetime as dt
import math

from bench.launch import parse_importtime
from bench.launch_child import peak_rss_kb
from bench.report import Table, to_markdown
from bench.service import _max_overlap
from bench.stats import percentile, ratio, summarize


def test_summary_and_nearest_rank_percentiles() -> None:
    samples = [float(v) for v in range(1, 101)]
    summary = summarize(samples)
    assert (summary.n, summary.median, summary.min, summary.max) == (100, 50.5, 1.0, 100.0)
    assert summary.p90 == 90.0 and summary.p99 == 99.0
    assert percentile([3.0], 0.99) == 3.0
    assert summarize([]).n == 0 and math.isnan(summarize([]).median)
    assert summarize([0.5, 1.5, 1.0]).span(2) == "1.00 (0.50-1.50)"


def test_ratio_handles_missing_values() -> None:
    assert ratio(6.0, 2.0) == 3.0
    assert math.isnan(ratio(1.0, 0.0)) and math.isnan(ratio(float("nan"), 1.0))


def test_importtime_is_attributed_to_packages_and_first_level_imports() -> None:
    text = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       100 |        100 |     oci._vendor.six\n"
        "import time:       200 |        300 |   oci._vendor\n"
        "import time:       300 |        600 | oci\n"
        "import time:        50 |         50 | json\n"
    )
    cost = parse_importtime(text)
    assert cost.top_level == [("oci", 0.0006), ("json", 0.00005)]
    packages = dict(cost.by_package)
    assert packages.keys() == {"oci", "json"}
    assert math.isclose(packages["oci"], 0.0006) and math.isclose(packages["json"], 0.00005)
    assert math.isclose(cost.total_seconds, 0.00065)


def test_max_overlap_counts_an_end_before_a_start_at_the_same_instant() -> None:
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    s = dt.timedelta(seconds=1)
    assert _max_overlap([(t, t + 2 * s), (t + s, t + 3 * s), (t + 2 * s, t + 4 * s)]) == 2
    assert _max_overlap([(t, t + s), (t + s, t + 2 * s)]) == 1
    assert _max_overlap([]) == 0


def test_markdown_table_escapes_pipes() -> None:
    text = to_markdown([Table("T", ["a", "b"], [["x|y", "1"]], ["a note"])])
    assert "| x\\|y | 1 |" in text and "- a note" in text


def test_peak_rss_is_this_process_size() -> None:
    assert 1_000 < peak_rss_kb() < 10_000_000


def test_the_bench_says_whether_the_environment_has_bytecode() -> None:
    from bench.run import _bytecode, _bytecode_line

    info = _bytecode()
    assert set(info["compiled"]) == {"oci", "pydantic", "ads", "fdk", "notebook_launcher"}
    with_pyc = {"bytecode": {"compiled": {"oci": True}, "dontWriteBytecode": True}}
    assert _bytecode_line(with_pyc).startswith("Bytecode: .pyc present for oci")
    without = {"bytecode": {"compiled": {"oci": True, "ads": False}, "dontWriteBytecode": True}}
    assert _bytecode_line(without).startswith("WARNING: no bytecode for ads")


def test_a_bench_run_writes_outside_the_tracked_tree() -> None:
    from bench.launch_parent import PUBLISHED_RESULTS, ROOT, RUN_RESULTS
    from bench.pipelines import RESULTS

    assert RUN_RESULTS == ROOT / ".bench" and RESULTS.parent == RUN_RESULTS
    assert ".bench/" in (ROOT / ".gitignore").read_text()
    assert PUBLISHED_RESULTS != RUN_RESULTS
