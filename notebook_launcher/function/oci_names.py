"""The forms of OCI names the function checks: OCIDs, oci:// URIs, shapes, conda slugs.

Shared by request validation and settings validation, so a value is judged the same way
whether a caller sends it or the function's configuration gives it as a default.
"""

from __future__ import annotations

import re

OCID_RE = re.compile(r"^ocid1\.([a-z0-9]+)\.([a-z0-9-]+)\.([a-z0-9-]*)\.([a-zA-Z0-9._-]{1,255})$")
OCI_URI_RE = re.compile(r"^oci://([A-Za-z0-9._-]{1,256})@([A-Za-z0-9._-]{1,256})(/[^\x00-\x1f]*)?$")
SHAPE_RE = re.compile(r"^(VM|BM)\.[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$")
CONDA_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


def ocid_problem(value: str, expected: tuple[str, ...]) -> str | None:
    """Why value is not an OCID of one of the expected resource types, or None if it is."""
    match = OCID_RE.match(value)
    if not match:
        return f"must be an OCID of type {' or '.join(expected)}"
    if match.group(1) not in expected:
        return f"must be an OCID of type {' or '.join(expected)}, not {match.group(1)}"
    return None
