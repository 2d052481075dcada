"""Names the local Object Storage accepts: OCI's rules, and the local disk's where those are
narrower (object names become file paths)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from notebook_launcher.localservice.errors import InvalidParameterError

MAX_OBJECT_NAME_BYTES = 1024  # OCI's limit, in UTF-8 bytes
# OCI: "Valid characters are letters (upper or lower case), numbers, and characters other than
# line feed, carriage return, and NULL."
_FORBIDDEN_NAME_CHARACTERS = ("\n", "\r", "\x00")
MAX_SEGMENT_BYTES = 255  # a file name on the local disk (NAME_MAX)
# Errors the file system answers for a name it cannot hold, as opposed to a failing disk.
_NAME_ERRNOS = frozenset(
    {errno.ENAMETOOLONG, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.EINVAL, errno.EILSEQ}
)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,255}")
STAGING_RE = re.compile(r"\.(?:put|mpu)-[0-9a-f]{32}\.tmp")


def check_object_name(name: str) -> None:
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
    if STAGING_RE.fullmatch(parts[-1]):
        raise InvalidParameterError("objectName ends in a name the local service reserves.")


def prune_empty_folders(folder: Path, bucket_dir: Path) -> None:
    """Remove folders a deleted object leaves empty (OCI has no folders), up to the bucket."""
    while folder != bucket_dir and folder.is_relative_to(bucket_dir):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def name_error(exc: OSError) -> Exception:
    """A 400 for an object name the local disk cannot hold; other OSErrors stay errors."""
    if exc.errno in _NAME_ERRNOS:
        return InvalidParameterError(
            f"objectName cannot be stored locally ({os.strerror(exc.errno or 0)})."
        )
    return exc
