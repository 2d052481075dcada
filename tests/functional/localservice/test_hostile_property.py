"""Property: hostile values posted straight to the service, with a valid signature, are
answered with an OCI-style 4xx JSON error (never a 500), store nothing, and leave lists
working.

A service of its own (nothing else writes to it) so "nothing stored" can be checked
exactly: only the project and job made by the fixture may ever exist, and no run.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.localservice.validation import MAX_JSON_DEPTH
from tests.functional.localservice.conftest import MODELS, script_artifact

API = "/20190101"
PLACEHOLDER = '"__HOSTILE__"'
KEY_PLACEHOLDER = '"__HOSTILE_KEY__"'
BOUNDED = settings(max_examples=50, deadline=None, derandomize=True)


@pytest.fixture(scope="module")
def hostile_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    service = EmbeddedService(Path(tmp_path_factory.mktemp("hostile-ds")), concurrency=1)
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def existing(hostile_service: EmbeddedService) -> dict[str, str]:
    """The only resources the service may hold: a project and an ACTIVE job."""
    client = hostile_service.datascience_client()
    tenancy = hostile_service.tenancy_id
    project = hostile_service.create_project(name="only")
    job = client.create_job(
        MODELS.CreateJobDetails(
            project_id=project,
            compartment_id=tenancy,
            job_configuration_details=MODELS.DefaultJobConfigurationDetails(
                environment_variables={"JOB_RUN_ENTRYPOINT": "main.py"}
            ),
            job_infrastructure_configuration_details=(
                MODELS.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
                    shape_name="VM.Standard.E4.Flex", block_storage_size_in_gbs=50
                )
            ),
        )
    ).data
    client.create_job_artifact(
        job.id, script_artifact("print(1)\n"), content_disposition="attachment; filename=a.zip"
    )
    return {"tenancy": tenancy, "project": project, "job": job.id}


# ------------------------------------------------------------------------- hostile values

SURROGATES = st.integers(0xD800, 0xDFFF)
ASCII_TEXT = st.text(st.characters(codec="ascii", exclude_characters='"\\'), max_size=6)

# Refused wherever they appear: not storable, or not answerable, as JSON.
ALWAYS_BAD = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999", "[NaN]"]),
    SURROGATES.map(lambda code: f'"\\u{code:04x}"'),
    st.tuples(ASCII_TEXT, SURROGATES, ASCII_TEXT).map(
        lambda t: f'"{t[0]}\\u{t[1]:04x}{t[2]}"'  # a lone surrogate inside ordinary text
    ),
    st.integers(MAX_JSON_DEPTH + 1, 30_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(MAX_JSON_DEPTH + 1, 3_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
)
UNICODE_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4).filter(
    lambda text: not text.isascii()
)
# Refused where a number is expected.
NUMERIC_BAD = st.one_of(
    ALWAYS_BAD,
    UNICODE_DIGITS.map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.integers(310, 4_000).map(lambda digits: "9" * digits),  # past any float, or any range
    st.integers(20, 300).map(lambda digits: "-" + "9" * digits),
)

# ------------------------------------------------------------------------- bodies


def project_body(ids: dict[str, str]) -> dict[str, Any]:
    return {"compartmentId": ids["tenancy"], "displayName": "hostile"}


def job_body(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "projectId": ids["project"],
        "compartmentId": ids["tenancy"],
        "jobConfigurationDetails": {
            "jobType": "DEFAULT",
            "environmentVariables": {"JOB_RUN_ENTRYPOINT": "main.py"},
            "maximumRuntimeInMinutes": 5,
        },
        "jobInfrastructureConfigurationDetails": {
            "jobInfrastructureType": "ME_STANDALONE",
            "shapeName": "VM.Standard.E4.Flex",
            "blockStorageSizeInGBs": 50,
            "jobShapeConfigDetails": {"ocpus": 1, "memoryInGBs": 16},
        },
    }


def run_body(ids: dict[str, str]) -> dict[str, Any]:
    return {
        "projectId": ids["project"],
        "compartmentId": ids["tenancy"],
        "jobId": ids["job"],
        "jobConfigurationOverrideDetails": {
            "jobType": "DEFAULT",
            "environmentVariables": {"A": "b"},
            "maximumRuntimeInMinutes": 5,
        },
    }


BUILDERS = {"projects": project_body, "jobs": job_body, "jobRuns": run_body}
# Where a hostile value may go (dotted paths; the last part is set or added).
ANY_FIELD = {
    "projects": [
        "displayName",
        "description",
        "compartmentId",
        "freeformTags.team",
        "definedTags.ops.cost",
        "somethingUnknown",
    ],
    "jobs": [
        "displayName",
        "jobConfigurationDetails.environmentVariables.NOTE",
        "jobConfigurationDetails.commandLineArguments",
        "definedTags.ops.cost",
        "jobInfrastructureConfigurationDetails.shapeName",
    ],
    "jobRuns": [
        "displayName",
        "jobConfigurationOverrideDetails.environmentVariables.NOTE",
        "freeformTags.team",
        "definedTags.ops.cost",
    ],
}
NUMERIC_FIELD = {
    "jobs": [
        "jobConfigurationDetails.maximumRuntimeInMinutes",
        "jobInfrastructureConfigurationDetails.blockStorageSizeInGBs",
        "jobInfrastructureConfigurationDetails.jobShapeConfigDetails.ocpus",
        "jobInfrastructureConfigurationDetails.jobShapeConfigDetails.memoryInGBs",
    ],
    "jobRuns": ["jobConfigurationOverrideDetails.maximumRuntimeInMinutes"],
}


def place(body: dict[str, Any], dotted: str, marker: str) -> None:
    *parents, last = dotted.split(".")
    target = body
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = marker


@st.composite
def hostile_posts(draw: st.DrawFn) -> tuple[str, str, str]:
    """(route, field, JSON text of a body holding one hostile value or key)."""
    route = draw(st.sampled_from(sorted(BUILDERS)))
    numeric = route in NUMERIC_FIELD and draw(st.booleans())
    field = draw(st.sampled_from((NUMERIC_FIELD if numeric else ANY_FIELD)[route]))
    literal = draw(NUMERIC_BAD if numeric else ALWAYS_BAD)
    as_key = not numeric and literal.startswith('"') and draw(st.booleans())
    return route, field, literal if not as_key else f"key:{literal}"


def render(ids: dict[str, str], route: str, field: str, literal: str) -> bytes:
    body = BUILDERS[route](ids)
    if literal.startswith("key:"):
        place(body, field.rsplit(".", 1)[0] + ".__HOSTILE_KEY__", "v")
        text = json.dumps(body).replace(KEY_PLACEHOLDER, literal[4:])
    else:
        place(body, field, "__HOSTILE__")
        text = json.dumps(body).replace(PLACEHOLDER, literal)
    return text.encode("utf-8")


# ------------------------------------------------------------------------- checks


def assert_oci_client_error(response: requests.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    answer = response.json()
    assert set(answer) == {"code", "message"}, answer
    assert isinstance(answer["code"], str) and answer["code"]
    assert isinstance(answer["message"], str) and answer["message"]


def listed_ids(service: EmbeddedService, kind: str, compartment: str) -> set[str]:
    response = requests.get(
        f"{service.endpoint}{API}/{kind}",
        params={"compartmentId": compartment, "limit": "1000"},
        auth=service.signer,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()}


def assert_nothing_stored(service: EmbeddedService, ids: dict[str, str]) -> None:
    assert listed_ids(service, "projects", ids["tenancy"]) == {ids["project"]}
    assert listed_ids(service, "jobs", ids["tenancy"]) == {ids["job"]}
    assert listed_ids(service, "jobRuns", ids["tenancy"]) == set()


# ------------------------------------------------------------------------- properties


@BOUNDED
@given(post=hostile_posts())
def test_hostile_bodies_are_refused_and_store_nothing(
    hostile_service: EmbeddedService, existing: dict[str, str], post: tuple[str, str, str]
) -> None:
    route, field, literal = post
    response = requests.post(
        f"{hostile_service.endpoint}{API}/{route}",
        data=render(existing, route, field, literal),
        headers={"content-type": "application/json"},
        auth=hostile_service.signer,
        timeout=30,
    )
    assert_oci_client_error(response)
    assert_nothing_stored(hostile_service, existing)


PAGE_TOKENS = st.integers(16, 60).map(
    lambda digits: base64.urlsafe_b64encode(b"offset:" + b"9" * digits).decode().rstrip("=")
)
RAW_QUERY_VALUES = st.one_of(
    UNICODE_DIGITS.map(lambda text: quote(text)),
    st.integers(16, 5_000).map(lambda digits: "9" * digits),
    PAGE_TOKENS,
    st.lists(st.integers(0x80, 0xFF), min_size=1, max_size=6).map(
        lambda codes: "".join(f"%{code:02X}" for code in codes)  # not UTF-8 (or surrogates)
    ),
    st.sampled_from(["%ED%A0%80", "%00", "-1", "1e3", "NaN"]),
)


@BOUNDED
@given(
    kind=st.sampled_from(["projects", "jobs", "jobRuns"]),
    name=st.sampled_from(["limit", "page", "displayName", "lifecycleState", "sortBy"]),
    value=RAW_QUERY_VALUES,
)
def test_hostile_list_parameters_are_answered_as_json(
    hostile_service: EmbeddedService, existing: dict[str, str], kind: str, name: str, value: str
) -> None:
    url = (
        f"{hostile_service.endpoint}{API}/{kind}?compartmentId={existing['tenancy']}&{name}={value}"
    )
    response = requests.get(url, auth=hostile_service.signer, timeout=30)
    if name in ("limit", "page"):
        assert_oci_client_error(response)  # never a number (or token) the service can use
    elif response.status_code == 200:
        assert isinstance(response.json(), list)
    else:
        assert_oci_client_error(response)
    assert_nothing_stored(hostile_service, existing)
