"""The Object Storage operations: each declared once, routed and named here.

Paths as the oci SDK's ObjectStorageClient calls them (base path `/`). ListObjects is `/o`
itself: no redirect to `/o/` (a redirected request no longer matches its signature).
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from notebook_launcher.localservice.identity.provisioning import ensure_identity
from notebook_launcher.localservice.objectstorage import bucket_extras as extras
from notebook_launcher.localservice.objectstorage import responses as r
from notebook_launcher.localservice.objectstorage.models import ObjectStore
from notebook_launcher.localservice.rest import Operation, ServiceContext, ServiceSpec


class _ObjectNameConvertor(Convertor[str]):
    """Object names are exact: every character, line feeds included, reaches the handler, which
    refuses what OCI refuses. (Starlette's `path` convertor stops at a line feed, so
    `o/victim%0a` reached the handler as `victim`.)"""

    regex = r"(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("object_name", _ObjectNameConvertor())

NAMESPACE = "/n/{namespaceName}"
BUCKETS = f"{NAMESPACE}/b"
BUCKET = f"{BUCKETS}/{{bucketName}}"
OBJECTS = f"{BUCKET}/o"
OBJECT = f"{OBJECTS}/{{objectName:object_name}}"
UPLOADS = f"{BUCKET}/u"
UPLOAD = f"{UPLOADS}/{{objectName:object_name}}"

OPERATIONS: tuple[Operation[ObjectStore], ...] = (
    Operation("GetNamespace", "GET", "/n", r.get_namespace, also=("/n/",)),
    Operation("GetNamespaceMetadata", "GET", NAMESPACE, r.get_namespace_metadata),
    Operation("CreateBucket", "POST", BUCKETS, r.create_bucket),
    Operation("ListBuckets", "GET", BUCKETS, r.list_buckets),
    Operation("GetBucket", "GET", BUCKET, r.get_bucket),
    Operation("HeadBucket", "HEAD", BUCKET, r.head_bucket),
    Operation("DeleteBucket", "DELETE", BUCKET, r.delete_bucket),
    Operation("UpdateBucket", "POST", BUCKET, extras.update_bucket),
    Operation(
        "ListReplicationPolicies",
        "GET",
        f"{BUCKET}/replicationPolicies",
        extras.list_replication_policies,
    ),
    Operation(
        "ListPreauthenticatedRequests",
        "GET",
        f"{BUCKET}/p",
        extras.list_preauthenticated_requests,
        also=(f"{BUCKET}/p/",),
    ),
    Operation("ListRetentionRules", "GET", f"{BUCKET}/retentionRules", extras.list_retention_rules),
    Operation("ListObjectVersions", "GET", f"{BUCKET}/objectversions", extras.list_object_versions),
    Operation("ListObjects", "GET", OBJECTS, r.list_objects),
    Operation("PutObject", "PUT", OBJECT, r.put_object),
    Operation("HeadObject", "HEAD", OBJECT, r.head_object),
    Operation("GetObject", "GET", OBJECT, r.get_object),
    Operation("DeleteObject", "DELETE", OBJECT, r.delete_object),
    Operation("RenameObject", "POST", f"{BUCKET}/actions/renameObject", r.rename_object),
    Operation("CopyObject", "POST", f"{BUCKET}/actions/copyObject", extras.copy_object),
    Operation(
        "GetObjectStorageWorkRequest",
        "GET",
        "/workRequests/{workRequestId}",
        extras.get_work_request,
    ),
    Operation("ListObjectStorageWorkRequests", "GET", "/workRequests", extras.list_work_requests),
    Operation("CreateMultipartUpload", "POST", UPLOADS, r.create_multipart_upload),
    Operation("ListMultipartUploads", "GET", UPLOADS, r.list_multipart_uploads),
    Operation("UploadPart", "PUT", UPLOAD, r.upload_part),
    Operation("CommitMultipartUpload", "POST", UPLOAD, r.commit_multipart_upload),
    Operation("AbortMultipartUpload", "DELETE", UPLOAD, r.abort_multipart_upload),
    Operation("ListMultipartUploadParts", "GET", UPLOAD, r.list_multipart_upload_parts),
)


def _backend(context: ServiceContext) -> ObjectStore:
    layout = context.layout
    region = ensure_identity(layout.root).region
    return ObjectStore(
        layout.objectstorage, layout.objectstorage_db, layout.multipart_uploads, region=region
    )


SERVICE = ServiceSpec("objectstorage", OPERATIONS, _backend)
