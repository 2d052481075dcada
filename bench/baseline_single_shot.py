"""The single-shot approach users run today, as the baseline of the launch benchmark.

Our own code, written in the spirit of the well-known public sample function: every call
sets ADS's global auth, builds a `Job` with `DataScienceJob` infrastructure and a
`NotebookRuntime`, calls `create()` (a new job and a new artifact upload every time) and
then `run()`. ADS is imported at module level, as the sample does, so a cold process pays
for it before the first call. The request carries the original contract's names
(`noteBook`, `jobName`, `projectId`, `compartmentId`, `logGroupId`, `outputFolder`).

Pointed at the local service the same way as the function: the OCI config file the service
wrote and its endpoint, through `ads.set_auth(..., client_kwargs={"service_endpoint": ...})`.
`NB_SESSION_OCID` must be unset (ADS would look up a notebook session).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ads
from ads.jobs import DataScienceJob, Job, NotebookRuntime

SHAPE = "VM.Standard.E4.Flex"
CONDA_SLUG = "generalml_p311_cpu_x86_64_v1"


def launch(body: Mapping[str, Any], config: Mapping[str, str]) -> dict[str, Any]:
    """Create a job for the notebook and run it; returns the run's id, job id and state.

    `config` is the function configuration: `NL_OCI_CONFIG_FILE` and
    `OCI_ODSC_SERVICE_ENDPOINT` (the local service's, in the benchmark).
    """
    ads.set_auth(
        "api_key",
        oci_config_location=config["NL_OCI_CONFIG_FILE"],
        client_kwargs={"service_endpoint": config["OCI_ODSC_SERVICE_ENDPOINT"]},
    )
    job = (
        Job(name=body["jobName"])
        .with_infrastructure(
            DataScienceJob()
            .with_log_group_id(body["logGroupId"])
            .with_compartment_id(body["compartmentId"])
            .with_project_id(body["projectId"])
            .with_shape_name(SHAPE)
            .with_shape_config_details(memory_in_gbs=16, ocpus=1)
            .with_block_storage_size(50)
        )
        .with_runtime(
            NotebookRuntime()
            .with_notebook(path=body["noteBook"], encoding="utf-8")
            .with_service_conda(CONDA_SLUG)
            .with_output(body["outputFolder"])
        )
    )
    job.create()
    run = job.run()
    return {"id": run.id, "jobId": job.id, "lifecycleState": run.status}
