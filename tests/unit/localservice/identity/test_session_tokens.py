"""Resource-principal sessions issued to functions and runs, read by the oci SDK."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import jwt
import oci
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.identity.session_tokens import issue_resource_principal

RES_ID = "ocid1.datasciencejobrun.oc1.iad.aaaarun"


COMPARTMENT = "ocid1.compartment.oc1..aaaacompartment"


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentity:
    return ensure_identity(tmp_path_factory.mktemp("svc"))


@pytest.fixture(scope="module")
def rp_env(identity: LocalIdentity, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return issue_resource_principal(
        identity,
        tmp_path_factory.mktemp("rp"),
        resource_id=RES_ID,
        resource_type="datasciencejobrun",
        compartment_id=COMPARTMENT,
    )


@pytest.fixture
def rp_signer(rp_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in rp_env.items():
        monkeypatch.setenv(name, value)
    return oci.auth.signers.get_resource_principals_signer()


def rpst_signing_key(identity: LocalIdentity) -> Any:
    return serialization.load_pem_private_key(
        identity.rpst_signing_key_file.read_bytes(), password=None
    )


def test_issue_resource_principal_env_and_claims(
    identity: LocalIdentity, rp_env: dict[str, str]
) -> None:
    assert rp_env["OCI_RESOURCE_PRINCIPAL_VERSION"] == "2.2"
    assert rp_env["OCI_RESOURCE_PRINCIPAL_REGION"] == identity.region
    token_path = Path(rp_env["OCI_RESOURCE_PRINCIPAL_RPST"])
    key_path = Path(rp_env["OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"])
    # The SDK treats absolute paths as files and anything else as inline values.
    assert token_path.is_absolute() and key_path.is_absolute()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600

    token = token_path.read_text()
    public = rpst_signing_key(identity).public_key()
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="oci")
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert claims["sub"] == RES_ID
    assert claims["res_type"] == "datasciencejobrun"
    assert claims["res_compartment"] == COMPARTMENT
    assert claims["res_tenant"] == identity.tenancy_id
    assert claims["iss"]
    assert claims["exp"] - claims["iat"] == 24 * 3600
    jwk = json.loads(claims["jwk"])
    session_key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(session_key, rsa.RSAPrivateKey)
    n = int.from_bytes(base64.urlsafe_b64decode(jwk["n"] + "=" * (-len(jwk["n"]) % 4)), "big")
    assert n == session_key.public_key().public_numbers().n
    assert jwk["kty"] == "RSA"


def test_sdk_resource_principal_signer_reads_claims(
    identity: LocalIdentity, rp_signer: Any
) -> None:
    assert isinstance(rp_signer, oci.auth.signers.EphemeralResourcePrincipalSigner)
    assert rp_signer.tenancy_id == identity.tenancy_id
    assert rp_signer.compartment_id == COMPARTMENT
    assert rp_signer.region == identity.region
    assert rp_signer.get_claim("sub") == RES_ID
    assert rp_signer.security_token.valid_with_half_expiration_time()
    token = rp_signer.get_security_token()  # valid token: no refresh, no network
    assert token == rp_signer.refresh_security_token()


def test_issue_resource_principal_rejects_bad_ttl(identity: LocalIdentity, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        issue_resource_principal(
            identity,
            tmp_path,
            resource_id=RES_ID,
            resource_type="x",
            compartment_id="c",
            ttl_seconds=0,
        )
