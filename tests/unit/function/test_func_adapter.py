"""func.py through fdk's own request handling: JSON always, and the statuses fdk can carry.

On a direct invoke an error is answered 200 with its `{"error": ...}` body: fdk passes only
200, 502 and 504 (fdk/constants.py FN_ENFORCED_RESPONSE_CODES, fdk/event_handler.py), and for a
502 the Fn agent drops the body and answers "function failed" (fnproject/fn api/agent/agent.go
hotSlot.writeResp -> models.ErrFunctionFailed). Through API Gateway the true status is carried
in Fn-Http-Status.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from fdk import fixtures

import func


def call(
    body: bytes, *, gateway: bool = False, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    async def run() -> tuple[Any, Any, Any]:
        coro = await fixtures.setup_fn_call(
            func.handler, content=io.BytesIO(body), headers=headers, gateway=gateway
        )
        answer: tuple[Any, Any, Any] = await coro
        return answer

    data, status, response_headers = asyncio.run(run())
    text = data.decode() if isinstance(data, bytes) else str(data)
    return status, json.loads(text), dict(response_headers)


def test_invalid_request_is_200_with_the_error_body_on_direct_invoke() -> None:
    status, body, headers = call(b'{"noteBook": 5, "typo": 1}')
    assert status == 200 and "id" not in body
    error = body["error"]
    assert error["code"] == "InvalidRequest"
    assert {d["field"] for d in error["details"]} >= {"noteBook", "typo"}
    assert error["opcRequestId"]
    assert headers["content-type"] == "application/json"


def test_true_status_through_api_gateway() -> None:
    _status, body, headers = call(b"not json", gateway=True)
    assert headers.get("fn-http-status") == "400"
    assert body["error"]["code"] == "InvalidRequest"


def test_no_error_status_ever_reaches_fdk_on_a_direct_invoke() -> None:
    """Whatever the error's own status (400 here, 404/409/429/5xx elsewhere), fdk gets 200: a
    502 would be replaced by the agent's "function failed", and fdk turns any other code into 200
    anyway (fdk/event_handler.py)."""
    for body in (b"not json", b"", b'{"action": "cancel"}'):
        status, answer, headers = call(body)
        assert status == 200 and answer["error"]["code"] == "InvalidRequest"
        assert "fn-http-status" not in headers


def test_empty_body_is_a_clear_error() -> None:
    status, body, _ = call(b"")
    assert status == 200 and "empty" in body["error"]["message"] and "id" not in body


def test_bad_idempotency_header() -> None:
    status, body, _ = call(
        b'{"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.abc"}',
        headers={"idempotency-key": "spaces are not allowed"},
    )
    assert status == 200 and body["error"]["details"][0]["field"] == "header:idempotency-key"
