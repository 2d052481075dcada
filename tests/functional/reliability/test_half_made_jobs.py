"""Half-made jobs do not accumulate (issue 8, item 8).

A creator that crashes between CreateJob and CreateJobArtifact leaves a job CREATING. The
next creation for that digest deletes the launcher's CREATING jobs of the digest that are
older than any live invocation could be (`STALE_CREATING_SECONDS`), and leaves younger ones
alone: their creator may still be uploading.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from typing import Any

import oci

from notebook_launcher.function.launcher import STALE_CREATING_SECONDS
from notebook_launcher.localservice.embedded import EmbeddedService
from notebook_launcher.localservice.ids import format_time
from tests.functional.fn_client import FunctionClient
from tests.functional.reliability.conftest import SHARED_NOTEBOOKS

NOTEBOOK = str(SHARED_NOTEBOOKS / "hello.ipynb")
MODELS = oci.data_science.models


def half_made_job(client: Any, spec: dict[str, Any]) -> Any:
    """A job as a crashed creator leaves it: the launch's name and digest tag, no artifact."""
    infrastructure = spec["infrastructure"]["spec"]
    job = client.create_job(
        MODELS.CreateJobDetails(
            project_id=infrastructure["projectId"],
            compartment_id=infrastructure["compartmentId"],
            display_name=spec["name"],
            freeform_tags=spec["runtime"]["spec"]["freeformTags"],
            job_configuration_details=MODELS.DefaultJobConfigurationDetails(),
            job_infrastructure_configuration_details=(
                MODELS.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
                    shape_name="VM.Standard2.1", block_storage_size_in_gbs=50
                )
            ),
        )
    ).data
    assert job.lifecycle_state == "CREATING"
    return job


def age_job(service: EmbeddedService, job_id: str, seconds: float) -> None:
    """Move a job's timeCreated into the past, in the local service's own store (the
    service keeps no clock of its own to turn)."""
    created = format_time(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds))
    with sqlite3.connect(service.data_dir / "service.db", timeout=30) as db:
        (doc,) = db.execute("SELECT doc FROM jobs WHERE id = ?", (job_id,)).fetchone()
        record = json.loads(doc)
        record["timeCreated"] = created
        db.execute(
            "UPDATE jobs SET doc = ?, time_created = ? WHERE id = ?",
            (json.dumps(record), created, job_id),
        )


def test_next_creation_deletes_stale_half_made_jobs_of_its_digest(
    service: EmbeddedService, function: FunctionClient
) -> None:
    body = {"noteBook": NOTEBOOK, "jobName": f"leak-{uuid.uuid4().hex[:6]}"}
    dry = function.invoke({**body, "dryRun": True})
    assert dry.status == 200, dry
    spec = dry.body["job"]["spec"]
    client = service.datascience_client()
    stale = half_made_job(client, spec)
    age_job(service, stale.id, STALE_CREATING_SECONDS + 60)
    assert client.get_job(stale.id).data.time_created < dt.datetime.now(dt.UTC) - dt.timedelta(
        seconds=STALE_CREATING_SECONDS
    )
    fresh = half_made_job(client, spec)  # a live creator may still be uploading this one

    launched = function.invoke(body, gateway=True)
    assert launched.status == 200, launched
    assert launched.body["jobId"] not in (stale.id, fresh.id)
    assert launched.body["jobReused"] is False
    client.cancel_job_run(launched.body["id"])

    assert client.get_job(stale.id).data.lifecycle_state in ("DELETING", "DELETED")
    assert client.get_job(fresh.id).data.lifecycle_state == "CREATING"
    assert client.get_job(launched.body["jobId"]).data.lifecycle_state == "ACTIVE"


def test_a_job_of_another_digest_is_never_cleaned_up(
    service: EmbeddedService, function: FunctionClient
) -> None:
    # Same display name, other digest tag: not this launch's job, so not its to delete.
    body = {"noteBook": NOTEBOOK, "jobName": f"other-{uuid.uuid4().hex[:6]}"}
    dry = function.invoke({**body, "dryRun": True})
    assert dry.status == 200, dry
    spec = dry.body["job"]["spec"]
    spec["runtime"]["spec"]["freeformTags"] = {
        **spec["runtime"]["spec"]["freeformTags"],
        "notebook-launcher-digest": "0" * 64,
    }
    client = service.datascience_client()
    foreign = half_made_job(client, spec)
    age_job(service, foreign.id, STALE_CREATING_SECONDS + 60)

    launched = function.invoke(body, gateway=True)
    assert launched.status == 200, launched
    client.cancel_job_run(launched.body["id"])
    assert client.get_job(foreign.id).data.lifecycle_state == "CREATING"
