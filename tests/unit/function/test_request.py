"""Request validation: every problem at once, each naming its field, nothing echoed."""

from __future__ import annotations

import json

import pytest

from notebook_launcher.function.errors import InvalidRequestError
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings

PROJECT = "ocid1.datascienceproject.oc1.iad.aaaa"
COMPARTMENT = "ocid1.compartment.oc1..aaaa"
LOG_GROUP = "ocid1.loggroup.oc1.iad.aaaa"
FULL = {
    "noteBook": "https://example.com/nb.ipynb",
    "projectId": PROJECT,
    "compartmentId": COMPARTMENT,
    "logGroupId": LOG_GROUP,
    "outputFolder": "oci://bucket@ns/out",
}


SETTINGS_FOR_LIMITS = Settings(
    project_id=PROJECT,
    compartment_id=COMPARTMENT,
    log_group_id=LOG_GROUP,
    output_folder="oci://bucket@ns/out",
)


def problems(body: object, settings: Settings | None = None) -> dict[str, str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(InvalidRequestError) as info:
        parse_request(raw, settings or Settings())
    return {d.field: d.message for d in info.value.details}


def test_original_contract_is_accepted() -> None:
    body = {**FULL, "jobName": "nightly"}
    request = parse_request(json.dumps(body).encode(), Settings())
    assert request.noteBook == FULL["noteBook"]
    assert request.jobName == "nightly"
    assert request.action == "launch" and request.reuseJob is True


def test_all_problems_reported_at_once() -> None:
    found = problems(
        {
            "noteBook": "https://example.com/nb.ipynb",
            "projectId": "ocid1.datasciencejob.oc1.iad.aaaa",
            "compartmentId": 7,
            "shape": "VM.Standard2.1",
            "ocpus": 2,
            "notebook": "typo",
            "blockStorageSizeInGBs": 10,
            "parameters": {"class": 1, "ok": 2},
        }
    )
    assert "datascienceproject" in found["projectId"]
    assert "compartmentId" in found
    assert "Flex" in found["ocpus"]
    assert "unknown field" in found["notebook"]
    assert "blockStorageSizeInGBs" in found
    assert "parameters.class" in found
    assert found["logGroupId"].startswith("required")
    assert found["outputFolder"].startswith("required")
    assert "parameters.ok" not in found


def test_defaults_from_settings_make_fields_optional() -> None:
    settings = Settings(
        project_id=PROJECT,
        compartment_id=COMPARTMENT,
        log_group_id=LOG_GROUP,
        output_folder="oci://b@n/p",
    )
    request = parse_request(b'{"noteBook": "https://example.com/a.ipynb"}', settings)
    assert request.projectId is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("outputFolder", "s3://bucket/prefix"),
        ("outputFolder", "oci://bucket/prefix"),
        ("subnetId", "ocid1.vcn.oc1.iad.aaaa"),
        ("condaEnv", "has spaces"),
        ("idempotencyKey", "x" * 65),
        ("shape", "Standard.E4"),
        ("maxRuntimeInMinutes", 0),
        ("excludeTags", "skip"),
        ("reuseJob", "yes"),
    ],
)
def test_field_rules(field: str, value: object) -> None:
    assert field in problems({**FULL, field: value})


def test_environment_limit_counts_parameters_too() -> None:
    found = problems(
        {**FULL, "environmentVariables": {"A": "x" * 15_000}, "parameters": {"b": "y" * 6_000}}
    )
    assert "20000" in found["environmentVariables"]


def test_reserved_environment_variable_refused() -> None:
    found = problems({**FULL, "environmentVariables": {"OUTPUT_URI": "oci://x@y/z"}})
    assert "reserved" in found["environmentVariables.OUTPUT_URI"]


def test_secret_values_are_never_echoed() -> None:
    secret = "hunter2-very-secret"
    with pytest.raises(InvalidRequestError) as info:
        parse_request(
            json.dumps({**FULL, "environmentVariables": {"PASSWORD": 5, "x y": secret}}).encode(),
            Settings(),
        )
    assert secret not in json.dumps(info.value.to_dict())


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"[1]", b'"s"', b"null", b"\xff\xfe"])
def test_non_object_bodies(body: bytes) -> None:
    assert "(body)" in problems(body)


