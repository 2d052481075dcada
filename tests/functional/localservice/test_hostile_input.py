"""Hostile requests get OCI-style 4xx answers, store nothing, and leave the service working.

Each test writes into a compartment of its own, so a record wrongly stored by one test can
never break another test's lists.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import socket
import time
from typing import Any
from urllib.parse import quote, urlsplit

import psutil
import pytest
import requests

from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.localservice.http_protocol import MAX_HEAD_BYTES, MAX_HEADER_FIELDS

API = "/20190101"
INFRASTRUCTURE = {
    "jobInfrastructureType": "ME_STANDALONE",
    "shapeName": "VM.Standard.E4.Flex",
    "blockStorageSizeInGBs": 50,
    "jobShapeConfigDetails": {"ocpus": 1, "memoryInGBs": 16},
}
CONFIGURATION = {
    "jobType": "DEFAULT",
    "environmentVariables": {"JOB_RUN_ENTRYPOINT": "main.py"},
}
PLACEHOLDER = '"__HOSTILE__"'


def fresh_compartment() -> str:
    return "ocid1.compartment.oc1.." + secrets.token_hex(30)


def project_body(compartment: str) -> dict[str, Any]:
    return {"compartmentId": compartment, "displayName": "hostile"}


def job_body(compartment: str, project_id: str) -> dict[str, Any]:
    return {
        "projectId": project_id,
        "compartmentId": compartment,
        "displayName": "hostile",
        "jobConfigurationDetails": json.loads(json.dumps(CONFIGURATION)),
        "jobInfrastructureConfigurationDetails": json.loads(json.dumps(INFRASTRUCTURE)),
    }


def with_hostile(body: dict[str, Any], literal: str) -> bytes:
    """The body as JSON text with the placeholder string replaced by a raw JSON literal."""
    text = json.dumps(body)
    assert PLACEHOLDER in text
    return text.replace(PLACEHOLDER, literal).encode("utf-8")


def post_raw(service: EmbeddedService, path: str, body: bytes) -> requests.Response:
    return requests.post(
        service.endpoint + path,
        data=body,
        headers={"content-type": "application/json"},
        auth=service.signer,
        timeout=30,
    )


def get(service: EmbeddedService, path: str, **params: str) -> requests.Response:
    return requests.get(service.endpoint + path, params=params, auth=service.signer, timeout=30)


def assert_oci_error(
    response: requests.Response, status: int = 400, code: str | None = None
) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str)
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_nothing_stored(service: EmbeddedService, compartment: str) -> None:
    for kind in ("projects", "jobs", "jobRuns"):
        listed = get(service, f"{API}/{kind}", compartmentId=compartment)
        assert listed.status_code == 200, listed.text
        assert listed.json() == []


@pytest.fixture(scope="module")
def tenancy_project(local_service: EmbeddedService) -> str:
    return local_service.create_project(name="hostile-input")


# ------------------------------------------------------------------------- bodies


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"]


@pytest.mark.parametrize("literal", NON_FINITE)
def test_non_finite_numbers_in_tags_are_refused(
    local_service: EmbeddedService, literal: str
) -> None:
    compartment = fresh_compartment()
    body = {**project_body(compartment), "definedTags": {"ops": {"cost": "__HOSTILE__"}}}
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/projects", with_hostile(body, literal)),
        code="InvalidParameter",
    )
    assert "definedTags" in answer["message"]
    assert_nothing_stored(local_service, compartment)


@pytest.mark.parametrize("literal", NON_FINITE)
def test_non_finite_ocpus_are_refused(
    local_service: EmbeddedService, tenancy_project: str, literal: str
) -> None:
    compartment = fresh_compartment()
    body = job_body(compartment, tenancy_project)
    body["jobInfrastructureConfigurationDetails"]["jobShapeConfigDetails"]["ocpus"] = "__HOSTILE__"
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/jobs", with_hostile(body, literal)),
        code="InvalidParameter",
    )
    assert "ocpus" in answer["message"]
    assert_nothing_stored(local_service, compartment)


SURROGATE_CASES = {
    "displayName": lambda body: body.update(displayName="__HOSTILE__"),
    "tag value": lambda body: body.update(freeformTags={"team": "__HOSTILE__"}),
    "environment variable": lambda body: body["jobConfigurationDetails"][
        "environmentVariables"
    ].update(NOTE="__HOSTILE__"),
    "description": lambda body: body.update(description="__HOSTILE__"),
}


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "a\\udc00b"])
@pytest.mark.parametrize("case", sorted(SURROGATE_CASES))
def test_lone_surrogates_are_refused(
    local_service: EmbeddedService, tenancy_project: str, case: str, escape: str
) -> None:
    compartment = fresh_compartment()
    body = job_body(compartment, tenancy_project)
    SURROGATE_CASES[case](body)
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/jobs", with_hostile(body, f'"{escape}"')),
        code="InvalidParameter",
    )
    assert "\\ud" not in answer["message"].lower()  # the value is never echoed
    assert_nothing_stored(local_service, compartment)


def test_surrogates_in_keys_and_raw_bytes_are_refused(local_service: EmbeddedService) -> None:
    compartment = fresh_compartment()
    as_key = json.dumps({**project_body(compartment), "freeformTags": {"__K__": "v"}})
    response = post_raw(
        local_service, f"{API}/projects", as_key.replace("__K__", "\\ud83d").encode()
    )
    assert_oci_error(response, code="InvalidParameter")
    # A surrogate encoded straight into the bytes (CESU-8), not as a JSON escape.
    raw = json.dumps(project_body(compartment)).replace("hostile", "\x00").encode()
    raw = raw.replace(b"\\u0000", b"\xed\xa0\x80")
    assert_oci_error(post_raw(local_service, f"{API}/projects", raw))
    assert_nothing_stored(local_service, compartment)


@pytest.mark.parametrize("depth", [64, 5_000, 200_000])
def test_deeply_nested_bodies_are_refused(local_service: EmbeddedService, depth: int) -> None:
    compartment = fresh_compartment()
    nested = "[" * depth + "]" * depth
    body = with_hostile({**project_body(compartment), "freeformTags": "__HOSTILE__"}, nested)
    assert_oci_error(post_raw(local_service, f"{API}/projects", body))
    assert_nothing_stored(local_service, compartment)


def test_integers_too_large_for_a_float_are_refused(
    local_service: EmbeddedService, tenancy_project: str
) -> None:
    compartment = fresh_compartment()
    body = job_body(compartment, tenancy_project)
    body["jobInfrastructureConfigurationDetails"]["jobShapeConfigDetails"]["ocpus"] = "__HOSTILE__"
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/jobs", with_hostile(body, "1" + "0" * 400)),
        code="InvalidParameter",
    )
    assert "ocpus" in answer["message"]
    assert_nothing_stored(local_service, compartment)


@pytest.mark.parametrize("digits", ["²", "٣", "\U0001d7d7", "1²"])
def test_unicode_digits_are_not_integers(
    local_service: EmbeddedService, tenancy_project: str, digits: str
) -> None:
    compartment = fresh_compartment()
    body = job_body(compartment, tenancy_project)
    body["jobConfigurationDetails"]["maximumRuntimeInMinutes"] = digits
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/jobs", json.dumps(body).encode()),
        code="InvalidParameter",
    )
    assert "maximumRuntimeInMinutes" in answer["message"]
    assert_oci_error(get(local_service, f"{API}/jobs", compartmentId=compartment, limit=digits))
    assert_nothing_stored(local_service, compartment)


def test_huge_page_tokens_and_log_offsets_are_refused(
    local_service: EmbeddedService, project_id: str
) -> None:
    token = base64.urlsafe_b64encode(b"offset:" + b"9" * 30).decode().rstrip("=")
    for kind in ("projects", "jobs", "jobRuns"):
        answer = assert_oci_error(
            get(local_service, f"{API}/{kind}", compartmentId=fresh_compartment(), page=token),
            code="InvalidParameter",
        )
        assert "page" in answer["message"]
    run_id = "ocid1.datasciencejobrun.oc1.iad." + "a" * 60
    for offset in ("²", "9" * 30):
        response = get(local_service, f"/_local/jobRuns/{run_id}/logs", offset=offset)
        assert response.status_code in (400, 404), response.text
        assert_oci_error(response, status=response.status_code)


def test_query_parameters_with_broken_encodings_are_answered(
    local_service: EmbeddedService,
) -> None:
    compartment = fresh_compartment()
    for name in ("displayName", "lifecycleState", "sortBy", "limit", "page"):
        url = f"{local_service.endpoint}{API}/jobs?compartmentId={compartment}&{name}=%ED%A0%80"
        response = requests.get(url, auth=local_service.signer, timeout=30)
        assert response.status_code in (200, 400), response.text
        assert isinstance(response.json(), list if response.status_code == 200 else dict)


# ------------------------------------------------------------------------- unsupported fields


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("jobEnvironmentConfigurationDetails", {"jobEnvironmentType": "OCIR_CONTAINER"}),
        ("jobStorageMountConfigurationDetailsList", [{"storageType": "FILE_STORAGE"}]),
        ("jobNodeConfigurationDetails", {"jobNodeType": "MULTI_NODE"}),
    ],
)
def test_unsupported_job_configurations_are_refused(
    local_service: EmbeddedService, tenancy_project: str, field: str, value: object
) -> None:
    compartment = fresh_compartment()
    body = {**job_body(compartment, tenancy_project), field: value}
    answer = assert_oci_error(
        post_raw(local_service, f"{API}/jobs", json.dumps(body).encode()),
        code="InvalidParameter",
    )
    assert field in answer["message"]
    assert "not supported by the local service" in answer["message"]
    assert_nothing_stored(local_service, compartment)


# ------------------------------------------------------------------------- object names


@pytest.mark.parametrize(
    "name",
    ["x" * 300, "dir/" + "y" * 256, "/".join(["z" * 200] * 6), "é" * 513],
)
def test_object_names_too_long_for_the_disk_or_for_oci_are_refused(
    local_service: EmbeddedService, name: str
) -> None:
    client = local_service.object_storage_client()
    path = f"/n/{local_service.namespace}/b/long-names/o/{quote(name, safe='/')}"
    put = requests.put(
        local_service.endpoint + path, data=b"x", auth=local_service.signer, timeout=30
    )
    assert_oci_error(put, code="InvalidParameter")
    got = requests.get(local_service.endpoint + path, auth=local_service.signer, timeout=30)
    assert got.status_code in (400, 404), got.text
    assert_oci_error(got, status=got.status_code)
    assert client.get_namespace().data == local_service.namespace


# ------------------------------------------------------------------------- sizes, headers


def _connection(service: EmbeddedService) -> http.client.HTTPConnection:
    parts = urlsplit(service.endpoint)
    assert parts.hostname is not None and parts.port is not None
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def send_claiming(
    service: EmbeddedService,
    method: str,
    path: str,
    headers: dict[str, str],
    claimed_length: int,
    sent: bytes = b"{}",
) -> tuple[int, dict[str, Any], float]:
    """Send headers that announce `claimed_length` body bytes but only `sent` of them;
    the status, JSON answer and seconds until the answer."""
    connection = _connection(service)
    started = time.monotonic()
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            if name.lower() != "content-length":
                connection.putheader(name, value)
        connection.putheader("content-length", str(claimed_length))
        connection.endheaders(sent)
        response = connection.getresponse()
        answer = json.loads(response.read())
        return response.status, answer, time.monotonic() - started
    finally:
        connection.close()


def signed_headers(
    service: EmbeddedService, method: str, path: str, body: bytes, claimed: int, *, raw: bool
) -> dict[str, str]:
    """Headers signed by the service's API key for a body of `claimed` bytes."""
    prepared = requests.Request(method, service.endpoint + path, data=body).prepare()
    prepared.headers["content-length"] = str(claimed)
    if not raw:
        prepared.headers["content-type"] = "application/json"
        prepared.headers["x-content-sha256"] = base64.b64encode(
            hashlib.sha256(body).digest()
        ).decode()
    service.signer(prepared, enforce_content_headers=not raw)
    return {k: v if isinstance(v, str) else v.decode() for k, v in prepared.headers.items()}


