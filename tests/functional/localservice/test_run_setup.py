"""How a run is set up and cleaned up: its environment, its artifact, its folder."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zipfile
from typing import Any, Literal

import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import (
    create_script_job,
    job_details,
    start_run,
    wait_for_run,
)

SHOW_ENVIRONMENT = """\
import json, os, sitecustomize
names = ("PYTHONPATH", "JUPYTER_PATH", "NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT")
print("ENV=" + json.dumps({name: os.environ.get(name) for name in names}), flush=True)
print("SITE=" + sitecustomize.__file__, flush=True)
"""


def line_value(log: str, prefix: str) -> str:
    for line in log.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :]
    raise AssertionError(f"no {prefix!r} line in the log:\n{log}")


def test_job_variables_cannot_take_the_run_off_the_local_service(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(
        client,
        project_id,
        compartment_id,
        SHOW_ENVIRONMENT,
        env={
            "PYTHONPATH": "/opt/user-lib",
            "JUPYTER_PATH": "/opt/user-jupyter",
            "NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT": "https://objectstorage.example.com",
        },
    )
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job_id).id)
    log = local_service.logs(run.id)
    assert run.lifecycle_state == "SUCCEEDED", log

    runtime = local_service.data_dir / "runtime"
    env = json.loads(line_value(log, "ENV="))
    assert env["PYTHONPATH"].split(":") == [str(runtime / "python"), "/opt/user-lib"]
    assert env["JUPYTER_PATH"].split(":") == [str(runtime / "jupyter"), "/opt/user-jupyter"]
    assert env["NOTEBOOK_LAUNCHER_LOCAL_OBJECTSTORAGE_ENDPOINT"] == local_service.endpoint
    assert line_value(log, "SITE=") == str(runtime / "python" / "sitecustomize.py")


def test_the_run_folder_is_removed_when_the_run_ends(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    job_id = create_script_job(client, project_id, compartment_id, "print('done')\n")
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job_id).id)
    assert run.lifecycle_state == "SUCCEEDED"
    assert not (local_service.data_dir / "runs" / run.id).exists()
    assert "done" in local_service.logs(run.id)  # the log is kept


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def claim_size(archive: bytes, size: int) -> bytes:
    """The zip with every member's uncompressed size (local and central headers) set to
    `size`, as a zip bomb would declare it."""
    data = bytearray(archive)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.find(signature)
        while start != -1:
            struct.pack_into("<I", data, start + offset, size)
            start = data.find(signature, start + 4)
    return bytes(data)


def run_with_artifact(
    client: Any, project_id: str, compartment_id: str, artifact: bytes, file_name: str, **kw: Any
) -> Any:
    job = client.create_job(job_details(project_id, compartment_id, **kw)).data
    client.create_job_artifact(
        job.id, artifact, content_disposition=f"attachment; filename={file_name}"
    )
    return wait_for_run(client, start_run(client, project_id, compartment_id, job.id).id)


def test_an_artifact_that_unpacks_too_large_fails_the_run_before_unpacking(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    bomb = claim_size(zip_bytes([("main.py", b"print(1)\n"), ("data.bin", b"0")]), 0xF000_0000)
    run = run_with_artifact(client, project_id, compartment_id, bomb, "bomb.zip")
    assert run.lifecycle_state == "FAILED"
    assert run.lifecycle_details.startswith("Job run failed to start: ")
    assert "unpacks to more than" in run.lifecycle_details, run.lifecycle_details
    assert not (local_service.data_dir / "runs" / run.id).exists()


def test_artifacts_that_cannot_be_unpacked_fail_with_a_clear_reason(
    client: Any, project_id: str, compartment_id: str
) -> None:
    clash = zip_bytes([("main.py", b"print(1)\n"), ("lnk", b"x"), ("lnk/pwn", b"y")])
    run = run_with_artifact(client, project_id, compartment_id, clash, "clash.zip")
    assert run.lifecycle_state == "FAILED"
    assert run.lifecycle_details.startswith("Job run failed to start: "), run.lifecycle_details
    assert "cannot be unpacked" in run.lifecycle_details
    assert "internal error" not in run.lifecycle_details

    run = run_with_artifact(
        client,
        project_id,
        compartment_id,
        b"print(1)\n",
        "..",
        env={"JOB_RUN_ENTRYPOINT": ""},
    )
    assert run.lifecycle_state == "FAILED"
    assert run.lifecycle_details.startswith("Job run failed to start: "), run.lifecycle_details
    assert "internal error" not in run.lifecycle_details


# ------------------------------------------------------------------ the run's world as OCI's

SHOW_OCI_VARIABLES = """\
import json, os
names = ("TENANCY_OCID", "PROJECT_OCID", "PROJECT_COMPARTMENT_OCID", "JOB_OCID",
         "JOB_COMPARTMENT_OCID", "JOB_ARTIFACT_FILE_NAME", "JOB_RUN_OCID",
         "JOB_RUN_COMPARTMENT_OCID")
