"""The OCID grammar, shared by the function and the local service.

One definition, so that the function never accepts what the stand-in refuses (or the other
way round). The pattern is used with `fullmatch`: `$` would match before a final newline,
so `"ocid1....\\n"` would pass.

`ocid1.<RESOURCE TYPE>.<REALM>.[REGION][.FUTURE USE].<UNIQUE ID>`, where the format of the
unique ID "may vary by resource or service type"
(https://docs.oracle.com/en-us/iaas/Content/General/Concepts/identifiers.htm). OCI's own SDK
check (oci-java-sdk `com.oracle.bmc.OCID`) allows letters of either case, digits, `-` and `_`
in every part, so the unique part may hold uppercase letters.
"""

from __future__ import annotations

import re

OCID_RE = re.compile(
    r"ocid1\.(?P<type>[a-z0-9]+)\.(?P<realm>[a-z0-9-]+)\.(?P<region>[a-z0-9-]*)"
    r"\.(?P<unique>[A-Za-z0-9._-]{1,255})"
)


def ocid_type(value: object) -> str | None:
    """The resource type of an OCID (`datasciencejob`, ...), or None if value is not one."""
    if not isinstance(value, str):
        return None
    match = OCID_RE.fullmatch(value)
    return match["type"] if match else None
