"""The function's configuration for running against the embedded local service.

The function has one code path; pointing it at the local service is configuration only:
the Data Science and Object Storage endpoints, the OCI config file the service wrote, and
defaults for project, compartment, log group and output folder. Used by the CLI, the demo,
the tests and the benchmarks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from notebook_launcher.localservice.layout import SERVICE_FILE
from notebook_launcher.localservice.objectstorage.models import LOCAL_NAMESPACE

LOCAL_LOG_GROUP = "ocid1.loggroup.oc1.iad.amaaaaaalocalloggroupnotebooklauncher0000000000000000"
OUTPUT_BUCKET = "notebook-output"


class _Identity(Protocol):
    @property
    def tenancy_id(self) -> str: ...


class LocalService(Protocol):
    """What the profile needs of a running local service (EmbeddedService has it)."""

    @property
    def endpoint(self) -> str: ...

    @property
    def config_file(self) -> Path: ...

    @property
    def identity(self) -> _Identity: ...


def service_namespace(data_dir: Path) -> str:
    """The Object Storage namespace the local service reports in its service.json."""
    info = json.loads((data_dir / SERVICE_FILE).read_text())
    return str(info.get("namespace") or LOCAL_NAMESPACE)


def local_function_config(
    service: LocalService,
    project_id: str,
    namespace: str,
    *,
    allow_local_notebooks: bool = True,
) -> dict[str, str]:
    """Function configuration (ctx.Config() keys) for the local service at `service`."""
    return {
        "OCI_ODSC_SERVICE_ENDPOINT": service.endpoint,
        "NL_OBJECTSTORAGE_ENDPOINT": service.endpoint,
        "NL_OCI_CONFIG_FILE": str(service.config_file),
        "NL_OCI_PROFILE": "DEFAULT",
        "NL_PROJECT_ID": project_id,
        "NL_COMPARTMENT_ID": service.identity.tenancy_id,
        "NL_LOG_GROUP_ID": LOCAL_LOG_GROUP,
        "NL_OUTPUT_FOLDER": f"oci://{OUTPUT_BUCKET}@{namespace}/runs",
        "NL_ALLOW_LOCAL_NOTEBOOKS": "true" if allow_local_notebooks else "false",
    }
