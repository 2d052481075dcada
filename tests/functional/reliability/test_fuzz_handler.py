"""Hostile bodies through func.handler and fdk, directly and through API Gateway.

The function runs with its production guards (no local notebook paths) against the session's
local service. For every body: a JSON error with a code, 200 without `id` on a direct invoke
(where a 502 would lose the body) and a 4xx through the gateway, no exception out of the
handler, and no creating call reaches Data Science. Valid-looking launches whose notebook
cannot be fetched are errors too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import Answer, FunctionClient
from tests.functional.reliability.conftest import all_records, mutating_calls
from tests.unit.reliability.strategies import (
    deep_nesting,
    fuzz_settings,
    hostile_bodies,
    huge_strings,
    unreachable_launches,
)

REFUSALS = {"InvalidRequest", "NotebookFetchFailed", "InvalidNotebook", "NotFound"}


@pytest.fixture(scope="module")
def guarded(function: FunctionClient) -> FunctionClient:
    """The function as deployed: notebooks only from https:// or oci://."""
    return function.with_config(NL_ALLOW_LOCAL_NOTEBOOKS="false")


@pytest.fixture
def untouched(service: EmbeddedService) -> Iterator[EmbeddedService]:
    """Fails the test if a project or job appeared or changed, or a run appeared, during it."""
    before = all_records(service)
    yield service
    after = all_records(service)
    assert after["jobs"] == before["jobs"]
    # Runs of earlier tests may still be finishing; none may be added.
    assert set(after["runs"]) == set(before["runs"])
    assert after["projects"] == before["projects"]


def assert_refused(answer: Answer, gateway: bool) -> dict[str, Any]:
    """A well-formed JSON error with the status the contract gives the invocation mode."""
    if gateway:
        assert 400 <= answer.status < 500, answer
    else:
        assert answer.status == 200 and "id" not in answer.body, answer
    error = answer.error
    assert error["code"] in REFUSALS, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == {"field", "message"}, detail
    assert isinstance(error.get("opcRequestId"), str) and error["opcRequestId"]
    return error


def invoke_creating_nothing(
    service: EmbeddedService, fn: FunctionClient, body: bytes | dict[str, Any], gateway: bool
) -> Answer:
    before = service.stats()
    answer = fn.invoke(body, gateway=gateway, timeout=30)
    assert mutating_calls(before, service.stats()) == {}, answer
    return answer


@fuzz_settings(max_examples=250)
@given(body=hostile_bodies, gateway=st.booleans())
def test_hostile_bodies_get_json_errors_and_create_nothing(
    untouched: EmbeddedService, guarded: FunctionClient, body: bytes, gateway: bool
) -> None:
    assert_refused(invoke_creating_nothing(untouched, guarded, body, gateway), gateway)


@fuzz_settings(max_examples=8)
@given(body=huge_strings(), gateway=st.booleans())
def test_huge_strings_get_json_errors_and_create_nothing(
    untouched: EmbeddedService, guarded: FunctionClient, body: bytes, gateway: bool
) -> None:
    assert_refused(invoke_creating_nothing(untouched, guarded, body, gateway), gateway)


@fuzz_settings(max_examples=8)
@given(body=deep_nesting(), gateway=st.booleans())
def test_deep_nesting_gets_json_errors_and_creates_nothing(
    untouched: EmbeddedService, guarded: FunctionClient, body: bytes, gateway: bool
) -> None:
    assert_refused(invoke_creating_nothing(untouched, guarded, body, gateway), gateway)


@fuzz_settings(max_examples=25)
@given(body=unreachable_launches(), gateway=st.booleans())
def test_unfetchable_notebooks_are_errors_that_create_nothing(
    untouched: EmbeddedService, guarded: FunctionClient, body: dict[str, Any], gateway: bool
) -> None:
    error = assert_refused(invoke_creating_nothing(untouched, guarded, body, gateway), gateway)
    assert error["code"] == "NotebookFetchFailed", error
    host = body["noteBook"].split("/")[2]
    assert host in error["message"]


EDGE_CASES = [
    b"",
    b"   \n",
    b"null",
    b"[]",
    b'"noteBook"',
    b"\xef\xbb\xbf{}",
    json.dumps({"noteBook": "https://x.invalid/n.ipynb"}).encode("utf-16"),
    b'{"noteBook": "https://x.invalid/n.ipynb", "parameters": {"a": NaN}}',
    b'{"noteBook": "https://x.invalid/n.ipynb", "ocpus": Infinity}',
    b'{"noteBook": "https://x.invalid/n.ipynb", "parameters": {"\\ud800": 1}}',
    b'{"noteBook": "https://x.invalid/\\ud800.ipynb"}',
    b'{"noteBook": "https://x.invalid/n.ipynb", "jobName": "a\\u0000\\u202eb"}',
    b'{"noteBook": 1, "noteBook": "https://x.invalid/n.ipynb"}',
    b'{"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.nosuchrun"}',
    b'{"jobId": "ocid1.datasciencejob.oc1.iad.nosuchjob"}',
    b'{"noteBook": "oci://nosuchbucket@nosuchnamespace/n.ipynb"}',
]


@pytest.mark.parametrize("gateway", [False, True], ids=["direct", "gateway"])
def test_edge_case_bodies(
    untouched: EmbeddedService, guarded: FunctionClient, gateway: bool
) -> None:
    for body in EDGE_CASES:
        answer = invoke_creating_nothing(untouched, guarded, body, gateway)
        try:
            assert_refused(answer, gateway)
        except AssertionError as exc:
            raise AssertionError(f"body {body[:80]!r}: {exc}") from None


@pytest.mark.parametrize(
    "url",
    [
        "https://x.invalid:99999/n.ipynb",
        "https://x.invalid:http/n.ipynb",
        "https://x.invalid:-1/n.ipynb",
        "https://[::1/n.ipynb",
        "https://[not-an-address]/n.ipynb",
        "https://x\uff03.invalid/n.ipynb",
    ],
)
def test_malformed_notebook_urls_are_fetch_errors(
    service: EmbeddedService, guarded: FunctionClient, url: str
) -> None:
    answer = invoke_creating_nothing(service, guarded, {"noteBook": url}, True)
    assert answer.status == 400, answer
    assert answer.error["code"] == "NotebookFetchFailed", answer


def test_local_path_with_a_nul_is_a_fetch_error(
    service: EmbeddedService, function: FunctionClient
) -> None:
    answer = invoke_creating_nothing(service, function, {"noteBook": "nb\u0000.ipynb"}, True)
    assert answer.status == 400, answer
    assert answer.error["code"] == "NotebookFetchFailed", answer
