"""Fault injection and call statistics."""

from __future__ import annotations

import pytest

from notebook_launcher.localservice.faults import CallStats, FaultInjector


def test_faults_are_consumed_per_operation_in_order() -> None:
    faults = FaultInjector()
    faults.add("CreateJob", status=429, count=2, delay_seconds=0)
    faults.add("CreateJob", status=None, count=1, delay_seconds=0.5)
    assert faults.take("GetJob") is None
    first, second = faults.take("CreateJob"), faults.take("CreateJob")
    assert first is not None and second is not None
    assert [first.status, second.status] == [429, 429]
    delayed = faults.take("CreateJob")
    assert delayed is not None and delayed.status is None and delayed.delay_seconds == 0.5
    assert faults.take("CreateJob") is None
    with pytest.raises(ValueError, match="status"):
        faults.add("CreateJob", status=404, count=1, delay_seconds=0)
    with pytest.raises(ValueError):
        faults.add("CreateJob", status=None, count=1, delay_seconds=0)


def test_call_stats() -> None:
    stats = CallStats()
    stats.record("B")
    stats.record("A")
    stats.record("B")
    assert stats.snapshot() == {"A": 1, "B": 2}
    stats.reset()
    assert stats.snapshot() == {}
