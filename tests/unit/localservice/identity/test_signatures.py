"""Signature checking (identity/signatures) against the real oci SDK signers: API keys,
resource-principal tokens, tampering, dates, hostile Authorization headers."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.server
import json
import re
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jwt
import oci
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.identity import signatures as identity_mod
from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.identity.session_tokens import issue_resource_principal
from notebook_launcher.localservice.identity.signatures import NotAuthenticatedError, Principal
from tests.support.signatures import SignatureVerifier

OCID_RE = r"ocid1\.{kind}\.oc1\.\.[a-z0-9]{{60}}"
BASE = "http://127.0.0.1:8123"
JOB_ID = "ocid1.datasciencejob.oc1.iad.aaaaexample"
RES_ID = "ocid1.datasciencejobrun.oc1.iad.aaaarun"
COMPARTMENT = "ocid1.compartment.oc1..aaaacompartment"
BASIC = ["date", "(request-target)", "host"]
BODY = [*BASIC, "content-length", "content-type", "x-content-sha256"]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentity:
    return ensure_identity(tmp_path_factory.mktemp("svc"))


@pytest.fixture(scope="module")
def verifier(identity: LocalIdentity) -> SignatureVerifier:
    return SignatureVerifier(identity)


@pytest.fixture(scope="module")
def config(identity: LocalIdentity) -> dict[str, Any]:
    cfg: dict[str, Any] = oci.config.from_file(str(identity.config_file))
    return cfg


@pytest.fixture(scope="module")
def api_signer(config: dict[str, Any]) -> oci.signer.Signer:
    return oci.signer.Signer.from_config(config)


@pytest.fixture(scope="module")
def other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


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


@pytest.fixture(params=["api_key", "resource_principal"])
def signer_and_principal(
    request: pytest.FixtureRequest, identity: LocalIdentity, api_signer: Any
) -> tuple[Any, Principal]:
    if request.param == "api_key":
        return api_signer, Principal("user", identity.user_id, identity.tenancy_id)
    signer = request.getfixturevalue("rp_signer")
    return signer, Principal("resource_principal", RES_ID, identity.tenancy_id, "datasciencejobrun")


class _Capture(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    captured: list[tuple[str, str, dict[str, str], bytes]] = []

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.captured.append((self.command, self.path, dict(self.headers.items()), body))
        is_list = self.command == "GET" and self.path.split("?")[0].endswith("/jobs")
        out = b"[]" if is_list else b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def capture_server() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str], bytes]]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Capture.captured
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- helpers


def sign(
    signer: Any,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    enforce_content_headers: bool = True,
) -> requests.PreparedRequest:
    prepared = requests.Request(
        method, BASE + path, data=body, headers=dict(headers or {})
    ).prepare()
    signed: requests.PreparedRequest = signer(prepared, enforce_content_headers)
    return signed


def body_of(req: requests.PreparedRequest) -> bytes:
    body = req.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    assert isinstance(body, bytes)
    return body


def headers_of(req: requests.PreparedRequest) -> dict[str, str]:
    """The prepared request's headers as a plain str dict (name case as the SDK set it)."""
    return {k: v if isinstance(v, str) else v.decode() for k, v in req.headers.items()}


def check(verifier: SignatureVerifier, req: requests.PreparedRequest) -> Principal:
    assert req.method is not None
    return verifier.verify(req.method, req.path_url, headers_of(req), body_of(req))


def signed_headers(headers: Mapping[str, str]) -> list[str]:
    auth = {k.lower(): v for k, v in headers.items()}["authorization"]
    match = re.search(r'headers="([^"]*)"', auth)
    assert match
    return match.group(1).split()


def with_auth(req: requests.PreparedRequest, fn: Callable[[str], str]) -> dict[str, str]:
    headers = headers_of(req)
    headers["authorization"] = fn(headers["authorization"])
    return headers


def rejects(
    verifier: SignatureVerifier,
    req: requests.PreparedRequest,
    match: str,
    *,
    method: str | None = None,
    path: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    host: str | None = None,
) -> NotAuthenticatedError:
    assert req.method is not None
    with pytest.raises(NotAuthenticatedError, match=match) as exc_info:
        verifier.verify(
            method or req.method,
            path if path is not None else req.path_url,
            headers if headers is not None else headers_of(req),
            body if body is not None else body_of(req),
            host=host,
        )
    # Messages must never echo the signature or a session token.
    sig = re.search(r'signature="([^"]+)"', headers_of(req)["authorization"])
    assert sig and sig.group(1) not in str(exc_info.value)
    assert "ST$" not in str(exc_info.value)
    return exc_info.value


