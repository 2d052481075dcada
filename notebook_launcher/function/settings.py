"""The function's configuration, read once from `ctx.Config()` (the process environment).

Every key the function reads is defined in `KEYS`, with its meaning; the README lists the
same keys. Defaults live here, never in func.yaml (`fn deploy` would send them on every deploy
and overwrite or erase the operator's values). Per-job defaults mean most callers send only
`noteBook` and what varies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from notebook_launcher.function.errors import ConfigurationError
from notebook_launcher.function.oci_names import CONDA_SLUG_RE, OCI_URI_RE, SHAPE_RE, ocid_problem

# key -> what it sets (documentation, and the single list of names the function reads)
KEYS: dict[str, str] = {
    "NL_PROJECT_ID": "Default Data Science project OCID for jobs and runs.",
    "NL_COMPARTMENT_ID": "Default compartment OCID for jobs and runs.",
    "NL_LOG_GROUP_ID": "Default log group OCID for job run logs.",
    "NL_LOG_ID": "Default log OCID (optional; without it Data Science creates one per run).",
    "NL_OUTPUT_FOLDER": "Default output folder, oci://bucket@namespace/prefix.",
    "NL_JOB_NAME": "Default job name (default notebook-launcher).",
    "NL_SHAPE": "Default shape (default VM.Standard.E4.Flex).",
    "NL_OCPUS": "Default OCPUs for Flex shapes (default 1).",
    "NL_MEMORY_IN_GBS": "Default memory in GB for Flex shapes (default 16).",
    "NL_BLOCK_STORAGE_GBS": "Default block storage in GB (default 50).",
    "NL_SUBNET_ID": "Default subnet OCID (unset: the service's default networking).",
    "NL_CONDA_ENV": "Default conda environment: a service slug or a published pack's oci:// URI "
    "(default generalml_p311_cpu_x86_64_v1).",
    "NL_MAX_RUNTIME_MINUTES": "Default maximum runtime of a run in minutes (unset: no limit).",
    "NL_ALLOW_LOCAL_NOTEBOOKS": "true: noteBook may be a local path (local use only).",
    "NL_ALLOW_HTTP": "true: plain http:// notebook URLs are allowed.",
    "NL_ALLOW_PRIVATE_ADDRESSES": "true: notebook URLs may resolve to private/loopback addresses.",
    "NL_NOTEBOOK_HOSTS": "Comma-separated host allowlist for notebook URLs (*.example.com ok).",
    "NL_NOTEBOOK_MAX_BYTES": "Largest notebook accepted, in bytes (default 10485760).",
    "NL_SOURCE_MAX_FILES": "Most files a folder or archive noteBook may hold (default 500).",
    "NL_SOURCE_MAX_BYTES": "Largest total size of a folder or archive noteBook's files, and of "
    "an archive itself, in bytes (default 20971520).",
    "NL_SOURCE_MAX_FILE_BYTES": "Largest file in a folder or archive noteBook, in bytes "
    "(default 10485760; the notebook itself stays within NL_NOTEBOOK_MAX_BYTES).",
    "NL_SOURCE_MAX_DEPTH": "Deepest folder nesting below a folder or archive noteBook's top "
    "(default 8).",
    "NL_FETCH_CONNECT_TIMEOUT": "Notebook fetch connect timeout in seconds (default 5).",
    "NL_FETCH_READ_TIMEOUT": "Notebook fetch total read timeout in seconds (default 20).",
    "NL_OCI_CONFIG_FILE": "OCI config file for API-key auth (outside OCI Functions).",
    "NL_OCI_PROFILE": "Profile in that config file (default DEFAULT).",
    "OCI_ODSC_SERVICE_ENDPOINT": "Data Science endpoint (default: the region's).",
    "NL_OBJECTSTORAGE_ENDPOINT": "Object Storage endpoint (default: the region's).",
    "NL_DEADLINE_MARGIN_SECONDS": "Time kept back from the function's deadline (default 3).",
    "NL_STRICT_PARAMETERS": "true: a launch whose parameters name a variable the notebook's "
    "parameters cell does not assign is refused (400), as with strictParameters; default false: "
    "a warning in the answer.",
    # read once at import by func.py (runtime_env.configure_logging), from the process environment
    "NL_LOG_LEVEL": "Log level of the function process: DEBUG, INFO, WARNING or ERROR "
    "(default INFO: the one JSON line per invocation, and warnings).",
}

TRUE_VALUES = {"1", "true", "yes", "on"}
# Surrounding spaces and tabs are trimmed; any other control character (a trailing newline
# from a pasted value, a carriage return, NUL) is refused rather than silently stripped.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# key -> (settings field, OCID resource types it must carry)
_OCID_KEYS = {
    "NL_PROJECT_ID": ("project_id", ("datascienceproject",)),
    "NL_COMPARTMENT_ID": ("compartment_id", ("compartment", "tenancy")),
    "NL_LOG_GROUP_ID": ("log_group_id", ("loggroup",)),
    "NL_LOG_ID": ("log_id", ("log",)),
    "NL_SUBNET_ID": ("subnet_id", ("subnet",)),
}


def _name_problems(values: Mapping[str, object]) -> list[str]:
    """Defaults are checked like request fields: a bad one fails every launch, loudly."""
    problems = []
    for key, (name, kinds) in _OCID_KEYS.items():
        value = values[name]
        if isinstance(value, str) and (problem := ocid_problem(value, kinds)):
            problems.append(f"{key} {problem}")
    output = values["output_folder"]
    if isinstance(output, str) and not OCI_URI_RE.fullmatch(output):
        problems.append("NL_OUTPUT_FOLDER must look like oci://bucket@namespace/prefix")
    conda = str(values["conda_env"])
    if not (CONDA_SLUG_RE.fullmatch(conda) or OCI_URI_RE.fullmatch(conda)):
        problems.append("NL_CONDA_ENV must be a service conda slug or an oci:// conda pack URI")
    if not SHAPE_RE.fullmatch(str(values["shape"])):
        problems.append("NL_SHAPE must be a shape name like VM.Standard.E4.Flex")
    return problems


@dataclass(frozen=True)
class Settings:
    """Typed, immutable settings of one function instance."""

    project_id: str | None = None
    compartment_id: str | None = None
    log_group_id: str | None = None
    log_id: str | None = None
    output_folder: str | None = None
    job_name: str = "notebook-launcher"
    shape: str = "VM.Standard.E4.Flex"
    ocpus: float = 1
    memory_in_gbs: float = 16
    block_storage_gbs: int = 50
    subnet_id: str | None = None
    conda_env: str = "generalml_p311_cpu_x86_64_v1"
    max_runtime_minutes: int | None = None
    allow_local_notebooks: bool = False
    allow_http: bool = False
    allow_private_addresses: bool = False
    notebook_hosts: tuple[str, ...] = field(default_factory=tuple)
    notebook_max_bytes: int = 10 * 1024 * 1024
    source_max_files: int = 500
    source_max_bytes: int = 20 * 1024 * 1024
    source_max_file_bytes: int = 10 * 1024 * 1024
    source_max_depth: int = 8
    fetch_connect_timeout: float = 5.0
    fetch_read_timeout: float = 20.0
    oci_config_file: str | None = None
    oci_profile: str = "DEFAULT"
    datascience_endpoint: str | None = None
    objectstorage_endpoint: str | None = None
    deadline_margin_seconds: float = 3.0
    strict_parameters: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, str]) -> Settings:
        """Build settings from function configuration; a bad value is a ConfigurationError."""
        problems: list[str] = []

        def text(key: str) -> str | None:
            raw = config.get(key, "")
            if _CONTROL_RE.search(raw):
                problems.append(f"{key} holds a control character (a newline, CR or NUL?)")
                return None
            value = raw.strip(" \t")
            return value or None

        def number(key: str, kind: type[int] | type[float]) -> float | int | None:
            value = text(key)
            if value is None:
                return None
            try:
                parsed = kind(value)
            except ValueError:
                problems.append(f"{key} must be a {kind.__name__}, got {value!r}")
                return None
            if parsed <= 0:
                problems.append(f"{key} must be positive, got {value!r}")
                return None
            return parsed

        def flag(key: str) -> bool:
            return (text(key) or "").lower() in TRUE_VALUES

        defaults = cls()
        values: dict[str, object] = {
            "project_id": text("NL_PROJECT_ID"),
            "compartment_id": text("NL_COMPARTMENT_ID"),
            "log_group_id": text("NL_LOG_GROUP_ID"),
            "log_id": text("NL_LOG_ID"),
            "output_folder": text("NL_OUTPUT_FOLDER"),
            "job_name": text("NL_JOB_NAME") or defaults.job_name,
            "shape": text("NL_SHAPE") or defaults.shape,
            "ocpus": number("NL_OCPUS", float) or defaults.ocpus,
            "memory_in_gbs": number("NL_MEMORY_IN_GBS", float) or defaults.memory_in_gbs,
            "block_storage_gbs": number("NL_BLOCK_STORAGE_GBS", int) or defaults.block_storage_gbs,
            "subnet_id": text("NL_SUBNET_ID"),
            "conda_env": text("NL_CONDA_ENV") or defaults.conda_env,
            "max_runtime_minutes": number("NL_MAX_RUNTIME_MINUTES", int),
            "allow_local_notebooks": flag("NL_ALLOW_LOCAL_NOTEBOOKS"),
            "allow_http": flag("NL_ALLOW_HTTP"),
            "allow_private_addresses": flag("NL_ALLOW_PRIVATE_ADDRESSES"),
            "notebook_hosts": tuple(
                h.strip().lower() for h in (text("NL_NOTEBOOK_HOSTS") or "").split(",") if h.strip()
            ),
            "notebook_max_bytes": number("NL_NOTEBOOK_MAX_BYTES", int)
            or defaults.notebook_max_bytes,
            "source_max_files": number("NL_SOURCE_MAX_FILES", int) or defaults.source_max_files,
            "source_max_bytes": number("NL_SOURCE_MAX_BYTES", int) or defaults.source_max_bytes,
            "source_max_file_bytes": number("NL_SOURCE_MAX_FILE_BYTES", int)
            or defaults.source_max_file_bytes,
            "source_max_depth": number("NL_SOURCE_MAX_DEPTH", int) or defaults.source_max_depth,
            "fetch_connect_timeout": number("NL_FETCH_CONNECT_TIMEOUT", float)
            or defaults.fetch_connect_timeout,
            "fetch_read_timeout": number("NL_FETCH_READ_TIMEOUT", float)
            or defaults.fetch_read_timeout,
            "oci_config_file": text("NL_OCI_CONFIG_FILE") or text("OCI_CONFIG_FILE"),
            "oci_profile": text("NL_OCI_PROFILE") or defaults.oci_profile,
            "datascience_endpoint": text("OCI_ODSC_SERVICE_ENDPOINT"),
            "objectstorage_endpoint": text("NL_OBJECTSTORAGE_ENDPOINT"),
            "deadline_margin_seconds": number("NL_DEADLINE_MARGIN_SECONDS", float)
            or defaults.deadline_margin_seconds,
            "strict_parameters": flag("NL_STRICT_PARAMETERS"),
        }
        problems.extend(_name_problems(values))
        if problems:
            raise ConfigurationError(
                "The function's configuration is invalid: " + "; ".join(problems)
            )
        return cls(**values)  # type: ignore[arg-type]
