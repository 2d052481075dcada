"""The `oci://bucket@namespace/path` grammar: one parser for every reader of such a URI.

The form is ADS's and ocifs's (the notebook runtime's `OUTPUT_URI`, a published conda pack,
a notebook in Object Storage). Bucket and namespace are letters, digits, `.`, `_` and `-`;
the path is anything without a control character. Matched with `fullmatch` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEME = "oci://"

OCI_URI_RE = re.compile(
    r"oci://(?P<bucket>[A-Za-z0-9._-]{1,256})@(?P<namespace>[A-Za-z0-9._-]{1,256})"
    r"(?P<path>/[^\x00-\x1f\x7f]*)?"
)


@dataclass(frozen=True)
class ObjectUri:
    """A parsed `oci://bucket@namespace/path`; `path` has no leading `/` (may be empty)."""

    bucket: str
    namespace: str
    path: str = ""

    @classmethod
    def parse(cls, uri: str) -> ObjectUri | None:
        """The URI's parts, or None if uri is not an oci:// URI of this grammar."""
        match = OCI_URI_RE.fullmatch(uri)
        if match is None:
            return None
        return cls(match["bucket"], match["namespace"], (match["path"] or "").lstrip("/"))

    @property
    def prefix(self) -> str:
        """The path without leading or trailing `/`: an object name or a folder prefix."""
        return self.path.strip("/")

    def __str__(self) -> str:
        base = f"{SCHEME}{self.bucket}@{self.namespace}"
        return f"{base}/{self.path}" if self.path else base