def rpst_claims(rp_env: dict[str, str]) -> dict[str, Any]:
    token = Path(rp_env["OCI_RESOURCE_PRINCIPAL_RPST"]).read_text()
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def rpst_signing_key(identity: LocalIdentity) -> Any:
    return serialization.load_pem_private_key(
        identity.rpst_signing_key_file.read_bytes(), password=None
    )


def token_signer(token: str, key_pem: str | Path) -> Any:
    text = key_pem.read_text() if isinstance(key_pem, Path) else key_pem
    key = oci.signer.load_private_key(text, None)
    return oci.auth.signers.SecurityTokenSigner(token, key)


# ----------------------------------------------------------------------------- identity


# ----------------------------------------------------------------------------- resource principal


# ----------------------------------------------------------------------------- SDK round trips


@pytest.mark.parametrize(
    ("method", "path", "body", "expected_signed"),
    [
        ("GET", "/20190101/jobs/" + JOB_ID, None, BASIC),
        ("GET", "/20190101/jobs?compartmentId=c&displayName=a%20b%2Fc", None, BASIC),
        ("POST", "/20190101/jobs", json.dumps({"displayName": "x", "projectId": "p"}), BODY),
        ("PUT", "/20190101/jobs/" + JOB_ID, '{"displayName": "y"}', BODY),
        ("POST", "/20190101/jobRuns/r/actions/cancelJobRun", None, BODY),
        ("HEAD", f"/20190101/jobs/{JOB_ID}/artifact/content", None, BASIC),
        ("DELETE", "/20190101/jobs/" + JOB_ID + "?deleteRelatedJobRuns=true", None, BASIC),
    ],
)
def test_sdk_signed_requests_verify(
    verifier: SignatureVerifier,
    signer_and_principal: tuple[Any, Principal],
    method: str,
    path: str,
    body: str | None,
    expected_signed: list[str],
) -> None:
    signer, principal = signer_and_principal
    req = sign(signer, method, path, body)
    assert signed_headers(headers_of(req)) == expected_signed
    assert check(verifier, req) == principal


def test_binary_upload_signed_without_content_headers(
    verifier: SignatureVerifier, signer_and_principal: tuple[Any, Principal]
) -> None:
    signer, principal = signer_and_principal
    zip_bytes = b"PK\x03\x04" + bytes(range(256)) * 4
    for method, path in [
        ("POST", f"/20190101/jobs/{JOB_ID}/artifact"),
        ("PUT", "/n/ns/b/bucket/o/out%2Fresult.ipynb"),
    ]:
        req = sign(signer, method, path, zip_bytes, enforce_content_headers=False)
        assert signed_headers(headers_of(req)) == BASIC
        assert check(verifier, req) == principal
    # The same signing shape on an ordinary JSON endpoint is not enough.
    req = sign(signer, "POST", "/20190101/jobs", '{"a": 1}', enforce_content_headers=False)
    rejects(verifier, req, "not signed: content-length, content-type, x-content-sha256")