def test_a_huge_unsigned_body_is_refused_before_it_is_read(
    local_service: EmbeddedService,
) -> None:
    status, answer, seconds = send_claiming(
        local_service,
        "POST",
        f"{API}/projects",
        {"content-type": "application/json", "host": "localhost"},
        400_000_000,
    )
    assert (status, answer["code"]) == (401, "NotAuthenticated")
    assert seconds < 5


def test_a_signed_json_body_over_the_limit_is_refused_before_it_is_read(
    local_service: EmbeddedService,
) -> None:
    path = f"{API}/projects"
    claimed = 11 * 1024 * 1024
    headers = signed_headers(local_service, "POST", path, b"{}", claimed, raw=False)
    status, answer, seconds = send_claiming(local_service, "POST", path, headers, claimed)
    assert (status, answer["code"]) == (400, "LimitExceeded"), answer
    assert "10 MB" in answer["message"] or "10485760" in answer["message"]
    assert seconds < 5


def test_a_signed_artifact_over_the_limit_is_refused_before_it_is_read(
    local_service: EmbeddedService, tenancy_project: str
) -> None:
    job = post_raw(
        local_service,
        f"{API}/jobs",
        json.dumps(job_body(local_service.tenancy_id, tenancy_project)).encode(),
    ).json()
    path = f"{API}/jobs/{job['id']}/artifact"
    claimed = 3 * 1024**3
    headers = signed_headers(local_service, "POST", path, b"PK", claimed, raw=True)
    headers["content-disposition"] = "attachment; filename=big.zip"
    status, answer, seconds = send_claiming(local_service, "POST", path, headers, claimed, b"PK")
    assert (status, answer["code"]) == (400, "LimitExceeded"), answer
    assert seconds < 5
    assert get(local_service, f"{API}/jobs/{job['id']}").json()["lifecycleState"] == "CREATING"


