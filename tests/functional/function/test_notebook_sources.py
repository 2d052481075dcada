"""A notebook with its files (a folder, a .zip, a .tar.gz) through the function, on the local
service: the notebook imports utils.py and reads lookup.csv beside it, and runs to SUCCEEDED."""

from __future__ import annotations

import http.server
import io
import json
import tarfile
import threading
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.function.conftest import EXAMPLES, FunctionUnderTest


def _notebook() -> bytes:
    def cell(source: str, tags: list[str] | None = None) -> dict[str, Any]:
        metadata = {"tags": tags} if tags else {}
        return {
            "cell_type": "code",
            "source": source,
            "metadata": metadata,
            "outputs": [],
            "execution_count": None,
        }

    cells = [
        cell('region = "emea"', ["parameters"]),
        cell(
            "import json, os, utils\n"
            "result = {'region': region, 'rate': utils.rate_for(region),\n"
            "          'version': utils.VERSION, 'cwd': os.path.basename(os.getcwd()),\n"
            "          'extra': open('data/extra.txt').read()}\n"
            "json.dump(result, open('result.json', 'w'))"
        ),
        cell("raise RuntimeError('excluded cell ran')", ["skip-me"]),
    ]
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook).encode()


def source_files(version: int = 1) -> dict[str, bytes]:
    utils = (
        "import csv\n"
        f"VERSION = {version}\n"
        "def rate_for(region):\n"
        "    with open('lookup.csv') as f:\n"
        "        return {r['region']: float(r['rate']) for r in csv.DictReader(f)}[region]\n"
    )
    return {
        "report.ipynb": _notebook(),
        "utils.py": utils.encode(),
        "lookup.csv": b"region,rate\napac,1.5\nemea,2.25\n",
        "data/extra.txt": b"nested",
    }


def as_zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


def as_tar_gz(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"./{name}")  # as `tar -C folder .` writes it
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        for info in extra or []:
            archive.addfile(info)
    return out.getvalue()


class Bucket:
    def __init__(self, fn: FunctionUnderTest, name: str = "notebooks") -> None:
        self.client = fn.service.object_storage_client()
        self.namespace = fn.config["NL_OUTPUT_FOLDER"].split("@")[1].split("/")[0]
        self.name = name

    def put(self, prefix: str, files: dict[str, bytes]) -> str:
        for path, content in files.items():
            self.client.put_object(self.namespace, self.name, f"{prefix}{path}", content)
        return f"oci://{self.name}@{self.namespace}/{prefix}"


def unique() -> str:
    return uuid.uuid4().hex[:8]


