"""The local Object Storage: objects as files under `<data-dir>/objectstorage/<ns>/<bucket>/`.

The bytes of an object are a plain file, so tests and people can look at (and drop) objects
directly; what OCI keeps beside the bytes (etag, version id, content type, `opc-meta-*`
metadata, the MD5s, the creation time) lives in `objectstorage.db` keyed by the object's
name, and belongs to the file it was written with (`stamp`: inode, mtime, size). A file that
was written or changed behind the service's back is adopted on first sight with fresh values
(content type application/octet-stream, no metadata), as if it had just been put.

Operations: GetNamespace, GetNamespaceMetadata; CreateBucket, GetBucket, HeadBucket,
ListBuckets, DeleteBucket; PutObject, GetObject, HeadObject, DeleteObject, ListObjects,
RenameObject; CreateMultipartUpload, UploadPart, CommitMultipartUpload,
AbortMultipartUpload, ListMultipartUploadParts, ListMultipartUploads.

Local choices: a PutObject or CreateMultipartUpload into a bucket that does not exist creates
it in the caller's tenancy (runs and the function write to output buckets nobody created
locally); there is one storage tier (Standard), no versioning, no retention rules. HTTP-free:
`responses.py` turns requests into calls here.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from notebook_launcher.localservice.errors import (
    InvalidParameterError,
    MissingParameterError,
    NoEtagMatchError,
    ServiceError,
)
from notebook_launcher.localservice.ids import format_time, new_ocid, now_text
from notebook_launcher.localservice.side_database import SideDatabase
from notebook_launcher.localservice.validation import small_integer

logger = logging.getLogger(__name__)

LOCAL_NAMESPACE = "localns"
STORAGE_TIER = "Standard"
MAX_OBJECT_NAME_BYTES = 1024  # OCI's limit, in UTF-8 bytes
# OCI: "Valid characters are letters (upper or lower case), numbers, and characters other than
# line feed, carriage return, and NULL."
_FORBIDDEN_NAME_CHARACTERS = ("\n", "\r", "\x00")
MAX_SEGMENT_BYTES = 255  # a file name on the local disk (NAME_MAX)
# Errors the file system answers for a name it cannot hold, as opposed to a failing disk.
_NAME_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.EINVAL, errno.EILSEQ}
)
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")
_STAGING_RE = re.compile(r"\.(?:put|mpu)-[0-9a-f]{32}\.tmp")
# ListObjects `fields` (SDK docs: "name, size, etag, md5, timeCreated, timeModified,
# storageTier, archivalState"; case-insensitive)
OBJECT_FIELDS = (
    "name",
    "size",
    "etag",
    "md5",
    "timeCreated",
    "timeModified",
    "storageTier",
    "archivalState",
)
MAX_LIST_LIMIT = 1000
MIN_PART_NUMBER, MAX_PART_NUMBER = 1, 10000
# Headers PutObject and CreateMultipartUpload keep and GetObject/HeadObject answer back.
KEPT_HEADERS = ("content-language", "content-encoding", "content-disposition", "cache-control")
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS buckets (
        namespace TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (namespace, name))""",
    """CREATE TABLE IF NOT EXISTS objects (
        namespace TEXT NOT NULL, bucket TEXT NOT NULL, name TEXT NOT NULL,
        stamp TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (namespace, bucket, name))""",
    """CREATE TABLE IF NOT EXISTS uploads (
        upload_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, bucket TEXT NOT NULL,
        name TEXT NOT NULL, doc TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS parts (
        upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (upload_id, part_number))""",
)


class BucketNotFoundError(ServiceError):
    """The bucket does not exist in the namespace."""

    status = 404
    code = "BucketNotFound"


class ObjectNotFoundError(ServiceError):
    """The object does not exist in the bucket."""

    status = 404
    code = "ObjectNotFound"


