"""Object Storage where other people's OCI test suites found the local service too forgiving or
missing (issue 20): each through the client that found it (oci SDK, oci CLI, ocifs)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import oci
import ocifs
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.localservice.conftest import oci_cli, unique

MODELS = oci.object_storage.models

# ocifs and the SDK leave their sockets to the garbage collector
# (conftest.collect_the_clients_sockets): the warning is ignored in this module only.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("collect_the_clients_sockets"),
]


@pytest.fixture
def client(local_service: EmbeddedService) -> Any:
    return local_service.object_storage_client()


@pytest.fixture
def bucket(local_service: EmbeddedService, client: Any) -> str:
    name = unique("fid")
    client.create_bucket(
        local_service.namespace,
        MODELS.CreateBucketDetails(name=name, compartment_id=local_service.tenancy_id),
    )
    return name


def service_error(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(oci.exceptions.ServiceError) as raised:
        call(*args, **kwargs)
    return raised.value.status, raised.value.code


# --------------------------------------------------------------------------- item 5


def test_a_namespace_other_than_the_tenancys_is_not_found(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    wrong = local_service.namespace + "x"
    details = MODELS.CreateBucketDetails(
        name=unique("nsx"), compartment_id=local_service.tenancy_id
    )
    assert service_error(client.create_bucket, wrong, details) == (404, "NamespaceNotFound")
    assert service_error(client.get_namespace_metadata, wrong) == (404, "NamespaceNotFound")
    assert service_error(client.put_object, wrong, bucket, "a.txt", b"a") == (
        404,
        "NamespaceNotFound",
    )
    assert service_error(client.list_buckets, wrong, local_service.tenancy_id) == (
        404,
        "NamespaceNotFound",
    )
    # Nothing was made under the wrong namespace, and the right one still answers.
    assert not (local_service.data_dir / "objectstorage" / wrong).exists()
    assert client.get_namespace_metadata(local_service.namespace).data.namespace == (
        local_service.namespace
    )


def test_list_buckets_in_an_unknown_compartment_is_not_found(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    unknown = "ocid1.compartment.oc1.." + "a" * 60
    assert service_error(client.list_buckets, local_service.namespace, unknown) == (
        404,
        "CompartmentIdNotFound",
    )
    listed = client.list_buckets(local_service.namespace, local_service.tenancy_id).data
    assert bucket in [b.name for b in listed]


def test_a_version_id_that_does_not_exist_is_not_found(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    put = client.put_object(ns, bucket, "v.txt", b"current")
    current = put.headers["version-id"]
    missing = str(uuid.uuid4())
    assert service_error(client.get_object, ns, bucket, "v.txt", version_id=missing) == (
        404,
        "ObjectNotFound",
    )
    # A HEAD answer has no body, so no code: the status alone tells.
    assert service_error(client.head_object, ns, bucket, "v.txt", version_id=missing)[0] == 404
    assert service_error(client.delete_object, ns, bucket, "v.txt", version_id=missing) == (
        404,
        "ObjectNotFound",
    )
    got = client.get_object(ns, bucket, "v.txt", version_id=current)
    assert got.data.content == b"current"
    client.delete_object(ns, bucket, "v.txt", version_id=current)
    assert service_error(client.head_object, ns, bucket, "v.txt")[0] == 404


# --------------------------------------------------------------------------- item 4


def test_oci_cli_bucket_delete_empty_deletes_objects_and_the_bucket(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    for name in ("a.txt", "dir/b.txt", "dir/sub/c.txt"):
        client.put_object(ns, bucket, name, name.encode())
    local_service.reset_stats()
    deleted = oci_cli(local_service, "os", "bucket", "delete", "-ns", ns, "--bucket-name",
                      bucket, "--empty", "--force")  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    stats = local_service.stats()
    assert stats.get("ListReplicationPolicies", 0) >= 1
    assert stats.get("ListPreauthenticatedRequests", 0) >= 1
    assert stats.get("DeleteObject") == 3 and stats.get("DeleteBucket") == 1
    assert service_error(client.get_bucket, ns, bucket) == (404, "BucketNotFound")


def test_bucket_extras_answer_oci_shapes(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    client.put_object(ns, bucket, "one.txt", b"1")
    put = client.put_object(ns, bucket, "two.txt", b"22")
    assert client.list_replication_policies(ns, bucket).data == []
    assert client.list_preauthenticated_requests(ns, bucket).data == []
    assert client.list_retention_rules(ns, bucket).data.items == []
    first = client.list_object_versions(ns, bucket, limit=1)
    assert [(v.name, v.is_delete_marker) for v in first.data.items] == [("one.txt", False)]
    second = client.list_object_versions(ns, bucket, page=first.headers["opc-next-page"])
    assert [v.name for v in second.data.items] == ["two.txt"]
    assert second.data.items[0].version_id == put.headers["version-id"]
    assert second.data.items[0].size == 2 and "opc-next-page" not in second.headers
    missing = unique("missing")
    assert service_error(client.list_replication_policies, ns, missing) == (404, "BucketNotFound")


def test_update_bucket_changes_what_it_names_and_refuses_what_it_cannot(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    before = client.get_bucket(ns, bucket).data
    updated = client.update_bucket(
        ns, bucket, MODELS.UpdateBucketDetails(metadata={"team": "a"}, freeform_tags={"t": "1"})
    ).data
    assert updated.metadata == {"team": "a"} and updated.freeform_tags == {"t": "1"}
    assert updated.etag != before.etag and updated.public_access_type == "NoPublicAccess"
    assert client.get_bucket(ns, bucket).data.metadata == {"team": "a"}
    refused = MODELS.UpdateBucketDetails(versioning="Enabled")
    assert service_error(client.update_bucket, ns, bucket, refused) == (400, "InvalidParameter")
    stale = MODELS.UpdateBucketDetails(metadata={"x": "y"})
    assert service_error(client.update_bucket, ns, bucket, stale, if_match=before.etag) == (
        412,
        "NoEtagMatch",
    )
    assert client.get_bucket(ns, bucket).data.metadata == {"team": "a"}


# --------------------------------------------------------------------------- item 3


def test_copy_object_answers_a_work_request_and_copies(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    client.put_object(ns, bucket, "src.txt", b"payload", content_type="text/csv",
                      opc_meta={"k": "v"})  # fmt: skip
    details = MODELS.CopyObjectDetails(
        source_object_name="src.txt",
        destination_region=client.base_client.config.get("region") or "us-ashburn-1",
        destination_namespace=ns,
        destination_bucket=bucket,
        destination_object_name="copy/dst.txt",
    )
    answer = client.copy_object(ns, bucket, details)
    assert answer.status == 202
    work_request = client.get_work_request(answer.headers["opc-work-request-id"]).data
    assert (work_request.operation_type, work_request.status) == ("COPY_OBJECT", "COMPLETED")
    assert work_request.percent_complete == 100.0
    assert [r.action_type for r in work_request.resources] == ["READ", "WRITTEN"]
    got = client.get_object(ns, bucket, "copy/dst.txt")
    assert got.data.content == b"payload"
    head = client.head_object(ns, bucket, "copy/dst.txt").headers
    assert head["content-type"] == "text/csv" and head["opc-meta-k"] == "v"
    listed = client.list_work_requests(work_request.compartment_id).data
    assert work_request.id in [w.id for w in listed]
    # A copy of a missing source is refused and leaves no work request behind.
    details.source_object_name = "nothing-here"
    assert service_error(client.copy_object, ns, bucket, details) == (404, "ObjectNotFound")
    assert len(client.list_work_requests(work_request.compartment_id).data) == len(listed)
    assert service_error(client.get_work_request, "ocid1.objectstorageworkrequest.x") == (
        404,
        "NotAuthorizedOrNotFound",
    )


def test_oci_cli_object_copy_waits_for_its_work_request(
    local_service: EmbeddedService, client: Any, bucket: str
) -> None:
    ns = local_service.namespace
    client.put_object(ns, bucket, "cli-src.bin", b"\x00\x01cli")
    copied = oci_cli(local_service, "os", "object", "copy", "-ns", ns, "--bucket-name", bucket,
                     "--source-object-name", "cli-src.bin", "--destination-bucket", bucket,
                     "--destination-object-name", "cli-dst.bin",
                     "--wait-for-state", "COMPLETED")  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    assert json.loads(copied.stdout)["data"]["status"] == "COMPLETED"
    assert client.get_object(ns, bucket, "cli-dst.bin").data.content == b"\x00\x01cli"


def test_ocifs_copy_and_mv(
    local_service: EmbeddedService, fs: ocifs.OCIFileSystem, bucket: str
) -> None:
    root = f"oci://{bucket}@{local_service.namespace}"
    fs.pipe(f"{root}/a.txt", b"alpha")
    fs.copy(f"{root}/a.txt", f"{root}/b.txt")
    assert fs.cat(f"{root}/b.txt") == b"alpha"
    fs.mv(f"{root}/b.txt", f"{root}/moved/c.txt")
    assert fs.cat(f"{root}/moved/c.txt") == b"alpha"
    assert not fs.exists(f"{root}/b.txt")


# --------------------------------------------------------------------------- item 10


def test_ocifs_info_and_exists_of_a_bucket(
    local_service: EmbeddedService, fs: ocifs.OCIFileSystem, bucket: str
) -> None:
    """ocifs 1.3.4 passed compartment_id to head_bucket (a TypeError in the SDK): the pinned
    ocifs asks HeadBucket as the SDK defines it."""
    path = f"{bucket}@{local_service.namespace}"
    info = fs.info(path)
    assert info["type"] == "directory" and info["etag"]
    assert fs.exists(path)
    assert not fs.exists(f"{unique('nobucket')}@{local_service.namespace}")
