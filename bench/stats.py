"""Small summaries of measured samples: median, min, max and nearest-rank percentiles."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """n samples, their median, extremes and tail percentiles."""

    n: int
    median: float
    min: float
    max: float
    p90: float
    p99: float

    def span(self, digits: int = 2, scale: float = 1.0) -> str:
        """'median (min-max)' with `digits` decimals, values multiplied by `scale`."""
        if self.n == 0:
            return "n/a"
        m, lo, hi = (round(v * scale, digits) for v in (self.median, self.min, self.max))
        return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in [0, 1]) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(samples: Sequence[float]) -> Summary:
    """A Summary of samples (all NaN when there are none)."""
    if not samples:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan)
    return Summary(
        n=len(samples),
        median=statistics.median(samples),
        min=min(samples),
        max=max(samples),
        p90=percentile(samples, 0.90),
        p99=percentile(samples, 0.99),
    )


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when either is missing or the denominator is 0."""
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return float("nan")
    return numerator / denominator
