"""Resource-principal session tokens (RPST) the local service issues to functions and runs.

A session is a token signed with the service's RPST signing key, carrying the session's
public key as a `jwk` claim, and the session's private key: the pair OCI Functions and Data
Science job runs get, found through the OCI_RESOURCE_PRINCIPAL_* variables. `signatures`
verifies requests signed with them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.identity.provisioning import (
    LocalIdentity,
    generate_key,
    load_private_key,
    private_pem,
    write_atomic,
)

logger = logging.getLogger(__name__)

RPST_ISSUER = "authService.oracle.com"
RPST_AUDIENCE = "oci"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_to_int(text: str) -> int:
    padded = text + "=" * (-len(text) % 4)
    return int.from_bytes(base64.urlsafe_b64decode(padded.encode("ascii")), "big")


def _public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")
    return {
        "kid": kid,
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
    }


def issue_resource_principal(
    identity: LocalIdentity,
    target_dir: Path,
    *,
    resource_id: str,
    resource_type: str,
    compartment_id: str,
    ttl_seconds: int = 24 * 3600,
) -> dict[str, str]:
    """Write a session key + RPST into target_dir; return the OCI_RESOURCE_PRINCIPAL_* env vars."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    target_dir = Path(target_dir).expanduser().resolve()
    target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    signing_key = load_private_key(identity.rpst_signing_key_file)
    session_key = generate_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": RPST_ISSUER,
        "aud": RPST_AUDIENCE,
        "sub": resource_id,
        "iat": now,
        "exp": now + ttl_seconds,
        "sess_exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
        "ttype": "res",
        "ptype": "resource",
        "opc-certtype": "resource",
        "res_type": resource_type,
        "res_id": resource_id,
        "res_compartment": compartment_id,
        "res_tenant": identity.tenancy_id,
        "tenant": identity.tenancy_id,
        "opc-tenant": identity.tenancy_id,
        # OCI carries the session public key as a JSON string claim.
        "jwk": json.dumps(_public_jwk(session_key.public_key()), separators=(",", ":")),
    }
    token = jwt.encode(
        claims,
        signing_key,
        algorithm="RS256",
        headers={"kid": _public_jwk(signing_key.public_key())["kid"]},
    )
    key_path = target_dir / "rp_session_key.pem"
    token_path = target_dir / "rpst"
    write_atomic(key_path, private_pem(session_key))
    write_atomic(token_path, token.encode("ascii"))
    logger.info("Issued resource principal session for %s (%s)", resource_id, resource_type)
    return {
        "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
        "OCI_RESOURCE_PRINCIPAL_RPST": str(token_path),
        "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": str(key_path),
        "OCI_RESOURCE_PRINCIPAL_REGION": identity.region,
    }
