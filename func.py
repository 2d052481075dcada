"""OCI Functions entry point (fdk): a thin adapter around notebook_launcher's core.

Body bytes and headers go in; the core answers a status and a JSON body. Through API
Gateway (`fn-intent: httprequest`) the true status is returned (fdk carries it in
Fn-Http-Status). On a direct invoke (`fn invoke`, the invoke endpoint, Data Integration) fdk
passes only 200, 502 and 504, and for a 502 the Fn agent drops the function's body and answers
its own "function failed"; so an error is answered 200 with the `{"error": {...}}` body and no
`id`, the one way its code and field-named details reach the caller.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

# pydantic's plugin discovery scans every installed package at import: ~20 ms of a cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from fdk import constants, response  # sets the root logger to DEBUG: configure_logging undoes it

from notebook_launcher.function.handler import Invocation, invoke
from notebook_launcher.function.runtime_env import configure_logging, configure_matplotlib

configure_matplotlib(os.environ)
configure_logging(os.environ)


def handler(ctx: Any, data: io.BytesIO | None = None) -> response.Response:
    headers = {**dict(ctx.Headers() or {}), **dict(ctx.HTTPHeaders() or {})}
    body = data.getvalue() if data is not None else b""
    status, payload = invoke(
        Invocation(
            body=body,
            headers=headers,
            config=dict(ctx.Config() or {}),
            deadline=ctx.Deadline(),
            call_id=ctx.CallID(),
        )
    )
    intent = str(ctx.Headers().get(constants.FN_INTENT, "")).lower()
    if intent != constants.INTENT_HTTP_REQUEST:
        # A direct invoke passes only fdk's FN_ENFORCED_RESPONSE_CODES (200, 502, 504), and the
        # Fn agent drops a 502's body: the body says it is an error, so fdk's default, 200.
        status = constants.FN_DEFAULT_RESPONSE_CODE
    return response.Response(
        ctx,
        response_data=json.dumps(payload),
        headers={"Content-Type": "application/json"},
        status_code=status,
    )
