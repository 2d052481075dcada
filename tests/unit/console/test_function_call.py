"""Invoking a deployed function through the real oci SDK, against a stand-in for OCI Functions.

The stand-in answers GetFunction (with its own address as the invoke endpoint) and the
invoke call, the way OCI does: the function's JSON with 200 (its errors too: a direct invoke
cannot carry the function's own status), or OCI's own error when the function failed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import oci
import pytest

from notebook_launcher.console.errors import ConsoleError, ExitCode
from notebook_launcher.console.function_call import DeployedFunction
from notebook_launcher.console.invoke import call_function, fail_on_error
from tests.unit.console.test_target import write_oci_config

FUNCTION_ID = "ocid1.fnfunc.oc1.iad.aaaaaaaafunction"


class FakeFunctions:
    """Records calls; answers invokes with (status, body bytes) from `answer`."""

    def __init__(self) -> None:
        self.answer: tuple[int, bytes] = (200, b"{}")
        self.get_status = 200
        self.calls: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("opc-request-id", "req-123")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                fake.calls.append(
                    {"method": "GET", "path": self.path, "auth": self.headers.get("authorization")}
                )
                if fake.get_status != 200:
                    error = {
                        "code": "NotAuthorizedOrNotFound",
                        "message": "Authorization failed or requested resource not found.",
                    }
                    self._send(fake.get_status, json.dumps(error).encode())
                    return
                function = {
                    "id": FUNCTION_ID,
                    "displayName": "notebook-launcher",
                    "invokeEndpoint": fake.url,
                }
                self._send(200, json.dumps(function).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                fake.calls.append(
                    {
                        "method": "POST",
                        "path": self.path,
                        "body": body,
                        "auth": self.headers.get("authorization"),
                    }
                )
                self._send(*fake.answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def functions() -> Iterator[FakeFunctions]:
    fake = FakeFunctions()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def deployed(tmp_path: Path, functions: FakeFunctions) -> DeployedFunction:
    config = oci.config.from_file(str(write_oci_config(tmp_path / "oci" / "config")))
    return DeployedFunction(config, FUNCTION_ID, management_endpoint=functions.url)


def test_success_is_the_functions_json_and_the_body_is_sent_as_given(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    launched = {"id": "ocid1.datasciencejobrun.oc1.iad.r", "lifecycleState": "ACCEPTED"}
    functions.answer = (200, json.dumps(launched).encode())
    request = json.dumps({"noteBook": "oci://b@ns/n.ipynb", "jobName": 'q"uote ü'}).encode()
    answer = deployed.invoke(request)
    assert answer.status == 200 and answer.body == launched and not answer.is_error
    get, post = functions.calls
    assert get["path"].endswith(f"/functions/{FUNCTION_ID}")
    assert post["path"].endswith(f"/functions/{FUNCTION_ID}/actions/invoke")
    assert post["body"] == request
    assert get["auth"].startswith("Signature") and post["auth"].startswith("Signature")


def test_a_function_error_is_a_200_error_body_and_is_an_error(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    error = {
        "error": {
            "code": "InvalidRequest",
            "message": "The request is invalid (noteBook).",
            "details": [{"field": "noteBook", "message": "required"}],
            "opcRequestId": "call-1",
        }
    }
    functions.answer = (200, json.dumps(error).encode())
    answer = deployed.invoke(b"{}")
    assert answer.status == 200 and answer.is_error
    assert answer.body == error


def test_the_platforms_function_failed_is_an_error_in_the_functions_shape(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    """A 502 from the container: the agent answers its own body, not the function's."""
    failed = {"code": "FunctionInvokeExecutionFailed", "message": "function failed"}
    functions.answer = (502, json.dumps(failed).encode())
    answer = deployed.invoke(b"{}")
    assert answer.status == 502 and answer.is_error
    assert answer.body["error"]["code"] == "FunctionInvokeExecutionFailed"
    assert "function failed" in answer.body["error"]["message"]


def test_oci_refusing_the_call_is_answered_in_the_functions_error_shape(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    functions.get_status = 404
    answer = deployed.invoke(b"{}")
    assert answer.status == 404 and answer.is_error
    error = answer.body["error"]
    assert error["code"] == "NotAuthorizedOrNotFound"
    assert error["details"] == [] and error["opcRequestId"] == "req-123"
    assert "404" in error["message"]


def test_a_non_json_answer_is_an_error(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    functions.answer = (200, b"{'id': 'python repr'}")
    answer = deployed.invoke(b"{}")
    assert answer.is_error and answer.status == 502
    assert answer.body["error"]["code"] == "InvalidFunctionResponse"


def test_invoke_function_id_exits_non_zero_on_a_200_error_body(
    deployed: DeployedFunction, functions: FakeFunctions
) -> None:
    """`invoke --function-id` prints the answer, then fails on an error body whatever its status."""
    error = {"error": {"code": "NotFound", "message": "no such job", "details": []}}
    functions.answer = (200, json.dumps(error).encode())
    answer = call_function(deployed, {"noteBook": "oci://b@ns/n.ipynb"})
    with pytest.raises(ConsoleError) as raised:
        fail_on_error(answer)
    assert raised.value.exit_code == ExitCode.FAILED
    assert "200 NotFound: no such job" in str(raised.value)
