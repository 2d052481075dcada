"""Local service benchmark: a run against nbconvert, concurrent launches, GetJobRun polling.

One local service (concurrency 2 by default). The job for `examples/sales-report.ipynb` is
created first by an untimed set-up process (so the parent never imports ADS), and one
untimed run and one untimed nbconvert warm the caches.

- Run vs nbconvert: a launch through the function's handler (reuse path, ListJobs +
  CreateJobRun), then GetJobRun every 50 ms until the run is terminal; reported both as
  wall clock (launch call → terminal state seen) and as the service's own timeAccepted →
  timeFinished. Against `jupyter nbconvert --to notebook --execute` of the same notebook,
  alternating which goes first.
- Concurrent launches: N threads call the handler at once (released by a barrier); a
  monitor polls ListJobRuns(lifecycleState=IN_PROGRESS) every 100 ms for the largest number
  running at once, and the runs' own timeStarted/timeFinished give the largest overlap
  independently of the polling.
- Polling load: several threads, each with its own oci SDK DataScienceClient, call
  GetJobRun on a fixed schedule (about 100 requests/s in all) for a bounded time and count,
  against 127.0.0.1 only.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bench.launch_parent import ROOT, LaunchChild, child_environment
from bench.stats import Summary, ratio, summarize
from notebook_launcher.local_profile import local_function_config, service_namespace
from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES

NOTEBOOK = ROOT / "examples" / "sales-report.ipynb"
JUPYTER = Path(sys.executable).with_name("jupyter")
TERMINAL = frozenset(JOB_RUN_TERMINAL_STATES)
RUN_TIMEOUT = 180.0
POLL_SECONDS = 0.05

Progress = Callable[[str], None]


@dataclass
class RunTiming:
    """One run through the service, or one nbconvert execution."""

    ok: bool
    wall_seconds: float
    service_seconds: float | None = None  # timeAccepted → timeFinished
    queued_seconds: float | None = None  # timeAccepted → timeStarted
    state: str | None = None


@dataclass
class RunVsNbconvert:
    runs: list[RunTiming] = field(default_factory=list)
    nbconvert: list[RunTiming] = field(default_factory=list)

    def run_wall(self) -> Summary:
        return summarize([r.wall_seconds for r in self.runs if r.ok])

    def run_service(self) -> Summary:
        return summarize([r.service_seconds for r in self.runs if r.ok and r.service_seconds])

    def nbconvert_wall(self) -> Summary:
        return summarize([r.wall_seconds for r in self.nbconvert if r.ok])

    def ratio_wall(self) -> float:
        return ratio(self.run_wall().median, self.nbconvert_wall().median)

    def ratio_service(self) -> float:
        return ratio(self.run_service().median, self.nbconvert_wall().median)


@dataclass
class Concurrent:
    launches: int
    bound: int
    answered: int = 0
    states: dict[str, int] = field(default_factory=dict)
    max_in_progress_polled: int = 0
    polls: int = 0
    max_overlap_from_times: int = 0
    total_seconds: float = float("nan")  # barrier release → last run terminal (observed)
    service_span_seconds: float = float("nan")  # first timeAccepted → last timeFinished
    launch_seconds: list[float] = field(default_factory=list)
    timed_out: bool = False

    @property
    def succeeded(self) -> int:
        return self.states.get("SUCCEEDED", 0)

    @property
    def bound_holds(self) -> bool:
        return max(self.max_in_progress_polled, self.max_overlap_from_times) <= self.bound

    @property
    def all_succeeded(self) -> bool:
        return self.succeeded == self.launches and not self.timed_out


@dataclass
class Polling:
    target_rate: float
    duration: float
    threads: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = float("nan")
    worst_lateness_ms: float = 0.0

    def latency(self) -> Summary:
        return summarize(self.latencies_ms)

    @property
    def sent(self) -> int:
        return len(self.latencies_ms) + sum(self.errors.values())

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed else float("nan")


@dataclass
class KeepAliveCheck:
    """Unloaded, sequential GetJobRun: one SDK client (one kept-alive connection) against a
    new connection per request. A gap of about 40 ms means the service answers in two TCP
    segments without TCP_NODELAY (Nagle's algorithm meets the client's delayed ACK)."""

    requests: int
    keepalive_ms: Summary
    new_connection_ms: Summary

    @property
    def nagle_suspected(self) -> bool:
        return self.keepalive_ms.median - self.new_connection_ms.median > 25.0


@dataclass
class ServiceResults:
    concurrency: int
    run_vs_nbconvert: RunVsNbconvert
    concurrent: Concurrent
    polling: Polling
    keepalive: KeepAliveCheck | None = None
    notebook: str = NOTEBOOK.name


def _utc(value: Any) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


def _seconds(start: Any, end: Any) -> float | None:
    a, b = _utc(start), _utc(end)
    return (b - a).total_seconds() if a and b else None


class _Function:
    """The function's core called in this process, with the local profile."""

    def __init__(self, config: Mapping[str, str]) -> None:
        from notebook_launcher.function.handler import Invocation, invoke

        self._invocation = Invocation
        self._invoke = invoke
        self.config = dict(config)

    def launch(self, body: Mapping[str, Any], call_id: str) -> tuple[int, dict[str, Any]]:
        raw = json.dumps(body).encode()
        return self._invoke(self._invocation(raw, {}, self.config, None, call_id))