print("OCI=" + json.dumps({name: os.environ.get(name) for name in names}), flush=True)
print("HELPER=" + open("proj/helper.txt").read().strip() if os.path.isdir("proj") else "HELPER=-")
"""


def tar_bytes(members: list[tuple[str, bytes]], mode: Literal["w", "w:gz"]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("file_name", "entrypoint", "make"),
    [
        (
            "job.tar.gz",
            "proj/main.py",
            lambda s: tar_bytes([("proj/main.py", s), ("proj/helper.txt", b"beside")], "w:gz"),
        ),
        ("job.tar", "main.py", lambda s: tar_bytes([("main.py", s)], "w")),
        (
            "job.zip",
            "proj/main.py",
            lambda s: zip_bytes([("proj/main.py", s), ("proj/helper.txt", b"beside")]),
        ),
    ],
)
def test_runs_get_the_variables_oci_documents_from_zip_and_tar_artifacts(
    local_service: EmbeddedService,
    client: Any,
    project_id: str,
    compartment_id: str,
    file_name: str,
    entrypoint: str,
    make: Any,
) -> None:
    job = client.create_job(
        job_details(project_id, compartment_id, env={"JOB_RUN_ENTRYPOINT": entrypoint})
    ).data
    client.create_job_artifact(
        job.id,
        make(SHOW_OCI_VARIABLES.encode()),
        content_disposition=f"attachment; filename={file_name}",
    )
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job.id).id)
    log = local_service.logs(run.id)
    assert run.lifecycle_state == "SUCCEEDED", log
    assert json.loads(line_value(log, "OCI=")) == {
        "TENANCY_OCID": local_service.tenancy_id,
        "PROJECT_OCID": project_id,
        "PROJECT_COMPARTMENT_OCID": client.get_project(project_id).data.compartment_id,
        "JOB_OCID": job.id,
        "JOB_COMPARTMENT_OCID": compartment_id,
        "JOB_ARTIFACT_FILE_NAME": file_name,
        "JOB_RUN_OCID": run.id,
        "JOB_RUN_COMPARTMENT_OCID": compartment_id,
    }
    # the working directory is the unpacked artifact: relative paths reach its files
    expected = "beside" if entrypoint.startswith("proj/") else "-"
    assert line_value(log, "HELPER=") == expected


def test_a_tar_with_a_link_is_refused(
    local_service: EmbeddedService, client: Any, project_id: str, compartment_id: str
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("main.py")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        archive.addfile(link)
    job = client.create_job(job_details(project_id, compartment_id)).data
    client.create_job_artifact(
        job.id, buffer.getvalue(), content_disposition="attachment; filename=job.tar.gz"
    )
    run = wait_for_run(client, start_run(client, project_id, compartment_id, job.id).id)
    assert run.lifecycle_state == "FAILED"
    assert "not a file or a folder" in local_service.logs(run.id)
