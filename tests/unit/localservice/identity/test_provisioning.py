"""The service's identity: OCI config, API key, fingerprint, its record on disk."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import oci
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity

OCID_RE = r"ocid1\.{kind}\.oc1\.\.[a-z0-9]{{60}}"


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentity:
    return ensure_identity(tmp_path_factory.mktemp("svc"))


def test_ensure_identity_writes_valid_oci_config(identity: LocalIdentity) -> None:
    oci_dir = identity.data_dir / "oci"
    assert identity.config_file == oci_dir / "config"
    assert identity.key_file == oci_dir / "oci_api_key.pem"
    assert identity.key_file.is_absolute()
    assert re.fullmatch(OCID_RE.format(kind="tenancy"), identity.tenancy_id)
    assert re.fullmatch(OCID_RE.format(kind="user"), identity.user_id)
    assert re.fullmatch(r"([0-9a-f]{2}:){15}[0-9a-f]{2}", identity.fingerprint)
    assert identity.region == "us-ashburn-1"

    cfg = oci.config.from_file(str(identity.config_file))
    oci.config.validate_config(cfg)
    assert cfg["user"] == identity.user_id
    assert cfg["tenancy"] == identity.tenancy_id
    assert cfg["fingerprint"] == identity.fingerprint
    assert cfg["region"] == identity.region
    assert cfg["key_file"] == str(identity.key_file)

    for key_path in (identity.key_file, identity.rpst_signing_key_file):
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        pem = key_path.read_bytes()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert identity.key_file.read_bytes() != identity.rpst_signing_key_file.read_bytes()

    recorded = json.loads((oci_dir / "identity.json").read_text())
    assert recorded["tenancy_id"] == identity.tenancy_id
    assert recorded["user_id"] == identity.user_id
    assert recorded["fingerprint"] == identity.fingerprint


def test_fingerprint_is_md5_of_der_public_key(identity: LocalIdentity) -> None:
    key = serialization.load_pem_private_key(identity.key_file.read_bytes(), password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hexdigest = hashlib.md5(der).hexdigest()
    assert identity.fingerprint == ":".join(hexdigest[i : i + 2] for i in range(0, 32, 2))
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    # OCI's documented recipe: openssl rsa -pubout -outform DER | openssl md5 -c
    out = subprocess.run(
        [openssl, "rsa", "-in", str(identity.key_file), "-pubout", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    md5 = subprocess.run([openssl, "md5", "-c"], input=out, capture_output=True, check=True)
    assert md5.stdout.decode().strip().split()[-1] == identity.fingerprint


def test_ensure_identity_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = ensure_identity(Path("data"))
    assert first.data_dir == tmp_path / "data"
    key_bytes = first.key_file.read_bytes()
    config_text = first.config_file.read_text()
    second = ensure_identity(tmp_path / "data")
    assert second == first
    assert first.key_file.read_bytes() == key_bytes
    assert first.config_file.read_text() == config_text


def test_ensure_identity_replaces_lost_key_and_keeps_ids(tmp_path: Path) -> None:
    first = ensure_identity(tmp_path)
    first.key_file.unlink()
    second = ensure_identity(tmp_path)
    assert (second.tenancy_id, second.user_id) == (first.tenancy_id, first.user_id)
    assert second.fingerprint != first.fingerprint
    assert oci.config.from_file(str(second.config_file))["fingerprint"] == second.fingerprint


def test_ensure_identity_rejects_corrupt_record(tmp_path: Path) -> None:
    ensure_identity(tmp_path)
    (tmp_path / "oci" / "identity.json").write_text('{"tenancy_id": "nope"}')
    with pytest.raises(ValueError, match="tenancy_id"):
        ensure_identity(tmp_path)
