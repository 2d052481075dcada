"""OCI-style responses: stored values that JSON cannot carry are answered anyway."""

from __future__ import annotations

import json

from notebook_launcher.localservice.rest import ServiceJSONResponse


def test_records_stored_before_bodies_were_checked_are_still_answered() -> None:
    legacy = {"a": float("nan"), "b": "x\ud800", "\udc00": [float("inf"), 1.5]}
    body = bytes(ServiceJSONResponse(legacy).body)
    assert json.loads(body) == {"a": None, "b": "x\ufffd\ufffd\ufffd", "\ufffd" * 3: [None, 1.5]}
