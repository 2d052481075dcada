"""The SQLite store: records, paging, retry tokens, transactions."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from notebook_launcher.localservice import store as store_module
from notebook_launcher.localservice.errors import InvalidatedRetryTokenError, InvalidParameterError
from notebook_launcher.localservice.store import JOBS, PIPELINE_RUNS, PROJECTS, Store


def project(n: int, name: str | None = None) -> dict[str, object]:
    return {
        "id": f"ocid1.datascienceproject.oc1.iad.p{n:03d}",
        "compartmentId": "ocid1.tenancy.oc1..t",
        "displayName": name or f"project-{n}",
        "lifecycleState": "ACTIVE",
        "timeCreated": f"2026-01-01T00:00:{n:02d}.000Z",
    }


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "db.sqlite")


def test_insert_get_replace_changes_the_etag(store: Store) -> None:
    with store.transaction() as tx:
        first = tx.insert(PROJECTS, project(1))
    got = store.get(PROJECTS, first.id)
    assert got is not None and got.doc == first.doc and got.etag == first.etag
    with store.transaction() as tx:
        second = tx.replace(PROJECTS, {**first.doc, "displayName": "renamed"})
    assert second.etag != first.etag
    assert store.get(PROJECTS, first.id).doc["displayName"] == "renamed"  # type: ignore[union-attr]
    assert store.get(JOBS, first.id) is None


def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first = Store(path)
    with first.transaction() as tx:
        tx.insert(PROJECTS, project(1))
    first.close()
    assert Store(path).get(PROJECTS, project(1)["id"]) is not None  # type: ignore[arg-type]


def test_failed_transaction_rolls_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert(PROJECTS, project(1))
        raise RuntimeError("boom")
    assert store.get(PROJECTS, project(1)["id"]) is None  # type: ignore[arg-type]


def test_query_pages_filters_and_sorts(store: Store) -> None:
    with store.transaction() as tx:
        for n in range(5):
            tx.insert(PROJECTS, project(n, name="b" if n % 2 else "a"))
        tx.insert(PROJECTS, {**project(9), "lifecycleState": "DELETED"})
        newest_first = tx.query(
            PROJECTS,
            {},
            sort_by="timeCreated",
            descending=True,
            offset=0,
            limit=2,
            exclude_states=("DELETED",),
        )
        assert [r.doc["displayName"] for r in newest_first.records] == ["a", "b"]
        assert newest_first.records[0].id.endswith("p004")
        assert newest_first.next_offset == 2
        last = tx.query(
            PROJECTS,
            {},
            sort_by="timeCreated",
            descending=True,
            offset=4,
            limit=2,
            exclude_states=("DELETED",),
        )
        assert len(last.records) == 1 and last.next_offset is None
        named = tx.query(
            PROJECTS,
            {"displayName": "b"},
            sort_by="displayName",
            descending=False,
            offset=0,
            limit=10,
        )
        assert [r.id[-4:] for r in named.records] == ["p001", "p003"]
        deleted = tx.query(
            PROJECTS,
            {"lifecycleState": "DELETED"},
            sort_by="timeCreated",
            descending=True,
            offset=0,
            limit=10,
            exclude_states=("DELETED",),
        )
        assert [r.id[-4:] for r in deleted.records] == ["p009"]


def test_retry_token_same_body_replays_different_body_conflicts(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.check_retry_token("CreateJob", "t1", "hash-a") is None
        tx.save_retry_token("CreateJob", "t1", "hash-a", "ocid1.datasciencejob.oc1.iad.x")
    with store.transaction() as tx:
        assert tx.check_retry_token("CreateJob", "t1", "hash-a") == "ocid1.datasciencejob.oc1.iad.x"
        assert tx.check_retry_token("CreateJobRun", "t1", "hash-a") is None  # per operation
        with pytest.raises(InvalidatedRetryTokenError):
            tx.check_retry_token("CreateJob", "t1", "hash-b")


def test_retry_tokens_expire_after_a_day(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with store.transaction() as tx:
        tx.save_retry_token("CreateJob", "old", "hash", "id-1")
    later = time.time() + store_module.RETRY_TOKEN_TTL_SECONDS + 1
    monkeypatch.setattr("notebook_launcher.localservice.store.time.time", lambda: later)
    with store.transaction() as tx:
        assert tx.check_retry_token("CreateJob", "old", "other-hash") is None


def test_the_store_refuses_unserialisable_documents_and_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for bad in (float("nan"), float("inf"), "\ud800"):
        doc = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": bad}
        with pytest.raises(InvalidParameterError), store.transaction() as tx:
            tx.insert(PROJECTS, doc)
        assert store.get(PROJECTS, "p1") is None
    good = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": "é"}
    with store.transaction() as tx:
        tx.insert(PROJECTS, good)
    stored = store.get(PROJECTS, "p1")
    assert stored is not None and stored.doc == good


def test_every_stored_state_of_a_run_and_its_step_runs_is_recorded_in_order(store: Store) -> None:
    run = {
        "id": "ocid1.datasciencepipelinerun.oc1.iad.r1",
        "timeAccepted": "2026-01-01T00:00:00.000Z",
        "lifecycleState": "ACCEPTED",
        "stepRuns": [
            {"stepName": "a", "lifecycleState": "WAITING"},
            {"stepName": "b", "lifecycleState": "WAITING"},
        ],
    }

    def stored(state: str, a: str, b: str) -> None:
        steps = [{"stepName": "a", "lifecycleState": a}, {"stepName": "b", "lifecycleState": b}]
        with store.transaction() as tx:
            tx.replace(PIPELINE_RUNS, {**run, "lifecycleState": state, "stepRuns": steps})

    with store.transaction() as tx:
        tx.insert(PIPELINE_RUNS, run)
    stored("IN_PROGRESS", "ACCEPTED", "WAITING")
    stored("IN_PROGRESS", "ACCEPTED", "WAITING")  # no change: nothing recorded
    stored("IN_PROGRESS", "SUCCEEDED", "IN_PROGRESS")  # a skipped its IN_PROGRESS: so recorded
    stored("SUCCEEDED", "SUCCEEDED", "SUCCEEDED")
    with store.transaction() as tx:
        found = tx.transitions(run["id"])  # type: ignore[arg-type]
        assert tx.transitions("ocid1.datasciencepipelinerun.oc1.iad.other") == []
    assert [(t.step, t.lifecycle_state) for t in found] == [
        ("a", "WAITING"),
        ("b", "WAITING"),
        (None, "ACCEPTED"),
        ("a", "ACCEPTED"),
        (None, "IN_PROGRESS"),
        ("a", "SUCCEEDED"),
        ("b", "IN_PROGRESS"),
        ("b", "SUCCEEDED"),
        (None, "SUCCEEDED"),
    ]
    assert all(t.time.endswith("Z") for t in found)
