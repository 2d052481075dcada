"""`python -m bench.paging`: does every page of ListJobRuns cost the same? (issue 10)

Seeds a data dir with one job and RUNS finished job runs (records only: nothing executes),
starts the local service on it, and times ListJobRuns (limit 100, the SDK over HTTP) on
the first page and on the twentieth, each REPEAT times. The figure is the ratio of the
medians, page 20 over page 1: about 1 when a page costs the same wherever it is.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import oci

from bench.report import Table
from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.localservice.identity.provisioning import ensure_identity
from notebook_launcher.localservice.ids import JOB, JOB_RUN, PROJECT, new_ocid, now_text
from notebook_launcher.localservice.layout import DataDir
from notebook_launcher.localservice.store import JOB_RUNS, JOBS, PROJECTS, Store

RUNS = 2000
PAGE_LIMIT = 100
FAR_PAGE = 20
REPEAT = 15


@dataclass(frozen=True)
class PagingResults:
    """Median milliseconds of the first and the far page, and their ratio."""

    runs: int
    first_ms: float
    far_ms: float
    far_page: int

    @property
    def ratio(self) -> float:
        return self.far_ms / self.first_ms


def seed(data_dir: Path, runs: int) -> tuple[str, str]:
    """A project, a job and `runs` SUCCEEDED runs in the data dir's store; (tenancy, job)."""
    identity = ensure_identity(data_dir)
    tenancy = identity.tenancy_id
    store = Store(DataDir(data_dir).database)
    project_id, job_id = new_ocid(PROJECT), new_ocid(JOB)
    with store.transaction() as tx:
        tx.insert(
            PROJECTS,
            {
                "id": project_id,
                "timeCreated": now_text(),
                "displayName": "bench",
                "compartmentId": tenancy,
                "createdBy": identity.user_id,
                "lifecycleState": lifecycle.PROJECT_ACTIVE,
            },
        )
        tx.insert(
            JOBS,
            {
                "id": job_id,
                "timeCreated": now_text(),
                "displayName": "bench",
                "projectId": project_id,
                "compartmentId": tenancy,
                "createdBy": identity.user_id,
                "lifecycleState": lifecycle.JOB_ACTIVE,
            },
        )
        for index in range(runs):
            tx.insert(
                JOB_RUNS,
                {
                    "id": new_ocid(JOB_RUN),
                    "timeAccepted": now_text(),
                    "displayName": f"run-{index:05d}",
                    "projectId": project_id,
                    "compartmentId": tenancy,
                    "jobId": job_id,
                    "createdBy": identity.user_id,
                    "lifecycleState": lifecycle.SUCCEEDED,
                },
            )
    store.close()
    return tenancy, job_id


def _medians_ms(calls: list[Callable[[], object]], repeat: int) -> list[float]:
    """Median milliseconds of each call, the calls interleaved (one warm-up round first) so
    that drift in the machine's load falls on all of them alike."""
    samples: list[list[float]] = [[] for _ in calls]
    for round_number in range(repeat + 1):
        for index, call in enumerate(calls):
            started = time.perf_counter()
            call()
            if round_number:
                samples[index].append((time.perf_counter() - started) * 1000)
    return [statistics.median(each) for each in samples]


def run_paging_benchmark(
    work_dir: Path, runs: int = RUNS, far_page: int = FAR_PAGE, repeat: int = REPEAT
) -> PagingResults:
    data_dir = work_dir / "paging-ds"
    tenancy, job_id = seed(data_dir, runs)
    with EmbeddedService(data_dir, concurrency=1) as service:
        client = service.datascience_client()

        def page(token: str | None) -> oci.response.Response:
            kwargs = {"page": token} if token else {}
            return client.list_job_runs(tenancy, job_id=job_id, limit=PAGE_LIMIT, **kwargs)

        token: str | None = None
        for _ in range(far_page - 1):
            token = page(token).headers["opc-next-page"]
        assert len(page(token).data) == PAGE_LIMIT, "the far page is not full"
        first, far = _medians_ms([lambda: page(None), lambda: page(token)], repeat)
    return PagingResults(runs, first, far, far_page)


def paging_table(result: PagingResults) -> Table:
    return Table(
        f"Paging: ListJobRuns at {result.runs} runs, limit {PAGE_LIMIT} (median of {REPEAT})",
        ["page 1 (ms)", f"page {result.far_page} (ms)", f"ratio page {result.far_page} / page 1"],
        [[f"{result.first_ms:.1f}", f"{result.far_ms:.1f}", f"{result.ratio:.2f}"]],
        ["Keyset paging: about 1 when every page costs the same."],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-paging-") as scratch:
        result = run_paging_benchmark(Path(scratch), runs=args.runs)
    print(
        f"ListJobRuns at {result.runs} runs, limit {PAGE_LIMIT}: page 1 {result.first_ms:.1f} ms,"
        f" page {result.far_page} {result.far_ms:.1f} ms, ratio {result.ratio:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
