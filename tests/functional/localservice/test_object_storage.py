"""The Object Storage calls runs and the function use, with the real ObjectStorageClient."""

from __future__ import annotations

import oci
import pytest

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
