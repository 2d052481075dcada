"""How a run is set up and cleaned up: its environment, its artifact, its folder."""

from __future__ import annotations

import json
from typing import Any

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    create_script_job,
    start_run,
    wait_for_run,
)

SHOW_ENVIRONMENT = """\
import json, os, sitecustomize
names = ("PYTHONPATH", "JUPYTER_PATH", "NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT")
print("ENV=" + json.dumps({name: os.environ.get(name) for name in names}), flush=True)
print("SITE=" + sitecustomize.__file__, flush=True)
"""


def line_value(log: str, prefix: str) -> str:
    for line in log.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    raise AssertionError(f"no {prefix!r} line in the log:\n{log}")


def test_job_variables_cannot_take_the_run_off_the_local_service(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(
        client,
        project_id,
        compartment_id,
        SHOW_ENVIRONMENT,
        env={
            "PYTHONPATH": "/opt/user-lib",
            "JUPYTER_PATH": "/opt/user-jupyter",
            "NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT": "https://objectstorage.example.com",
        },
    )
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job_id).id)
    log = local_service.logs(run.id)
    assert run.lifecycle_state == "SUCCEEDED", log

    runtime = local_service.data_dir / "runtime"
    env = json.loads(line_value(log, "ENV="))
    assert env["PYTHONPATH"].split(":") == [str(runtime / "python"), "/opt/user-lib"]
    assert env["JUPYTER_PATH"].split(":") == [str(runtime / "jupyter"), "/opt/user-jupyter"]
    assert env["NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT"] == local_service.endpoint
    assert line_value(log, "SITE=") == str(runtime / "python" / "sitecustomize.py")
