"""An unexpected failure, logged through fdk as the image runs the function: its traceback
and call id reach the function's log, its message and the request's values never do.

A fresh interpreter (fdk configures logging when imported) imports func.py and runs its
handler through fdk's fixtures. The failure is a bug planted in the function's own core (not
in ADS or oci, which the edge translates): the request parser's answer is used as if it were
something else, raising an error whose message carries a parameter's value, while handling
another error that carries a second one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.console.test_target import write_oci_config

ROOT = Path(__file__).resolve().parents[3]
CALL_ID = "01JCALLUNDERTEST0000000000"
SECRET = "hunter2-in-the-message"
OTHER = "s3cr3t-in-the-context"

FAILING_CALL = textwrap.dedent(
    f"""
    import asyncio, io, json

    import func
    from fdk import fixtures
    from notebook_launcher.function import handler

    real_parse_any = handler.parse_any

    def look_up(parameters):
        try:
            return parameters["missing"]
        except KeyError:
            parameters["missing"] = parameters["config"]["password"]
            raise ValueError("cannot use " + parameters["config"]["password"] + " here")

    def planted_bug(body, settings):
        request = real_parse_any(body, settings)
        look_up(json.loads(body)["parameters"])
        return request

    handler.parse_any = planted_bug
    body = {{
        "noteBook": "https://example.com/n.ipynb",
        "parameters": {{"config": {{"password": {SECRET!r}}}, "api_token": {OTHER!r}}},
    }}

    async def call():
        coro = await fixtures.setup_fn_call(
            func.handler,
            content=io.BytesIO(json.dumps(body).encode()),
            headers={{"fn-call-id": {CALL_ID!r}}},
        )
        return await coro

    data, status, _ = asyncio.run(call())
    print(json.dumps({{"status": int(status), "body": json.loads(data)}}))
    """
)


def run_failing_call(tmp_path: Path) -> tuple[dict[str, object], list[str]]:
    config = write_oci_config(tmp_path / "oci" / "config")
    script = tmp_path / "failing_call.py"  # a file, so that its frames show their source
    script.write_text(FAILING_CALL)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOME": str(tmp_path),
            "NL_OCI_CONFIG_FILE": str(config),
            "NL_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.aaaa",
            "NL_COMPARTMENT_ID": "ocid1.compartment.oc1..aaaa",
            "NL_LOG_GROUP_ID": "ocid1.loggroup.oc1.iad.aaaa",
            "NL_OUTPUT_FOLDER": "oci://out@ns/runs",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer, done.stderr.splitlines()


def test_an_unexpected_failure_logs_its_traceback_and_call_id_without_request_values(
    tmp_path: Path,
) -> None:
    answer, stderr = run_failing_call(tmp_path)
    error = answer["body"]["error"]  # type: ignore[index]
    assert error["code"] == "InternalError" and error["opcRequestId"] == CALL_ID
    records = [json.loads(line) for line in stderr if line.startswith("{")]
    [failure] = [r for r in records if r.get("failure") == "unexpected"]
    [invocation] = [r for r in records if "status" in r]
    assert failure["callId"] == CALL_ID == invocation["callId"]
    assert invocation["error"] == "InternalError" and invocation["status"] == 500
    # The chain, outermost first: the ValueError raised while handling the KeyError.
    assert [link["exception"] for link in failure["chain"]] == [
        "builtins.ValueError",
        "builtins.KeyError",
    ]
    raised, handled = (link["traceback"] for link in failure["chain"])
    assert any("handler.py" in frame and "in invoke:" in frame for frame in raised)
    assert any("in planted_bug:" in frame for frame in raised)
    assert raised[-1].endswith(
        'raise ValueError("cannot use " + parameters["config"]["password"] + " here")'
    )
    assert any('in look_up: return parameters["missing"]' in frame for frame in handled)
    # Neither the messages nor the request's values: nowhere in the function's log.
    log = "\n".join(stderr)
    assert SECRET not in log and OTHER not in log
    assert len([line for line in stderr if line.strip()]) == 2, stderr
