"""The function against the embedded local service: func.handler through fdk's fixtures,
the real ADS and oci SDK over HTTP, real notebooks executing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest

from notebook_launcher.local_profile import local_function_config, service_namespace
from tests.functional.fn_client import FunctionClient, wait_for_run

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


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
        answer = FunctionClient(self.config).invoke(
            body, headers=headers, gateway=gateway, timeout=timeout
        )
        return answer.status, answer.body

    def launch(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        status, answer = self.invoke(body, **kwargs)
        assert status == 200, answer
        return answer

    def wait(self, run_id: str, timeout: float = 120) -> Any:
        return wait_for_run(self.service, run_id, timeout)

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
