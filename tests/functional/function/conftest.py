"""The function against the embedded local service: func.handler through fdk's fixtures,
the real ADS and oci SDK over HTTP, real notebooks executing."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest
from fdk import fixtures

import func
from notebook_launcher.local_profile import local_function_config, service_namespace

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED", "DELETED", "NEEDS_ATTENTION"}


class FunctionUnderTest:
    """Invokes func.handler the way OCI Functions does, with its configuration as env."""

    def __init__(self, service: Any, config: dict[str, str], monkeypatch: pytest.MonkeyPatch):
        self.service = service
        self.config = config
        self.monkeypatch = monkeypatch
        for key, value in config.items():
            monkeypatch.setenv(key, value)

    def invoke(
        self,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        gateway: bool = False,
        timeout: float = 60,
    ) -> tuple[int, dict[str, Any]]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)).isoformat()

        async def run() -> tuple[Any, Any, Any]:
            coro = await fixtures.setup_fn_call(
                func.handler,
                content=io.BytesIO(raw),
                headers=headers,
                gateway=gateway,
                deadline=deadline,
            )
            return await coro

        data, status, response_headers = asyncio.run(run())
        if gateway:
            status = int(response_headers.get("fn-http-status", status))
        text = data.decode() if isinstance(data, bytes) else str(data)
        return int(status), json.loads(text)

    def launch(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        status, answer = self.invoke(body, **kwargs)
        assert status == 200, answer
        return answer

    def wait(self, run_id: str, timeout: float = 120) -> Any:
        client = self.service.datascience_client()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            run = client.get_job_run(run_id).data
            if run.lifecycle_state in TERMINAL:
                return run
            time.sleep(0.3)
        raise AssertionError(f"run {run_id} did not finish in {timeout}s")

    def output_file(self, output_uri: str, name: str) -> Path:
        rest = output_uri[len("oci://") :]
        bucket, _, tail = rest.partition("@")
        namespace, _, prefix = tail.partition("/")
        return Path(self.service.object_path(namespace, bucket, f"{prefix.strip('/')}/{name}"))


@pytest.fixture(scope="session")
def function_config(local_service: Any, project_id: str) -> dict[str, str]:
    return local_function_config(
        local_service, project_id, service_namespace(Path(local_service.data_dir))
    )


@pytest.fixture
def fn(
    local_service: Any, function_config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FunctionUnderTest]:
    for key in ("OCI_RESOURCE_PRINCIPAL_VERSION", "NB_SESSION_OCID", "OCI_CONFIG_FILE"):
        monkeypatch.delenv(key, raising=False)
    local_service.clear_faults()
    yield FunctionUnderTest(local_service, function_config, monkeypatch)
    local_service.clear_faults()


def notebook(name: str) -> str:
    return str(NOTEBOOKS / name)


def count_runs(service: Any, compartment_id: str, job_id: str) -> int:
    client = service.datascience_client()
    runs = oci.pagination.list_call_get_all_results(
        client.list_job_runs, compartment_id=compartment_id, job_id=job_id
    ).data
    return len(runs)
