"""DeadlineRetryStrategy: retries what is retryable, and never past the deadline."""

from __future__ import annotations

import time

import oci
import pytest

from notebook_launcher.function.deadline import (
    Deadline,
    DeadlineExceeded,
    DeadlineRetryStrategy,
    is_retryable,
)
from notebook_launcher.function.errors import ServiceUnavailableError, TooManyRequestsError
from notebook_launcher.function.oci_edge import translate


def service_error(status: int, code: str) -> oci.exceptions.ServiceError:
    return oci.exceptions.ServiceError(status, code, {"opc-request-id": "req-1"}, code)


def flaky(failures: list[BaseException]):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def call() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    return call, calls


def test_retries_throttling_and_server_errors_then_succeeds() -> None:
    call, calls = flaky(
        [service_error(429, "TooManyRequests"), service_error(500, "InternalServerError")]
    )
    strategy = DeadlineRetryStrategy(Deadline.after(30), base_sleep=0.01)
    assert strategy.make_retrying_call(call) == "ok"
    assert calls["n"] == 3


def test_client_errors_are_not_retried() -> None:
    call, calls = flaky([service_error(404, "NotAuthorizedOrNotFound")])
    with pytest.raises(oci.exceptions.ServiceError):
        DeadlineRetryStrategy(Deadline.after(30)).make_retrying_call(call)
    assert calls["n"] == 1


def test_stops_before_the_deadline() -> None:
    errors: list[BaseException] = [service_error(503, "ServiceUnavailable") for _ in range(1000)]
    call, calls = flaky(errors)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        DeadlineRetryStrategy(
            Deadline.after(2.5), base_sleep=0.05, max_sleep=0.2
        ).make_retrying_call(call)
    assert time.monotonic() - started < 2.5
    assert calls["n"] >= 2
    mapped = translate(info.value, "CreateJobRun")
    assert isinstance(mapped, ServiceUnavailableError) and mapped.status == 503
    assert "try again" in mapped.message and mapped.opc_request_id == "req-1"


def test_no_attempt_without_time() -> None:
    call, calls = flaky([])
    with pytest.raises(DeadlineExceeded):
        DeadlineRetryStrategy(Deadline.after(0.2)).make_retrying_call(call)
    assert calls["n"] == 0


def test_retryable_classification() -> None:
    assert is_retryable(service_error(429, "TooManyRequests"))
    assert is_retryable(ConnectionError())
    assert not is_retryable(service_error(409, "IncorrectState"))
    assert not is_retryable(ValueError())


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (404, "NotAuthorizedOrNotFound", 404),
        (409, "InvalidatedRetryToken", 409),
        (409, "IncorrectState", 409),
        (429, "TooManyRequests", 429),
        (400, "InvalidParameter", 400),
        (500, "InternalServerError", 502),
        (503, "ServiceUnavailable", 503),
        (401, "NotAuthenticated", 502),
    ],
)
def test_translation(status: int, code: str, expected: int) -> None:
    error = translate(service_error(status, code), "CreateJob")
    assert error.status == expected and error.opc_request_id == "req-1"
    assert "CreateJob" in error.message


def test_throttle_maps_to_429() -> None:
    assert isinstance(translate(service_error(429, "TooManyRequests"), "X"), TooManyRequestsError)


def test_deadline_from_fn_header() -> None:
    deadline = Deadline.from_iso("2000-01-01T00:00:00Z", margin=1)
    assert deadline.remaining() < 0
    assert 25 < Deadline.from_iso(None, margin=0).remaining() <= 30
