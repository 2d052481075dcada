"""Identity of the local Data Science stand-in, and OCI request-signature verification.

The service owns an API key (written as a normal OCI config profile), and a signing key for
resource-principal session tokens (RPST). `SignatureVerifier` checks requests signed by the
oci SDK with either of them, following OCI's HTTP-signature rules.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import string
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

logger = logging.getLogger(__name__)

DEFAULT_REGION = "us-ashburn-1"
RPST_ISSUER = "authService.oracle.com"
RPST_AUDIENCE = "oci"
MAX_CLOCK_SKEW_SECONDS = 300

_OCID_SUFFIX_LEN = 60
_OCID_ALPHABET = string.ascii_lowercase + string.digits
_OCID_RE = re.compile(r"^ocid1\.(?P<kind>[a-z]+)\.oc1\.\.[a-z0-9]{60}$")
_KEY_BITS = 2048
_PUBLIC_EXPONENT = 65537

_BASIC_HEADERS = frozenset({"date", "(request-target)", "host"})
_BODY_HEADERS = frozenset({"content-length", "content-type", "x-content-sha256"})
_BODY_METHODS = frozenset({"post", "put", "patch"})
_KNOWN_METHODS = frozenset({"get", "head", "delete", "post", "put", "patch"})

# Operations the oci SDK calls with enforce_content_headers=False: a raw body, signed with only
# date (request-target) host. Data Science artifact uploads (POST/PUT) and Object Storage
# PutObject / UploadPart (PUT). An optional mount prefix is allowed before the API path.
_RAW_BODY_PATHS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"^(?:/[^?]*)?/20190101/(?:jobs|models|modelGroups)/[^/?]+/artifact$"
        r"|^(?:/[^?]*)?/20190101/models/[^/?]+/(?:definedMetadata|customMetadata)/[^/?]+/artifact$"
        r"|^(?:/[^?]*)?/20190101/pipelines/[^/?]+/steps/[^/?]+/artifact$"
    ),
    re.compile(r"^(?:/[^?]*)?/n/[^/?]+/b/[^/?]+/[ou]/[^?]+$"),
)
_RAW_BODY_METHODS = frozenset({"post", "put"})

# Possessive quantifiers: nothing is given back, so a failing match is linear in the header's
# length (with plain ones, 'a="b"' + 15,000 spaces + 'x' took over a second).
_PARAMS_RE = re.compile(
    r'^\s*+[A-Za-z]\w*+="[^"]*+"(?:\s*+,\s*+[A-Za-z]\w*+="[^"]*+")*+\s*+,?+\s*+$'
)
# The SDK's headers are a few hundred bytes, a resource-principal one a few KB (the token).
MAX_AUTHORIZATION_BYTES = 16 * 1024
_PARAM_RE = re.compile(r'([A-Za-z]\w*)="([^"]*)"')
_TOKEN_CACHE_MAX = 512


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


@dataclass(frozen=True)
class Principal:
    """Who signed a verified request."""

    kind: str
    id: str
    tenancy_id: str
    resource_type: str | None = None


class NotAuthenticatedError(Exception):
    """Signature missing, malformed, expired or wrong (HTTP 401 NotAuthenticated)."""


# --------------------------------------------------------------------------- key/file helpers


def _new_ocid(kind: str) -> str:
    suffix = "".join(secrets.choice(_OCID_ALPHABET) for _ in range(_OCID_SUFFIX_LEN))
    return f"ocid1.{kind}.oc1..{suffix}"


def _generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=_KEY_BITS)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private_key(path: Path) -> rsa.RSAPrivateKey:
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


def _write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
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
        key = _load_private_key(path)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return key
    key = _generate_key()
    _write_atomic(path, _private_pem(key) + label)
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
        match = _OCID_RE.match(value) if isinstance(value, str) else None
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
    oci_dir = data_dir / "oci"
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
            config_file=oci_dir / "config",
            key_file=key_file,
        )
        record = json.dumps({**ids, "fingerprint": identity.fingerprint}, indent=2) + "\n"
        for path, text in ((ids_file, record), (identity.config_file, _render_config(identity))):
            current = path.read_text(encoding="utf-8") if path.exists() else None
            if current != text:
                _write_atomic(path, text.encode("utf-8"))
    return identity


# --------------------------------------------------------------------------- resource principal


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_to_int(text: str) -> int:
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
    signing_key = _load_private_key(identity.rpst_signing_key_file)
    session_key = _generate_key()
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
    _write_atomic(key_path, _private_pem(session_key))
    _write_atomic(token_path, token.encode("ascii"))
    logger.info("Issued resource principal session for %s (%s)", resource_id, resource_type)
    return {
        "OCI_RESOURCE_PRINCIPAL_VERSION": "2.2",
        "OCI_RESOURCE_PRINCIPAL_RPST": str(token_path),
        "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM": str(key_path),
        "OCI_RESOURCE_PRINCIPAL_REGION": identity.region,
    }


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class _Session:
    principal: Principal
    public_key: rsa.RSAPublicKey
    exp: float


def _is_raw_body_upload(method: str, path_with_query: str) -> bool:
    if method not in _RAW_BODY_METHODS:
        return False
    path = path_with_query.split("?", 1)[0]
    return any(p.match(path) for p in _RAW_BODY_PATHS)


def is_raw_body_upload(method: str, path: str) -> bool:
    """Whether the request is an upload whose raw body the SDK does not sign (artifacts,
    PutObject): its content-length and digest are not covered by the signature."""
    return _is_raw_body_upload(method.lower(), path)


@dataclass(frozen=True)
class BodyRules:
    """What a request's body must match, from its headers: the x-content-sha256 digest (when
    sent) and the content-length (when signed)."""

    announced: bool
    sha256_base64: str | None
    signed_length: str | None

    def check(self, length: int, sha256: bytes) -> None:
        """Raise NotAuthenticatedError unless a body of `length` bytes with this SHA-256
        digest is the one the headers describe."""
        if length and not self.announced:
            raise NotAuthenticatedError("The request has a body its headers did not announce")
        if self.sha256_base64 is not None:
            actual = base64.b64encode(sha256).decode("ascii")
            if self.sha256_base64.strip() != actual:
                raise NotAuthenticatedError("x-content-sha256 does not match the request body")
        if self.signed_length is not None:
            text = self.signed_length.strip()
            well_formed = text.isascii() and text.isdecimal() and len(text) <= 19
            if not well_formed or int(text) != length:
                raise NotAuthenticatedError("content-length does not match the request body")


class SignatureVerifier:
    """Verifies OCI-signed requests against a LocalIdentity's API key and RPST signing key."""

    def __init__(self, identity: LocalIdentity) -> None:
        self._identity = identity
        self._api_key_id = identity.api_key_id
        self._api_public_key = _load_private_key(identity.key_file).public_key()
        self._rpst_public_key = _load_private_key(identity.rpst_signing_key_file).public_key()
        self._user = Principal(kind="user", id=identity.user_id, tenancy_id=identity.tenancy_id)
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()

    def verify(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        body: bytes,
        host: str | None = None,
    ) -> Principal:
        """Verify a request as OCI does; return its principal or raise NotAuthenticatedError.

        path_with_query is the request target as sent (raw, still percent-encoded); host, when
        given, replaces the Host header's value in the signing string.
        """
        params, lines, rules = self._signing_string(
            method, path_with_query, headers, has_body=bool(body), host=host
        )
        rules.check(len(body), hashlib.sha256(body).digest())
        return self._check_signature(params, lines)

    def verify_headers(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        *,
        has_body: bool,
        host: str | None = None,
    ) -> tuple[Principal, BodyRules]:
        """Verify everything but the body, before it is read: the signature covers the
        headers, and with them the body's announced digest and length. The caller checks
        the body it then reads with the returned `BodyRules`.

        has_body: whether the headers announce a body (content-length > 0 or chunked).
        """
        params, lines, rules = self._signing_string(
            method, path_with_query, headers, has_body=has_body, host=host
        )
        return self._check_signature(params, lines), rules

    def _signing_string(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        *,
        has_body: bool,
        host: str | None,
    ) -> tuple[dict[str, str], list[str], BodyRules]:
        """The Authorization parameters and the signing string's lines, once the signed
        header set and the date are checked; and what the body must match."""
        hdrs = {k.lower(): v for k, v in headers.items()}
        verb = method.lower()
        if verb not in _KNOWN_METHODS:
            raise NotAuthenticatedError(f"Method {method!r} cannot be signed")
        params = self._parse_authorization(hdrs.get("authorization"))
        signed = params["headers"].lower().split()
        self._check_signed_set(verb, path_with_query, signed, has_body)
        lines = []
        for name in signed:
            if name == "(request-target)":
                lines.append(f"(request-target): {verb} {path_with_query}")
                continue
            value = host if name == "host" and host is not None else hdrs.get(name)
            if value is None:
                raise NotAuthenticatedError(f"Signed header {name!r} is missing from the request")
            lines.append(f"{name}: {value}")
        self._check_date(hdrs["x-date"] if "x-date" in signed else hdrs["date"])
        rules = BodyRules(
            announced=has_body,
            sha256_base64=hdrs.get("x-content-sha256"),
            signed_length=hdrs["content-length"] if "content-length" in signed else None,
        )
        return params, lines, rules

    def _check_signature(self, params: Mapping[str, str], lines: list[str]) -> Principal:
        principal, public_key = self._resolve_key(params["keyId"])
        try:
            signature = base64.b64decode(params["signature"], validate=True)
        except (binascii.Error, ValueError):
            raise NotAuthenticatedError("The signature is not valid base64") from None
        try:
            public_key.verify(
                signature,
                "\n".join(lines).encode("utf-8"),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise NotAuthenticatedError("The request signature does not verify") from None
        return principal

    @staticmethod
    def _parse_authorization(value: str | None) -> dict[str, str]:
        if not value:
            raise NotAuthenticatedError("The Authorization header is missing")
        if len(value) > MAX_AUTHORIZATION_BYTES:
            raise NotAuthenticatedError(
                f"The Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"
            )
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "signature":
            raise NotAuthenticatedError("The Authorization scheme must be 'Signature'")
        if not _PARAMS_RE.match(rest):
            raise NotAuthenticatedError("The Authorization header's parameters cannot be parsed")
        params: dict[str, str] = {}
        for name, val in _PARAM_RE.findall(rest):
            if name in params:
                raise NotAuthenticatedError(f"Authorization parameter {name!r} is repeated")
            params[name] = val
        for required in ("version", "keyId", "algorithm", "headers", "signature"):
            if required not in params:
                raise NotAuthenticatedError(f"Authorization parameter {required!r} is missing")
        if params["version"] != "1":
            raise NotAuthenticatedError("Unsupported signature version (only '1' is accepted)")
        if params["algorithm"] != "rsa-sha256":
            raise NotAuthenticatedError("Unsupported signature algorithm (only rsa-sha256)")
        return params

    @staticmethod
    def _check_signed_set(
        verb: str, path_with_query: str, signed: list[str], has_body: bool
    ) -> None:
        signed_set = set(signed)
        if len(signed_set) != len(signed):
            raise NotAuthenticatedError("A header is listed twice in the signed headers")
        required = set(_BASIC_HEADERS)
        if "x-date" in signed_set:
            required.discard("date")  # OCI accepts x-date in place of date
        if verb in _BODY_METHODS and has_body and not _is_raw_body_upload(verb, path_with_query):
            required |= _BODY_HEADERS
        missing = required - signed_set
        if missing:
            raise NotAuthenticatedError(
                "Required headers are not signed: " + ", ".join(sorted(missing))
            )

    @staticmethod
    def _check_date(value: str) -> None:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            raise NotAuthenticatedError("The date header cannot be parsed") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        when = parsed.timestamp()
        if abs(time.time() - when) > MAX_CLOCK_SKEW_SECONDS:
            raise NotAuthenticatedError(
                f"The date header is more than {MAX_CLOCK_SKEW_SECONDS // 60} minutes "
                "off the service's clock"
            )

    def _resolve_key(self, key_id: str) -> tuple[Principal, rsa.RSAPublicKey]:
        if key_id.startswith("ST$"):
            session = self._session(key_id[3:])
            return session.principal, session.public_key
        if secrets.compare_digest(key_id.encode("utf-8"), self._api_key_id.encode("utf-8")):
            return self._user, self._api_public_key
        raise NotAuthenticatedError("The keyId does not name a known API key")

    def _session(self, token: str) -> _Session:
        cached = self._sessions.get(token)
        if cached is None:
            cached = self._verify_token(token)
            with self._sessions_lock:
                while len(self._sessions) >= _TOKEN_CACHE_MAX:
                    self._sessions.pop(next(iter(self._sessions)))
                self._sessions[token] = cached
        if time.time() >= cached.exp:
            with self._sessions_lock:
                self._sessions.pop(token, None)
            raise NotAuthenticatedError("The resource principal session token has expired")
        return cached

    def _verify_token(self, token: str) -> _Session:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._rpst_public_key,
                algorithms=["RS256"],
                audience=RPST_AUDIENCE,
                issuer=RPST_ISSUER,
                options={"require": ["exp", "iat", "sub", "jwk", "res_tenant"]},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthenticatedError(
                "The resource principal session token has expired"
            ) from None
        except jwt.PyJWTError as exc:
            raise NotAuthenticatedError(
                f"The resource principal session token is invalid ({type(exc).__name__})"
            ) from None
        try:
            jwk = claims["jwk"]
            if isinstance(jwk, str):
                jwk = json.loads(jwk)
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
                raise ValueError("jwk is not an RSA key")
            public_key = rsa.RSAPublicNumbers(
                _b64url_to_int(str(jwk["e"])), _b64url_to_int(str(jwk["n"]))
            ).public_key()
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise NotAuthenticatedError(
                "The resource principal session token carries no usable jwk"
            ) from None
        sub, tenant, res_type = claims["sub"], claims["res_tenant"], claims.get("res_type")
        if not isinstance(sub, str) or tenant != self._identity.tenancy_id:
            raise NotAuthenticatedError("The resource principal session token has bad claims")
        principal = Principal(
            kind="resource_principal",
            id=sub,
            tenancy_id=tenant,
            resource_type=res_type if isinstance(res_type, str) else None,
        )
        return _Session(principal=principal, public_key=public_key, exp=float(claims["exp"]))
