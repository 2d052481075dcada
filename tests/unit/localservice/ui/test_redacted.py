"""The console's view of values: the one redaction rule, at any depth, in JSON strings too."""

from __future__ import annotations

import json

from notebook_launcher.localservice.ui.redacted import (
    redacted_document,
    redacted_environment,
    redacted_value,
)


def test_a_nested_secret_in_a_parameter_is_redacted_and_the_rest_shown() -> None:
    shown = redacted_value("config", {"password": "hunter2", "user": "bob"})
    assert json.loads(shown) == {"password": "<redacted>", "user": "bob"}


def test_a_secret_looking_name_hides_the_whole_value() -> None:
    assert redacted_value("api_token", {"a": 1}) == "<redacted>"
    assert redacted_value("DB_PASSWORD", "plain") == "<redacted>"


def test_a_json_string_carrying_a_secret_is_shown_redacted() -> None:
    text = json.dumps({"rows": [{"dsn": "postgres://u:p@h/db", "port": 5432}]})
    assert json.loads(redacted_value("SETTINGS", text)) == {
        "rows": [{"dsn": "<redacted>", "port": 5432}]
    }


def test_strings_without_a_secret_are_shown_as_they_are() -> None:
    assert redacted_value("REGION", "apac") == "apac"
    spaced = '{ "a" :  1 }'
    assert redacted_value("LAYOUT", spaced) == spaced  # not re-serialised
    assert redacted_value("BROKEN", "{not json") == "{not json"


def test_json_too_deep_to_inspect_is_hidden_whole() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert redacted_value("DEEP", deep) == "<redacted>"


def test_the_notebook_parameters_variable_is_redacted_inside() -> None:
    env = {
        "NOTEBOOK_PARAMETERS": json.dumps({"config": {"password": "hunter2", "user": "bob"}}),
        "TOKEN": "x",
    }
    shown = redacted_environment(env)
    assert shown["TOKEN"] == "<redacted>"
    assert json.loads(shown["NOTEBOOK_PARAMETERS"]) == {
        "config": {"password": "<redacted>", "user": "bob"}
    }


def test_a_document_is_redacted_at_any_depth_and_in_every_environment() -> None:
    document = {
        "action": {
            "details": [
                {"environmentVariables": {"SETTINGS": '{"secret": "s", "n": 1}'}},
                {"freeformTags": {"session": "abc", "team": "data"}},
            ]
        }
    }
    shown = redacted_document(document)
    assert json.loads(shown["action"]["details"][0]["environmentVariables"]["SETTINGS"]) == {
        "secret": "<redacted>",
        "n": 1,
    }
    assert shown["action"]["details"][1]["freeformTags"] == {
        "session": "<redacted>",
        "team": "data",
    }
    assert document["action"]["details"][1]["freeformTags"]["session"] == "abc"  # not changed