class UploadNotFoundError(ServiceError):
    """The multipart upload does not exist (committed, aborted or never created)."""

    status = 404
    code = "NoSuchUpload"


class BucketAlreadyExistsError(ServiceError):
    """CreateBucket of a name the namespace already has."""

    status = 409
    code = "BucketAlreadyExists"


class BucketNotEmptyError(ServiceError):
    """DeleteBucket of a bucket that still holds objects."""

    status = 409
    code = "BucketNotEmpty"


class UnmatchedContentMD5Error(ServiceError):
    """The body's MD5 is not the one the Content-MD5 header announced."""

    status = 400
    code = "UnmatchedContentMD5"


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


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"


def _file_md5(path: Path) -> bytes:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            md5.update(chunk)
    return md5.digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _new_etag() -> str:
    """OCI's object etags are UUIDs (hex with dashes: ocifs reads them as a hex number)."""
    return str(uuid.uuid4())


class ObjectStore:
    """Objects kept as plain files, their OCI attributes in a small SQLite database."""

    def __init__(
        self,
        root: Path,
        database: Path | None = None,
        uploads: Path | None = None,
        namespace: str = LOCAL_NAMESPACE,
    ) -> None:
        """Objects under `root`; the database and the parts of uploads in progress default to
        hidden entries of `root` (no namespace starts with a dot)."""
        database = database or root / ".objectstorage.db"
        uploads = uploads or root / ".multipart"
        self.root = root
        self.namespace = namespace  # the one GetNamespace answers
        self.uploads = uploads
        root.mkdir(parents=True, exist_ok=True)
        uploads.mkdir(parents=True, exist_ok=True)
        self._db = SideDatabase(database, _SCHEMA, pragmas=("synchronous=NORMAL",))
        self._lock = self._db.lock
        self._conn = self._db.connection
        self._tx = self._db.transaction

    def close(self) -> None:
        self._db.close()

    # ----------------------------------------------------------------- names

    def bucket_path(self, namespace: str, bucket: str) -> Path:
        for label, value in (("namespaceName", namespace), ("bucketName", bucket)):
            if not _NAME_RE.fullmatch(value):
                raise InvalidParameterError(f"{label} {value!r} is not a valid name.")
        return self.root / namespace / bucket

    def object_path(self, namespace: str, bucket: str, name: str) -> Path:
        """The file of an object; refuses names that would leave the bucket folder."""
        bucket_dir = self.bucket_path(namespace, bucket)
        _check_object_name(name)
        return bucket_dir.joinpath(*name.split("/"))

    # ----------------------------------------------------------------- buckets

    def _bucket_doc(self, namespace: str, bucket: str, tenancy: str | None) -> dict[str, Any]:
        """The bucket's document; a folder with no record is adopted (caller's tenancy)."""
        path = self.bucket_path(namespace, bucket)
        row = self._conn.execute(
            "SELECT doc FROM buckets WHERE namespace = ? AND name = ?", (namespace, bucket)
        ).fetchone()
        if row is not None and path.is_dir():
            doc: dict[str, Any] = json.loads(row[0])
            return doc
        if not path.is_dir():
            if row is not None:  # the folder was removed behind the service's back
                self._conn.execute(
                    "DELETE FROM buckets WHERE namespace = ? AND name = ?", (namespace, bucket)
                )
            raise BucketNotFoundError(
                f"Either the bucket named '{bucket}' does not exist in the namespace"
                f" '{namespace}' or you are not authorized to access it"
            )
        doc = _new_bucket_doc(namespace, bucket, tenancy or "", tenancy or "", {}, {}, {})
        self._conn.execute(
            "INSERT INTO buckets (namespace, name, doc) VALUES (?, ?, ?)",
            (namespace, bucket, json.dumps(doc)),
        )
        return doc

    def create_bucket(
        self, namespace: str, details: Mapping[str, Any], principal: str
    ) -> dict[str, Any]:
        name = details.get("name")
        compartment = details.get("compartmentId")
        if not isinstance(name, str) or not name:
            raise MissingParameterError("Missing parameter: name.")
        if not isinstance(compartment, str) or not compartment:
            raise MissingParameterError("Missing parameter: compartmentId.")
        if not _NAME_RE.fullmatch(name):
            raise InvalidParameterError(
                "name must be 1 to 256 letters, numbers, dashes, underscores and periods,"
                " starting with a letter or number."
            )
        metadata = _string_map(details.get("metadata"), "metadata")
        freeform = _string_map(details.get("freeformTags"), "freeformTags")
        defined = details.get("definedTags") or {}
        if not isinstance(defined, dict):
            raise InvalidParameterError("definedTags must be an object.")
        tier = details.get("storageTier")
        if tier not in (None, STORAGE_TIER):
            raise InvalidParameterError(
                f"storageTier {tier!r} is not supported locally; only {STORAGE_TIER}."
            )
        path = self.bucket_path(namespace, name)
        with self._tx() as conn:
            if path.is_dir():
                raise BucketAlreadyExistsError(
                    f"Either the bucket '{name}' in namespace '{namespace}' already exists or"
                    " you are not authorized to create it"
                )
            conn.execute("DELETE FROM buckets WHERE namespace = ? AND name = ?", (namespace, name))
            doc = _new_bucket_doc(
                namespace, name, compartment, principal, metadata, freeform, defined
            )
            path.mkdir(parents=True)
            conn.execute(
                "INSERT INTO buckets (namespace, name, doc) VALUES (?, ?, ?)",
                (namespace, name, json.dumps(doc)),
            )
        logger.info("bucket %s created", name)
        return doc

    def get_bucket(self, namespace: str, bucket: str, tenancy: str) -> dict[str, Any]:
        with self._tx():
            return self._bucket_doc(namespace, bucket, tenancy)

    def bucket_counts(self, namespace: str, bucket: str) -> tuple[int, int]:
        count = size = 0
        for _, path in self._walk(self.bucket_path(namespace, bucket)):
            count += 1
            size += path.stat().st_size
        return count, size

    def list_buckets(self, namespace: str, compartment: str, tenancy: str) -> list[dict[str, Any]]:
        namespace_dir = self.root / namespace
        if not _NAME_RE.fullmatch(namespace):
            raise InvalidParameterError(f"namespaceName {namespace!r} is not a valid name.")
        names = (
            sorted(p.name for p in namespace_dir.iterdir() if p.is_dir())
            if namespace_dir.is_dir()
            else []
        )
        found = []
        with self._tx():
            for name in names:
                if not _NAME_RE.fullmatch(name):
                    continue
                doc = self._bucket_doc(namespace, name, tenancy)
                if doc["compartmentId"] == compartment:
                    found.append(doc)
        return found

    def delete_bucket(
        self, namespace: str, bucket: str, if_match: str | None, tenancy: str
    ) -> None:
        with self._tx() as conn:
            doc = self._bucket_doc(namespace, bucket, tenancy)
            if if_match is not None and if_match not in ("*", doc["etag"]):
                raise NoEtagMatchError("The if-match etag does not match the bucket's etag.")
            path = self.bucket_path(namespace, bucket)
            if any(True for _ in self._walk(path)):
                raise BucketNotEmptyError(f"Bucket named '{bucket}' is not empty.")
            pending = conn.execute(
                "SELECT COUNT(*) FROM uploads WHERE namespace = ? AND bucket = ?",
                (namespace, bucket),
            ).fetchone()[0]
            if pending:
                raise BucketNotEmptyError(
                    f"Bucket named '{bucket}' has {pending} multipart upload(s) in progress;"
                    " commit or abort them first."
                )
            shutil.rmtree(path)
            conn.execute(
                "DELETE FROM buckets WHERE namespace = ? AND name = ?", (namespace, bucket)
            )
            conn.execute(
                "DELETE FROM objects WHERE namespace = ? AND bucket = ?", (namespace, bucket)
            )
        logger.info("bucket %s deleted", bucket)

    def _ensure_bucket(self, namespace: str, bucket: str, tenancy: str | None) -> None:
        """Create the bucket's folder (and record) on a first write into it."""
        path = self.bucket_path(namespace, bucket)
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        self._bucket_doc(namespace, bucket, tenancy)

    # ----------------------------------------------------------------- objects

    def put(
        self,
        namespace: str,
        bucket: str,
        name: str,
        content: bytes | Path,
        options: PutOptions | None = None,
        tenancy: str | None = None,
    ) -> ObjectInfo:
        """Store an object from its bytes or from a file holding them (an upload the HTTP
        layer streamed to disk, which this takes over)."""
        options = options or PutOptions()
        path = self.object_path(namespace, bucket, name)
        staged = self._stage(path, name, content)
        try:
            md5 = _file_md5(staged)
            if options.content_md5 is not None and options.content_md5.strip() != _b64(md5):
                raise UnmatchedContentMD5Error(
                    f"The computed MD5 of the request body ({_b64(md5)}) does not match the"
                    f" Content-MD5 header ({options.content_md5.strip()})"
                )
            return self._install(namespace, bucket, name, staged, options, tenancy, md5, None)
        finally:
            staged.unlink(missing_ok=True)

    def _stage(self, path: Path, name: str, content: bytes | Path) -> Path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidParameterError(
                f"objectName {name!r} collides with an existing object used as a folder."
            ) from None
        except OSError as exc:
            raise _name_error(exc) from None
        if path.is_dir():
            raise InvalidParameterError(
                f"objectName {name!r} is used as a folder by other objects."
            )
        # A short staging name: the object's own name may already be as long as the disk allows.
        staged = path.parent / f".put-{uuid.uuid4().hex}.tmp"
        try:
            if isinstance(content, Path):
                shutil.move(content, staged)
            else:
                staged.write_bytes(content)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise _name_error(exc) from None
        return staged

    def _install(
        self,
        namespace: str,
        bucket: str,
        name: str,
        staged: Path,
        options: PutOptions,
        tenancy: str | None,
        md5: bytes | None,
        multipart_md5: str | None,
    ) -> ObjectInfo:
        """Move a staged file into place and record its attributes, in one transaction."""
        path = self.object_path(namespace, bucket, name)
        with self._tx() as conn:
            self._ensure_bucket(namespace, bucket, tenancy)
            current = self._recorded(conn, namespace, bucket, name, path)
            _check_preconditions(current, options)
            try:
                os.replace(staged, path)
            except OSError as exc:
                raise _name_error(exc) from None
            now = now_text()
            doc = {
                "etag": _new_etag(),
                "versionId": str(uuid.uuid4()),
                "contentType": options.content_type or DEFAULT_CONTENT_TYPE,
                "md5": None if md5 is None else _b64(md5),
                "multipartMd5": multipart_md5,
                "timeCreated": now,
                "metadata": dict(options.metadata),
                "headers": {k: v for k, v in options.headers.items() if k in KEPT_HEADERS},
            }
            conn.execute(
                "INSERT OR REPLACE INTO objects (namespace, bucket, name, stamp, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                (namespace, bucket, name, _stamp(path), json.dumps(doc)),
            )
        logger.debug("stored object %s/%s", bucket, name)
        return _info(path, name, doc)

    def _recorded(
        self, conn: sqlite3.Connection, namespace: str, bucket: str, name: str, path: Path
    ) -> ObjectInfo | None:
        """The object's attributes, adopting a file the service did not write; None if absent."""
        try:
            if not path.is_file():
                return None
            stamp = _stamp(path)
        except OSError as exc:
            raise _name_error(exc) from None
        row = conn.execute(
            "SELECT stamp, doc FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
            (namespace, bucket, name),
        ).fetchone()
        if row is not None and row[0] == stamp:
            return _info(path, name, json.loads(row[1]))
        doc: dict[str, Any] = {
            "etag": _new_etag(),
            "versionId": str(uuid.uuid4()),
            "contentType": DEFAULT_CONTENT_TYPE,
            "md5": _b64(_file_md5(path)),
            "multipartMd5": None,
            "timeCreated": format_time(_mtime(path)),
            "metadata": {},
            "headers": {},
        }
        conn.execute(
            "INSERT OR REPLACE INTO objects (namespace, bucket, name, stamp, doc)"
            " VALUES (?, ?, ?, ?, ?)",
            (namespace, bucket, name, stamp, json.dumps(doc)),
        )
        return _info(path, name, doc)

    def head(self, namespace: str, bucket: str, name: str) -> ObjectInfo:
        path = self.object_path(namespace, bucket, name)
        with self._tx() as conn:
            self._bucket_doc(namespace, bucket, None)
            info = self._recorded(conn, namespace, bucket, name, path)
        if info is None:
            raise ObjectNotFoundError(f"The object '{name}' was not found in the bucket '{bucket}'")
        return info

    def delete(self, namespace: str, bucket: str, name: str, if_match: str | None) -> None:
        path = self.object_path(namespace, bucket, name)
        with self._tx() as conn:
            self._bucket_doc(namespace, bucket, None)
            info = self._recorded(conn, namespace, bucket, name, path)
            if info is None:
                raise ObjectNotFoundError(
                    f"The object '{name}' was not found in the bucket '{bucket}'"
                )
            if if_match is not None and if_match not in ("*", info.etag):
                raise NoEtagMatchError("The if-match etag does not match the object's etag.")
            path.unlink()
            conn.execute(
                "DELETE FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
                (namespace, bucket, name),
            )
            _prune_empty_folders(path.parent, self.bucket_path(namespace, bucket))

    def rename(
        self, namespace: str, bucket: str, source: str, target: str, tenancy: str | None
    ) -> ObjectInfo:
        source_path = self.object_path(namespace, bucket, source)
        info = self.head(namespace, bucket, source)
        staged = self._stage(self.object_path(namespace, bucket, target), target, source_path)
        options = PutOptions(
            content_type=info.content_type, metadata=info.metadata, headers=info.headers
        )
        md5 = base64.b64decode(info.md5_base64) if info.md5_base64 else None
        try:
            renamed = self._install(
                namespace, bucket, target, staged, options, tenancy, md5, info.multipart_md5
            )
        except BaseException:
            shutil.move(staged, source_path)  # the source stays as it was
            raise
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
                (namespace, bucket, source),
            )
        _prune_empty_folders(source_path.parent, self.bucket_path(namespace, bucket))
        return renamed

    def list_objects(
        self,
        namespace: str,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start: str | None = None,
        end: str | None = None,
        start_after: str | None = None,
        limit: int = MAX_LIST_LIMIT,
        fields: tuple[str, ...] = ("name",),
    ) -> ObjectPage:
        """Objects in name order from `start` (inclusive) to `end` (exclusive); with a
        delimiter, names holding it after the prefix collapse into `prefixes`. The page ends
        after `limit` entries (objects and prefixes); `nextStartWith` is the first name not
        covered."""
        bucket_dir = self.bucket_path(namespace, bucket)
        if delimiter not in (None, "", "/"):
            raise InvalidParameterError("delimiter must be '/' (the only one OCI supports).")
        with self._tx():
            self._bucket_doc(namespace, bucket, None)
        names = sorted(name for name, _ in self._walk(bucket_dir))
        objects: list[dict[str, Any]] = []
        prefixes: list[str] = []
        covered: str | None = None  # the last prefix emitted: names under it are covered
        next_start: str | None = None
        entries = 0
        with self._tx() as conn:
            for name in names:
                if not name.startswith(prefix):
                    continue
                if start is not None and name < start:
                    continue
                if start_after is not None and name <= start_after:
                    continue
                if end is not None and name >= end:
                    break
                if covered is not None and name.startswith(covered):
                    continue
                if entries >= limit:
                    next_start = name
                    break
                rest = name[len(prefix) :]
                if delimiter and delimiter in rest:
                    covered = prefix + rest[: rest.index(delimiter) + 1]
                    prefixes.append(covered)
                else:
                    info = self._recorded(
                        conn, namespace, bucket, name, bucket_dir.joinpath(*name.split("/"))
                    )
                    if info is None:
                        continue
                    objects.append(info.summary(fields))
                entries += 1
        return ObjectPage(objects, prefixes, next_start)

    def _walk(self, bucket_dir: Path) -> Iterator[tuple[str, Path]]:
        """(object name, file) of every object in a bucket folder (staging files left out)."""
        for folder, dirs, files in os.walk(bucket_dir):
            dirs.sort()
            relative = os.path.relpath(folder, bucket_dir)
            for file_name in files:
                if _STAGING_RE.fullmatch(file_name):
                    continue
                name = file_name if relative == "." else f"{relative}/{file_name}"
                yield name.replace(os.sep, "/"), Path(folder) / file_name

    # ----------------------------------------------------------------- multipart uploads

    def create_upload(
        self,
        namespace: str,
        bucket: str,
        name: str,
        options: PutOptions,
        tenancy: str | None,
    ) -> dict[str, Any]:
        self.object_path(namespace, bucket, name)  # checks the names
        upload_id = str(uuid.uuid4())
        doc = {
            "namespace": namespace,
            "bucket": bucket,
            "object": name,
            "uploadId": upload_id,
            "timeCreated": now_text(),
            "storageTier": STORAGE_TIER,
        }
        kept = {
            "contentType": options.content_type,
            "metadata": dict(options.metadata),
            "headers": dict(options.headers),
        }
        with self._tx() as conn:
            self._ensure_bucket(namespace, bucket, tenancy)
            conn.execute(
                "INSERT INTO uploads (upload_id, namespace, bucket, name, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                (upload_id, namespace, bucket, name, json.dumps({**doc, "kept": kept})),
            )
        (self.uploads / upload_id).mkdir(parents=True)
        logger.info("multipart upload %s of %s/%s created", upload_id, bucket, name)
        return doc

    def _upload(
        self, namespace: str, bucket: str, name: str, upload_id: str | None
    ) -> dict[str, Any]:
        if not upload_id:
            raise MissingParameterError("Missing parameter: uploadId.")
        row = self._conn.execute(
            "SELECT doc FROM uploads"
            " WHERE upload_id = ? AND namespace = ? AND bucket = ? AND name = ?",
            (upload_id, namespace, bucket, name),
        ).fetchone()
        if row is None:
            raise UploadNotFoundError(
                f"The upload ID '{upload_id}' for object '{name}' in bucket '{bucket}'"
                " does not exist"
            )
        doc: dict[str, Any] = json.loads(row[0])
        return doc

    def upload_part(
        self,
        namespace: str,
        bucket: str,
        name: str,
        upload_id: str | None,
        part_number: str | None,
        content: Path,
        content_md5: str | None,
    ) -> dict[str, Any]:
        number = _part_number(part_number)
        with self._tx():
            self._upload(namespace, bucket, name, upload_id)
        assert upload_id is not None
        md5 = _file_md5(content)
        if content_md5 is not None and content_md5.strip() != _b64(md5):
            raise UnmatchedContentMD5Error(
                f"The computed MD5 of the request body ({_b64(md5)}) does not match the"
                f" Content-MD5 header ({content_md5.strip()})"
            )
        part_file = self.uploads / upload_id / str(number)
        shutil.move(content, part_file)
        doc = {
            "partNumber": number,
            "etag": _new_etag(),
            "md5": _b64(md5),
            "size": part_file.stat().st_size,
        }
        with self._tx() as conn:
            self._upload(namespace, bucket, name, upload_id)  # still there (not aborted)
            conn.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, doc) VALUES (?, ?, ?)",
                (upload_id, number, json.dumps(doc)),
            )
        return doc

    def list_parts(
        self, namespace: str, bucket: str, name: str, upload_id: str | None
    ) -> list[dict[str, Any]]:
        with self._tx() as conn:
            self._upload(namespace, bucket, name, upload_id)
            rows = conn.execute(
                "SELECT doc FROM parts WHERE upload_id = ? ORDER BY part_number", (upload_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def list_uploads(self, namespace: str, bucket: str) -> list[dict[str, Any]]:
        with self._tx() as conn:
            self._bucket_doc(namespace, bucket, None)
            rows = conn.execute(
                "SELECT doc FROM uploads WHERE namespace = ? AND bucket = ?"
                " ORDER BY name, upload_id",
                (namespace, bucket),
            ).fetchall()
        docs = [json.loads(row[0]) for row in rows]
        for doc in docs:
            doc.pop("kept", None)
        return docs

    def abort_upload(self, namespace: str, bucket: str, name: str, upload_id: str | None) -> None:
        with self._tx() as conn:
            self._upload(namespace, bucket, name, upload_id)
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self.uploads / str(upload_id), ignore_errors=True)
        logger.info("multipart upload %s aborted", upload_id)

    def commit_upload(
        self,
        namespace: str,
        bucket: str,
        name: str,
        upload_id: str | None,
        details: object,
        options: PutOptions,
    ) -> ObjectInfo:
        """Assemble the committed parts (in part-number order) into the object."""
        commit, exclude = _commit_lists(details)
        with self._tx() as conn:
            upload = self._upload(namespace, bucket, name, upload_id)
            rows = conn.execute(
                "SELECT part_number, doc FROM parts WHERE upload_id = ?", (upload_id,)
            ).fetchall()
        parts = {number: json.loads(doc) for number, doc in rows}
        both = set(commit) & set(exclude)
        if both:
            raise InvalidParameterError(
                f"Part(s) {sorted(both)} are in both partsToCommit and partsToExclude."
            )
        unlisted = set(parts) - set(commit) - set(exclude)
        if unlisted:
            raise InvalidParameterError(
                f"Uploaded part(s) {sorted(unlisted)} must be in partsToCommit or partsToExclude."
            )
        for number, etag in commit.items():
            part = parts.get(number)
            if part is None:
                raise InvalidParameterError(f"Part {number} was not uploaded.")
            if part["etag"] != etag:
                raise InvalidParameterError(f"The etag of part {number} does not match.")
        if not commit:
            raise InvalidParameterError("partsToCommit must name at least one part.")
        assert upload_id is not None
        path = self.object_path(namespace, bucket, name)
        staged = self._stage(path, name, b"")
        digests = hashlib.md5(usedforsecurity=False)
        try:
            with open(staged, "wb") as out:
                for number in sorted(commit):
                    with open(self.uploads / upload_id / str(number), "rb") as part_file:
                        shutil.copyfileobj(part_file, out, 1024 * 1024)
                    digests.update(base64.b64decode(parts[number]["md5"]))
            multipart_md5 = f"{_b64(digests.digest())}-{len(commit)}"
            kept = upload.get("kept", {})
            stored = PutOptions(
                content_type=kept.get("contentType"),
                metadata=kept.get("metadata") or {},
                headers=kept.get("headers") or {},
                if_match=options.if_match,
                if_none_match=options.if_none_match,
            )
            info = self._install(namespace, bucket, name, staged, stored, None, None, multipart_md5)
        finally:
            staged.unlink(missing_ok=True)
        with self._tx() as conn:
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self.uploads / upload_id, ignore_errors=True)
        logger.info("multipart upload %s committed (%d parts)", upload_id, len(commit))
        return info


