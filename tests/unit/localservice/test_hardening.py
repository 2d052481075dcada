"""Hostile inputs met below the HTTP layer: headers, bodies, artifacts, stored values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.app import ServiceJSONResponse
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.store import PROJECTS, Store

# ------------------------------------------------------------------------- Authorization


# ------------------------------------------------------------------------- JSON bodies


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


# ------------------------------------------------------------------------- stored values


def test_the_store_refuses_unserialisable_documents_and_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for bad in (float("nan"), float("inf"), "\ud800"):
        doc = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": bad}
        with pytest.raises(InvalidParameterError), store.transaction() as tx:
            tx.insert(PROJECTS, doc)
        assert store.get(PROJECTS, "p1") is None
    good = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": "é"}
    with store.transaction() as tx:
        tx.insert(PROJECTS, good)
    stored = store.get(PROJECTS, "p1")
    assert stored is not None and stored.doc == good


def test_records_stored_before_bodies_were_checked_are_still_answered() -> None:
    legacy = {"a": float("nan"), "b": "x\ud800", "\udc00": [float("inf"), 1.5]}
    body = ServiceJSONResponse(legacy).body
    assert json.loads(body) == {"a": None, "b": "x\ufffd\ufffd\ufffd", "\ufffd" * 3: [None, 1.5]}


# ------------------------------------------------------------------------- object names


# ------------------------------------------------------------------------- artifacts


# ------------------------------------------------------------------------- run setup
