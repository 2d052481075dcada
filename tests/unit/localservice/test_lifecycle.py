"""Run state transitions: conditional, timestamped, worded as OCI words them."""

from __future__ import annotations

from pathlib import Path

from notebook_launcher.localservice import lifecycle
from notebook_launcher.localservice.ids import new_ocid
from notebook_launcher.localservice.store import JOB_RUNS, Store


def accepted_run(store: Store) -> str:
    run_id = new_ocid("datasciencejobrun")
    with store.transaction() as tx:
        tx.insert(
            JOB_RUNS,
            {
                "id": run_id,
                "jobId": "j",
                "compartmentId": "c",
                "lifecycleState": "ACCEPTED",
                "timeAccepted": "2026-01-01T00:00:00.000Z",
            },
        )
    return run_id


def test_transition_happens_only_from_expected_states(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    run_id = accepted_run(store)

    started = lifecycle.transition(store, run_id, ("ACCEPTED",), "IN_PROGRESS", started=True)
    assert started is not None and started.doc["timeStarted"].endswith("Z")
    assert lifecycle.transition(store, run_id, ("ACCEPTED",), "CANCELED") is None
    finished = lifecycle.transition(
        store, run_id, ("IN_PROGRESS",), "SUCCEEDED", details="ok", finished=True
    )
    assert finished is not None
    assert finished.doc["lifecycleDetails"] == "ok" and "timeFinished" in finished.doc
    assert lifecycle.transition(store, "ocid1.unknown", ("ACCEPTED",), "FAILED") is None


def test_finish_state_precedence() -> None:
    assert lifecycle.finish_state("CANCELING", 0, runtime_exceeded_minutes=5)[0] == "CANCELED"
    state, details = lifecycle.finish_state("IN_PROGRESS", 137, runtime_exceeded_minutes=2)
    assert state == "FAILED" and "maximum runtime of 2 minutes" in details
    assert lifecycle.finish_state("IN_PROGRESS", 0)[0] == "SUCCEEDED"
    assert lifecycle.finish_state("IN_PROGRESS", 1) == (
        "FAILED",
        "Job run artifact execution failed with exit code 1.",
    )