def test_an_oversized_authorization_header_is_refused_quickly(
    local_service: EmbeddedService,
) -> None:
    started = time.monotonic()
    for authorization in (
        'Signature a="b"' + " " * 15_000 + "x",
        "Signature " + ",".join(f'p{n}="{"v" * 50}"' for n in range(400)),
    ):
        response = requests.get(
            f"{local_service.endpoint}{API}/projects",
            headers={"authorization": authorization},
            timeout=30,
        )
        assert_oci_error(response, status=401, code="NotAuthenticated")
    assert time.monotonic() - started < 1.0


def _raw_exchange(service: EmbeddedService, head: bytes, filler: int = 0) -> tuple[bytes, float]:
    """Send `head` then up to `filler` more header bytes (never ending the head) on a raw
    socket; what the service answered and the seconds it took."""
    parts = urlsplit(service.endpoint)
    assert parts.hostname is not None and parts.port is not None
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        try:
            sock.sendall(head)
            chunk = b"a" * 65536
            for _ in range(filler // len(chunk)):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the service closed the connection: its answer is already waiting
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer, time.monotonic() - started


def test_an_oversized_header_block_is_refused_before_it_is_buffered(
    local_service: EmbeddedService,
) -> None:
    process = psutil.Process(local_service.pid)
    before = process.memory_info().rss
    head = b"GET /20190101/projects HTTP/1.1\r\nhost: localhost\r\nx-filler: "
    answer, seconds = _raw_exchange(local_service, head, filler=128 * 1024 * 1024)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 431 Request Header Fields Too Large", answer[:200]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["code"] == "RequestHeaderFieldsTooLarge"
    assert str(MAX_HEAD_BYTES) in body["message"]
    grown_mb = (process.memory_info().rss - before) / 2**20
    assert grown_mb < 16, f"the service grew by {grown_mb:.0f} MB"
    assert seconds < 10
    assert local_service.object_storage_client().get_namespace().data == local_service.namespace


def test_too_many_header_fields_are_refused(local_service: EmbeddedService) -> None:
    fields = b"".join(b"x-field-%d: v\r\n" % n for n in range(MAX_HEADER_FIELDS + 1))
    answer, _ = _raw_exchange(
        local_service, b"GET /20190101/projects HTTP/1.1\r\nhost: localhost\r\n" + fields + b"\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_large_but_allowed_heads_work_on_a_kept_alive_connection(
    local_service: EmbeddedService,
) -> None:
    """Each request's head is bounded on its own: three requests of 40 KiB of headers each on
    one connection are all answered."""
    extra = {f"x-extra-{n}": "v" * 500 for n in range(80)}
    with requests.Session() as session:
        for _ in range(3):
            response = session.get(
                f"{local_service.endpoint}/n/",
                headers=extra,
                auth=local_service.signer,
                timeout=30,
            )
            assert response.status_code == 200, response.text
            assert response.json() == local_service.namespace


@pytest.mark.parametrize("suffix", ["%0a", "%0d", "%00", "%0d%0a"])
def test_object_names_with_control_characters_never_alias_another_object(
    local_service: EmbeddedService, suffix: str
) -> None:
    base = f"{local_service.endpoint}/n/{local_service.namespace}/b/exact-names/o/victim"
    put = requests.put(base, data=b"original", auth=local_service.signer, timeout=30)
    assert put.status_code == 200, put.text
    hostile = requests.put(
        base + suffix, data=b"overwritten", auth=local_service.signer, timeout=30
    )
    assert_oci_error(hostile, status=400, code="InvalidParameter")
    assert "line feed" in hostile.json()["message"]
    got = requests.get(base, auth=local_service.signer, timeout=30)
    assert got.content == b"original"


def test_a_resource_id_with_a_trailing_newline_is_not_the_resource(
    local_service: EmbeddedService, tenancy_project: str
) -> None:
    url = f"{local_service.endpoint}{API}/projects/{tenancy_project}"
    assert requests.get(url, auth=local_service.signer, timeout=30).status_code == 200
    aliased = requests.get(url + "%0a", auth=local_service.signer, timeout=30)
    assert aliased.status_code in (400, 404), aliased.text
    assert_oci_error(aliased, status=aliased.status_code)
