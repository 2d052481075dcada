"""CopyObject as OCI runs it: an asynchronous copy tracked by an Object Storage work request
(operationType COPY_OBJECT), read back with GetWorkRequest and ListWorkRequests.

OCI answers CopyObject with 202 and `opc-work-request-id` and copies in the background; the
client polls the work request (the CLI's `--wait-for-state`). Locally the copy is a file copy on
one disk, so it is done before the 202 is answered and the work request is already COMPLETED
(or FAILED) when first read: a client that polls sees the same end, one that does not (ocifs'
`fs.copy`) finds the object in place. Everything the request names is checked first (source,
destination bucket, preconditions), so a refused copy leaves neither an object nor a work
request behind. One region: a copy to another region is refused.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from notebook_launcher.localservice.errors import (
    InvalidParameterError,
    MissingParameterError,
    NoEtagMatchError,
)
from notebook_launcher.localservice.ids import new_ocid, now_text
from notebook_launcher.localservice.objectstorage.exceptions import WorkRequestNotFoundError
from notebook_launcher.localservice.objectstorage.records import (
    STORAGE_TIER,
    PutOptions,
    string_map,
)

if TYPE_CHECKING:
    from notebook_launcher.localservice.objectstorage.models import ObjectStore

logger = logging.getLogger(__name__)

# CopyObjectDetails (oci/object_storage/models/copy_object_details.py), camelCase on the wire.
_REQUIRED = (
    "sourceObjectName",
    "destinationRegion",
    "destinationNamespace",
    "destinationBucket",
    "destinationObjectName",
)
_OPTIONAL = (
    "sourceObjectIfMatchETag",
    "sourceVersionId",
    "destinationObjectIfMatchETag",
    "destinationObjectIfNoneMatchETag",
    "destinationObjectMetadata",
    "destinationObjectStorageTier",
)
_STORAGE_TIERS = ("Standard", "InfrequentAccess", "Archive")  # the model's allowed values


class CopyRequests:
    """CopyObject and the work requests that record each copy, over one `ObjectStore`."""

    def __init__(self, store: ObjectStore, region: str) -> None:
        self._store = store
        self.region = region

    def copy(
        self, namespace: str, bucket: str, details: Mapping[str, Any], tenancy: str
    ) -> dict[str, Any]:
        """Copy an object as CopyObjectDetails says; the work request's document."""
        fields = _details(details)
        if fields["destinationRegion"] != self.region:
            raise InvalidParameterError(
                f"destinationRegion {fields['destinationRegion']!r} is not available locally;"
                f" the local service is one region ({self.region})."
            )
        source_name = fields["sourceObjectName"]
        with self._store.transaction():
            source_bucket = self._store.bucket_doc(namespace, bucket, tenancy)
            self._store.bucket_doc(
                fields["destinationNamespace"], fields["destinationBucket"], tenancy
            )
        info = self._store.head(namespace, bucket, source_name, fields.get("sourceVersionId"))
        if_match = fields.get("sourceObjectIfMatchETag")
        if if_match is not None and if_match not in ("*", info.etag):
            raise NoEtagMatchError("sourceObjectIfMatchETag does not match the source's etag.")
        metadata = fields.get("destinationObjectMetadata")
        options = PutOptions(
            content_type=info.content_type,
            metadata=info.metadata if metadata is None else metadata,
            headers=info.headers,
            if_match=fields.get("destinationObjectIfMatchETag"),
            if_none_match=fields.get("destinationObjectIfNoneMatchETag"),
        )
        target_name = fields["destinationObjectName"]
        target = self._store.object_path(
            fields["destinationNamespace"], fields["destinationBucket"], target_name
        )
        accepted = now_text()
        copied = self._store.uploads / f".copy-{uuid.uuid4().hex}.tmp"
        shutil.copyfile(info.path, copied)
        try:
            staged = self._store.stage(target, target_name, copied)
        finally:
            copied.unlink(missing_ok=True)
        md5 = base64.b64decode(info.md5_base64) if info.md5_base64 else None
        try:
            self._store.install(
                fields["destinationNamespace"],
                fields["destinationBucket"],
                target_name,
                staged,
                options,
                tenancy,
                md5,
                info.multipart_md5,
            )
        finally:
            staged.unlink(missing_ok=True)
        doc = {
            "operationType": "COPY_OBJECT",
            "status": "COMPLETED",
            "id": new_ocid("objectstorageworkrequest"),
            "compartmentId": source_bucket["compartmentId"],
            "resources": [
                _resource("READ", namespace, bucket, source_name),
                _resource(
                    "WRITTEN",
                    fields["destinationNamespace"],
                    fields["destinationBucket"],
                    target_name,
                ),
            ],
            "percentComplete": 100.0,
            "timeAccepted": accepted,
            "timeStarted": accepted,
            "timeFinished": now_text(),
        }
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO work_requests (id, compartment_id, doc) VALUES (?, ?, ?)",
                (doc["id"], doc["compartmentId"], json.dumps(doc)),
            )
        logger.info("work request %s copied %s/%s", doc["id"], bucket, source_name)
        return doc

    def get(self, work_request_id: str) -> dict[str, Any]:
        row = self._store.connection.execute(
            "SELECT doc FROM work_requests WHERE id = ?", (work_request_id,)
        ).fetchone()
        if row is None:
            raise WorkRequestNotFoundError(
                f"The work request '{work_request_id}' does not exist or you are not authorized"
                " to access it"
            )
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def list(self, compartment: str) -> list[dict[str, Any]]:
        """The compartment's work requests, newest first (the order ListWorkRequests pages)."""
        rows = self._store.connection.execute(
            "SELECT doc FROM work_requests WHERE compartment_id = ? ORDER BY rowid DESC",
            (compartment,),
        ).fetchall()
        return [json.loads(row[0]) for row in rows]


def _details(details: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(details) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InvalidParameterError(f"CopyObjectDetails has unknown fields {unknown}.")
    fields: dict[str, Any] = {}
    for name in _REQUIRED:
        value = details.get(name)
        if not isinstance(value, str) or not value:
            raise MissingParameterError(f"Missing parameter: {name}.")
        fields[name] = value
    for name in _OPTIONAL:
        value = details.get(name)
        if value is None:
            continue
        if name == "destinationObjectMetadata":
            fields[name] = string_map(value, name)
        elif not isinstance(value, str) or not value:
            raise InvalidParameterError(f"{name} must be a non-empty string.")
        else:
            fields[name] = value
    tier = fields.get("destinationObjectStorageTier")
    if tier is not None and tier not in _STORAGE_TIERS:
        raise InvalidParameterError(
            f"destinationObjectStorageTier must be one of {', '.join(_STORAGE_TIERS)}."
        )
    if tier not in (None, STORAGE_TIER):
        raise InvalidParameterError(
            f"destinationObjectStorageTier {tier!r} is not supported locally; only {STORAGE_TIER}."
        )
    return fields


def _resource(action: str, namespace: str, bucket: str, name: str) -> dict[str, Any]:
    return {
        "actionType": action,
        "entityType": "object",
        "identifier": name,
        "entityUri": f"/n/{namespace}/b/{bucket}/o/{name}",
        "metadata": {"namespace": namespace, "bucket": bucket, "object": name},
    }
