"""Hostile inputs met below the HTTP layer: headers, bodies, artifacts, stored values."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.localservice import lifecycle, validation
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.errors import InvalidParameterError
from notebook_launcher.localservice.executor import (
    Executor,
    ExecutorSettings,
    RunSetupError,
    unpack_artifact,
)
from notebook_launcher.localservice.identity.provisioning import LocalIdentity, ensure_identity
from notebook_launcher.localservice.identity.signatures import NotAuthenticatedError
from notebook_launcher.localservice.objectstorage.models import ObjectStore
from notebook_launcher.localservice.rest import ServiceJSONResponse
from notebook_launcher.localservice.store import PROJECTS, Record, Store
from tests.support.signatures import SignatureVerifier
from tests.unit.localservice.datascience.test_models import (
    TENANCY,
    USER,
    RecordingScheduler,
    active_job,
    job_body,
    run_body,
)


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> LocalIdentity:
    return ensure_identity(tmp_path_factory.mktemp("svc"))


# ------------------------------------------------------------------------- Authorization


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


# ------------------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a": NaN}', "not a finite number"),
        (b'{"a": [1, -Infinity]}', "not a finite number"),
        (b'{"a": {"b": 1e400}}', "not a finite number"),
        (b'{"a": "\\ud800"}', "not valid Unicode"),
        (b'{"\\udfff": 1}', "not valid Unicode"),
        (b'{"a": "\xed\xa0\x80"}', "not valid Unicode"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested"),
    ],
)
def test_request_bodies_with_unstorable_values_are_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidParameterError, match=problem) as caught:
        validation.parse_json_body(raw)
    assert "\\ud" not in caught.value.message and "\ud800" not in caught.value.message


def test_the_refusal_names_where_the_bad_value_is() -> None:
    with pytest.raises(InvalidParameterError, match=r"definedTags\.ops\.cost"):
        validation.parse_json_body(b'{"definedTags": {"ops": {"cost": NaN}}}')
    with pytest.raises(InvalidParameterError, match=r"items\[1\]"):
        validation.parse_json_body(b'{"items": ["ok", "\\udc00"]}')


def test_ordinary_bodies_parse() -> None:
    assert validation.parse_json_body(b'{"a": [1, 2.5, "\xc3\xa9", null, true]}') == {
        "a": [1, 2.5, "é", None, True]
    }


@pytest.mark.parametrize("text", ["²", "٣", "\U0001d7d7", "1²", "+3", " 3x"])
def test_only_ascii_digits_are_integers(text: str) -> None:
    with pytest.raises(InvalidParameterError, match="maximumRuntimeInMinutes"):
        validation.integer(
            {"maximumRuntimeInMinutes": text}, "maximumRuntimeInMinutes", minimum=1, maximum=10
        )
    assert validation.integer({"n": " 7 "}, "n", minimum=1, maximum=10) == 7


def test_huge_integers_are_refused_where_numbers_are_expected() -> None:
    with pytest.raises(InvalidParameterError, match="ocpus"):
        validation.positive_number({"ocpus": 10**400}, "ocpus", "shape")


# ------------------------------------------------------------------------- stored values


def test_the_store_refuses_unserialisable_documents_and_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    for bad in (float("nan"), float("inf"), "\ud800"):
        doc = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": bad}
        with pytest.raises(InvalidParameterError), store.transaction() as tx:
            tx.insert(PROJECTS, doc)
        assert store.get(PROJECTS, "p1") is None
    good = {"id": "p1", "timeCreated": "2026-01-01T00:00:00.000Z", "displayName": "é"}
    with store.transaction() as tx:
        tx.insert(PROJECTS, good)
    stored = store.get(PROJECTS, "p1")
    assert stored is not None and stored.doc == good


def test_records_stored_before_bodies_were_checked_are_still_answered() -> None:
    legacy = {"a": float("nan"), "b": "x\ud800", "\udc00": [float("inf"), 1.5]}
    body = bytes(ServiceJSONResponse(legacy).body)
    assert json.loads(body) == {"a": None, "b": "x\ufffd\ufffd\ufffd", "\ufffd" * 3: [None, 1.5]}


@pytest.mark.parametrize("digits", ["²", "٣"])
def test_list_limits_take_ascii_digits_only(tmp_path: Path, digits: str) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    with pytest.raises(InvalidParameterError, match="limit"):
        ds.list_projects({"compartmentId": "ocid1.tenancy.oc1..aaaa", "limit": digits})


def test_page_tokens_are_bounded(tmp_path: Path) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    for number in ("9" * 30, "²", "-1"):
        token = base64.urlsafe_b64encode(f"offset:{number}".encode()).decode().rstrip("=")
        with pytest.raises(InvalidParameterError, match="page"):
            ds.list_projects({"compartmentId": "ocid1.tenancy.oc1..aaaa", "page": token})


# ------------------------------------------------------------------------- object names


@pytest.mark.parametrize("name", ["x" * 256, "a/" + "b" * 300, "é" * 513])
def test_object_names_the_disk_or_oci_cannot_hold_are_refused(tmp_path: Path, name: str) -> None:
    store = ObjectStore(tmp_path)
    with pytest.raises(InvalidParameterError, match="objectName"):
        store.put("ns", "bucket", name, b"x")
    with pytest.raises(InvalidParameterError, match="objectName"):
        store.head("ns", "bucket", name)


def test_an_object_name_of_255_bytes_per_segment_is_stored(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    name = "a" * 255 + "/" + "b" * 255
    assert store.put("ns", "bucket", name, b"x").size == 1
    assert store.head("ns", "bucket", name).size == 1


# ------------------------------------------------------------------------- artifacts


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def test_unpacking_refuses_an_artifact_larger_than_the_cap(tmp_path: Path) -> None:
    artifact = tmp_path / "bomb.bin"
    artifact.write_bytes(zip_of([("a", b"\0" * 600_000), ("b", b"\0" * 600_000)]))
    assert artifact.stat().st_size < 10_000
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="unpacks to more than 1000000 bytes"):
        unpack_artifact(artifact, "bomb.zip", tmp_path / "run", max_bytes=1_000_000)
    assert list((tmp_path / "run").iterdir()) == []
    unpack_artifact(artifact, "bomb.zip", tmp_path / "run", max_bytes=1_200_000)
    assert (tmp_path / "run" / "b").stat().st_size == 600_000


def test_unpacking_refuses_too_many_entries(tmp_path: Path) -> None:
    artifact = tmp_path / "many.bin"
    artifact.write_bytes(zip_of([(f"f{n}", b"") for n in range(30)]))
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="more than 20 entries"):
        unpack_artifact(artifact, "many.zip", tmp_path / "run", max_entries=20)


@pytest.mark.parametrize(
    ("content", "file_name"),
    [
        (zip_of([("lnk", b"x"), ("lnk/pwn", b"y")]), "clash.zip"),
        (b"print(1)\n", ".."),
        (b"print(1)\n", "."),
    ],
)
def test_os_errors_while_unpacking_are_setup_errors(
    tmp_path: Path, content: bytes, file_name: str
) -> None:
    artifact = tmp_path / "artifact.bin"
    artifact.write_bytes(content)
    (tmp_path / "run").mkdir()
    with pytest.raises(RunSetupError, match="cannot be unpacked"):
        unpack_artifact(artifact, file_name, tmp_path / "run")


# ------------------------------------------------------------------------- run setup


class _CancelDuringSetup(Executor):
    """An executor whose setup is interrupted by a cancel, then fails."""

    datascience: DataScience

    def _prepare(self, run: Record, *args: Any) -> tuple[list[str], dict[str, str]]:
        self.datascience.cancel_job_run(run.id, None)  # the API moves it to CANCELING
        raise RunSetupError("the artifact is broken.")


def test_a_cancel_during_a_failed_setup_ends_canceled(
    tmp_path: Path, identity: LocalIdentity
) -> None:
    store = Store(tmp_path / "db")
    executor = _CancelDuringSetup(
        store,
        identity,
        ExecutorSettings(data_dir=tmp_path, endpoint="http://127.0.0.1:9", concurrency=1),
        lambda job_id: tmp_path / "artifacts" / f"{job_id}.bin",
    )
    executor.runs_dir.mkdir()
    executor.logs_dir.mkdir()
    ds = DataScience(store, tmp_path / "artifacts", RecordingScheduler())
    executor.datascience = ds
    project, job = active_job(ds)
    run = ds.create_job_run(run_body(project, job), USER, None)[0]

    executor._execute(run.id)

    finished = ds.get_job_run(run.id)
    assert finished.state == lifecycle.CANCELED
    assert finished.doc["lifecycleDetails"] == lifecycle.CANCELED_DETAILS
    assert "timeFinished" in finished.doc
    assert not (executor.runs_dir / run.id).exists()


def test_folders_left_by_earlier_runs_are_removed_at_start(
    tmp_path: Path, identity: LocalIdentity
) -> None:
    executor = Executor(
        Store(tmp_path / "db"),
        identity,
        ExecutorSettings(data_dir=tmp_path, endpoint="http://127.0.0.1:9", concurrency=1),
        lambda job_id: tmp_path / "artifacts" / f"{job_id}.bin",
    )
    leftover = executor.runs_dir / ("ocid1.datasciencejobrun.oc1.iad." + "a" * 60) / "artifact"
    leftover.mkdir(parents=True)
    (leftover / "unpacked.bin").write_bytes(b"\0" * 1000)
    executor.start()
    try:
        assert list(executor.runs_dir.iterdir()) == []
    finally:
        executor.shutdown()


def test_an_empty_storage_mount_list_asks_for_nothing_and_is_accepted(tmp_path: Path) -> None:
    ds = DataScience(Store(tmp_path / "db"), tmp_path / "artifacts", RecordingScheduler())
    project = ds.create_project({"compartmentId": TENANCY}, USER, None)[0].id
    job = ds.create_job(job_body(project, jobStorageMountConfigurationDetailsList=[]), USER, None)
    assert job[0].state == "CREATING"
    with pytest.raises(InvalidParameterError, match="jobNodeConfigurationDetails"):
        ds.create_job(job_body(project, jobNodeConfigurationDetails={}), USER, None)