def check_result(fn: FunctionUnderTest, answer: dict[str, Any], region: str, rate: float) -> None:
    run = fn.wait(answer["id"])
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    result = json.loads(fn.output_file(answer["outputUri"], "result.json").read_text())
    assert result == {
        "region": region,
        "rate": rate,
        "version": result["version"],
        "cwd": result["cwd"],
        "extra": "nested",
    }
    executed = json.loads(fn.output_file(answer["outputUri"], "report.ipynb").read_text())
    injected = [
        c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert injected, "the parameters cell was not injected"


def test_folder_runs_with_its_modules_and_files(fn: FunctionUnderTest) -> None:
    location = Bucket(fn).put(f"team/{unique()}/sales/", source_files())
    answer = fn.launch(
        {
            "noteBook": location,
            "jobName": f"folder-{unique()}",
            "parameters": {"region": "apac"},
            "excludeTags": ["skip-me"],
        }
    )
    check_result(fn, answer, "apac", 1.5)
    result = json.loads(fn.output_file(answer["outputUri"], "result.json").read_text())
    assert result["cwd"] == "sales" and result["version"] == 1


def test_changing_a_module_makes_a_new_job_and_a_parameter_does_not(
    fn: FunctionUnderTest,
) -> None:
    bucket = Bucket(fn)
    prefix = f"team/{unique()}/reuse/"
    location = bucket.put(prefix, source_files(version=1))
    body = {"noteBook": location, "jobName": f"reuse-{unique()}", "excludeTags": ["skip-me"]}
    first = fn.launch({**body, "parameters": {"region": "apac"}})
    second = fn.launch({**body, "parameters": {"region": "emea"}})
    assert second["jobId"] == first["jobId"] and second["jobReused"] is True
    bucket.put(prefix, {"utils.py": source_files(version=2)["utils.py"]})
    third = fn.launch({**body, "parameters": {"region": "emea"}})
    assert third["jobId"] != first["jobId"] and third["jobReused"] is False
    check_result(fn, third, "emea", 2.25)
    result = json.loads(fn.output_file(third["outputUri"], "result.json").read_text())
    assert result["version"] == 2


def test_zip_and_tar_gz_on_object_storage_run(fn: FunctionUnderTest) -> None:
    bucket = Bucket(fn)
    folder = f"archives/{unique()}/"
    archives = {"sales.zip": as_zip(source_files()), "sales.tar.gz": as_tar_gz(source_files())}
    for name, data in archives.items():
        location = bucket.put(folder, {name: data}) + name
        answer = fn.launch(
            {
                "noteBook": location,
                "notebookPath": "report.ipynb",
                "jobName": f"archive-{unique()}",
                "parameters": {"region": "emea"},
                "excludeTags": ["skip-me"],
            }
        )
        check_result(fn, answer, "emea", 2.25)


@pytest.fixture
def web() -> Iterator[tuple[str, dict[str, bytes]]]:
    routes: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()


def test_archive_over_the_guarded_url_fetch(
    fn: FunctionUnderTest, web: tuple[str, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, routes = web
    routes["/sales.tar.gz"] = as_tar_gz(source_files())
    routes["/sales.zip"] = as_zip(source_files())
    body = {"noteBook": f"{base}/sales.tar.gz", "jobName": f"web-{unique()}"}
    status, refused = fn.invoke(body)  # loopback and plain http: refused by the guards
    # A direct invoke answers errors 200 with the error body (the Fn agent drops a 502's).
    assert status == 200 and "id" not in refused
    assert refused["error"]["code"] == "NotebookFetchFailed"
    opened = FunctionUnderTest(
        fn.service,
        {**fn.config, "NL_ALLOW_HTTP": "true", "NL_ALLOW_PRIVATE_ADDRESSES": "true"},
        monkeypatch,
    )
    for name in ("sales.tar.gz", "sales.zip"):
        answer = opened.launch({**body, "noteBook": f"{base}/{name}", "excludeTags": ["skip-me"]})
        check_result(opened, answer, "emea", 2.25)


def test_dry_run_lists_the_files_that_would_ship(fn: FunctionUnderTest) -> None:
    files = source_files()
    location = Bucket(fn).put(f"dry/{unique()}/sales/", files)
    fn.service.reset_stats()
    answer = fn.launch({"noteBook": location, "dryRun": True})
    source = answer["source"]
    assert [f["path"] for f in source["files"]] == sorted(files)
    assert source["notebook"] == "report.ipynb" and source["fileCount"] == 4
    assert source["totalBytes"] == sum(f["bytes"] for f in source["files"])
    assert {f["path"]: f["bytes"] for f in source["files"]}["utils.py"] == len(files["utils.py"])
    assert answer["job"]["spec"]["runtime"]["spec"]["source"] == location
    stats = fn.service.stats()
    assert not {"CreateJob", "CreateJobArtifact", "CreateJobRun"} & set(stats)


# -- refusals: each names the file and the limit, and nothing is created ---------------------


def refused(fn: FunctionUnderTest, body: dict[str, Any]) -> str:
    fn.service.reset_stats()
    status, answer = fn.invoke(body)
    assert status == 200 and "id" not in answer and "error" in answer, answer
    created = {"CreateJob", "CreateJobArtifact", "CreateJobRun"} & set(fn.service.stats())
    assert not created
    return str(answer["error"]["message"])


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("NL_SOURCE_MAX_FILES", "3", "NL_SOURCE_MAX_FILES is 3"),
        ("NL_SOURCE_MAX_BYTES", "40", "more than 40 bytes (at 'utils.py'); NL_SOURCE_MAX_BYTES"),
        ("NL_SOURCE_MAX_FILE_BYTES", "30", "'lookup.csv' is 31 bytes; NL_SOURCE_MAX_FILE_BYTES"),
        ("NL_SOURCE_MAX_DEPTH", "1", "'deep/er/x.txt' is 2 folders deep; NL_SOURCE_MAX_DEPTH"),
    ],
)
def test_a_folder_over_a_limit_is_refused(
    fn: FunctionUnderTest,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    value: str,
    expected: str,
) -> None:
    files = {"report.ipynb": b"{}", "lookup.csv": b"region,rate\napac,1.5\nemea,2.25\n"}
    files |= {"deep/er/x.txt": b"x", "utils.py": b"VERSION = 1\n"}
    location = Bucket(fn).put(f"limits/{unique()}/", files)
    limited = FunctionUnderTest(fn.service, {**fn.config, key: value}, monkeypatch)
    assert expected in refused(limited, {"noteBook": location})


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def _zip_with(name: str, content: bytes = b"x", mode: int | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("report.ipynb", _notebook())
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("dotdot.zip", _zip_with("../x"), "'../x' is refused: a '..' segment"),
        ("absolute.zip", _zip_with("/etc/x"), "'/etc/x' is refused: an absolute path"),
        ("link.zip", _zip_with("out", b"../../etc/passwd", 0o120777), "'out' is a link leaving"),
        (
            "dotdot.tar.gz",
            as_tar_gz({"report.ipynb": _notebook(), "../x": b"x"}),
            "'../x' is refused: a '..' segment",
        ),
        (
            "absolute.tar.gz",
            as_tar_gz({"report.ipynb": _notebook()}, [_link("abs", "/etc/passwd")]),
            "'abs' is a link leaving the folder",
        ),
        (
            "link.tar.gz",
            as_tar_gz({"report.ipynb": _notebook()}, [_link("up", "../../secret")]),
            "'up' is a link leaving the folder",
        ),
        (
            "long-name.tar.gz",
            as_tar_gz({"report.ipynb": _notebook(), "n" * 100_000: b"x"}),
            f"'{'n' * 40}...' is refused: a path longer than 1024 bytes",
        ),
        (
            "long-segment.zip",
            _zip_with(f"data/{'s' * 256}.csv"),
            f"'data/{'s' * 35}...' is refused: a path segment longer than 255 bytes",
        ),
    ],
)
def test_an_unsafe_archive_is_refused(
    fn: FunctionUnderTest, name: str, data: bytes, expected: str
) -> None:
    bucket = Bucket(fn)
    location = bucket.put(f"unsafe/{unique()}/", {name: data}) + name
    assert expected in refused(fn, {"noteBook": location})


def test_example_folder_request_runs(
    fn: FunctionUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLES.parent)
    body: dict[str, Any] = json.loads((EXAMPLES / "launch-folder.json").read_text())
    body["jobName"] = f"example-{unique()}"
    answer = fn.launch(body)
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"
    rates = json.loads(fn.output_file(answer["outputUri"], "rates.json").read_text())
    assert rates == {"region": "apac", "units": 40, "total": 60.0}