def test_real_clients_end_to_end(
    verifier: SignatureVerifier,
    signer_and_principal: tuple[Any, Principal],
    config: dict[str, Any],
    capture_server: tuple[str, list[tuple[str, str, dict[str, str], bytes]]],
    tmp_path: Path,
) -> None:
    """What DataScienceClient / ObjectStorageClient put on the wire verifies, header by header."""
    endpoint, captured = capture_server
    signer, principal = signer_and_principal
    kwargs: dict[str, Any] = {
        "service_endpoint": endpoint,
        "retry_strategy": oci.retry.NoneRetryStrategy(),
    }
    if principal.kind == "user":
        ds = oci.data_science.DataScienceClient(config, **kwargs)
        os_client = oci.object_storage.ObjectStorageClient(config, **kwargs)
    else:
        ds = oci.data_science.DataScienceClient({}, signer=signer, **kwargs)
        os_client = oci.object_storage.ObjectStorageClient({}, signer=signer, **kwargs)
    artifact = tmp_path / "job.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\0" * 600)
    captured.clear()

    ds.get_job(JOB_ID)
    ds.list_jobs(compartment_id=COMPARTMENT, display_name="a b/c&d")
    details = oci.data_science.models.CreateJobDetails(
        project_id="p", compartment_id=COMPARTMENT, display_name="x"
    )
    ds.create_job(details)
    ds.head_job_artifact(JOB_ID)
    ds.delete_job(JOB_ID, delete_related_job_runs=True)
    ds.cancel_job_run("ocid1.datasciencejobrun.oc1..r")
    ds.create_job_artifact(
        JOB_ID, b"PK\x03\x04raw", content_disposition="attachment; filename=a.zip"
    )
    with artifact.open("rb") as fh:  # the way ADS uploads it
        ds.create_job_artifact(JOB_ID, fh, content_disposition="attachment; filename=job.zip")
    os_client.put_object("ns", "bucket", "out/nb.ipynb", b'{"cells": []}')
    with artifact.open("rb") as fh:
        os_client.put_object("ns", "bucket", "out/job.zip", fh)

    expected = [
        ("GET", BASIC),
        ("GET", BASIC),
        ("POST", BODY),
        ("HEAD", BASIC),
        ("DELETE", BASIC),
        ("POST", BODY),
        ("POST", BASIC),
        ("POST", BASIC),
        ("PUT", BASIC),
        ("PUT", BASIC),
    ]
    assert [(m, signed_headers(h)) for m, _, h, _ in captured] == expected
    assert "%2F" in captured[1][1]  # query values arrive percent-encoded: verify the raw target
    assert captured[7][3] == artifact.read_bytes()
    for method, path, headers, body in captured:
        assert verifier.verify(method, path, headers, body) == principal
        host = {k.lower(): v for k, v in headers.items()}["host"]
        assert verifier.verify(method, path, headers, body, host=host) == principal
    # The upload's body is not covered by OCI's signature, but its target is.
    method, path, headers, body = captured[7]
    with pytest.raises(NotAuthenticatedError, match="does not verify"):
        verifier.verify(
            method, path.replace(JOB_ID, "ocid1.datasciencejob.oc1..other"), headers, body
        )


def test_header_names_are_case_insensitive(verifier: SignatureVerifier, api_signer: Any) -> None:
    req = sign(api_signer, "POST", "/20190101/jobs", '{"displayName": "x"}')
    upper = {k.upper(): v for k, v in headers_of(req).items()}
    assert check(verifier, req).kind == "user"
    assert verifier.verify("post", req.path_url, upper, body_of(req)).kind == "user"


def test_x_date_may_replace_date(
    verifier: SignatureVerifier, identity: LocalIdentity, api_signer: Any
) -> None:
    signer = oci.signer.Signer.from_config(oci.config.from_file(str(identity.config_file)))
    signer.create_signers(
        signer.api_key, signer.private_key, ["x-date", "(request-target)", "host"], []
    )
    req = sign(
        signer, "GET", "/20190101/jobs/x", headers={"x-date": email.utils.formatdate(usegmt=True)}
    )
    assert check(verifier, req).kind == "user"


# ----------------------------------------------------------------------------- failures


def test_missing_or_malformed_authorization(verifier: SignatureVerifier, api_signer: Any) -> None:
    req = sign(api_signer, "GET", "/20190101/jobs/x")
    no_auth = {k: v for k, v in headers_of(req).items() if k.lower() != "authorization"}
    rejects(verifier, req, "Authorization header is missing", headers=no_auth)
    rejects(verifier, req, "scheme", headers=with_auth(req, lambda a: "Bearer abc"))
    rejects(
        verifier,
        req,
        "cannot be parsed",
        headers=with_auth(req, lambda a: a.replace('",keyId', '" keyId garbage')),
    )
    rejects(
        verifier,
        req,
        "version",
        headers=with_auth(req, lambda a: a.replace('version="1"', 'version="2"')),
    )
    rejects(
        verifier,
        req,
        "'version' is missing",
        headers=with_auth(req, lambda a: a.replace(',version="1"', "")),
    )
    rejects(
        verifier,
        req,
        "algorithm",
        headers=with_auth(req, lambda a: a.replace("rsa-sha256", "hmac-sha256")),
    )
    rejects(
        verifier,
        req,
        "repeated",
        headers=with_auth(req, lambda a: a + ',version="1"'),
    )
    rejects(
        verifier,
        req,
        "base64",
        headers=with_auth(req, lambda a: re.sub(r'signature="[^"]+"', 'signature="%%%"', a)),
    )


