"""Calling the function: its core in this process, or a deployed function through OCI.

Either way the answer is the function's status and JSON body. A deployed function answers
its errors 200 with `{"error": ...}` (on a direct invoke a 502 would lose the body to the Fn
agent's "function failed"), so an answer is an error when its status is one or its body holds
`error`. When OCI itself refuses or fails the call (no such function, not authorized, the
function crashed: FunctionInvokeExecutionFailed), the oci SDK raises a ServiceError and the
answer is built in the function's error shape, so stdout always carries one JSON object of
the same form.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

# A deployed function's timeout at most (func.yaml has 120 s; OCI allows up to 300 s).
FUNCTION_TIMEOUT_SECONDS = 120.0
INVOKE_READ_TIMEOUT_SECONDS = 320.0


@dataclass(frozen=True)
class FunctionAnswer:
    """What the function answered."""

    status: int
    body: dict[str, Any]

    @property
    def is_error(self) -> bool:
        return self.status >= 400 or "error" in self.body


class FunctionCaller(Protocol):
    """Something that invokes the function with a request body."""

    def invoke(self, body: bytes, headers: Mapping[str, str] | None = None) -> FunctionAnswer: ...

    def describe(self) -> str: ...


class LocalFunction:
    """The function's core (`handler.invoke`) in this process, with the given configuration.

    The deadline is a deployed function's (120 s). Anything the core or ADS prints goes to
    stderr, so stdout carries only the answer.
    """

    def __init__(self, config: Mapping[str, str], timeout: float = FUNCTION_TIMEOUT_SECONDS):
        self.config = dict(config)
        self.timeout = timeout

    def describe(self) -> str:
        return "the function's core, in this process"

    def invoke(self, body: bytes, headers: Mapping[str, str] | None = None) -> FunctionAnswer:
        from notebook_launcher.function.handler import Invocation, invoke

        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.timeout)
        invocation = Invocation(
            body=body,
            headers=dict(headers or {}),
            config=self.config,
            deadline=deadline.isoformat(),
        )
        with contextlib.redirect_stdout(sys.stderr):
            status, answer = invoke(invocation)
        return FunctionAnswer(status, answer)


class DeployedFunction:
    """A function deployed in OCI Functions, invoked through the oci SDK.

    `management_endpoint` overrides the region's Functions endpoint (tests use a stand-in).
    """

    def __init__(
        self,
        config: dict[str, Any],
        function_id: str,
        *,
        management_endpoint: str | None = None,
    ) -> None:
        self.config = config
        self.function_id = function_id
        self.management_endpoint = management_endpoint

    def describe(self) -> str:
        return f"function {self.function_id}"

    def invoke(self, body: bytes, headers: Mapping[str, str] | None = None) -> FunctionAnswer:
        import oci

        from notebook_launcher.console.errors import TargetUnavailableError, connection_errors

        kwargs: dict[str, Any] = {}
        if self.management_endpoint:
            kwargs["service_endpoint"] = self.management_endpoint
        try:
            management = oci.functions.FunctionsManagementClient(self.config, **kwargs)
            function = management.get_function(self.function_id).data
            client = oci.functions.FunctionsInvokeClient(
                self.config,
                service_endpoint=function.invoke_endpoint,
                timeout=(10, INVOKE_READ_TIMEOUT_SECONDS),
            )
            response = client.invoke_function(
                self.function_id, invoke_function_body=body, fn_invoke_type="sync"
            )
        except oci.exceptions.ServiceError as exc:
            return FunctionAnswer(int(exc.status), _error_body(exc))
        except connection_errors() as exc:
            raise TargetUnavailableError(
                f"cannot reach OCI Functions for {self.function_id}: {type(exc).__name__}: {exc}"
            ) from None
        return _answer(int(response.status), response.data.content, response.headers)


def _error_body(exc: Any) -> dict[str, Any]:
    """The function's error body inside an oci ServiceError, or one in its shape."""
    details = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    error = details.get("error")
    if isinstance(error, dict) and "code" in error:
        return {"error": error}
    return {
        "error": {
            "code": str(exc.code or "FunctionInvokeFailed"),
            "message": f"OCI Functions answered {exc.status}: {exc.message}",
            "details": [],
            "opcRequestId": exc.request_id,
        }
    }


def _answer(status: int, content: bytes, headers: Mapping[str, str]) -> FunctionAnswer:
    import json

    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {
            "error": {
                "code": "InvalidFunctionResponse",
                "message": "The function answered something other than a JSON object: "
                f"{content[:200]!r}",
                "details": [],
                "opcRequestId": headers.get("opc-request-id"),
            }
        }
        status = max(status, 502)
    return FunctionAnswer(status, body)
