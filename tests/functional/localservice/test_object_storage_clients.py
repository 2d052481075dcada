"""Object Storage as the clients people use drive it: ocifs, pandas on `oci://` paths, the oci
CLI's multipart put and the SDK's UploadManager, against the local service over HTTP."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import oci
import ocifs
import pandas as pd
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import oci_cli, unique

MIB = 1024 * 1024

# ocifs and the SDK's UploadManager leave their sockets to the garbage collector
# (conftest.collect_the_clients_sockets): the warning is ignored in this module only.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("collect_the_clients_sockets"),
]


def storage_options(local_service: EmbeddedService) -> dict[str, Any]:
    return {
        "config": str(local_service.config_file),
        "config_kwargs": {"service_endpoint": local_service.endpoint},
        "skip_instance_cache": True,
    }


def test_ocifs_write_read_info_ls_exists_rm(
    local_service: EmbeddedService, fs: ocifs.OCIFileSystem
) -> None:
    ns = local_service.namespace
    bucket = unique("fs")
    root = f"oci://{bucket}@{ns}"
    fs.mkdir(root)  # CreateBucket
    with fs.open(f"{root}/data/a.txt", "wb") as file:
        file.write(b"alpha\n")
    fs.pipe(f"{root}/data/sub/b.txt", b"beta")
    fs.pipe(f"{root}/top.txt", b"top")

    assert fs.cat(f"{root}/data/a.txt") == b"alpha\n"
    info = fs.info(f"{root}/data/a.txt")  # HeadObject: ocifs reads every header by key
    assert info["size"] == 6 and info["type"] == "file"
    assert info["storageTier"] == "Standard" and info["versionId"]
    assert info["contentType"] == "text/plain"  # ocifs sends one; it is kept
    assert fs.exists(f"{root}/data/a.txt")
    assert fs.exists(f"{root}/data")  # a "folder" is a prefix
    assert not fs.exists(f"{root}/nothing-here")
    assert fs.isdir(f"{root}/data")
    assert sorted(fs.ls(f"{root}/data")) == [
        f"{bucket}@{ns}/data/a.txt",
        f"{bucket}@{ns}/data/sub",
    ]
    assert sorted(fs.find(root)) == [
        f"{bucket}@{ns}/data/a.txt",
        f"{bucket}@{ns}/data/sub/b.txt",
        f"{bucket}@{ns}/top.txt",
    ]
    # ranged reads (GetObject with `range`, 206)
    with fs.open(f"{root}/data/a.txt", "rb") as file:
        file.seek(2)
        assert file.read(3) == b"pha"
    fs.rm(f"{root}/data/sub/b.txt")  # DeleteObject
    assert not fs.exists(f"{root}/data/sub/b.txt")
    assert not local_service.object_path(ns, bucket, "data/sub").exists()
    assert fs.ukey(f"{root}/data/a.txt")  # etag parsed as hex


def test_ocifs_large_write_is_a_multipart_upload(
    local_service: EmbeddedService, fs: ocifs.OCIFileSystem
) -> None:
    ns = local_service.namespace
    bucket = unique("mpu")
    payload = os.urandom(11 * MIB + 123)  # over ocifs's 5 MiB block: three parts
    local_service.reset_stats()
    with fs.open(f"oci://{bucket}@{ns}/big.bin", "wb", block_size=5 * MIB) as file:
        file.write(payload)
    stats = local_service.stats()
    assert stats.get("CreateMultipartUpload") == 1
    assert stats.get("UploadPart", 0) >= 2
    assert stats.get("CommitMultipartUpload") == 1
    assert local_service.object_path(ns, bucket, "big.bin").read_bytes() == payload
    head = local_service.object_storage_client().head_object(ns, bucket, "big.bin")
    assert head.headers["opc-multipart-md5"].endswith(f"-{stats['UploadPart']}")
    assert fs.cat(f"oci://{bucket}@{ns}/big.bin") == payload


def test_pandas_reads_and_writes_csv_on_oci_paths(local_service: EmbeddedService) -> None:
    ns = local_service.namespace
    bucket = unique("pd")
    frame = pd.DataFrame({"region": ["east", "west"], "sales": [10, 32]})
    options = storage_options(local_service)
    frame.to_csv(f"oci://{bucket}@{ns}/in/sales.csv", index=False, storage_options=options)
    back = pd.read_csv(f"oci://{bucket}@{ns}/in/sales.csv", storage_options=options)
    assert back.to_dict("list") == {"region": ["east", "west"], "sales": [10, 32]}


def test_list_objects_prefix_delimiter_start_end_fields_and_paging(
    local_service: EmbeddedService,
) -> None:
    client = local_service.object_storage_client()
    ns = local_service.namespace
    bucket = unique("list")
    names = ["a/1", "a/2", "b", "c/x/1", "d", "e"]
    for name in names:
        client.put_object(ns, bucket, name, name.encode())
    everything = oci.pagination.list_call_get_all_results(
        client.list_objects, ns, bucket, limit=2, fields="name,size,md5,etag,timeCreated"
    )
    listed = [o.name for o in everything.data.objects]  # followed nextStartWith as `start`
    assert listed == names
    assert all(o.size == len(o.name) and o.md5 and o.etag for o in everything.data.objects)

    page = client.list_objects(ns, bucket, delimiter="/", fields="size").data
    assert page.prefixes == ["a/", "c/"]
    assert [o.name for o in page.objects] == ["b", "d", "e"]
    assert page.objects[0].size == 1 and page.objects[0].etag is None  # fields respected

    first = client.list_objects(ns, bucket, delimiter="/", limit=2).data
    assert (first.prefixes, [o.name for o in first.objects]) == (["a/"], ["b"])
    second = client.list_objects(ns, bucket, delimiter="/", start=first.next_start_with).data
    assert second.prefixes == ["c/"] and [o.name for o in second.objects] == ["d", "e"]
    assert second.next_start_with is None

    ranged = client.list_objects(ns, bucket, start="b", end="d").data
    assert [o.name for o in ranged.objects] == ["b", "c/x/1"]
    prefixed = client.list_objects(ns, bucket, prefix="a/").data
    assert [o.name for o in prefixed.objects] == ["a/1", "a/2"]
    with pytest.raises(oci.exceptions.ServiceError) as bad:
        client.list_objects(ns, bucket, fields="name,colour")
    assert (bad.value.status, bad.value.code) == (400, "InvalidParameter")


def test_content_type_and_metadata_are_kept(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    ns = local_service.namespace
    bucket = unique("meta")
    put = client.put_object(
        ns,
        bucket,
        "report.json",
        b"{}",
        content_type="application/json",
        opc_meta={"owner": "team-a"},
        content_language="en",
    )
    got = client.get_object(ns, bucket, "report.json")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["opc-meta-owner"] == "team-a"
    assert got.headers["content-language"] == "en"
    assert got.headers["etag"] == put.headers["etag"]
    assert got.headers["version-id"] == put.headers["version-id"]
    int(got.headers["etag"].replace("-", ""), 16)  # hex, as ocifs needs
    head = client.head_object(ns, bucket, "report.json")
    assert head.headers["storage-tier"] == "Standard"
    with pytest.raises(oci.exceptions.ServiceError) as mismatch:
        client.put_object(ns, bucket, "x", b"abc", content_md5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert (mismatch.value.status, mismatch.value.code) == (400, "UnmatchedContentMD5")
    with pytest.raises(oci.exceptions.ServiceError) as stale:
        client.put_object(ns, bucket, "report.json", b"[]", if_match="not-the-etag")
    assert stale.value.status == 412


def test_buckets_create_get_list_delete(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    ns = local_service.namespace
    name = unique("bkt")
    details = oci.object_storage.models.CreateBucketDetails(
        name=name, compartment_id=local_service.tenancy_id, metadata={"k": "v"}
    )
    created = client.create_bucket(ns, details).data
    assert created.name == name and created.compartment_id == local_service.tenancy_id
    with pytest.raises(oci.exceptions.ServiceError) as twice:
        client.create_bucket(ns, details)
    assert (twice.value.status, twice.value.code) == (409, "BucketAlreadyExists")
    got = client.get_bucket(ns, name, fields=["approximateCount"]).data
    assert got.metadata == {"k": "v"} and got.approximate_count == 0
    listed = oci.pagination.list_call_get_all_results(
        client.list_buckets, ns, local_service.tenancy_id, limit=1
    ).data
    assert name in [b.name for b in listed]
    client.put_object(ns, name, "keep", b"1")
    with pytest.raises(oci.exceptions.ServiceError) as not_empty:
        client.delete_bucket(ns, name)
    assert (not_empty.value.status, not_empty.value.code) == (409, "BucketNotEmpty")
    client.delete_object(ns, name, "keep")
    client.delete_bucket(ns, name)
    with pytest.raises(oci.exceptions.ServiceError) as gone:
        client.get_bucket(ns, name)
    assert (gone.value.status, gone.value.code) == (404, "BucketNotFound")


def test_upload_manager_multipart_and_the_upload_operations(
    local_service: EmbeddedService, tmp_path: Path
) -> None:
    client = local_service.object_storage_client()
    ns = local_service.namespace
    bucket = unique("um")
    source = tmp_path / "data.bin"
    payload = os.urandom(3 * MIB + 7)
    source.write_bytes(payload)
    manager = oci.object_storage.UploadManager(client, allow_parallel_uploads=True)
    local_service.reset_stats()
    manager.upload_file(
        ns, bucket, "up/data.bin", str(source), part_size=MIB, content_type="text/csv"
    )
    assert local_service.stats().get("UploadPart") == 4
    assert local_service.object_path(ns, bucket, "up/data.bin").read_bytes() == payload
    assert client.head_object(ns, bucket, "up/data.bin").headers["content-type"] == "text/csv"

    # an upload left open: listed, its parts listed, then aborted
    upload = client.create_multipart_upload(
        ns, bucket, oci.object_storage.models.CreateMultipartUploadDetails(object="open.bin")
    ).data
    client.upload_part(ns, bucket, "open.bin", upload.upload_id, 1, b"x" * 10)
    assert [u.upload_id for u in client.list_multipart_uploads(ns, bucket).data] == [
        upload.upload_id
    ]
    parts = client.list_multipart_upload_parts(ns, bucket, "open.bin", upload.upload_id).data
    assert [(p.part_number, p.size) for p in parts] == [(1, 10)]
    client.abort_multipart_upload(ns, bucket, "open.bin", upload.upload_id)
    with pytest.raises(oci.exceptions.ServiceError) as aborted:
        client.list_multipart_upload_parts(ns, bucket, "open.bin", upload.upload_id)
    assert aborted.value.status == 404
    assert not local_service.object_path(ns, bucket, "open.bin").exists()


def test_oci_cli_multipart_put_and_get(local_service: EmbeddedService, tmp_path: Path) -> None:
    ns = local_service.namespace
    bucket = unique("cli")
    source = tmp_path / "over-part-size.bin"
    payload = os.urandom(11 * MIB + 5)  # over the CLI's minimum part size of 10 MiB
    source.write_bytes(payload)
    local_service.reset_stats()
    put = oci_cli(local_service, "os", "object", "put", "-ns", ns, "-bn", bucket, "--name",
                  "big.bin", "--file", str(source), "--part-size", "10",
                  "--content-type", "application/x-demo")  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert local_service.stats().get("UploadPart") == 2
    assert json.loads(put.stdout)["etag"]
    target = tmp_path / "back.bin"
    got = oci_cli(local_service, "os", "object", "get", "-ns", ns, "-bn", bucket, "--name",
                  "big.bin", "--file", str(target))  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == payload
    listed = oci_cli(local_service, "os", "object", "list", "-ns", ns, "-bn", bucket)
    assert listed.returncode == 0, listed.stderr
    assert [o["name"] for o in json.loads(listed.stdout)["data"]] == ["big.bin"]
