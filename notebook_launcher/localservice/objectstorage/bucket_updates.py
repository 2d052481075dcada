"""UpdateBucket (POST /n/{namespaceName}/b/{bucketName}): the fields of UpdateBucketDetails
(oci/object_storage/models/update_bucket_details.py) the local service can honour.

OCI updates only the fields a request names and answers the whole Bucket with a new etag.
Locally a bucket cannot be renamed (its objects are a folder named after it), versioning stays
Disabled, and there are no Vault keys or auto-tiering: those are refused by name rather than
ignored, so nothing answers as if it had been done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from notebook_launcher.localservice.errors import InvalidParameterError, NoEtagMatchError
from notebook_launcher.localservice.ids import is_compartment_ocid
from notebook_launcher.localservice.objectstorage.records import new_etag, string_map

if TYPE_CHECKING:
    from notebook_launcher.localservice.objectstorage.models import ObjectStore

_FIELDS = (
    "namespace",
    "compartmentId",
    "name",
    "metadata",
    "publicAccessType",
    "objectEventsEnabled",
    "freeformTags",
    "definedTags",
    "kmsKeyId",
    "isBucketKeyEnabled",
    "versioning",
    "autoTiering",
    "bucketScope",
)
_PUBLIC_ACCESS_TYPES = ("NoPublicAccess", "ObjectRead", "ObjectReadWithoutList")


def update_bucket(
    store: ObjectStore,
    namespace: str,
    bucket: str,
    details: Mapping[str, Any],
    if_match: str | None,
    tenancy: str,
) -> dict[str, Any]:
    """Apply the named fields to the bucket's record; the updated bucket."""
    unknown = sorted(set(details) - set(_FIELDS))
    if unknown:
        raise InvalidParameterError(f"UpdateBucketDetails has unknown fields {unknown}.")
    changes = _changes(details, namespace, bucket)
    with store.transaction() as conn:
        doc = store.bucket_doc(namespace, bucket, tenancy)
        if if_match is not None and if_match not in ("*", doc["etag"]):
            raise NoEtagMatchError("The if-match etag does not match the bucket's etag.")
        doc.update(changes)
        doc["etag"] = new_etag()
        conn.execute(
            "UPDATE buckets SET doc = ? WHERE namespace = ? AND name = ?",
            (json.dumps(doc), namespace, bucket),
        )
        if "compartmentId" in changes:
            conn.execute(
                "INSERT OR IGNORE INTO compartments (compartment_id) VALUES (?)",
                (changes["compartmentId"],),
            )
    return doc


def _changes(details: Mapping[str, Any], namespace: str, bucket: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    given = {name: value for name, value in details.items() if value is not None}
    if given.get("namespace", namespace) != namespace:
        raise InvalidParameterError("namespace must be the bucket's namespace.")
    if given.get("name", bucket) != bucket:
        raise InvalidParameterError(
            "name: renaming a bucket is not supported locally (its objects are a folder named"
            " after it)."
        )
    for name in ("kmsKeyId", "isBucketKeyEnabled", "bucketScope"):
        if name in given:
            raise InvalidParameterError(f"{name} is not supported locally.")
    if given.get("autoTiering", "Disabled") != "Disabled":
        raise InvalidParameterError("autoTiering is not supported locally; only Disabled.")
    if "versioning" in given:
        if given["versioning"] not in ("Enabled", "Suspended"):
            raise InvalidParameterError("versioning must be Enabled or Suspended.")
        raise InvalidParameterError(
            "versioning is not supported locally: buckets keep one version of each object."
        )
    if "compartmentId" in given:
        if not is_compartment_ocid(given["compartmentId"]):
            raise InvalidParameterError("compartmentId is not a valid compartment OCID.")
        changes["compartmentId"] = given["compartmentId"]
    if "publicAccessType" in given:
        if given["publicAccessType"] not in _PUBLIC_ACCESS_TYPES:
            raise InvalidParameterError(
                f"publicAccessType must be one of {', '.join(_PUBLIC_ACCESS_TYPES)}."
            )
        changes["publicAccessType"] = given["publicAccessType"]
    if "objectEventsEnabled" in given:
        if not isinstance(given["objectEventsEnabled"], bool):
            raise InvalidParameterError("objectEventsEnabled must be a boolean.")
        changes["objectEventsEnabled"] = given["objectEventsEnabled"]
    for name in ("metadata", "freeformTags"):
        if name in given:
            changes[name] = string_map(given[name], name)
    if "definedTags" in given:
        if not isinstance(given["definedTags"], dict) or not all(
            isinstance(value, dict) for value in given["definedTags"].values()
        ):
            raise InvalidParameterError("definedTags must be an object of objects.")
        changes["definedTags"] = given["definedTags"]
    return changes
