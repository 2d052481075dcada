"""The local service's identity, made once per data dir: tenancy, user, API key, and the key
that signs resource-principal session tokens.

`ensure_identity` writes `<data-dir>/oci/{config, oci_api_key.pem, rpst_signing_key.pem,
identity.json}`: the config is an ordinary OCI config profile, so the oci SDK, ADS and the oci
CLI use it unchanged. The key helpers here are shared with `session_tokens`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import string
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.layout import DataDir

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-ashburn-1"
_OCID_SUFFIX_LEN = 60
_OCID_ALPHABET = string.ascii_lowercase + string.digits
_OCID_RE = re.compile(r"ocid1\.(?P<kind>[a-z]+)\.oc1\.\.[a-z0-9]{60}")
_KEY_BITS = 2048
_PUBLIC_EXPONENT = 65537


@dataclass(frozen=True)
class LocalIdentity:
    """The local service's tenancy, user and API key (paths are absolute)."""

    data_dir: Path
    tenancy_id: str
    user_id: str
    fingerprint: str
    region: str
    config_file: Path
    key_file: Path

    @property
    def rpst_signing_key_file(self) -> Path:
        """Private key that signs resource-principal session tokens."""
        return self.config_file.parent / "rpst_signing_key.pem"

    @property
    def api_key_id(self) -> str:
        """The keyId an API-key-signed request carries: tenancy/user/fingerprint."""
        return f"{self.tenancy_id}/{self.user_id}/{self.fingerprint}"


def _new_ocid(kind: str) -> str:
    suffix = "".join(secrets.choice(_OCID_ALPHABET) for _ in range(_OCID_SUFFIX_LEN))
    return f"ocid1.{kind}.oc1..{suffix}"


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=_KEY_BITS)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return key


def key_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """OCI API-key fingerprint: MD5 of the DER SubjectPublicKeyInfo, colon-separated hex."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.md5(der, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write data to path through a temp file + rename, with the given mode."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _ensure_private_key(path: Path, label: bytes = b"") -> rsa.RSAPrivateKey:
    """Load the RSA key at path, creating it (mode 0600) when absent; `label` follows the PEM."""
    if path.exists():
        key = load_private_key(path)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return key
    key = generate_key()
    write_atomic(path, private_pem(key) + label)
    logger.info("Created RSA key %s", path)
    return key


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _render_config(identity: LocalIdentity) -> str:
    return (
        "[DEFAULT]\n"
        f"user={identity.user_id}\n"
        f"fingerprint={identity.fingerprint}\n"
        f"tenancy={identity.tenancy_id}\n"
        f"region={identity.region}\n"
        f"key_file={identity.key_file}\n"
    )


def _read_ids(path: Path) -> dict[str, str] | None:
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path} is not a JSON object")
    ids = {k: raw.get(k) for k in ("tenancy_id", "user_id", "region")}
    for name, expected in (("tenancy_id", "tenancy"), ("user_id", "user")):
        value = ids[name]
        match = _OCID_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None or match["kind"] != expected:
            raise ValueError(f"{path}: {name} is not a {expected} OCID")
    if not isinstance(ids["region"], str) or not ids["region"]:
        raise ValueError(f"{path}: region is missing")
    return {k: str(v) for k, v in ids.items()}


def ensure_identity(data_dir: Path) -> LocalIdentity:
    """Create the service identity on first use; later calls load what is there.

    Writes data_dir/oci/{config, oci_api_key.pem, rpst_signing_key.pem, identity.json}.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    oci_dir = DataDir(data_dir).oci_dir
    oci_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ids_file = oci_dir / "identity.json"
    with _locked(oci_dir / ".identity.lock"):
        ids = _read_ids(ids_file)
        if ids is None:
            ids = {
                "tenancy_id": _new_ocid("tenancy"),
                "user_id": _new_ocid("user"),
                "region": DEFAULT_REGION,
            }
            logger.info("Creating local OCI identity in %s", oci_dir)
        key_file = oci_dir / "oci_api_key.pem"
        # The label line marks an OCI API key file (the oci CLI warns without it).
        api_key = _ensure_private_key(key_file, label=b"OCI_API_KEY\n")
        _ensure_private_key(oci_dir / "rpst_signing_key.pem")
        identity = LocalIdentity(
            data_dir=data_dir,
            tenancy_id=ids["tenancy_id"],
            user_id=ids["user_id"],
            fingerprint=key_fingerprint(api_key.public_key()),
            region=ids["region"],
            config_file=DataDir(data_dir).oci_config,
            key_file=key_file,
        )
        record = json.dumps({**ids, "fingerprint": identity.fingerprint}, indent=2) + "\n"
        for path, text in ((ids_file, record), (identity.config_file, _render_config(identity))):
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                write_atomic(path, text.encode("utf-8"))
    return identity
