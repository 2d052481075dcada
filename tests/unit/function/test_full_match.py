"""Property: a trailing newline, carriage return or NUL never slips past a pattern check.

`$` matches before a final `\n`, so `re.match("...$")` let `"VM.Standard2.1\n"` through; every
check is now a full match. Over every pattern-checked request field and configuration value,
a valid value plus one of those characters is refused, naming the field. And the function and
the local service judge OCIDs by one grammar.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_launcher.function.errors import ConfigurationError, InvalidRequestError
from notebook_launcher.function.oci_names import (
    CONDA_SLUG_RE,
    OCI_URI_RE,
    SHAPE_RE,
    ocid_problem,
)
from notebook_launcher.function.request import ENV_NAME_RE, RETRY_TOKEN_RE, parse_request
from notebook_launcher.function.settings import Settings
from notebook_launcher.localservice import ids
from notebook_launcher.oci_facts.identifiers import OCID_RE

BOUNDED = settings(max_examples=60, deadline=None, derandomize=True)
SUFFIXES = st.sampled_from(["\n", "\r", "\x00", "\r\n"])
UNIQUE = "a" * 60
PROJECT = f"ocid1.datascienceproject.oc1.iad.{UNIQUE}"
CONFIG = {
    "NL_PROJECT_ID": PROJECT,
    "NL_COMPARTMENT_ID": f"ocid1.compartment.oc1..{UNIQUE}",
    "NL_LOG_GROUP_ID": f"ocid1.loggroup.oc1.iad.{UNIQUE}",
    "NL_OUTPUT_FOLDER": "oci://out@ns/runs",
}
SETTINGS = Settings.from_config(CONFIG)
LAUNCH = {"noteBook": "https://example.com/nb.ipynb"}


def ocids(resource_type: str) -> st.SearchStrategy[str]:
    return st.from_regex(OCID_RE, fullmatch=True).map(
        lambda v: "ocid1." + resource_type + "." + v.split(".", 2)[2]
    )


# field -> (valid values, the body around it); every field the request checks with a pattern.
REQUEST_FIELDS: dict[str, tuple[st.SearchStrategy[str], dict[str, Any]]] = {
    "projectId": (ocids("datascienceproject"), LAUNCH),
    "compartmentId": (ocids("compartment") | ocids("tenancy"), LAUNCH),
    "logGroupId": (ocids("loggroup"), LAUNCH),
    "logId": (ocids("log"), LAUNCH),
    "subnetId": (ocids("subnet"), LAUNCH),
    "jobId": (ocids("datasciencejob"), {}),
    "id": (ocids("datasciencejobrun"), {"action": "status"}),
    "outputFolder": (st.from_regex(OCI_URI_RE, fullmatch=True), LAUNCH),
    "shape": (st.from_regex(SHAPE_RE, fullmatch=True), LAUNCH),
    "condaEnv": (
        st.from_regex(CONDA_SLUG_RE, fullmatch=True) | st.from_regex(OCI_URI_RE, fullmatch=True),
        LAUNCH,
    ),
    "idempotencyKey": (st.from_regex(RETRY_TOKEN_RE, fullmatch=True), LAUNCH),
}


def _problem_fields(body: dict[str, Any]) -> set[str]:
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(json.dumps(body).encode(), SETTINGS)
    return {p.field for p in caught.value.details}


@pytest.mark.parametrize("field", sorted(REQUEST_FIELDS))
@BOUNDED
@given(data=st.data(), suffix=SUFFIXES)
def test_request_field_with_trailing_control_character_is_refused(
    field: str, data: st.DataObject, suffix: str
) -> None:
    values, around = REQUEST_FIELDS[field]
    value = data.draw(values)
    body = {**around, field: value}
    parse_request(json.dumps(body).encode(), SETTINGS)  # the value itself is valid
    assert field in _problem_fields({**body, field: value + suffix})


@BOUNDED
@given(name=st.from_regex(ENV_NAME_RE, fullmatch=True), suffix=SUFFIXES)
def test_environment_variable_name_with_trailing_control_character_is_refused(
    name: str, suffix: str
) -> None:
    body = {**LAUNCH, "environmentVariables": {f"X{name}": "v"}}
    parse_request(json.dumps(body).encode(), SETTINGS)
    fields = _problem_fields({**LAUNCH, "environmentVariables": {f"X{name}{suffix}": "v"}})
    assert any(f.startswith("environmentVariables.") for f in fields), fields


CONFIG_VALUES: dict[str, st.SearchStrategy[str]] = {
    "NL_PROJECT_ID": ocids("datascienceproject"),
    "NL_COMPARTMENT_ID": ocids("compartment"),
    "NL_LOG_GROUP_ID": ocids("loggroup"),
    "NL_LOG_ID": ocids("log"),
    "NL_SUBNET_ID": ocids("subnet"),
    "NL_OUTPUT_FOLDER": st.from_regex(OCI_URI_RE, fullmatch=True),
    "NL_SHAPE": st.from_regex(SHAPE_RE, fullmatch=True),
    "NL_CONDA_ENV": st.from_regex(CONDA_SLUG_RE, fullmatch=True),
}


@pytest.mark.parametrize("key", sorted(CONFIG_VALUES))
@BOUNDED
@given(data=st.data(), suffix=SUFFIXES)
def test_configuration_value_with_trailing_control_character_is_refused(
    key: str, data: st.DataObject, suffix: str
) -> None:
    value = data.draw(CONFIG_VALUES[key])
    Settings.from_config({**CONFIG, key: value})  # the value itself is valid
    with pytest.raises(ConfigurationError, match=key):
        Settings.from_config({**CONFIG, key: value + suffix})


def test_configuration_values_are_still_trimmed_of_spaces() -> None:
    assert Settings.from_config({**CONFIG, "NL_SHAPE": "  VM.Standard2.1\t"}).shape == (
        "VM.Standard2.1"
    )


OCID_LIKE = st.from_regex(
    r"ocid1\.[a-z0-9]{1,12}\.[a-z0-9-]{1,4}\.[a-z0-9-]{0,6}\.[A-Za-z0-9._-]{1,70}", fullmatch=True
)
EDITS = st.sampled_from(["", "\n", "\r", "\x00", " ", "A", "."])


@BOUNDED
@given(value=OCID_LIKE, edit=EDITS, upper=st.booleans())
def test_function_and_local_service_agree_on_ocids(value: str, edit: str, upper: bool) -> None:
    candidate = (value.upper() if upper else value) + edit
    kind = candidate.split(".")[1] if candidate.count(".") >= 1 else "x"
    function_accepts = ocid_problem(candidate, (kind,)) is None
    service_accepts = ids.is_ocid(candidate, kind)
    assert function_accepts == service_accepts, candidate


def test_uppercase_unique_part_follows_oci_grammar_in_both() -> None:
    # OCI's grammar leaves the unique part's format to each service, and OCI's SDK check allows
    # either case; both the function and the local service follow it.
    value = "ocid1.datascienceproject.oc1.iad.AAAAaaaa" + "b" * 52
    assert ocid_problem(value, ("datascienceproject",)) is None
    assert ids.is_ocid(value, "datascienceproject")
    assert not ids.is_ocid(value + "\n", "datascienceproject")
