"""Request validation in the local service: nested field names, limits, JSON bodies, integers."""

from __future__ import annotations

import pytest

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError


def test_infrastructure_validation_names_nested_fields() -> None:
    with pytest.raises(InvalidParameterError, match=r"infra\.blockStorageSizeInGBs"):
        validation.infrastructure(
            {
                "jobInfrastructureType": "ME_STANDALONE",
                "shapeName": "s",
                "blockStorageSizeInGBs": 10,
            },
            "infra",
        )
    with pytest.raises(InvalidParameterError, match=r"infra\.jobInfrastructureType"):
        validation.infrastructure({"jobInfrastructureType": "MULTI_NODE"}, "infra")
    with pytest.raises(MissingParameterError, match=r"infra\.subnetId"):
        validation.infrastructure(
            {"jobInfrastructureType": "STANDALONE", "shapeName": "s", "blockStorageSizeInGBs": 50},
            "infra",
        )


def test_job_configuration_limits() -> None:
    with pytest.raises(InvalidParameterError, match="commandLineArguments"):
        validation.job_configuration(
            {"jobType": "DEFAULT", "commandLineArguments": "x" * 4001}, "cfg"
        )
    with pytest.raises(InvalidParameterError, match=r"cfg\.environmentVariables\.A"):
        validation.job_configuration(
            {"jobType": "DEFAULT", "environmentVariables": {"A": 1}}, "cfg"
        )
    assert validation.job_configuration({"jobType": "DEFAULT"}, "cfg") == {"jobType": "DEFAULT"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a": NaN}', "not a finite number"),
        (b'{"a": [1, -Infinity]}', "not a finite number"),
        (b'{"a": {"b": 1e400}}', "not a finite number"),
        (b'{"a": "\\ud800"}', "not valid Unicode"),
        (b'{"\\udfff": 1}', "not valid Unicode"),
        (b'{"a": "\xed\xa0\x80"}', "not valid Unicode"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested"),
    ],
)
def test_request_bodies_with_unstorable_values_are_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidParameterError, match=problem) as caught:
        validation.parse_json_body(raw)
    assert "\\ud" not in caught.value.message and "\ud800" not in caught.value.message


def test_the_refusal_names_where_the_bad_value_is() -> None:
    with pytest.raises(InvalidParameterError, match=r"definedTags\.ops\.cost"):
        validation.parse_json_body(b'{"definedTags": {"ops": {"cost": NaN}}}')
    with pytest.raises(InvalidParameterError, match=r"items\[1\]"):
        validation.parse_json_body(b'{"items": ["ok", "\\udc00"]}')


def test_ordinary_bodies_parse() -> None:
    assert validation.parse_json_body(b'{"a": [1, 2.5, "\xc3\xa9", null, true]}') == {
        "a": [1, 2.5, "é", None, True]
    }


@pytest.mark.parametrize("text", ["²", "٣", "\U0001d7d7", "1²", "+3", " 3x"])
def test_only_ascii_digits_are_integers(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="maximumRuntimeInMinutes"):
        validation.integer(
            {"maximumRuntimeInMinutes": text}, "maximumRuntimeInMinutes", minimum=1, maximum=10
        )
    assert validation.integer({"n": " 7 "}, "n", minimum=1, maximum=10) == 7


def test_huge_integers_are_refused_where_numbers_are_expected() -> None:
    with pytest.raises(InvalidParameterError, match="ocpus"):
        validation.positive_number({"ocpus": 10**400}, "ocpus", "shape")
