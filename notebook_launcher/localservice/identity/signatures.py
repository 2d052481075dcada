"""OCI request-signature verification: API-key and resource-principal-session signatures.

`SignatureVerifier` checks requests signed by the oci SDK with the service's API key or with a
session token it issued (`session_tokens`), following OCI's HTTP-signature rules. The check
runs on the headers before the body is read; `BodyRules` then checks the body that arrives.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from notebook_launcher.localservice.identity.provisioning import LocalIdentity, load_private_key
from notebook_launcher.localservice.identity.session_tokens import (
    RPST_AUDIENCE,
    RPST_ISSUER,
    b64url_to_int,
)

MAX_CLOCK_SKEW_SECONDS = 300

_BASIC_HEADERS = frozenset({"date", "(request-target)", "host"})
_BODY_HEADERS = frozenset({"content-length", "content-type", "x-content-sha256"})
_BODY_METHODS = frozenset({"post", "put", "patch"})
_KNOWN_METHODS = frozenset({"get", "head", "delete", "post", "put", "patch"})

# Operations the oci SDK calls with enforce_content_headers=False: a raw body, signed with only
# date (request-target) host. Data Science artifact uploads (POST/PUT) and Object Storage
# PutObject / UploadPart (PUT). An optional mount prefix is allowed before the API path.
_RAW_BODY_PATHS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?:/[^?]*)?/20190101/(?:jobs|models|modelGroups)/[^/?]+/artifact"
        r"|(?:/[^?]*)?/20190101/models/[^/?]+/(?:definedMetadata|customMetadata)/[^/?]+/artifact"
        r"|(?:/[^?]*)?/20190101/pipelines/[^/?]+/steps/[^/?]+/artifact"
    ),
    re.compile(r"(?:/[^?]*)?/n/[^/?]+/b/[^/?]+/[ou]/[^?]+"),
)
_RAW_BODY_METHODS = frozenset({"post", "put"})

# Possessive quantifiers: nothing is given back, so a failing match is linear in the header's
# length (with plain ones, 'a="b"' + 15,000 spaces + 'x' took over a second).
_PARAMS_RE = re.compile(r'\s*+[A-Za-z]\w*+="[^"]*+"(?:\s*+,\s*+[A-Za-z]\w*+="[^"]*+")*+\s*+,?+\s*+')
# The SDK's headers are a few hundred bytes, a resource-principal one a few KB (the token).
MAX_AUTHORIZATION_BYTES = 16 * 1024
_PARAM_RE = re.compile(r'([A-Za-z]\w*)="([^"]*)"')
_TOKEN_CACHE_MAX = 512


@dataclass(frozen=True)
class Principal:
    """Who signed a verified request."""

    kind: str
    id: str
    tenancy_id: str
    resource_type: str | None = None


class NotAuthenticatedError(Exception):
    """Signature missing, malformed, expired or wrong (HTTP 401 NotAuthenticated)."""


@dataclass(frozen=True)
class _Session:
    principal: Principal
    public_key: rsa.RSAPublicKey
    exp: float


def _is_raw_body_upload(method: str, path_with_query: str) -> bool:
    if method not in _RAW_BODY_METHODS:
        return False
    path = path_with_query.split("?", 1)[0]
    return any(p.fullmatch(path) for p in _RAW_BODY_PATHS)


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
        self._api_public_key = load_private_key(identity.key_file).public_key()
        self._rpst_public_key = load_private_key(identity.rpst_signing_key_file).public_key()
        self._user = Principal(kind="user", id=identity.user_id, tenancy_id=identity.tenancy_id)
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()

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
        if not _PARAMS_RE.fullmatch(rest):
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
                b64url_to_int(str(jwk["e"])), b64url_to_int(str(jwk["n"]))
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
