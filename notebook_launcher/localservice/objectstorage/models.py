"""The local Object Storage: objects as files under `<data-dir>/objectstorage/<ns>/<bucket>/`.

The bytes of an object are a plain file, so tests and people can look at (and drop) objects
directly; what OCI keeps beside the bytes (etag, version id, content type, `opc-meta-*`
metadata, the MD5s, the creation time) lives in `objectstorage.db` keyed by the object's
name, and belongs to the file it was written with (`stamp`: inode, mtime, size). A file that
was written or changed behind the service's back is adopted on first sight with fresh values
(content type application/octet-stream, no metadata), as if it had just been put.

Operations here: GetNamespace, GetNamespaceMetadata; CreateBucket, GetBucket, HeadBucket,
ListBuckets, DeleteBucket; PutObject, GetObject, HeadObject, DeleteObject, ListObjects,
RenameObject. Beside it: `multipart.py` (the multipart uploads), `copy_object.py` (CopyObject
and its work requests), `bucket_updates.py` (UpdateBucket), `bucket_extras.py` (the lists of
what a bucket can have besides objects); `records.py`, `names.py` and `exceptions.py` hold what
they share.

The tenancy has one namespace (`namespace`); any other is 404 NamespaceNotFound. Local choices:
a PutObject or CreateMultipartUpload into a bucket that does not exist creates it in the
caller's tenancy (runs and the function write to output buckets nobody created locally); there
is one storage tier (Standard), no versioning, no retention rules. HTTP-free: `responses.py`
turns requests into calls here.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from notebook_launcher.localservice.errors import (
    InvalidParameterError,
    MissingParameterError,
    NoEtagMatchError,
)
from notebook_launcher.localservice.identity.provisioning import DEFAULT_REGION
from notebook_launcher.localservice.ids import format_time, is_compartment_ocid, now_text
from notebook_launcher.localservice.objectstorage.copy_object import CopyRequests
from notebook_launcher.localservice.objectstorage.exceptions import (
    BucketAlreadyExistsError,
    BucketNotEmptyError,
    BucketNotFoundError,
    CompartmentNotFoundError,
    NamespaceNotFoundError,
    ObjectNotFoundError,
    UnmatchedContentMD5Error,
)
from notebook_launcher.localservice.objectstorage.multipart import MultipartUploads
from notebook_launcher.localservice.objectstorage.names import (
    NAME_RE,
    STAGING_RE,
    check_object_name,
    name_error,
    prune_empty_folders,
)
from notebook_launcher.localservice.objectstorage.records import (
    DEFAULT_CONTENT_TYPE,
    KEPT_HEADERS,
    STORAGE_TIER,
    ObjectInfo,
    ObjectPage,
    PutOptions,
    b64,
    check_preconditions,
    file_md5,
    mtime,
    new_bucket_doc,
    new_etag,
    object_info,
    stamp,
    string_map,
)
from notebook_launcher.localservice.side_database import SideDatabase

logger = logging.getLogger(__name__)

LOCAL_NAMESPACE = "localns"
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
    # Compartments buckets were created in: the ones ListBuckets knows besides the tenancy.
    "CREATE TABLE IF NOT EXISTS compartments (compartment_id TEXT PRIMARY KEY)",
    """CREATE TABLE IF NOT EXISTS work_requests (
        id TEXT PRIMARY KEY, compartment_id TEXT NOT NULL, doc TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS parts (
        upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (upload_id, part_number))""",
)


class ObjectStore:
    """Objects kept as plain files, their OCI attributes in a small SQLite database."""

    def __init__(
        self,
        root: Path,
        database: Path | None = None,
        uploads: Path | None = None,
        namespace: str = LOCAL_NAMESPACE,
        region: str = DEFAULT_REGION,
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
        self.connection = self._db.connection
        self.transaction = self._db.transaction
        self.multipart = MultipartUploads(self)
        self.copies = CopyRequests(self, region)

    def close(self) -> None:
        self._db.close()

    # ----------------------------------------------------------------- names

    def check_namespace(self, namespace: str) -> None:
        """A tenancy has exactly one namespace: any other is OCI's 404 NamespaceNotFound."""
        if not NAME_RE.fullmatch(namespace):
            raise InvalidParameterError(f"namespaceName {namespace!r} is not a valid name.")
        if namespace != self.namespace:
            raise NamespaceNotFoundError()

    def bucket_path(self, namespace: str, bucket: str) -> Path:
        self.check_namespace(namespace)
        if not NAME_RE.fullmatch(bucket):
            raise InvalidParameterError(f"bucketName {bucket!r} is not a valid name.")
        return self.root / namespace / bucket

    def object_path(self, namespace: str, bucket: str, name: str) -> Path:
        """The file of an object; refuses names that would leave the bucket folder."""
        bucket_dir = self.bucket_path(namespace, bucket)
        check_object_name(name)
        return bucket_dir.joinpath(*name.split("/"))

    # ----------------------------------------------------------------- buckets

    def bucket_doc(self, namespace: str, bucket: str, tenancy: str | None) -> dict[str, Any]:
        """The bucket's document; a folder with no record is adopted (caller's tenancy)."""
        path = self.bucket_path(namespace, bucket)
        row = self.connection.execute(
            "SELECT doc FROM buckets WHERE namespace = ? AND name = ?", (namespace, bucket)
        ).fetchone()
        if row is not None and path.is_dir():
            doc: dict[str, Any] = json.loads(row[0])
            return doc
        if not path.is_dir():
            if row is not None:  # the folder was removed behind the service's back
                self.connection.execute(
                    "DELETE FROM buckets WHERE namespace = ? AND name = ?", (namespace, bucket)
                )
            raise BucketNotFoundError(
                f"Either the bucket named '{bucket}' does not exist in the namespace"
                f" '{namespace}' or you are not authorized to access it"
            )
        doc = new_bucket_doc(namespace, bucket, tenancy or "", tenancy or "", {}, {}, {})
        self.connection.execute(
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
        if not is_compartment_ocid(compartment):
            raise InvalidParameterError(
                "compartmentId is not a valid compartment OCID (ocid1.compartment... or"
                " ocid1.tenancy...)."
            )
        if not NAME_RE.fullmatch(name):
            raise InvalidParameterError(
                "name must be 1 to 256 letters, numbers, dashes, underscores and periods,"
                " starting with a letter or number."
            )
        metadata = string_map(details.get("metadata"), "metadata")
        freeform = string_map(details.get("freeformTags"), "freeformTags")
        defined = details.get("definedTags") or {}
        if not isinstance(defined, dict):
            raise InvalidParameterError("definedTags must be an object.")
        tier = details.get("storageTier")
        if tier not in (None, STORAGE_TIER):
            raise InvalidParameterError(
                f"storageTier {tier!r} is not supported locally; only {STORAGE_TIER}."
            )
        path = self.bucket_path(namespace, name)
        with self.transaction() as conn:
            if path.is_dir():
                raise BucketAlreadyExistsError(
                    f"Either the bucket '{name}' in namespace '{namespace}' already exists or"
                    " you are not authorized to create it"
                )
            conn.execute("DELETE FROM buckets WHERE namespace = ? AND name = ?", (namespace, name))
            doc = new_bucket_doc(
                namespace, name, compartment, principal, metadata, freeform, defined
            )
            path.mkdir(parents=True)
            conn.execute(
                "INSERT INTO buckets (namespace, name, doc) VALUES (?, ?, ?)",
                (namespace, name, json.dumps(doc)),
            )
            conn.execute(
                "INSERT OR IGNORE INTO compartments (compartment_id) VALUES (?)", (compartment,)
            )
        logger.info("bucket %s created", name)
        return doc

    def get_bucket(self, namespace: str, bucket: str, tenancy: str) -> dict[str, Any]:
        with self.transaction():
            return self.bucket_doc(namespace, bucket, tenancy)

    def bucket_counts(self, namespace: str, bucket: str) -> tuple[int, int]:
        count = size = 0
        for _, path in self._walk(self.bucket_path(namespace, bucket)):
            count += 1
            size += path.stat().st_size
        return count, size

    def list_buckets(self, namespace: str, compartment: str, tenancy: str) -> list[dict[str, Any]]:
        """The namespace's buckets in `compartment`: the tenancy (root compartment) or one a
        bucket was created in; any other is unknown to the local tenancy (OCI: 404)."""
        self.check_namespace(namespace)
        namespace_dir = self.root / namespace
        known = compartment == tenancy or (
            self.connection.execute(
                "SELECT 1 FROM compartments WHERE compartment_id = ?", (compartment,)
            ).fetchone()
            is not None
        )
        if not known:
            raise CompartmentNotFoundError(
                f"Either the compartment with ID '{compartment}' does not exist or you are not"
                " authorized to access it"
            )
        names = (
            sorted(p.name for p in namespace_dir.iterdir() if p.is_dir())
            if namespace_dir.is_dir()
            else []
        )
        found = []
        with self.transaction():
            for name in names:
                if not NAME_RE.fullmatch(name):
                    continue
                doc = self.bucket_doc(namespace, name, tenancy)
                if doc["compartmentId"] == compartment:
                    found.append(doc)
        return found

    def delete_bucket(
        self, namespace: str, bucket: str, if_match: str | None, tenancy: str
    ) -> None:
        with self.transaction() as conn:
            doc = self.bucket_doc(namespace, bucket, tenancy)
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

    def ensure_bucket(self, namespace: str, bucket: str, tenancy: str | None) -> None:
        """Create the bucket's folder (and record) on a first write into it."""
        path = self.bucket_path(namespace, bucket)
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
        self.bucket_doc(namespace, bucket, tenancy)

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
        staged = self.stage(path, name, content)
        try:
            md5 = file_md5(staged)
            if options.content_md5 is not None and options.content_md5.strip() != b64(md5):
                raise UnmatchedContentMD5Error(
                    f"The computed MD5 of the request body ({b64(md5)}) does not match the"
                    f" Content-MD5 header ({options.content_md5.strip()})"
                )
            return self.install(namespace, bucket, name, staged, options, tenancy, md5, None)
        finally:
            staged.unlink(missing_ok=True)

    def stage(self, path: Path, name: str, content: bytes | Path) -> Path:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidParameterError(
                f"objectName {name!r} collides with an existing object used as a folder."
            ) from None
        except OSError as exc:
            raise name_error(exc) from None
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
            raise name_error(exc) from None
        return staged

    def install(
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
        with self.transaction() as conn:
            self.ensure_bucket(namespace, bucket, tenancy)
            current = self._recorded(conn, namespace, bucket, name, path)
            check_preconditions(current, options)
            try:
                os.replace(staged, path)
            except OSError as exc:
                raise name_error(exc) from None
            now = now_text()
            doc = {
                "etag": new_etag(),
                "versionId": str(uuid.uuid4()),
                "contentType": options.content_type or DEFAULT_CONTENT_TYPE,
                "md5": None if md5 is None else b64(md5),
                "multipartMd5": multipart_md5,
                "timeCreated": now,
                "metadata": dict(options.metadata),
                "headers": {k: v for k, v in options.headers.items() if k in KEPT_HEADERS},
            }
            conn.execute(
                "INSERT OR REPLACE INTO objects (namespace, bucket, name, stamp, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                (namespace, bucket, name, stamp(path), json.dumps(doc)),
            )
        logger.debug("stored object %s/%s", bucket, name)
        return object_info(path, name, doc)

    def _recorded(
        self, conn: sqlite3.Connection, namespace: str, bucket: str, name: str, path: Path
    ) -> ObjectInfo | None:
        """The object's attributes, adopting a file the service did not write; None if absent."""
        try:
            if not path.is_file():
                return None
            current_stamp = stamp(path)
        except OSError as exc:
            raise name_error(exc) from None
        row = conn.execute(
            "SELECT stamp, doc FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
            (namespace, bucket, name),
        ).fetchone()
        if row is not None and row[0] == current_stamp:
            return object_info(path, name, json.loads(row[1]))
        doc: dict[str, Any] = {
            "etag": new_etag(),
            "versionId": str(uuid.uuid4()),
            "contentType": DEFAULT_CONTENT_TYPE,
            "md5": b64(file_md5(path)),
            "multipartMd5": None,
            "timeCreated": format_time(mtime(path)),
            "metadata": {},
            "headers": {},
        }
        conn.execute(
            "INSERT OR REPLACE INTO objects (namespace, bucket, name, stamp, doc)"
            " VALUES (?, ?, ?, ?, ?)",
            (namespace, bucket, name, current_stamp, json.dumps(doc)),
        )
        return object_info(path, name, doc)

    def head(
        self, namespace: str, bucket: str, name: str, version_id: str | None = None
    ) -> ObjectInfo:
        """The object's attributes; with `version_id`, of that version (locally only the
        current version is kept, so any other id is not found, as OCI answers)."""
        path = self.object_path(namespace, bucket, name)
        with self.transaction() as conn:
            self.bucket_doc(namespace, bucket, None)
            info = self._recorded(conn, namespace, bucket, name, path)
        return _the_version(info, name, bucket, version_id)

    def delete(
        self,
        namespace: str,
        bucket: str,
        name: str,
        if_match: str | None,
        version_id: str | None = None,
    ) -> None:
        path = self.object_path(namespace, bucket, name)
        with self.transaction() as conn:
            self.bucket_doc(namespace, bucket, None)
            info = _the_version(
                self._recorded(conn, namespace, bucket, name, path), name, bucket, version_id
            )
            if if_match is not None and if_match not in ("*", info.etag):
                raise NoEtagMatchError("The if-match etag does not match the object's etag.")
            path.unlink()
            conn.execute(
                "DELETE FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
                (namespace, bucket, name),
            )
            prune_empty_folders(path.parent, self.bucket_path(namespace, bucket))

    def rename(
        self, namespace: str, bucket: str, source: str, target: str, tenancy: str | None
    ) -> ObjectInfo:
        source_path = self.object_path(namespace, bucket, source)
        info = self.head(namespace, bucket, source)
        staged = self.stage(self.object_path(namespace, bucket, target), target, source_path)
        options = PutOptions(
            content_type=info.content_type, metadata=info.metadata, headers=info.headers
        )
        md5 = base64.b64decode(info.md5_base64) if info.md5_base64 else None
        try:
            renamed = self.install(
                namespace, bucket, target, staged, options, tenancy, md5, info.multipart_md5
            )
        except BaseException:
            shutil.move(staged, source_path)  # the source stays as it was
            raise
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM objects WHERE namespace = ? AND bucket = ? AND name = ?",
                (namespace, bucket, source),
            )
        prune_empty_folders(source_path.parent, self.bucket_path(namespace, bucket))
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
        with self.transaction():
            self.bucket_doc(namespace, bucket, None)
        names = sorted(name for name, _ in self._walk(bucket_dir))
        objects: list[dict[str, Any]] = []
        prefixes: list[str] = []
        covered: str | None = None  # the last prefix emitted: names under it are covered
        next_start: str | None = None
        entries = 0
        with self.transaction() as conn:
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
                if STAGING_RE.fullmatch(file_name):
                    continue
                name = file_name if relative == "." else f"{relative}/{file_name}"
                yield name.replace(os.sep, "/"), Path(folder) / file_name


def _the_version(
    info: ObjectInfo | None, name: str, bucket: str, version_id: str | None
) -> ObjectInfo:
    if info is None:
        raise ObjectNotFoundError(f"The object '{name}' was not found in the bucket '{bucket}'")
    if version_id is not None and version_id != info.version_id:
        raise ObjectNotFoundError(
            f"The object '{name}' with version '{version_id}' was not found in the bucket"
            f" '{bucket}'"
        )
    return info
