"""Reading a run's log on OCI through Logging Search, with a fake search client."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from notebook_launcher.console.run_log import OciRunLog
from notebook_launcher.console.target import OciTarget
from tests.unit.console.test_target import write_oci_config

ACCEPTED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def entry(entry_id: str, message: str, seconds: int) -> Any:
    millis = int((ACCEPTED + dt.timedelta(seconds=seconds)).timestamp() * 1000)
    return SimpleNamespace(
        data={"datetime": millis, "logContent": {"id": entry_id, "data": {"message": message}}}
    )


class FakeSearch:
    """Answers search_logs from scripted pages; records what was asked."""

    def __init__(self, answers: list[list[tuple[list[Any], str | None]]]) -> None:
        self.answers = answers  # per read: pages of (results, next page)
        self.asked: list[tuple[Any, dict[str, Any]]] = []

    def search_logs(self, details: Any, **kwargs: Any) -> Any:
        self.asked.append((details, kwargs))
        pages = self.answers[0]
        results, next_page = pages.pop(0)
        if not pages:
            self.answers.pop(0)
        headers = {"opc-next-page": next_page} if next_page else {}
        return SimpleNamespace(data=SimpleNamespace(results=results), headers=headers)


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OciTarget:
    monkeypatch.setenv("HOME", str(tmp_path))
    write_oci_config(tmp_path / ".oci" / "config")
    return OciTarget(None, None)


def oci_run(log_id: str | None = "ocid1.log.oc1.iad.l") -> Any:
    details = (
        None
        if log_id is None
        else SimpleNamespace(log_group_id="ocid1.loggroup.oc1.iad.g", log_id=log_id)
    )
    return SimpleNamespace(
        id="ocid1.datasciencejobrun.oc1.iad.r",
        compartment_id="ocid1.compartment.oc1..c",
        lifecycle_state="IN_PROGRESS",
        time_accepted=ACCEPTED,
        log_details=details,
    )


def test_reads_every_page_in_order_then_only_what_is_new(target: OciTarget) -> None:
    search = FakeSearch(
        [
            [
                ([entry("1", "one", 1), entry("2", "two", 2)], "p2"),
                ([entry("3", "three", 3)], None),
            ],
            [([entry("3", "three", 3), entry("4", "four", 9)], None)],
        ]
    )
    log = OciRunLog(target, oci_run(), client=search)
    assert log.read_new() == "one\ntwo\nthree\n"
    assert log.read_new() == "four\n"  # "three" came again (the window overlaps); once only
    first, kwargs = search.asked[0]
    assert kwargs == {"limit": 500}
    assert first.search_query == (
        'search "ocid1.compartment.oc1..c/ocid1.loggroup.oc1.iad.g/ocid1.log.oc1.iad.l" '
        "| sort by datetime asc"
    )
    assert first.time_start == ACCEPTED - dt.timedelta(minutes=1)
    assert search.asked[1][1] == {"limit": 500, "page": "p2"}
    later, _ = search.asked[2]
    assert later.time_start == ACCEPTED + dt.timedelta(seconds=2)  # just before the last seen


def test_a_run_without_a_log_says_so(target: OciTarget) -> None:
    log = target.run_log(oci_run(log_id=None))
    assert log.read_new() == ""
    assert log.note == "the run has no log (its job was created without logging)"
