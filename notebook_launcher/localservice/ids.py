"""OCIDs and timestamps in OCI's formats."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from notebook_launcher.oci_facts.identifiers import ocid_type

REALM = "oc1"
REGION_KEY = "iad"  # us-ashburn-1, the region the local identity is issued for

PROJECT = "datascienceproject"
JOB = "datasciencejob"
JOB_RUN = "datasciencejobrun"
WORK_REQUEST = "datascienceworkrequest"
PIPELINE = "datasciencepipeline"
PIPELINE_RUN = "datasciencepipelinerun"

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def new_ocid(resource_type: str) -> str:
    """A fresh regional OCID, e.g. ocid1.datasciencejob.oc1.iad.<60 characters>."""
    unique = "".join(secrets.choice(_ALPHABET) for _ in range(60))
    return f"ocid1.{resource_type}.{REALM}.{REGION_KEY}.{unique}"


def is_ocid(value: object, *resource_types: str) -> bool:
    """Whether `value` is shaped like an OCID of one of `resource_types` (OCI's grammar, the
    one the function checks too: notebook_launcher.oci_facts.identifiers)."""
    return ocid_type(value) in resource_types


def is_compartment_ocid(value: object) -> bool:
    """Compartments are named by a compartment OCID or, for the root, the tenancy OCID."""
    return is_ocid(value, "compartment", "tenancy")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a `Z`, as OCI writes times."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def now_text() -> str:
    return format_time(utc_now())
