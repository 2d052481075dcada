"""Pipeline launches: a 1-, 10- and 100-way fan-out against the same work as N single launches.

One local service. Launch side (concurrency 1, a blocker run holding the only slot, so no
notebook executes while launches are timed, as in bench/launch.py): the function's core
in this process (warm: ADS already imported), the reuse path (the jobs and each pipeline
made by one untimed launch first). For each N: the time of one pipeline launch of an N-way
fan-out and its Data Science calls (the service's own counts), against N single launches
of the same notebook with the N parameter sets (their total time and calls). Execution
side (`--execute`, a service of concurrency C): the 100-way run executed to its end, the
most step job runs IN_PROGRESS at once sampled from GetPipelineRun, which must not exceed C.

    python -m bench.pipelines [--execute] [--concurrency C] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.launch_parent import ROOT, RUN_RESULTS
from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import FunctionClient

NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "region_step.ipynb"
BLOCKER_NOTEBOOK = ROOT / "tests" / "fixtures" / "notebooks" / "sleeps.ipynb"
WIDTHS = (1, 10, 100)
RESULTS = RUN_RESULTS / "pipelines.json"  # untracked; `make bench-publish` copies it
DATA_SCIENCE_PREFIXES = ("List", "Get", "Create", "Cancel", "Delete")
OBJECT_STORAGE = frozenset({"GetNamespace", "PutObject", "HeadObject", "GetObject", "ListObjects"})


def _ds_calls(stats: dict[str, int]) -> dict[str, int]:
    return {
        op: n
        for op, n in stats.items()
        if n and op.startswith(DATA_SCIENCE_PREFIXES) and op not in OBJECT_STORAGE
    }


def _fan_out(width: int, job: str) -> dict[str, Any]:
    return {
        "name": f"bench-fan-{width}",
        "steps": [
            {
                "name": "fan",
                "noteBook": str(NOTEBOOK),
                "jobName": job,
                "forEach": [{"region": f"r{i}"} for i in range(width)],
            }
        ],
    }


def _invoke(client: FunctionClient, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    answer = client.invoke(body, timeout=300)
    elapsed = time.perf_counter() - started
    assert "error" not in answer.body, answer.body
    return elapsed, answer.body


def launch_side(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nl-bench-pipe-") as folder:
        service = EmbeddedService(Path(folder), concurrency=1)
        service.start()
        try:
            project = service.create_project(name="bench")
            config = local_function_config(service, project, service_namespace(Path(folder)))
            client = FunctionClient(config)
            job = "bench-pipelines"
            _invoke(client, {"noteBook": str(BLOCKER_NOTEBOOK), "jobName": "bench-blocker"})
            _invoke(client, {"noteBook": str(NOTEBOOK), "jobName": job})  # the job to reuse
            rows = []
            for width in WIDTHS:
                _invoke(client, _fan_out(width, job))  # untimed: makes this width's pipeline
                pipeline_times, single_times = [], []
                pipeline_calls: dict[str, int] = {}
                single_calls: dict[str, int] = {}
                for _ in range(repeat):
                    service.reset_stats()
                    took, _body = _invoke(client, _fan_out(width, job))
                    pipeline_times.append(took)
                    pipeline_calls = _ds_calls(service.stats())
                    service.reset_stats()
                    started = time.perf_counter()
                    for i in range(width):
                        _invoke(
                            client,
                            {
                                "noteBook": str(NOTEBOOK),
                                "jobName": job,
                                "parameters": {"region": f"r{i}"},
                            },
                        )
                    single_times.append(time.perf_counter() - started)
                    single_calls = _ds_calls(service.stats())
                rows.append(
                    {
                        "width": width,
                        "pipelineLaunchSeconds": round(statistics.median(pipeline_times), 3),
                        "pipelineCalls": sum(pipeline_calls.values()),
                        "pipelineCallsByOperation": pipeline_calls,
                        "singleLaunchesSeconds": round(statistics.median(single_times), 3),
                        "singleLaunchesCalls": sum(single_calls.values()),
                        "singleCallsByOperation": single_calls,
                    }
                )
                print(json.dumps(rows[-1]), file=sys.stderr)
            return {"repeat": repeat, "rows": rows}
        finally:
            service.stop()


def execution_side(concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nl-bench-pipe-run-") as folder:
        service = EmbeddedService(Path(folder), concurrency=concurrency)
        service.start()
        try:
            project = service.create_project(name="bench")
            config = local_function_config(service, project, service_namespace(Path(folder)))
            client = FunctionClient(config)
            _, body = _invoke(client, _fan_out(100, "bench-pipelines-run"))
            ds = service.datascience_client()
            most, started = 0, time.perf_counter()
            while True:
                run = ds.get_pipeline_run(body["pipelineRunId"]).data
                running = sum(1 for s in run.step_runs if s.lifecycle_state == "IN_PROGRESS")
                most = max(most, running)
                if run.lifecycle_state in ("SUCCEEDED", "FAILED", "CANCELED"):
                    break
                time.sleep(0.25)
            states: dict[str, int] = {}
            for step in run.step_runs:
                states[step.lifecycle_state] = states.get(step.lifecycle_state, 0) + 1
            return {
                "concurrency": concurrency,
                "steps": len(run.step_runs),
                "state": run.lifecycle_state,
                "stepStates": states,
                "mostInProgressAtOnce": most,
                "boundHeld": most <= concurrency,
                "wallSeconds": round(time.perf_counter() - started, 1),
            }
        finally:
            service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="also run the 100-way fan-out")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"launch": launch_side(args.repeat)}
    if args.execute:
        result["execution"] = execution_side(args.concurrency)
        print(json.dumps(result["execution"]), file=sys.stderr)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = all(row["pipelineCalls"] == result["launch"]["rows"][0]["pipelineCalls"]
             for row in result["launch"]["rows"])  # fmt: skip
    if "execution" in result:
        ok = ok and result["execution"]["boundHeld"] and result["execution"]["state"] == "SUCCEEDED"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
