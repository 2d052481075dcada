"""OCI's limits in the local service (issue 8, items 6 and 9): free-form tags (64, keys up to
100, values up to 256), and OCIDs judged by OCI's grammar with full matches, through the real
oci SDK over HTTP. A refused request creates nothing."""

from __future__ import annotations

from typing import Any

import oci
import pytest

from tests.functional.localservice.conftest import MODELS


def _create(client: Any, project: str, compartment: str, **fields: Any) -> Any:
    return client.create_job(
        MODELS.CreateJobDetails(
            project_id=project,
            compartment_id=compartment,
            display_name="limits",
            job_configuration_details=MODELS.DefaultJobConfigurationDetails(
                environment_variables={"JOB_RUN_ENTRYPOINT": "main.py"}
            ),
            job_infrastructure_configuration_details=(
                MODELS.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
                    shape_name="VM.Standard.E4.Flex", block_storage_size_in_gbs=50
                )
            ),
            **fields,
        )
    ).data


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({f"k{i}": "v" for i in range(65)}, "at most 64"),
        ({"k" * 101: "v"}, "1-100"),
        ({"k": "v" * 257}, "256"),
    ],
)
def test_tags_beyond_oci_limits_are_refused(
    client: Any, compartment_id: str, local_service: Any, tags: dict[str, str], expected: str
) -> None:
    project = local_service.create_project(name="limits")
    before = len(client.list_jobs(compartment_id=compartment_id, project_id=project).data)
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        _create(client, project, compartment_id, freeform_tags=tags)
    assert caught.value.status == 400 and expected in caught.value.message
    assert len(client.list_jobs(compartment_id=compartment_id, project_id=project).data) == before
    job = _create(client, project, compartment_id, freeform_tags={f"k{i}": "v" for i in range(64)})
    assert len(job.freeform_tags) == 64


@pytest.mark.parametrize("suffix", ["\n", "\r", "\x00"])
def test_ocid_with_trailing_control_character_is_refused(
    client: Any, compartment_id: str, local_service: Any, suffix: str
) -> None:
    project = local_service.create_project(name="newline")
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        _create(client, project + suffix, compartment_id)
    assert caught.value.status == 400 and "projectId" in caught.value.message
    assert client.list_jobs(compartment_id=compartment_id, project_id=project).data == []


def test_uppercase_in_an_ocids_unique_part_is_accepted_as_oci_does(
    client: Any, compartment_id: str
) -> None:
    # Shaped right, so judged on existence (404), not refused as malformed (400).
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        client.get_job("ocid1.datasciencejob.oc1.iad.AAAAbbbb" + "c" * 52)
    assert caught.value.status == 404