def test_unknown_key_id(
    verifier: SignatureVerifier, identity: LocalIdentity, api_signer: Any
) -> None:
    req = sign(api_signer, "GET", "/20190101/jobs/x")
    other_fp = "00:" * 15 + "00"
    headers = with_auth(req, lambda a: a.replace(identity.fingerprint, other_fp))
    err = rejects(verifier, req, "keyId", headers=headers)
    assert identity.fingerprint not in str(err)


def test_wrong_private_key(
    verifier: SignatureVerifier, identity: LocalIdentity, other_key_pem: str
) -> None:
    impostor = oci.signer.Signer(
        identity.tenancy_id,
        identity.user_id,
        identity.fingerprint,
        private_key_file_location=None,
        private_key_content=other_key_pem,
    )
    for method, body in [("GET", None), ("POST", '{"a": 1}')]:
        req = sign(impostor, method, "/20190101/jobs", body)
        rejects(verifier, req, "does not verify")


def test_tampered_requests(verifier: SignatureVerifier, api_signer: Any) -> None:
    body = '{"displayName": "x"}'
    req = sign(api_signer, "POST", "/20190101/jobs?opc=1", body)
    assert check(verifier, req).kind == "user"
    tampered = body.replace("x", "y").encode()
    rejects(verifier, req, "x-content-sha256", body=tampered)
    # Even with a matching digest header the signature covers the digest.
    headers = headers_of(req)
    headers["x-content-sha256"] = base64.b64encode(hashlib.sha256(tampered).digest()).decode()
    rejects(verifier, req, "does not verify", headers=headers, body=tampered)
    rejects(verifier, req, "does not verify", path="/20190101/jobs?opc=2")
    rejects(verifier, req, "does not verify", path="/20190101/projects?opc=1")
    rejects(verifier, req, "does not verify", method="PUT")
    rejects(verifier, req, "does not verify", host="evil.example.com")
    headers = headers_of(req)
    headers["content-type"] = "text/plain"
    rejects(verifier, req, "does not verify", headers=headers)
    headers = headers_of(req)
    headers["content-length"] = "999"
    rejects(verifier, req, "content-length", headers=headers)


def test_date_checks(verifier: SignatureVerifier, api_signer: Any) -> None:
    now = time.time()
    for offset in (-301 - 60, 360):
        stale = email.utils.formatdate(now + offset, usegmt=True)
        req = sign(api_signer, "GET", "/20190101/jobs/x", headers={"date": stale})
        rejects(verifier, req, "5 minutes")
    req = sign(api_signer, "GET", "/20190101/jobs/x", headers={"date": "yesterday-ish"})
    rejects(verifier, req, "date header cannot be parsed")
    near = email.utils.formatdate(now - 200, usegmt=True)
    assert check(verifier, sign(api_signer, "GET", "/x", headers={"date": near})).kind == "user"


def test_unsigned_required_headers(
    verifier: SignatureVerifier, identity: LocalIdentity, api_signer: Any
) -> None:
    cfg = oci.config.from_file(str(identity.config_file))
    lax = oci.signer.Signer.from_config(cfg)
    lax.create_signers(lax.api_key, lax.private_key, ["date", "host"], ["content-type"])
    rejects(verifier, sign(lax, "GET", "/20190101/jobs/x"), r"not signed: \(request-target\)")
    lax.create_signers(lax.api_key, lax.private_key, BASIC, ["content-length", "content-type"])
    req = sign(lax, "POST", "/20190101/jobs", '{"a": 1}')
    rejects(verifier, req, "not signed: x-content-sha256")
    # A signed header that is absent from the request.
    req = sign(api_signer, "POST", "/20190101/jobs", '{"a": 1}')
    headers = {k: v for k, v in headers_of(req).items() if k.lower() != "x-content-sha256"}
    rejects(verifier, req, "'x-content-sha256' is missing", headers=headers)
    rejects(verifier, req, "Method", method="TRACE")


