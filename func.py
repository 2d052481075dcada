"""OCI Functions entry point (fdk): a thin adapter around notebook_launcher's core.

Body bytes and headers go in; the core answers a status and a JSON body. Through API
Gateway (`fn-intent: httprequest`) the true status is returned; on a direct invoke, where
fdk passes only 200, 502 and 504, every error is a 502 so that `fn invoke` and Data
Integration see a failure, never a 200 without a run id.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from typing import Any

# pydantic's plugin discovery scans every installed package at import: ~20 ms of a cold start.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from fdk import response

from notebook_launcher.function.handler import Invocation, invoke

logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(name)s %(message)s")


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
    through_gateway = str(ctx.Headers().get("fn-intent", "")).lower() == "httprequest"
    if not through_gateway and status >= 400:
        status = 502
    return response.Response(
        ctx,
        response_data=json.dumps(payload),
        headers={"Content-Type": "application/json"},
        status_code=status,
    )
