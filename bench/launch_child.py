"""The measured process of the launch benchmark: `python -m bench.launch_child ours|baseline`.

It records the monotonic clock as its first act, imports the implementation (ours: the
function's fdk-free handler; baseline: `bench.baseline_single_shot`, which imports ADS), then
reads one JSON command per stdin line (`{"body": ..., "config": ...}`), performs the launch
and answers one `BENCH <json>` line on stdout per command with its clock readings, its own
peak RSS so far and whether `ads` is in `sys.modules`.

Peak RSS is the kernel's high-water mark of this process's own memory (VmHWM in
/proc/self/status). `ru_maxrss` is not used for it: on Linux a process inherits, through
fork/vfork and exec, the high-water mark of the process that spawned it, so a child of a
larger parent reports the parent's size. Anything else a library prints on
stdout is ignored by the parent. A cold measurement sends one command, a warm one several.
"""

import time

T_MAIN = time.monotonic()

import json  # noqa: E402 - the clock is read before anything else is imported
import resource  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from typing import Any  # noqa: E402

RESULT_PREFIX = "BENCH "


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB (VmHWM; ru_maxrss where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


Launch = Callable[[Mapping[str, Any], Mapping[str, str]], tuple[int, dict[str, Any]]]


def _load(impl: str) -> Launch:
    if impl == "ours":
        from notebook_launcher.function.handler import Invocation, invoke

        def ours(body: Mapping[str, Any], config: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
            return invoke(Invocation(json.dumps(body).encode(), {}, dict(config), None, None))

        return ours
    if impl == "baseline":
        from bench import baseline_single_shot

        def baseline(
            body: Mapping[str, Any], config: Mapping[str, str]
        ) -> tuple[int, dict[str, Any]]:
            try:
                return 200, baseline_single_shot.launch(body, config)
            except Exception as exc:
                return 500, {"error": f"{type(exc).__name__}: {exc}"}

        return baseline
    raise SystemExit(f"unknown implementation {impl!r}")


def main() -> int:
    impl = sys.argv[1] if len(sys.argv) > 1 else "ours"
    launch = _load(impl)
    t_imported = time.monotonic()
    rss_imported_kb = peak_rss_kb()
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        t_start = time.monotonic()
        try:
            status, body = launch(command["body"], command["config"])
        except Exception:
            status, body = 599, {"error": traceback.format_exc()}
        t_answer = time.monotonic()
        result = {
            "status": status,
            "body": body,
            "tMain": T_MAIN,
            "tImported": t_imported,
            "tStart": t_start,
            "tAnswer": t_answer,
            "maxRssKb": peak_rss_kb(),
            "ruMaxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "maxRssAfterImportKb": rss_imported_kb,
            "adsLoaded": "ads" in sys.modules,
            "modules": len(sys.modules),
        }
        sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
