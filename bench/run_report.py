"""What the run report costs: its size, and the time it adds to a run.

One local service (concurrency 1). Two jobs run the same prepared notebook
(`examples/sales-report.ipynb`, parameters cell injected) with the same settings: one made
by the launcher (its artifact runs ADS's driver, then the report writer) and one made by
ADS's own `Job.create()` from the same spec (ADS's driver alone: the run as it was before
run reports). Runs alternate between the two, one at a time; a run's time is GetJobRun's
timeFinished - timeStarted (the service's own clock: the entrypoint process from start to
exit). Medians of N after one untimed warm-up run of each.

    python -m bench.run_report [N]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import oci

from bench.launch_parent import ROOT
from notebook_launcher.function import ads_job
from notebook_launcher.function.job_spec import resolve_job
from notebook_launcher.function.parameters import prepare_notebook
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings
from notebook_launcher.local_profile import OUTPUT_BUCKET, local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import FunctionClient, wait_for_run

NOTEBOOK = ROOT / "examples" / "sales-report.ipynb"
PARAMETERS = {"region": "apac", "months": 6}
WRITER_LINE = re.compile(r"notebook-launcher: run report written in ([0-9.]+) s")


def _seconds(run: Any) -> float:
    return float((run.time_finished - run.time_started).total_seconds())


def main(repeats: int = 7) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nl-bench-report-") as folder:
        service = EmbeddedService(Path(folder), concurrency=1)
        service.start()
        try:
            return _measure(service, repeats)
        finally:
            service.stop()


def _measure(service: EmbeddedService, repeats: int) -> dict[str, Any]:
    project = service.create_project(name="bench")
    config = local_function_config(service, project, service_namespace(Path(service.data_dir)))
    client = FunctionClient(config)
    body = {"noteBook": str(NOTEBOOK), "jobName": "bench-report", "parameters": PARAMETERS}
    first = client.invoke(body, timeout=120).body
    with_report_job = first["jobId"]
    wait_for_run(service, first["id"], 120)

    settings = Settings.from_config(config)
    request = parse_request(json.dumps(body).encode(), settings)
    source = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    prepared = prepare_notebook(source)
    spec = resolve_job(request, settings, NOTEBOOK.name, prepared)
    auth = {
        "config": oci.config.from_file(config["NL_OCI_CONFIG_FILE"]),
        "client_kwargs": {"service_endpoint": service.endpoint},
    }
    with tempfile.TemporaryDirectory() as notebook_dir:
        path = ads_job.write_notebook(notebook_dir, NOTEBOOK.name, prepared)
        without_report_job = ads_job.build_job(spec, path, auth).create().id

    times: dict[str, list[float]] = {"with report": [], "without report": []}
    writer_seconds: list[float] = []
    jobs = {"with report": with_report_job, "without report": without_report_job}
    sizes: dict[str, int] = {}
    for round_index in range(repeats + 1):
        order = list(jobs) if round_index % 2 == 0 else list(reversed(jobs))
        for variant in order:
            answer = client.invoke({"jobId": jobs[variant], "parameters": PARAMETERS}).body
            run = wait_for_run(service, answer["id"], 120)
            assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
            if round_index:  # the first round is the warm-up
                times[variant].append(_seconds(run))
                found = WRITER_LINE.search(service.logs(answer["id"]))
                if found:
                    writer_seconds.append(float(found.group(1)))
            if variant == "with report":
                folder = answer["outputUri"].split("@", 1)[1].split("/", 1)[1]
                for name in ("report.json", "sales-report.html", "sales-report.ipynb"):
                    file = service.object_path(service.namespace, OUTPUT_BUCKET, f"{folder}/{name}")
                    sizes[name] = Path(file).stat().st_size
            time.sleep(0.2)
    medians = {variant: statistics.median(values) for variant, values in times.items()}
    return {
        "repeats": repeats,
        "runSeconds": {v: [round(t, 3) for t in values] for v, values in times.items()},
        "medianSeconds": {v: round(m, 3) for v, m in medians.items()},
        "addedSeconds": round(medians["with report"] - medians["without report"], 3),
        "writerSecondsMedian": round(statistics.median(writer_seconds), 3),
        "writerSeconds": writer_seconds,
        "bytes": sizes,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7), indent=2))