def _new_bucket_doc(
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
        "etag": _new_etag(),
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


def _info(path: Path, name: str, doc: Mapping[str, Any]) -> ObjectInfo:
    stat = path.stat()
    modified = _mtime(path)
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


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _check_object_name(name: str) -> None:
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidParameterError("objectName is not valid Unicode.") from None
    if not name or size > MAX_OBJECT_NAME_BYTES:
        raise InvalidParameterError(
            f"objectName must be 1 to {MAX_OBJECT_NAME_BYTES} bytes (UTF-8) long."
        )
    if any(char in name for char in _FORBIDDEN_NAME_CHARACTERS):
        raise InvalidParameterError(
            "objectName must not contain a line feed, carriage return or NUL character."
        )
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidParameterError(
            "objectName must not start with '/' or hold empty, '.' or '..' segments locally."
        )
    if any(len(part.encode("utf-8")) > MAX_SEGMENT_BYTES for part in parts):
        raise InvalidParameterError(
            f"objectName segments (between '/') must be at most {MAX_SEGMENT_BYTES} bytes"
            " (UTF-8) each locally, where they are file names."
        )
    if _STAGING_RE.fullmatch(parts[-1]):
        raise InvalidParameterError("objectName ends in a name the local service reserves.")


def _check_preconditions(current: ObjectInfo | None, options: PutOptions) -> None:
    if options.if_match is not None and (
        current is None or options.if_match not in ("*", current.etag)
    ):
        raise NoEtagMatchError("The if-match etag does not match the object's current etag.")
    if options.if_none_match == "*" and current is not None:
        raise NoEtagMatchError("The object already exists (if-none-match: *).")


def _string_map(value: object, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameterError(f"{name} must be an object of strings.")
    return dict(value)


def _part_number(raw: str | None) -> int:
    if raw is None or raw == "":
        raise MissingParameterError("Missing parameter: uploadPartNum.")
    number = small_integer(raw)
    if number is None or not MIN_PART_NUMBER <= number <= MAX_PART_NUMBER:
        raise InvalidParameterError(
            f"uploadPartNum must be an integer from {MIN_PART_NUMBER} to {MAX_PART_NUMBER}."
        )
    return number


def _commit_lists(details: object) -> tuple[dict[int, str], list[int]]:
    if not isinstance(details, dict):
        raise InvalidParameterError("The commit details must be a JSON object.")
    commit_raw = details.get("partsToCommit")
    if not isinstance(commit_raw, list):
        raise MissingParameterError("Missing parameter: partsToCommit.")
    commit: dict[int, str] = {}
    for item in commit_raw:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("partNum"), int)
            and isinstance(item.get("etag"), str)
        ):
            raise InvalidParameterError("partsToCommit entries must be {partNum, etag}.")
        commit[item["partNum"]] = item["etag"]
    exclude_raw = details.get("partsToExclude") or []
    if not isinstance(exclude_raw, list) or not all(isinstance(n, int) for n in exclude_raw):
        raise InvalidParameterError("partsToExclude must be a list of part numbers.")
    return commit, list(exclude_raw)


def _prune_empty_folders(folder: Path, bucket_dir: Path) -> None:
    """Remove folders a deleted object leaves empty (OCI has no folders), up to the bucket."""
    while folder != bucket_dir and folder.is_relative_to(bucket_dir):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _name_error(exc: OSError) -> Exception:
    """A 400 for an object name the local disk cannot hold; other OSErrors stay errors."""
    if exc.errno in _NAME_ERRNOS:
        return InvalidParameterError(
            f"objectName cannot be stored locally ({os.strerror(exc.errno or 0)})."
        )
    return exc
