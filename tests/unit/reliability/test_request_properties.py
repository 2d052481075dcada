"""Properties of request parsing under hostile input: one error type, every field named,
and no submitted value ever echoed back (it may be a secret)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from notebook_launcher.function.errors import InvalidRequestError
from notebook_launcher.function.request import LaunchRequest, parse_request
from notebook_launcher.function.settings import Settings
from tests.unit.reliability.strategies import (
    FIELDS,
    fuzz_settings,
    hostile_bodies,
    huge_strings,
    odd_text,
)

SETTINGS = Settings(
    project_id="ocid1.datascienceproject.oc1.iad.aaaa",
    compartment_id="ocid1.compartment.oc1..aaaa",
    log_group_id="ocid1.loggroup.oc1.iad.aaaa",
    output_folder="oci://bucket@namespace/runs",
)
MARKER = "Zq7-leak-marker"
# An error answer has no reason to grow with the request: far below Functions' 6 MB limit.
MAX_ERROR_BYTES = 64 * 1024


def parse_or_error(body: bytes) -> LaunchRequest | InvalidRequestError:
    """parse_request's outcome; any exception other than InvalidRequestError fails the test."""
    try:
        return parse_request(body, SETTINGS)
    except InvalidRequestError as exc:
        return exc


def assert_well_formed(error: InvalidRequestError) -> None:
    body = error.to_dict()["error"]
    assert isinstance(body, dict)
    assert body["code"] == "InvalidRequest" and error.status == 400
    assert isinstance(body["message"], str) and body["message"]
    assert body["details"], "an invalid request must name at least one problem"
    for detail in body["details"]:
        assert isinstance(detail["field"], str) and detail["field"]
        assert isinstance(detail["message"], str) and detail["message"]
    json.dumps(body)  # serializable as the function will send it


@fuzz_settings(max_examples=300)
@given(hostile_bodies)
def test_any_body_parses_or_is_one_invalid_request_error(body: bytes) -> None:
    outcome = parse_or_error(body)
    if isinstance(outcome, InvalidRequestError):
        assert_well_formed(outcome)
    else:
        assert isinstance(outcome, LaunchRequest)


@fuzz_settings(max_examples=12)
@given(huge_strings())
def test_huge_strings_are_refused_or_parsed_with_a_small_answer(body: bytes) -> None:
    outcome = parse_or_error(body)
    if isinstance(outcome, InvalidRequestError):
        assert_well_formed(outcome)
        # Names are echoed cut short: a 1 MB field name must not come back at full length.
        assert len(json.dumps(outcome.to_dict())) < MAX_ERROR_BYTES
    else:
        assert isinstance(outcome, LaunchRequest)


def test_many_unknown_fields_get_a_bounded_answer() -> None:
    body = json.dumps({f"k{i}": 1 for i in range(100_000)}).encode()
    outcome = parse_or_error(body)
    assert isinstance(outcome, InvalidRequestError)
    assert len(json.dumps(outcome.to_dict())) < MAX_ERROR_BYTES
    assert "more problems not listed" in outcome.details[-1].message


# Values of any type, with the marker in every string: wherever such a value lands in the
# request, the error must describe it without repeating it.
marked_values = st.recursive(
    st.one_of(
        st.just(MARKER),
        odd_text.map(lambda text: f"{text}{MARKER}{text}"),
        st.integers(),
        st.booleans(),
        st.none(),
        st.floats(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), children),
    ),
    max_leaves=8,
)


@fuzz_settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(FIELDS), marked_values, min_size=1, max_size=6))
def test_errors_never_echo_submitted_values(body: dict[str, Any]) -> None:
    outcome = parse_or_error(json.dumps(body).encode())
    if isinstance(outcome, InvalidRequestError):
        assert_well_formed(outcome)
        assert MARKER not in json.dumps(outcome.to_dict(), ensure_ascii=False)
        assert MARKER not in str(outcome)
