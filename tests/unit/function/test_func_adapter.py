"""func.py through fdk's own request handling: JSON always, and the statuses fdk can carry."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from fdk import fixtures

import func


def call(
    body: bytes, *, gateway: bool = False, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    async def run() -> tuple[Any, Any, Any]:
        coro = await fixtures.setup_fn_call(
            func.handler, content=io.BytesIO(body), headers=headers, gateway=gateway
        )
        return await coro

    data, status, response_headers = asyncio.run(run())
    text = data.decode() if isinstance(data, bytes) else str(data)
    return status, json.loads(text), dict(response_headers)


def test_invalid_request_is_502_with_json_on_direct_invoke(monkeypatch: pytest.MonkeyPatch) -> None:
    status, body, headers = call(b'{"noteBook": 5, "typo": 1}')
    assert status == 502
    error = body["error"]
    assert error["code"] == "InvalidRequest"
    assert {d["field"] for d in error["details"]} >= {"noteBook", "typo"}
    assert error["opcRequestId"]
    assert headers["content-type"] == "application/json"


def test_true_status_through_api_gateway() -> None:
    _status, body, headers = call(b"not json", gateway=True)
    assert headers.get("fn-http-status") == "400"
    assert body["error"]["code"] == "InvalidRequest"


def test_empty_body_is_a_clear_error() -> None:
    status, body, _ = call(b"")
    assert status == 502 and "empty" in body["error"]["message"]


def test_bad_idempotency_header() -> None:
    status, body, _ = call(
        b'{"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.abc"}',
        headers={"idempotency-key": "spaces are not allowed"},
    )
    assert status == 502 and body["error"]["details"][0]["field"] == "header:idempotency-key"
