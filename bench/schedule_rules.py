"""`python -m bench.schedule_rules [--rules N] [--seed S] [--out bench/results]`: how long
validating an iCal rule takes (issue 18, item 3).

Validates the rules the fuzz found slow and N rules generated from a seed (a FREQ and up to
four BY parts with random values, valid or not), each from one start, through the shared
`recurrence_problem` the function and the local service call. Prints the median, 99th
percentile and maximum time per rule, and how many were accepted, refused as never firing,
refused as firing too often, refused as undecided within the bound, or refused otherwise;
writes `<out>/schedule_rules.json`. Pure CPU in this process: no service, no network.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from notebook_launcher.schedule_rules import ICAL_FREQUENCIES, recurrence_problem

START = datetime(2026, 12, 8, 2, 17, 31, tzinfo=UTC)
# From the fuzz of issue 18: each ran 7 s to over 60 s before the bound.
KNOWN_SLOW = [
    "FREQ=HOURLY;BYSETPOS=2",
    "FREQ=MINUTELY;BYSETPOS=2",
    "FREQ=MINUTELY;BYSECOND=0;BYSETPOS=2",
    "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;BYEASTER=0;BYMONTH=12",
]
_PARTS: dict[str, tuple[int, int]] = {
    "BYSECOND": (0, 59),
    "BYMINUTE": (0, 59),
    "BYHOUR": (0, 23),
    "BYMONTH": (1, 12),
    "BYMONTHDAY": (-31, 31),
    "BYYEARDAY": (-366, 366),
    "BYWEEKNO": (-53, 53),
    "BYSETPOS": (-10, 10),
    "BYEASTER": (-60, 60),
}
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def generated_rules(count: int, seed: int) -> list[str]:
    """`count` rules: a FREQ, maybe an INTERVAL, and up to four BY parts of 1-3 values."""
    chooser = random.Random(seed)
    rules = []
    for _ in range(count):
        parts = [f"FREQ={chooser.choice(ICAL_FREQUENCIES)}"]
        if chooser.random() < 0.3:
            parts.append(f"INTERVAL={chooser.randint(1, 40)}")
        for name in chooser.sample([*_PARTS, "BYDAY"], chooser.randint(0, 4)):
            if name == "BYDAY":
                values = chooser.sample(_DAYS, chooser.randint(1, 3))
            else:
                low, high = _PARTS[name]
                values = [
                    str(chooser.randint(low, high) or 1) for _ in range(chooser.randint(1, 3))
                ]
            parts.append(f"{name}={','.join(values)}")
        rules.append(";".join(parts))
    return rules


def outcome(problem: str | None) -> str:
    if problem is None:
        return "accepted"
    if "could not be decided" in problem:
        return "undecided"
    if "never fire" in problem:
        return "never fires"
    if "once every" in problem:
        return "too often"
    return "other refusal"


def measure(rules: list[str]) -> dict[str, Any]:
    times: list[float] = []
    outcomes: dict[str, int] = {}
    slowest = ("", 0.0)
    for rule in rules:
        began = time.perf_counter()
        problem = recurrence_problem(rule, START)
        took = time.perf_counter() - began
        times.append(took)
        outcomes[outcome(problem)] = outcomes.get(outcome(problem), 0) + 1
        if took > slowest[1]:
            slowest = (rule, took)
    ordered = sorted(times)
    return {
        "rules": len(rules),
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
        "slowest_rule": slowest[0],
        "outcomes": dict(sorted(outcomes.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    results = {
        "known_slow": {rule: measure([rule]) for rule in KNOWN_SLOW},
        "generated": {"seed": args.seed, **measure(generated_rules(args.rules, args.seed))},
    }
    print(json.dumps(results, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "schedule_rules.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
