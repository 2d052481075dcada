"""The Object Storage calls runs and the function use, with the real ObjectStorageClient."""

from __future__ import annotations

import oci
import pytest
import requests

from notebook_launcher.localservice.embedded import EmbeddedService


def test_namespace_put_get_head_round_trip(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    namespace = client.get_namespace().data
    assert namespace == local_service.namespace

    put = client.put_object(
        namespace, "bucket-a", "dir/sub/file.txt", b"payload\n", opc_client_request_id="mine-1"
    )
    assert put.headers["opc-client-request-id"] == "mine-1"
    assert put.headers["etag"]
    assert put.headers["opc-content-md5"]

    assert client.get_object(namespace, "bucket-a", "dir/sub/file.txt").data.content == (
        b"payload\n"
    )
    head = client.head_object(namespace, "bucket-a", "dir/sub/file.txt")
    assert int(head.headers["content-length"]) == len(b"payload\n")
    assert head.headers["content-md5"] == put.headers["opc-content-md5"]
    on_disk = local_service.object_path(namespace, "bucket-a", "dir/sub/file.txt")
    assert on_disk.read_bytes() == b"payload\n"


def test_missing_objects_and_buckets_are_404(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    client.put_object(local_service.namespace, "bucket-b", "present", b"x")
    with pytest.raises(oci.exceptions.ServiceError) as missing_object:
        client.get_object(local_service.namespace, "bucket-b", "absent")
    assert (missing_object.value.status, missing_object.value.code) == (404, "ObjectNotFound")
    with pytest.raises(oci.exceptions.ServiceError) as missing_bucket:
        client.head_object(local_service.namespace, "no-such-bucket", "x")
    assert missing_bucket.value.status == 404


def test_object_names_cannot_escape_the_bucket(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.put_object(local_service.namespace, "bucket-c", "a/../../escape", b"x")
    assert caught.value.status == 400
    assert not (
        local_service.data_dir / "objectstorage" / local_service.namespace / "escape"
    ).exists()


def test_list_objects_pages_with_prefix_fields_and_delimiter(
    local_service: EmbeddedService,
) -> None:
    client = local_service.object_storage_client()
    ns = local_service.namespace
    names = ["src/a.ipynb", "src/b.py", "src/data/c.csv", "src/data/d.csv", "srcx", "zzz"]
    for name in names:
        client.put_object(ns, "bucket-list", name, name.encode())

    first = client.list_objects(ns, "bucket-list", prefix="src/", limit=2, fields="name,size")
    assert [(o.name, o.size) for o in first.data.objects] == [("src/a.ipynb", 11), ("src/b.py", 8)]
    assert first.data.next_start_with == "src/data/c.csv"
    rest = client.list_objects(
        ns, "bucket-list", prefix="src/", start=first.data.next_start_with, fields="name"
    )
    assert [o.name for o in rest.data.objects] == ["src/data/c.csv", "src/data/d.csv"]
    assert rest.data.next_start_with is None and rest.data.objects[0].size is None

    folded = client.list_objects(ns, "bucket-list", prefix="src/", delimiter="/")
    assert [o.name for o in folded.data.objects] == ["src/a.ipynb", "src/b.py"]
    assert folded.data.prefixes == ["src/data/"]

    every = oci.pagination.list_call_get_all_results_generator(
        client.list_objects, "record", ns, "bucket-list", limit=1
    )
    assert [o.name for o in every] == names
    with pytest.raises(oci.exceptions.ServiceError) as missing:
        client.list_objects(ns, "no-such-bucket-list")
    assert (missing.value.status, missing.value.code) == (404, "BucketNotFound")


def test_list_objects_answers_at_o_without_a_redirect(local_service: EmbeddedService) -> None:
    client = local_service.object_storage_client()
    client.put_object(local_service.namespace, "bucket-noredirect", "one", b"1")
    url = f"{local_service.endpoint}/n/{local_service.namespace}/b/bucket-noredirect/o"
    response = requests.get(url, auth=client.base_client.signer, allow_redirects=False, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"objects": [{"name": "one"}]}
