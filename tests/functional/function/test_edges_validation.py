"""Issue 8, items 6, 7 and 9 through the real function, ADS and oci SDK against the local
service: a trailing newline creates and fetches nothing; a secret nested in a parameter never
shows in the run log or the executed notebook, while the notebook gets the real value."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from tests.functional.function.conftest import FunctionUnderTest, notebook


@pytest.mark.parametrize(
    ("field", "suffix"),
    [("projectId", "\n"), ("shape", "\n"), ("condaEnv", "\r"), ("outputFolder", "\x00")],
)
def test_trailing_control_character_creates_and_fetches_nothing(
    fn: FunctionUnderTest, field: str, suffix: str
) -> None:
    namespace = fn.service.namespace
    fn.service.object_storage_client().put_object(
        namespace, "edges", "nb.ipynb", Path(notebook("hello.ipynb")).read_bytes()
    )
    valid = {
        "projectId": fn.config["NL_PROJECT_ID"],
        "shape": "VM.Standard2.1",
        "condaEnv": "generalml_p311_cpu_x86_64_v1",
        "outputFolder": f"oci://out@{namespace}/edges",
    }
    body = {
        "noteBook": f"oci://edges@{namespace}/nb.ipynb",
        "jobName": f"edge-{uuid.uuid4().hex[:8]}",
    }
    fn.service.reset_stats()
    status, answer = fn.invoke({**body, field: valid[field] + suffix}, gateway=True)
    assert status == 400, answer
    assert [d["field"] for d in answer["error"]["details"]] == [field]
    assert sum(fn.service.stats().values()) == 0, fn.service.stats()


def test_nested_secret_is_redacted_in_run_log_and_executed_notebook(fn: FunctionUnderTest) -> None:
    marker = f"nested-{uuid.uuid4().hex}"
    config = {
        "host": "db.example.com",
        "password": f"{marker}-password",
        "replicas": [{"dsn": f"{marker}-dsn", "port": 5432}, {"bearer": f"{marker}-bearer"}],
        "service": {
            "jwt": f"{marker}-jwt",
            "conn_str": f"{marker}-conn",
            "private_key": f"{marker}-key",
        },
    }
    answer = fn.launch(
        {
            "noteBook": notebook("nested_secret.ipynb"),
            "jobName": f"nested-{uuid.uuid4().hex[:8]}",
            "parameters": {"config": config},
        }
    )
    run = fn.wait(answer["id"])
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    run_log = fn.service.logs(run.id)
    executed_text = fn.output_file(answer["outputUri"], "nested_secret.ipynb").read_text()
    # The notebook computed on the real value...
    real = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    assert f"CONFIG_SHA256 {real}" in run_log and f"CONFIG_SHA256 {real}" in executed_text
    # ...while neither the run log nor the executed notebook shows any nested secret.
    assert marker not in run_log
    assert marker not in executed_text
    assert "'password': '<redacted>'" in run_log and "'host': 'db.example.com'" in run_log
