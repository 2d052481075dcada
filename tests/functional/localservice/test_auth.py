"""Every request must be signed by a key the service trusts: API key or resource principal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import oci
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import MODELS


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/20190101/jobs?compartmentId=x"),
        ("POST", "/20190101/jobRuns"),
        ("GET", "/20190101/no/such/route"),
        ("GET", "/_local/stats"),
        ("GET", "/n/"),
    ],
)
def test_unsigned_requests_are_not_authenticated(
    local_service: EmbeddedService, method: str, path: str
) -> None:
    response = requests.request(method, local_service.endpoint + path, json={}, timeout=30)
    assert response.status_code == 401
    assert response.json()["code"] == "NotAuthenticated"
    assert response.json()["message"]


def test_a_key_the_service_does_not_trust_is_refused(
    local_service: EmbeddedService, compartment_id: str, tmp_path: Path
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "stranger.pem"
    key_file.write_bytes(
        stranger.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = {**local_service.oci_config(), "key_file": str(key_file)}
    client = oci.data_science.DataScienceClient(
        config,
        service_endpoint=local_service.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.list_jobs(compartment_id)
    assert (caught.value.status, caught.value.code) == (401, "NotAuthenticated")


def test_resource_principal_requests_are_accepted(
    local_service: EmbeddedService,
    compartment_id: str,
    project_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in local_service.function_rp_env().items():
        monkeypatch.setenv(name, value)
    signer = oci.auth.signers.get_resource_principals_signer()
    client = oci.data_science.DataScienceClient(
        {},
        signer=signer,
        service_endpoint=local_service.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )

    project = client.create_project(
        MODELS.CreateProjectDetails(compartment_id=compartment_id, display_name="by-function")
    ).data

    assert project.created_by.startswith("ocid1.fnfunc.")
    assert client.get_project(project_id).data.id == project_id


def test_local_helpers_need_a_signature_too(local_service: EmbeddedService) -> None:
    signed = requests.get(
        local_service.endpoint + "/_local/stats", auth=local_service.signer, timeout=30
    )
    assert signed.status_code == 200
    assert isinstance(signed.json(), dict)


def sdk_client_with(service: EmbeddedService, **overrides: Any) -> Any:
    return oci.data_science.DataScienceClient(
        {**service.oci_config(), **overrides},
        service_endpoint=service.endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
    )


def test_a_wrong_key_id_is_refused(local_service: EmbeddedService, compartment_id: str) -> None:
    client = sdk_client_with(local_service, fingerprint="00:" * 15 + "00")
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.list_projects(compartment_id)
    assert caught.value.status == 401