def test_resource_principal_token_failures(
    verifier: SignatureVerifier,
    identity: LocalIdentity,
    rp_env: dict[str, str],
    other_key_pem: str,
) -> None:
    session_key = Path(rp_env["OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"])
    good = Path(rp_env["OCI_RESOURCE_PRINCIPAL_RPST"]).read_text()
    claims = rpst_claims(rp_env)
    rpst_key = rpst_signing_key(identity)
    assert check(verifier, sign(token_signer(good, session_key), "GET", "/x")).id == RES_ID

    expired = jwt.encode(
        {**claims, "iat": int(time.time()) - 7200, "exp": int(time.time()) - 60},
        rpst_key,
        algorithm="RS256",
    )
    rejects(verifier, sign(token_signer(expired, session_key), "GET", "/x"), "expired")

    forged = jwt.encode({**claims, "sub": "ocid1.other"}, other_key_pem, algorithm="RS256")
    rejects(verifier, sign(token_signer(forged, session_key), "GET", "/x"), "token is invalid")

    head, payload, sig = good.split(".")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw["sub"] = "ocid1.someone.else"
    new_payload = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    spliced = f"{head}.{new_payload}.{sig}"
    rejects(verifier, sign(token_signer(spliced, session_key), "GET", "/x"), "token is invalid")

    unsigned = jwt.encode(claims, "", algorithm="none")
    rejects(verifier, sign(token_signer(unsigned, session_key), "GET", "/x"), "token is invalid")

    rejects(verifier, sign(token_signer("not-a-jwt", session_key), "GET", "/x"), "token is invalid")

    no_jwk = jwt.encode({k: v for k, v in claims.items() if k != "jwk"}, rpst_key, "RS256")
    rejects(verifier, sign(token_signer(no_jwk, session_key), "GET", "/x"), "token is invalid")

    bad_jwk = jwt.encode({**claims, "jwk": "{}"}, rpst_key, "RS256")
    rejects(verifier, sign(token_signer(bad_jwk, session_key), "GET", "/x"), "no usable jwk")

    other_tenant = jwt.encode({**claims, "res_tenant": "ocid1.tenancy.oc1..x"}, rpst_key, "RS256")
    rejects(verifier, sign(token_signer(other_tenant, session_key), "GET", "/x"), "bad claims")

    # A valid token, but the request is signed by a key other than the token's jwk.
    rejects(verifier, sign(token_signer(good, other_key_pem), "GET", "/x"), "does not verify")


def test_cached_token_still_expires(
    verifier: SignatureVerifier,
    identity: LocalIdentity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = issue_resource_principal(
        identity,
        tmp_path,
        resource_id=RES_ID,
        resource_type="t",
        compartment_id="c",
        ttl_seconds=600,
    )
    signer = token_signer(
        Path(env["OCI_RESOURCE_PRINCIPAL_RPST"]).read_text(),
        Path(env["OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"]),
    )
    assert check(verifier, sign(signer, "GET", "/x")).resource_type == "t"
    later = time.time() + 3600
    monkeypatch.setattr(identity_mod, "time", types.SimpleNamespace(time=lambda: later))
    req = sign(signer, "GET", "/x", headers={"date": email.utils.formatdate(later, usegmt=True)})
    rejects(verifier, req, "expired")


def test_tokens_are_verified_once(
    verifier: SignatureVerifier, rp_signer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    check(verifier, sign(rp_signer, "GET", "/warm"))
    calls: list[str] = []
    real_decode = jwt.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        calls.append("decode")
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    for _ in range(5):
        assert (
            check(verifier, sign(rp_signer, "GET", "/20190101/jobs/x")).kind == "resource_principal"
        )
    assert calls == []


@pytest.mark.parametrize(
    "authorization",
    [
        'Signature a="b"' + " " * 15_000 + "x",
        'Signature a="b",' + " ," * 7_000 + "x",
        "Signature " + 'k="v" ' * 2_500,
    ],
)
def test_authorization_parsing_takes_linear_time(
    identity: LocalIdentity, authorization: str
) -> None:
    verifier = SignatureVerifier(identity)
    started = time.perf_counter()
    with pytest.raises(NotAuthenticatedError):
        verifier.verify("GET", "/20190101/jobs", {"authorization": authorization}, b"")
    # A complexity guard, not a benchmark: linear parsing takes microseconds here, the old
    # backtracking regex 1.2 s; 0.5 s leaves a noisy shared machine ample room.
    assert time.perf_counter() - started < 0.5


def test_an_authorization_header_over_16_kib_is_refused_unparsed(identity: LocalIdentity) -> None:
    verifier = SignatureVerifier(identity)
    header = 'Signature version="1",keyId="' + "k" * 17_000 + '"'
    with pytest.raises(NotAuthenticatedError, match="longer than 16384"):
        verifier.verify("GET", "/20190101/jobs", {"authorization": header}, b"")
