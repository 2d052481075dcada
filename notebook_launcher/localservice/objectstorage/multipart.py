"""Multipart uploads of the local Object Storage: parts kept as files under the uploads
folder until the commit assembles them, in part-number order, into the object."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notebook_launcher.localservice.errors import InvalidParameterError, MissingParameterError
from notebook_launcher.localservice.ids import now_text
from notebook_launcher.localservice.objectstorage.exceptions import (
    UnmatchedContentMD5Error,
    UploadNotFoundError,
)
from notebook_launcher.localservice.objectstorage.records import (
    STORAGE_TIER,
    ObjectInfo,
    PutOptions,
    b64,
    file_md5,
    new_etag,
)
from notebook_launcher.localservice.validation import small_integer

if TYPE_CHECKING:
    from notebook_launcher.localservice.objectstorage.models import ObjectStore

logger = logging.getLogger(__name__)

MIN_PART_NUMBER, MAX_PART_NUMBER = 1, 10000


class MultipartUploads:
    """CreateMultipartUpload, UploadPart, CommitMultipartUpload, AbortMultipartUpload,
    ListMultipartUploadParts and ListMultipartUploads over one `ObjectStore`."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def create(
        self,
        namespace: str,
        bucket: str,
        name: str,
        options: PutOptions,
        tenancy: str | None,
    ) -> dict[str, Any]:
        self._store.object_path(namespace, bucket, name)  # checks the names
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
        with self._store.transaction() as conn:
            self._store.ensure_bucket(namespace, bucket, tenancy)
            conn.execute(
                "INSERT INTO uploads (upload_id, namespace, bucket, name, doc)"
                " VALUES (?, ?, ?, ?, ?)",
                (upload_id, namespace, bucket, name, json.dumps({**doc, "kept": kept})),
            )
        (self._store.uploads / upload_id).mkdir(parents=True)
        logger.info("multipart upload %s of %s/%s created", upload_id, bucket, name)
        return doc

    def _upload(
        self, namespace: str, bucket: str, name: str, upload_id: str | None
    ) -> dict[str, Any]:
        if not upload_id:
            raise MissingParameterError("Missing parameter: uploadId.")
        row = self._store.connection.execute(
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
        with self._store.transaction():
            self._upload(namespace, bucket, name, upload_id)
        assert upload_id is not None
        md5 = file_md5(content)
        if content_md5 is not None and content_md5.strip() != b64(md5):
            raise UnmatchedContentMD5Error(
                f"The computed MD5 of the request body ({b64(md5)}) does not match the"
                f" Content-MD5 header ({content_md5.strip()})"
            )
        part_file = self._store.uploads / upload_id / str(number)
        shutil.move(content, part_file)
        doc = {
            "partNumber": number,
            "etag": new_etag(),
            "md5": b64(md5),
            "size": part_file.stat().st_size,
        }
        with self._store.transaction() as conn:
            self._upload(namespace, bucket, name, upload_id)  # still there (not aborted)
            conn.execute(
                "INSERT OR REPLACE INTO parts (upload_id, part_number, doc) VALUES (?, ?, ?)",
                (upload_id, number, json.dumps(doc)),
            )
        return doc

    def list_parts(
        self, namespace: str, bucket: str, name: str, upload_id: str | None
    ) -> list[dict[str, Any]]:
        with self._store.transaction() as conn:
            self._upload(namespace, bucket, name, upload_id)
            rows = conn.execute(
                "SELECT doc FROM parts WHERE upload_id = ? ORDER BY part_number", (upload_id,)
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def list(self, namespace: str, bucket: str) -> list[dict[str, Any]]:
        with self._store.transaction() as conn:
            self._store.bucket_doc(namespace, bucket, None)
            rows = conn.execute(
                "SELECT doc FROM uploads WHERE namespace = ? AND bucket = ?"
                " ORDER BY name, upload_id",
                (namespace, bucket),
            ).fetchall()
        docs = [json.loads(row[0]) for row in rows]
        for doc in docs:
            doc.pop("kept", None)
        return docs

    def abort(self, namespace: str, bucket: str, name: str, upload_id: str | None) -> None:
        with self._store.transaction() as conn:
            self._upload(namespace, bucket, name, upload_id)
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self._store.uploads / str(upload_id), ignore_errors=True)
        logger.info("multipart upload %s aborted", upload_id)

    def commit(
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
        with self._store.transaction() as conn:
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
        path = self._store.object_path(namespace, bucket, name)
        staged = self._store.stage(path, name, b"")
        digests = hashlib.md5(usedforsecurity=False)
        try:
            with open(staged, "wb") as out:
                for number in sorted(commit):
                    with open(self._store.uploads / upload_id / str(number), "rb") as part_file:
                        shutil.copyfileobj(part_file, out, 1024 * 1024)
                    digests.update(base64.b64decode(parts[number]["md5"]))
            multipart_md5 = f"{b64(digests.digest())}-{len(commit)}"
            kept = upload.get("kept", {})
            stored = PutOptions(
                content_type=kept.get("contentType"),
                metadata=kept.get("metadata") or {},
                headers=kept.get("headers") or {},
                if_match=options.if_match,
                if_none_match=options.if_none_match,
            )
            info = self._store.install(
                namespace, bucket, name, staged, stored, None, None, multipart_md5
            )
        finally:
            staged.unlink(missing_ok=True)
        with self._store.transaction() as conn:
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        shutil.rmtree(self._store.uploads / upload_id, ignore_errors=True)
        logger.info("multipart upload %s committed (%d parts)", upload_id, len(commit))
        return info


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
