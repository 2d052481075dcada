"""OCI's documented forms and limits that both the function and the local service apply.

One definition, so that the function never accepts what the stand-in refuses (or the other
way round). Every pattern here is used with `fullmatch`: `$` would match before a final
newline, so `"ocid1....\\n"` would pass.

- OCIDs: `ocid1.<RESOURCE TYPE>.<REALM>.[REGION][.FUTURE USE].<UNIQUE ID>`, where the format
  of the unique ID "may vary by resource or service type"
  (https://docs.oracle.com/en-us/iaas/Content/General/Concepts/identifiers.htm). OCI's own
  SDK check (oci-java-sdk `com.oracle.bmc.OCID`) allows letters of either case, digits, `-`
  and `_` in every part, so the unique part may hold uppercase letters.
- Tags: at most 64 free-form tags per resource, keys 1-100 characters, values at most 256.
- Environment: all environment variables of a job or run together at most 20,000 characters.
"""

from __future__ import annotations

import re

OCID_RE = re.compile(
    r"ocid1\.(?P<type>[a-z0-9]+)\.(?P<realm>[a-z0-9-]+)\.(?P<region>[a-z0-9-]*)"
    r"\.(?P<unique>[A-Za-z0-9._-]{1,255})"
)

MAX_TAGS = 64
MAX_TAG_KEY_CHARS = 100
MAX_TAG_VALUE_CHARS = 256
MAX_ENVIRONMENT_CHARS = 20_000


def ocid_type(value: object) -> str | None:
    """The resource type of an OCID (`datasciencejob`, ...), or None if value is not one."""
    if not isinstance(value, str):
        return None
    match = OCID_RE.fullmatch(value)
    return match["type"] if match else None


def tag_problem(key: str, value: str) -> str | None:
    """Why one free-form tag breaks OCI's limits, or None."""
    if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
        return f"key must be 1-{MAX_TAG_KEY_CHARS} characters"
    if len(value) > MAX_TAG_VALUE_CHARS:
        return f"value longer than {MAX_TAG_VALUE_CHARS} characters"
    return None
