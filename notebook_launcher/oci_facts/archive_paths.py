"""What may be unpacked under a folder: one rule for the function and the local service.

The function checks a caller's folder or archive before shipping it in a job artifact; the
local service checks a job artifact before unzipping it for a run. Both refuse a member
whose path would land outside the folder (absolute, a drive, `..`, a backslash that Windows
tools read as a separator, an empty segment or a control character), a member whose path
cannot be written where it is unpacked (a segment over NAME_MAX, a path over MAX_PATH_BYTES),
and a link whose target leaves the folder. Pure functions of names: nothing here touches a
file system.
"""

from __future__ import annotations

import posixpath
import re

# A drive letter (C:...) or a control character: never part of a path that stays inside.
_DRIVE_RE = re.compile(r"[A-Za-z]:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Linux's NAME_MAX (bytes in one path segment: ext4, xfs, tmpfs) where the files are written:
# the function's staging folder, and the job run's folder the artifact is unzipped in.
MAX_SEGMENT_BYTES = 255
# A whole member path, in bytes: far under PATH_MAX (4096) with the folder it is unpacked
# in in front, and as long as an Object Storage object name may be (1024).
MAX_PATH_BYTES = 1024
# How much of a name an error shows (a refused name may be 100,000 characters long).
SHOWN_NAME_CHARS = 40


def shown_name(name: str) -> str:
    """`name` as an error message quotes it: repr'd, cut to SHOWN_NAME_CHARS with `...`."""
    if len(name) <= SHOWN_NAME_CHARS + 3:
        return repr(name)
    return repr(name[:SHOWN_NAME_CHARS] + "...")


def member_problem(name: str) -> str | None:
    """Why the archive member `name` may not be unpacked under a folder, or None.

    A trailing `/` (a folder entry) and a leading `./` are allowed; `.` segments elsewhere
    are not (a name has one spelling, so the digest of a folder has one value).
    """
    while name.startswith("./"):  # as `tar -C folder .` writes names: harmless
        name = name[2:]
    if not name:
        return "an empty path"
    if name.startswith(("/", "\\")) or _DRIVE_RE.match(name):
        return "an absolute path"
    if "\\" in name:
        return "a backslash in its path"
    if _CONTROL_RE.search(name):
        return "a control character in its path"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"a path longer than {MAX_PATH_BYTES} bytes"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES for part in parts):
        return f"a path segment longer than {MAX_SEGMENT_BYTES} bytes"
    if ".." in parts:
        return "a '..' segment in its path"
    if any(part in ("", ".") for part in parts):
        return "an empty or '.' segment in its path"
    return None


def link_target(name: str, target: str) -> str | None:
    """The member path a link `name` -> `target` points at, or None if it leaves the folder
    (an absolute target, or one that climbs above the top with `..`)."""
    if not target or target.startswith(("/", "\\")) or _DRIVE_RE.match(target):
        return None
    if "\\" in target or _CONTROL_RE.search(target):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if joined == ".." or joined.startswith("../") or joined in (".", ""):
        return None
    return joined
