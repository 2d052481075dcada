"""The forms of OCI names the function checks: OCIDs, oci:// URIs, shapes, conda slugs.

Shared by request validation and settings validation, so a value is judged the same way
whether a caller sends it or the function's configuration gives it as a default. Every
pattern is used with `fullmatch` (`$` matches before a final newline). The OCID and oci://
grammars are OCI's, shared with the local service (notebook_launcher.oci_facts).
"""

from __future__ import annotations

import re

from notebook_launcher.oci_facts.identifiers import OCID_RE, ocid_type
from notebook_launcher.oci_facts.object_uri import OCI_URI_RE

__all__ = ["CONDA_SLUG_RE", "OCID_RE", "OCI_URI_RE", "SHAPE_RE", "is_conda_env", "ocid_problem"]

SHAPE_RE = re.compile(r"(VM|BM)\.[A-Za-z0-9]+(\.[A-Za-z0-9]+)*")
CONDA_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")


def is_conda_env(value: str) -> bool:
    """A service conda slug or a published pack's oci:// URI."""
    return bool(CONDA_SLUG_RE.fullmatch(value) or OCI_URI_RE.fullmatch(value))


def ocid_problem(value: str, expected: tuple[str, ...]) -> str | None:
    """Why value is not an OCID of one of the expected resource types, or None if it is."""
    kind = ocid_type(value)
    if kind is None:
        return f"must be an OCID of type {' or '.join(expected)}"
    if kind not in expected:
        return f"must be an OCID of type {' or '.join(expected)}, not {kind}"
    return None
