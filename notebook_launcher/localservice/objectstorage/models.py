"""The local Object Storage: objects as files under `<data-dir>/objectstorage/<ns>/<bucket>/`.

Only what job runs and the function need: PutObject, GetObject, HeadObject, ListObjects
and GetNamespace. Buckets spring into existence on the first PutObject (there is no
CreateBucket locally); reading from a bucket or object that does not exist is answered
with OCI's 404 codes. HTTP-free: `responses.py` turns requests into calls here.
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import hashlib
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from notebook_launcher.localservice.errors import InvalidParameterError, ServiceError

logger = logging.getLogger(__name__)

LOCAL_NAMESPACE = "localns"
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

MAX_LIST_LIMIT = 1000  # OCI's ListObjects: limit 1 to 1000, default 1000
LIST_FIELDS = ("name", "size", "etag", "timeCreated", "md5", "timeModified", "storageTier",
               "archivalState")  # fmt: skip


class BucketNotFoundError(ServiceError):
    """The bucket does not exist in the namespace."""

    status = 404
    code = "BucketNotFound"


class ObjectNotFoundError(ServiceError):
    """The object does not exist in the bucket."""

    status = 404
    code = "ObjectNotFound"


@dataclass(frozen=True)
class ObjectInfo:
    """What HeadObject tells about an object."""

    path: Path
    size: int
    md5_base64: str
    etag: str
    last_modified: str


class ObjectStore:
    """Objects kept as plain files, so tests and people can look at them directly."""

    def __init__(self, root: Path, namespace: str = LOCAL_NAMESPACE) -> None:
        self.root = root
        self.namespace = namespace  # the one GetNamespace answers
        root.mkdir(parents=True, exist_ok=True)

    def object_path(self, namespace: str, bucket: str, name: str) -> Path:
        """The file of an object; refuses names that would leave the bucket folder."""
        for label, value in (("namespaceName", namespace), ("bucketName", bucket)):
            if not _NAME_RE.fullmatch(value):
                raise InvalidParameterError(f"{label} {value!r} is not a valid name.")
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
        return self.root.joinpath(namespace, bucket, *parts)

    def put(self, namespace: str, bucket: str, name: str, content: bytes | Path) -> ObjectInfo:
        """Store an object from its bytes or from a file holding them (an upload the HTTP
        layer streamed to disk, which this takes over)."""
        path = self.object_path(namespace, bucket, name)
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
            os.replace(staged, path)
        except OSError as exc:
            staged.unlink(missing_ok=True)
            raise _name_error(exc) from None
        info = self._info(path)
        logger.debug("stored object %s/%s (%d bytes)", bucket, name, info.size)
        return info

    def head(self, namespace: str, bucket: str, name: str) -> ObjectInfo:
        path = self.object_path(namespace, bucket, name)
        if not self.root.joinpath(namespace, bucket).is_dir():
            raise BucketNotFoundError(
                f"Either the bucket named '{bucket}' does not exist in the "
                f"namespace '{namespace}' or you are not authorized to access it"
            )
        try:
            found = path.is_file()
        except OSError as exc:
            raise _name_error(exc) from None
        if not found:
            raise ObjectNotFoundError(f"The object '{name}' was not found in the bucket '{bucket}'")
        return self._info(path)

    def list(
        self,
        namespace: str,
        bucket: str,
        *,
        prefix: str = "",
        start: str | None = None,
        end: str | None = None,
        start_after: str | None = None,
        limit: int = MAX_LIST_LIMIT,
        delimiter: str | None = None,
        fields: tuple[str, ...] = ("name",),
    ) -> dict[str, object]:
        """ListObjects as OCI answers it: names in lexicographic order, from `start` (or after
        `startAfter`) up to `end` (exclusive), at most `limit` entries (objects and prefixes
        together); with delimiter `/`, names holding it after `prefix` are folded into
        `prefixes`. `nextStartWith` names where the next page starts, absent on the last."""
        for label, value in (("namespaceName", namespace), ("bucketName", bucket)):
            if not _NAME_RE.fullmatch(value):
                raise InvalidParameterError(f"{label} {value!r} is not a valid name.")
        if delimiter not in (None, "/"):
            raise InvalidParameterError("delimiter may only be '/'.")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidParameterError(f"limit must be between 1 and {MAX_LIST_LIMIT}.")
        unknown = [f for f in fields if f not in LIST_FIELDS]
        if unknown:
            raise InvalidParameterError(
                f"fields may only name {', '.join(LIST_FIELDS)}; not {unknown[0]!r}."
            )
        folder = self.root.joinpath(namespace, bucket)
        if not folder.is_dir():
            raise BucketNotFoundError(
                f"Either the bucket named '{bucket}' does not exist in the "
                f"namespace '{namespace}' or you are not authorized to access it"
            )
        names = sorted(
            name
            for path in folder.rglob("*")
            if path.is_file()
            and not path.name.startswith(".put-")
            and (name := path.relative_to(folder).as_posix()).startswith(prefix)
        )
        objects: list[dict[str, object]] = []
        prefixes: list[str] = []
        next_start: str | None = None
        for name in names:
            if (start is not None and name < start) or (
                start_after is not None and name <= start_after
            ):
                continue
            if end is not None and name >= end:
                break
            folded = None
            if delimiter and delimiter in name[len(prefix) :]:
                cut = name.index(delimiter, len(prefix)) + 1
                folded = name[:cut]
                if prefixes and prefixes[-1] == folded:
                    continue
            if len(objects) + len(prefixes) == limit:
                next_start = name
                break
            if folded is not None:
                prefixes.append(folded)
            else:
                objects.append(self._summary(folder / name, name, fields))
        answer: dict[str, object] = {"objects": objects}
        if delimiter:
            answer["prefixes"] = prefixes
        if next_start is not None:
            answer["nextStartWith"] = next_start
        return answer

    def _summary(self, path: Path, name: str, fields: tuple[str, ...]) -> dict[str, object]:
        """One ObjectSummary with the fields asked for (reading the file only for md5/etag)."""
        summary: dict[str, object] = {"name": name}
        stat = path.stat()
        info = self._info(path) if {"md5", "etag"} & set(fields) else None
        for wanted in fields:
            if wanted == "size":
                summary["size"] = stat.st_size
            elif wanted in ("timeCreated", "timeModified"):
                summary[wanted] = _rfc3339(stat.st_mtime)
            elif wanted == "storageTier":
                summary["storageTier"] = "Standard"
            elif wanted == "archivalState":
                summary["archivalState"] = None
            elif wanted in ("md5", "etag") and info is not None:
                summary[wanted] = info.md5_base64 if wanted == "md5" else info.etag
        return summary

    @staticmethod
    def _info(path: Path) -> ObjectInfo:
        md5 = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as file:
            while chunk := file.read(1024 * 1024):
                md5.update(chunk)
        stat = path.stat()
        return ObjectInfo(
            path=path,
            size=stat.st_size,
            md5_base64=base64.b64encode(md5.digest()).decode(),
            etag=f"{stat.st_ino:x}-{stat.st_mtime_ns:x}",
            last_modified=formatdate(stat.st_mtime, usegmt=True),
        )


def _rfc3339(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _name_error(exc: OSError) -> Exception:
    """A 400 for an object name the local disk cannot hold; other OSErrors stay errors."""
    if exc.errno in _NAME_ERRNOS:
        return InvalidParameterError(
            f"objectName cannot be stored locally ({os.strerror(exc.errno or 0)})."
        )
    return exc