def _wait_terminal(client: Any, run_id: str, timeout: float = RUN_TIMEOUT) -> tuple[Any, float]:
    """Poll GetJobRun until terminal; the run and the monotonic time it was seen so."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_job_run(run_id).data
        now = time.monotonic()
        if run.lifecycle_state in TERMINAL or now >= deadline:
            return run, now
        time.sleep(POLL_SECONDS)


def _nbconvert(work: Path, index: int) -> RunTiming:
    out = work / f"nbconvert-{index}"
    out.mkdir(parents=True, exist_ok=True)
    source = out / NOTEBOOK.name
    shutil.copyfile(NOTEBOOK, source)
    env = child_environment()
    env["OUTPUT_DIR"] = str(out)
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [
                str(JUPYTER),
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
                str(source),
                "--output",
                f"executed-{index}",
                "--output-dir",
                str(out),
            ],
            cwd=out,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        ok = completed.returncode == 0 and (out / "summary.json").is_file()
    except subprocess.TimeoutExpired:
        ok = False
    return RunTiming(ok=ok, wall_seconds=time.monotonic() - started)


def _service_run(function: _Function, client: Any, body: Mapping[str, Any]) -> RunTiming:
    started = time.monotonic()
    status, answer = function.launch(body, "bench-run")
    if status != 200:
        return RunTiming(ok=False, wall_seconds=time.monotonic() - started, state=str(answer))
    run, seen = _wait_terminal(client, answer["id"])
    return RunTiming(
        ok=run.lifecycle_state == "SUCCEEDED",
        wall_seconds=seen - started,
        service_seconds=_seconds(run.time_accepted, run.time_finished),
        queued_seconds=_seconds(run.time_accepted, run.time_started),
        state=run.lifecycle_state,
    )


def run_vs_nbconvert(
    function: _Function, client: Any, body: Mapping[str, Any], runs: int, work: Path, p: Progress
) -> RunVsNbconvert:
    result = RunVsNbconvert()
    for index in range(runs):
        steps: list[str] = ["run", "nbconvert"] if index % 2 == 0 else ["nbconvert", "run"]
        for step in steps:
            if step == "run":
                timing = _service_run(function, client, body)
                result.runs.append(timing)
            else:
                timing = _nbconvert(work, index)
                result.nbconvert.append(timing)
            p(f"service {step} {index + 1}/{runs}: {timing.wall_seconds:.2f} s ok={timing.ok}")
    return result


def _max_overlap(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    events = [(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals]
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


def concurrent_launches(
    function: _Function,
    service: EmbeddedService,
    body: Mapping[str, Any],
    job_id: str,
    count: int,
    bound: int,
    p: Progress,
) -> tuple[Concurrent, list[str]]:
    result = Concurrent(launches=count, bound=bound)
    compartment = function.config["NL_COMPARTMENT_ID"]
    barrier = threading.Barrier(count + 1)
    answers: list[tuple[int, dict[str, Any], float] | None] = [None] * count
    done = threading.Event()

    def launch(index: int) -> None:
        barrier.wait(timeout=60)
        started = time.monotonic()
        status, answer = function.launch(body, f"bench-concurrent-{index}")
        answers[index] = (status, answer, time.monotonic() - started)

    def monitor() -> None:
        client = service.datascience_client()
        while not done.is_set():
            try:
                running = client.list_job_runs(
                    compartment_id=compartment,
                    job_id=job_id,
                    lifecycle_state="IN_PROGRESS",
                    limit=100,
                ).data
                result.max_in_progress_polled = max(result.max_in_progress_polled, len(running))
                result.polls += 1
            except Exception as exc:
                p(f"monitor: ListJobRuns failed: {exc}")
            done.wait(0.1)

    threads = [threading.Thread(target=launch, args=(i,), daemon=True) for i in range(count)]
    watcher = threading.Thread(target=monitor, daemon=True)
    for thread in threads:
        thread.start()
    watcher.start()
    barrier.wait(timeout=60)
    released = time.monotonic()
    for thread in threads:
        thread.join(timeout=RUN_TIMEOUT)
    run_ids = [a[1]["id"] for a in answers if a is not None and a[0] == 200]
    result.answered = len(run_ids)
    result.launch_seconds = [a[2] for a in answers if a is not None]
    p(f"concurrent: {len(run_ids)}/{count} launches answered; waiting for the runs")

    client = service.datascience_client()
    deadline = released + RUN_TIMEOUT + count * 30.0 / max(bound, 1)
    runs: dict[str, Any] = {}
    while time.monotonic() < deadline:
        runs = {run_id: client.get_job_run(run_id).data for run_id in run_ids}
        if all(r.lifecycle_state in TERMINAL for r in runs.values()):
            break
        time.sleep(0.25)
    else:
        result.timed_out = True
    result.total_seconds = time.monotonic() - released
    done.set()
    watcher.join(timeout=10)

    result.states = dict(Counter(r.lifecycle_state for r in runs.values()))
    intervals = [
        (r.time_started, r.time_finished)
        for r in runs.values()
        if _utc(r.time_started) and _utc(r.time_finished)
    ]
    result.max_overlap_from_times = _max_overlap(intervals)
    accepted = [r.time_accepted for r in runs.values() if _utc(r.time_accepted)]
    finished = [r.time_finished for r in runs.values() if _utc(r.time_finished)]
    if accepted and finished:
        result.service_span_seconds = (max(finished) - min(accepted)).total_seconds()
    return result, run_ids


def polling_load(
    service: EmbeddedService, run_ids: list[str], rate: float, duration: float, threads: int
) -> Polling:
    """GetJobRun at `rate` requests/s for `duration` s, at most rate x duration requests."""
    result = Polling(target_rate=rate, duration=duration, threads=threads)
    if not run_ids:
        return result
    per_thread = math.ceil(rate * duration / threads)
    lock = threading.Lock()
    start = time.monotonic() + 0.5
    hard_stop = start + duration + 15.0

    def poll(k: int) -> None:
        client = service.datascience_client()
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        lateness = 0.0
        for i in range(per_thread):
            due = start + (i * threads + k) / rate
            if due > start + duration or time.monotonic() > hard_stop:
                break
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                lateness = max(lateness, -wait)
            sent = time.perf_counter()
            try:
                client.get_job_run(run_ids[(i * threads + k) % len(run_ids)])
                latencies.append((time.perf_counter() - sent) * 1000)
            except Exception as exc:
                errors[type(exc).__name__] += 1
        with lock:
            result.latencies_ms.extend(latencies)
            for name, n in errors.items():
                result.errors[name] = result.errors.get(name, 0) + n
            result.worst_lateness_ms = max(result.worst_lateness_ms, lateness * 1000)

    workers = [threading.Thread(target=poll, args=(k,), daemon=True) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=max(0.0, hard_stop - time.monotonic()) + 5)
    result.elapsed = time.monotonic() - start
    return result


def keepalive_check(service: EmbeddedService, run_id: str, count: int = 20) -> KeepAliveCheck:
    """Time `count` sequential GetJobRun calls each way (see KeepAliveCheck)."""
    import oci
    import requests

    identity = service.identity
    signer = oci.signer.Signer(
        tenancy=identity.tenancy_id,
        user=identity.user_id,
        fingerprint=identity.fingerprint,
        private_key_file_location=str(identity.key_file),
    )
    url = f"{service.endpoint}/20190101/jobRuns/{run_id}"
    client = service.datascience_client()
    client.get_job_run(run_id)  # open the connection
    kept: list[float] = []
    fresh: list[float] = []
    for _ in range(count):
        sent = time.perf_counter()
        client.get_job_run(run_id)
        kept.append((time.perf_counter() - sent) * 1000)
        sent = time.perf_counter()
        with requests.Session() as session:
            session.get(url, auth=signer, timeout=30).raise_for_status()
        fresh.append((time.perf_counter() - sent) * 1000)
    return KeepAliveCheck(count, summarize(kept), summarize(fresh))


def run_service_benchmark(
    work: Path,
    *,
    runs: int,
    concurrent: int,
    concurrency: int,
    poll_seconds: float,
    poll_rate: float,
    poll_threads: int,
    progress: Progress,
) -> ServiceResults:
    """Run the whole local-service section in `work` (a scratch folder)."""
    with (
        EmbeddedService(work / "service-ds", concurrency=concurrency) as service,
        open(work / "service-children.log", "ab") as log,
    ):
        project = service.create_project(name="bench-service")
        config = local_function_config(
            cast(Any, service), project, service_namespace(service.data_dir)
        )
        body = {"noteBook": str(NOTEBOOK), "jobName": "bench-sales"}
        client = service.datascience_client()

        progress("service: creating the job and warming up (untimed)")
        setup = LaunchChild("ours", log=log)
        try:
            first = setup.launch(body, config, 120)
        finally:
            setup.close()
        if first.get("status") != 200:
            raise RuntimeError(f"set-up launch failed: {first.get('body')}")
        job_id = first["body"]["jobId"]
        warm_run, _ = _wait_terminal(client, first["body"]["id"])
        if warm_run.lifecycle_state != "SUCCEEDED":
            raise RuntimeError(f"the warm-up run ended {warm_run.lifecycle_state}")
        _nbconvert(work, -1)

        function = _Function(config)
        versus = run_vs_nbconvert(function, client, body, runs, work, progress)
        together, run_ids = concurrent_launches(
            function, service, body, job_id, concurrent, concurrency, progress
        )
        progress(
            f"concurrent: {together.succeeded}/{concurrent} SUCCEEDED in "
            f"{together.total_seconds:.1f} s, max IN_PROGRESS {together.max_in_progress_polled}"
        )
        progress(f"polling: GetJobRun at {poll_rate:.0f}/s for {poll_seconds:.0f} s")
        polling = polling_load(service, run_ids, poll_rate, poll_seconds, poll_threads)
        check = keepalive_check(service, run_ids[0]) if run_ids else None
        return ServiceResults(concurrency, versus, together, polling, check)
