"""What the local Object Storage records about buckets and objects, and the small rules on
those records (etags, MD5s, preconditions)."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from notebook_launcher.localservice.errors import InvalidParameterError, NoEtagMatchError
from notebook_launcher.localservice.ids import format_time, new_ocid, now_text

STORAGE_TIER = "Standard"
# Headers PutObject and CreateMultipartUpload keep and GetObject/HeadObject answer back.
KEPT_HEADERS = ("content-language", "content-encoding", "content-disposition", "cache-control")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class ObjectInfo:
    """What HeadObject tells about an object."""

    path: Path
    name: str
    size: int
    etag: str
    version_id: str
    content_type: str
    md5_base64: str | None
    multipart_md5: str | None
    time_created: str
    last_modified: str
    time_modified: str
    metadata: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def summary(self, fields: tuple[str, ...]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": self.name,
            "size": self.size,
            "etag": self.etag,
            "md5": self.md5_base64 or self.multipart_md5,
            "timeCreated": self.time_created,
            "timeModified": self.time_modified,
            "storageTier": STORAGE_TIER,
            "versionId": self.version_id,
        }
        return {name: values[name] for name in fields if name in values}


@dataclass(frozen=True)
class PutOptions:
    """What a PutObject (or CreateMultipartUpload) says about the object besides its bytes."""

    content_type: str | None = None
    content_md5: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    if_match: str | None = None
    if_none_match: str | None = None


@dataclass(frozen=True)
class ObjectPage:
    """One ListObjects answer."""

    objects: list[dict[str, Any]]
    prefixes: list[str]
    next_start_with: str | None


def stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"


def file_md5(path: Path) -> bytes:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            md5.update(chunk)
    return md5.digest()


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def new_etag() -> str:
    """OCI's object etags are UUIDs (hex with dashes: ocifs reads them as a hex number)."""
    return str(uuid.uuid4())


def new_bucket_doc(
    namespace: str,
    name: str,
    compartment: str,
    created_by: str,
    metadata: Mapping[str, str],
    freeform: Mapping[str, str],
    defined: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "compartmentId": compartment,
        "metadata": dict(metadata),
        "createdBy": created_by,
        "timeCreated": now_text(),
        "etag": new_etag(),
        "publicAccessType": "NoPublicAccess",
        "storageTier": STORAGE_TIER,
        "objectEventsEnabled": False,
        "freeformTags": dict(freeform),
        "definedTags": dict(defined),
        "versioning": "Disabled",
        "replicationEnabled": False,
        "isReadOnly": False,
        "autoTiering": "Disabled",
        "id": new_ocid("bucket"),
    }


def object_info(path: Path, name: str, doc: Mapping[str, Any]) -> ObjectInfo:
    stat = path.stat()
    modified = mtime(path)
    return ObjectInfo(
        path=path,
        name=name,
        size=stat.st_size,
        etag=doc["etag"],
        version_id=doc["versionId"],
        content_type=doc["contentType"],
        md5_base64=doc.get("md5"),
        multipart_md5=doc.get("multipartMd5"),
        time_created=doc["timeCreated"],
        last_modified=formatdate(stat.st_mtime, usegmt=True),
        time_modified=format_time(modified),
        metadata=dict(doc.get("metadata") or {}),
        headers=dict(doc.get("headers") or {}),
    )


def mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def check_preconditions(current: ObjectInfo | None, options: PutOptions) -> None:
    if options.if_match is not None and (
        current is None or options.if_match not in ("*", current.etag)
    ):
        raise NoEtagMatchError("The if-match etag does not match the object's current etag.")
    if options.if_none_match == "*" and current is not None:
        raise NoEtagMatchError("The object already exists (if-none-match: *).")


def string_map(value: object, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameterError(f"{name} must be an object of strings.")
    return dict(value)