def test_status_and_cancel_need_a_run_id() -> None:
    assert "id" in problems({"action": "status"})
    assert "id" in problems({"action": "cancel", "id": "ocid1.datasciencejob.oc1.iad.a"})
    request = parse_request(
        b'{"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.abc"}', Settings()
    )
    assert request.id


def test_unknown_action() -> None:
    assert "action" in problems({"action": "delete", "id": "ocid1.datasciencejobrun.oc1.iad.a"})


def test_job_id_alone_is_enough() -> None:
    request = parse_request(b'{"jobId": "ocid1.datasciencejob.oc1.iad.abc"}', Settings())
    assert request.jobId


def test_deep_nesting_is_a_clear_error() -> None:
    body = b'{"parameters": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    assert "(body)" in problems(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"noteBook": "https://e.com/a.ipynb", "freeformTags": {"a": "\\ud800"}}',
        b'{"noteBook": "https://e.com/a.ipynb", "ocpus": NaN}',
        b'{"noteBook": "https://e.com/a.ipynb", "definedTags": {"n": {"k": Infinity}}}',
        b'{"noteBook": "https://e.com/a.ipynb", "parameters": {"x": 1e400}}',
        b'{"noteBook": "https://e.com/a.ipynb", "parameters": {"x": -Infinity}}',
    ],
)
def test_values_no_service_can_store_are_refused(body: bytes) -> None:
    """Lone surrogates and non-finite numbers would be stored by Data Science and then break
    every answer that includes them; they never leave the function."""
    assert "(body)" in problems(body)


def test_job_level_fields_are_refused_with_job_id() -> None:
    found = problems(
        {
            "jobId": "ocid1.datasciencejob.oc1.iad.abc",
            "shape": "VM.Standard2.1",
            "noteBook": "https://e.com/a.ipynb",
            "condaEnv": "x_v1",
            "reuseJob": False,
        }
    )
    assert set(found) == {"shape", "noteBook", "condaEnv", "reuseJob"}
    parse_request(
        json.dumps(
            {
                "jobId": "ocid1.datasciencejob.oc1.iad.abc",
                "parameters": {"a": 1},
                "runName": "r",
                "maxRuntimeInMinutes": 5,
            }
        ).encode(),
        Settings(),
    )


def test_exclude_tags_count_in_the_environment_budget() -> None:
    # ADS stores excludeTags as JSON in NOTEBOOK_EXCLUDE_TAGS: it counts toward OCI's 20,000.
    body = {
        "noteBook": "https://example.com/nb.ipynb",
        "excludeTags": [f"t{i:04d}" * 6 for i in range(700)],
    }
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(json.dumps(body).encode(), SETTINGS_FOR_LIMITS)
    assert any(
        p.field == "environmentVariables" and "excludeTags" in p.message
        for p in caught.value.details
    )
    few = {**body, "excludeTags": ["debug", "slow"]}
    assert parse_request(json.dumps(few).encode(), SETTINGS_FOR_LIMITS).excludeTags == [
        "debug",
        "slow",
    ]


def test_a_million_exclude_tags_are_refused_by_count() -> None:
    body = {"noteBook": "https://example.com/nb.ipynb", "excludeTags": ["x"] * 1_000_000}
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(json.dumps(body).encode(), SETTINGS_FOR_LIMITS)
    assert {p.field for p in caught.value.details} == {"excludeTags"}


def test_freeform_tags_leave_room_for_the_launchers_own_tag() -> None:
    # OCI allows 64 free-form tags; every run also carries the launcher's tag.
    base = {"noteBook": "https://example.com/nb.ipynb"}
    ok = {**base, "freeformTags": {f"k{i}": "v" for i in range(63)}}
    parse_request(json.dumps(ok).encode(), SETTINGS_FOR_LIMITS)
    too_many = {**base, "freeformTags": {f"k{i}": "v" for i in range(64)}}
    with pytest.raises(InvalidRequestError) as caught:
        parse_request(json.dumps(too_many).encode(), SETTINGS_FOR_LIMITS)
    assert "freeformTags" in {p.field for p in caught.value.details}
