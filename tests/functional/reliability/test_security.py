"""Security: signatures the service must refuse, notebook URLs the function must not fetch,
and secrets that must not reach any log.

The signature checks here are about side effects and tampering (a refused request changes
nothing; a valid signature does not cover an altered request); plain "unsigned is 401" is
in the local service's own tests. The URL corpus runs against a live canary server on
loopback, so a refusal is proven to be the guard's and not a failed connection.
"""

from __future__ import annotations

import email.utils
import http.server
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import oci
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.fn_client import Answer, FunctionClient, wait_for_run
from tests.functional.reliability.conftest import SHARED_NOTEBOOKS, mutating_calls

NOTEBOOK_BYTES = (SHARED_NOTEBOOKS / "hello.ipynb").read_bytes()

# --------------------------------------------------------------------------- signatures


def signer_for(service: EmbeddedService, key_file: Path | None = None) -> oci.signer.Signer:
    identity = service.identity
    return oci.signer.Signer(
        tenancy=identity.tenancy_id,
        user=identity.user_id,
        fingerprint=identity.fingerprint,
        private_key_file_location=str(key_file or identity.key_file),
    )


def stranger_key(folder: Path) -> Path:
    """A freshly generated key the service has never seen."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "stranger.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def prepared(
    service: EmbeddedService, method: str, path: str, body: Any = None
) -> requests.PreparedRequest:
    return requests.Request(
        method,
        service.endpoint + path,
        data=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"} if body is not None else {},
    ).prepare()


def send(request: requests.PreparedRequest) -> requests.Response:
    with requests.Session() as session:
        return session.send(request, timeout=30)


def project_body(service: EmbeddedService, name: str) -> dict[str, str]:
    return {"compartmentId": service.tenancy_id, "displayName": name}


def unsigned(service: EmbeddedService, tmp: Path) -> requests.PreparedRequest:
    return prepared(service, "POST", "/20190101/projects", project_body(service, "unsigned"))


def signed_by_a_stranger_with_the_right_key_id(
    service: EmbeddedService, tmp: Path
) -> requests.PreparedRequest:
    request = prepared(service, "POST", "/20190101/projects", project_body(service, "stranger"))
    signed: requests.PreparedRequest = signer_for(service, stranger_key(tmp))(request)
    return signed


def body_changed_after_signing(service: EmbeddedService, tmp: Path) -> requests.PreparedRequest:
    request: requests.PreparedRequest = signer_for(service)(
        prepared(service, "POST", "/20190101/projects", project_body(service, "original"))
    )
    # Same length, so content-length still matches; only the body digest can tell.
    request.body = json.dumps(project_body(service, "tampered"))
    return request


def signature_replayed_on_another_path(
    service: EmbeddedService, tmp: Path
) -> requests.PreparedRequest:
    original = signer_for(service)(
        prepared(service, "POST", "/20190101/projects", project_body(service, "replayed"))
    )
    request = prepared(service, "POST", "/20190101/jobRuns", project_body(service, "replayed"))
    request.headers.update({k: v for k, v in original.headers.items() if k.lower() != "host"})
    return request


def signed_an_hour_ago(service: EmbeddedService, tmp: Path) -> requests.PreparedRequest:
    request = prepared(service, "POST", "/20190101/projects", project_body(service, "stale"))
    request.headers["date"] = email.utils.formatdate(time.time() - 3600, usegmt=True)
    signed: requests.PreparedRequest = signer_for(service)(request)
    return signed


@pytest.mark.parametrize(
    "forge",
    [
        unsigned,
        signed_by_a_stranger_with_the_right_key_id,
        body_changed_after_signing,
        signature_replayed_on_another_path,
        signed_an_hour_ago,
    ],
)
def test_forged_requests_are_refused_and_change_nothing(
    service: EmbeddedService,
    tmp_path: Path,
    forge: Callable[[EmbeddedService, Path], requests.PreparedRequest],
) -> None:
    calls_before = service.stats()
    projects_before = {p.id for p in service.datascience_client().list_projects(
        compartment_id=service.tenancy_id, limit=1000).data}  # fmt: skip
    response = send(forge(service, tmp_path))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "NotAuthenticated"
    assert mutating_calls(calls_before, service.stats()) == {}
    projects_after = {p.id for p in service.datascience_client().list_projects(
        compartment_id=service.tenancy_id, limit=1000).data}  # fmt: skip
    assert projects_after == projects_before


def test_unsigned_callers_cannot_inject_faults_or_reset_counts(
    service: EmbeddedService,
) -> None:
    client = service.datascience_client()
    client.list_projects(compartment_id=service.tenancy_id)
    counted = service.stats()["ListProjects"]
    fault = {"operation": "ListProjects", "status": 500, "count": 5, "delaySeconds": 0}
    assert send(prepared(service, "POST", "/_local/faults", fault)).status_code == 401
    assert send(prepared(service, "POST", "/_local/stats/reset")).status_code == 401
    assert send(prepared(service, "DELETE", "/_local/faults")).status_code == 401
    # No fault was queued (this call would fail) and the counts were not reset.
    client.list_projects(compartment_id=service.tenancy_id)
    assert service.stats()["ListProjects"] == counted + 1


# --------------------------------------------------------------------------- notebook URLs


@dataclass
class Canary:
    """HTTP servers on loopback that serve a valid notebook and count every request."""

    port_v4: int
    port_v6: int | None
    hits: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(NOTEBOOK_BYTES)))
            self.end_headers()
            self.wfile.write(NOTEBOOK_BYTES)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class V6Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    servers: list[http.server.ThreadingHTTPServer] = [
        http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ]
    try:
        servers.append(V6Server(("::1", 0), Handler))
    except OSError:
        pass  # no IPv6 loopback here: the IPv6 cases still run, without a listener
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Canary(
            port_v4=servers[0].server_address[1],
            port_v6=servers[1].server_address[1] if len(servers) > 1 else None,
            hits=hits,
        )
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


# Loopback in every spelling the resolver accepts, reaching the canary if fetched.
LOOPBACK = [
    "http://127.0.0.1:{v4}/a.ipynb",
    "http://127.1:{v4}/a.ipynb",
    "http://2130706433:{v4}/a.ipynb",
    "http://0x7f000001:{v4}/a.ipynb",
    "http://0177.0.0.1:{v4}/a.ipynb",
    "http://localhost:{v4}/a.ipynb",
    "http://0.0.0.0:{v4}/a.ipynb",
    "http://0:{v4}/a.ipynb",
    "http://[::ffff:127.0.0.1]:{v4}/a.ipynb",
    "http://[::1]:{v6}/a.ipynb",
    "http://[0:0:0:0:0:0:0:1]:{v6}/a.ipynb",
]
# Internal addresses with no listener: refused by the guard, quickly, without connecting.
INTERNAL = [
    "https://169.254.169.254/opc/v2/instance/",
    "https://2852039166/n.ipynb",
    "https://0251.0376.0251.0376/n.ipynb",
    "https://0xa9fea9fe/n.ipynb",
    "https://0xa9.0xfe.0xa9.0xfe/n.ipynb",
    "https://169.254.43518/n.ipynb",
    "https://[::ffff:169.254.169.254]/n.ipynb",
    "https://[::ffff:a9fe:a9fe]/n.ipynb",
    "https://10.0.0.1/n.ipynb",
    "https://10.255.255.254/n.ipynb",
    "https://172.16.0.1/n.ipynb",
    "https://172.31.255.254/n.ipynb",
    "https://192.168.0.1/n.ipynb",
    "https://192.168.255.254/n.ipynb",
    "https://100.64.0.1/n.ipynb",
    "https://100.127.255.254/n.ipynb",
    "https://[fd00::1]/n.ipynb",
    "https://[fd12:3456:789a::1]/n.ipynb",
    "https://[fe80::1]/n.ipynb",
    "https://localhost/n.ipynb",
    "https://0.0.0.0/n.ipynb",
    "https://[::]/n.ipynb",
]
# Schemes and forms refused before any lookup.
NOT_HTTPS = {
    "file:///etc/passwd": "scheme",
    "FILE:///etc/hostname": "scheme",
    "ftp://x.invalid/n.ipynb": "scheme",
    "gopher://x.invalid:70/_GET%20/": "scheme",
    "dict://x.invalid:11211/stat": "scheme",
    "http://x.invalid/n.ipynb": "https",
    "https://user:pass@x.invalid/n.ipynb": "credentials",
    "https://token@x.invalid/n.ipynb": "credentials",
    "/etc/passwd": "local paths",
}


def refused(fn: FunctionClient, service: EmbeddedService, url: str) -> dict[str, Any]:
    before = service.stats()
    answer: Answer = fn.invoke({"noteBook": url, "jobName": "ssrf"}, gateway=True)
    assert answer.status == 400, (url, answer)
    assert answer.error["code"] == "NotebookFetchFailed", (url, answer)
    assert mutating_calls(before, service.stats()) == {}, url
    return answer.error


@pytest.fixture(scope="module")
def deployed(function: FunctionClient) -> FunctionClient:
    return function.with_config(NL_ALLOW_LOCAL_NOTEBOOKS="false")


def test_loopback_urls_are_refused_before_any_connection(
    service: EmbeddedService, deployed: FunctionClient, canary: Canary
) -> None:
    # Plain http allowed, so the address guard is the only thing in the way.
    fn = deployed.with_config(NL_ALLOW_HTTP="true")
    for template in LOOPBACK:
        url = template.format(v4=canary.port_v4, v6=canary.port_v6 or canary.port_v4)
        error = refused(fn, service, url)
        assert "non-public address" in error["message"], (url, error)
    assert canary.hits == []

    # The canary is live: with private addresses allowed, the same URL is fetched.
    opened = fn.with_config(NL_ALLOW_PRIVATE_ADDRESSES="true")
    dry = opened.invoke(
        {"noteBook": f"http://127.0.0.1:{canary.port_v4}/canary.ipynb", "dryRun": True}
    )
    assert dry.status == 200, dry
    assert canary.hits == ["/canary.ipynb"]


def test_internal_addresses_are_refused_without_connecting(
    service: EmbeddedService, deployed: FunctionClient
) -> None:
    for url in INTERNAL:
        started = time.monotonic()
        error = refused(deployed, service, url)
        assert "non-public address" in error["message"], (url, error)
        # A connection attempt to an unrouted address would wait for the connect timeout.
        assert time.monotonic() - started < 2, url


def test_other_schemes_and_credentials_are_refused(
    service: EmbeddedService, deployed: FunctionClient
) -> None:
    for url, reason in NOT_HTTPS.items():
        error = refused(deployed, service, url)
        assert reason in error["message"], (url, error)


# --------------------------------------------------------------------------- secrets


def test_secret_values_reach_no_log(
    service: EmbeddedService,
    function: FunctionClient,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    marker = f"S3cr3t{uuid.uuid4().hex}"
    secrets: dict[str, Any] = {
        "environmentVariables": {
            "DB_PASSWORD": f"{marker}-env-password",
            "API_TOKEN": f"{marker}-env-token",
            "PLAIN_SETTING": "plain-env-value",
        },
        "parameters": {
            "db_password": f"{marker}-param-password",
            "api_key": f"{marker}-param-key",
            "client_secret": {"nested": f"{marker}-param-nested"},
            "plain": "visible",
        },
    }
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="notebook_launcher")
    key = uuid.uuid4().hex
    body = {
        "noteBook": str(SHARED_NOTEBOOKS / "hello.ipynb"),
        "jobName": f"secrets-{uuid.uuid4().hex[:6]}",
        "idempotencyKey": key,
        **secrets,
    }
    answers = [function.invoke(body, gateway=True)]
    launched = answers[0]
    assert launched.status == 200, launched
    # Error answers to requests carrying the same secrets: invalid, conflicting, throttled.
    answers.append(function.invoke({**body, "shape": "bad shape", "typo": 1}, gateway=True))
    answers.append(
        function.invoke(
            {**body, "parameters": {**secrets["parameters"], "plain": "other"}}, gateway=True
        )
    )
    service.inject_fault("CreateJobRun", status=429, count=1000)
    answers.append(
        function.invoke({**body, "idempotencyKey": uuid.uuid4().hex}, gateway=True, timeout=6)
    )
    service.clear_faults()
    assert [a.status for a in answers] == [200, 400, 409, 503], answers

    run = wait_for_run(service, launched.body["id"])
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    run_log = service.logs(run.id)
    # The log is really the run's output, redaction included: a leak would show here.
    assert "plain = 'visible'" in run_log and "db_password = <redacted>" in run_log

    function_log = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    captured = capfd.readouterr()
    assert launched.body["id"] in function_log  # the invocation line was captured
    service_logs = {
        str(path): path.read_text(errors="replace") for path in service.data_dir.rglob("*.log")
    }
    assert str(service.service_log) in service_logs
    places = {
        "function log records": function_log,
        "stdout and stderr": captured.out + captured.err,
        "run log": run_log,
        "answers": json.dumps([a.body for a in answers]),
        **service_logs,
    }
    leaked = [place for place, text in places.items() if marker in text]
    assert leaked == [], f"secret values found in: {leaked}"

    executed = json.loads(
        service.object_path(
            *_output_location(launched.body["outputUri"], "hello.ipynb")
        ).read_text()
    )
    injected = [
        cell
        for cell in executed["cells"]
        if "injected-parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    shown = "".join("".join(o.get("text", "")) for o in injected[0]["outputs"])
    for name in ("db_password", "api_key", "client_secret"):
        assert f"{name} = <redacted>" in shown, shown
    assert "plain = 'visible'" in shown and marker not in shown


def _output_location(output_uri: str, name: str) -> tuple[str, str, str]:
    bucket, _, rest = output_uri.removeprefix("oci://").partition("@")
    namespace, _, prefix = rest.partition("/")
    return namespace, bucket, f"{prefix.strip('/')}/{name}"
