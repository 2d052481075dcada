"""The ADS job the launcher builds, asserted on ADS's own `to_dict()` as ADS's tests do.

Pure: building the job touches no network (ADS is imported, nothing is created).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from notebook_launcher.function import ads_job
from notebook_launcher.function.job_spec import DIGEST_TAG, LAUNCHER_TAG, JobSpec, resolve_job
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings

PROJECT = "ocid1.datascienceproject.oc1.iad.p1"
COMPARTMENT = "ocid1.compartment.oc1..c1"
LOG_GROUP = "ocid1.loggroup.oc1.iad.g1"
SETTINGS = Settings(
    project_id=PROJECT,
    compartment_id=COMPARTMENT,
    log_group_id=LOG_GROUP,
    output_folder="oci://out@ns/reports",
)
NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def spec_for(**fields: Any) -> JobSpec:
    body = {"noteBook": "https://example.com/a.ipynb", **fields}
    request = parse_request(json.dumps(body).encode(), SETTINGS)
    return resolve_job(request, SETTINGS, "a.ipynb", NOTEBOOK)


@pytest.fixture(autouse=True)
def _no_notebook_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NB_SESSION_OCID", raising=False)  # ADS would look it up


def job_dict(spec: JobSpec, tmp_path: Path) -> dict[str, Any]:
    notebook = tmp_path / "a.ipynb"
    notebook.write_bytes(NOTEBOOK)
    definition: dict[str, Any] = ads_job.build_job(spec, str(notebook)).to_dict()
    return definition


def test_the_default_job_is_a_notebook_runtime_on_a_flex_shape(tmp_path: Path) -> None:
    spec = spec_for()
    assert job_dict(spec, tmp_path) == {
        "kind": "job",
        "spec": {
            "name": spec.display_name(),
            "runtime": {
                "kind": "runtime",
                "type": "notebook",
                "spec": {
                    "notebookEncoding": "utf-8",
                    "notebookPathURI": str(tmp_path / "a.ipynb"),
                    "outputUri": "oci://out@ns/reports/${JOB_RUN_OCID}",
                    "freeformTags": {DIGEST_TAG: spec.digest(), LAUNCHER_TAG: "job"},
                    "conda": {"type": "service", "slug": "generalml_p311_cpu_x86_64_v1"},
                },
            },
            "infrastructure": {
                "kind": "infrastructure",
                "type": "dataScienceJob",
                "spec": {
                    "jobType": "DEFAULT",
                    "compartmentId": COMPARTMENT,
                    "projectId": PROJECT,
                    "shapeName": "VM.Standard.E4.Flex",
                    "blockStorageSize": 50,
                    "logGroupId": LOG_GROUP,
                    "shapeConfigDetails": {"ocpus": 1.0, "memoryInGBs": 16.0},
                },
            },
        },
    }


def test_log_subnet_storage_and_size_reach_the_infrastructure(tmp_path: Path) -> None:
    spec = spec_for(
        logId="ocid1.log.oc1.iad.l1",
        subnetId="ocid1.subnet.oc1.iad.s1",
        blockStorageSizeInGBs=100,
        ocpus=2,
        memoryInGBs=32,
    )
    infrastructure = job_dict(spec, tmp_path)["spec"]["infrastructure"]["spec"]
    assert infrastructure == {
        "jobType": "DEFAULT",
        "compartmentId": COMPARTMENT,
        "projectId": PROJECT,
        "shapeName": "VM.Standard.E4.Flex",
        "blockStorageSize": 100,
        "logGroupId": LOG_GROUP,
        "logId": "ocid1.log.oc1.iad.l1",
        "subnetId": "ocid1.subnet.oc1.iad.s1",
        "shapeConfigDetails": {"ocpus": 2.0, "memoryInGBs": 32.0},
    }


def test_a_fixed_shape_has_no_shape_config(tmp_path: Path) -> None:
    infrastructure = job_dict(spec_for(shape="VM.Standard2.1"), tmp_path)["spec"]["infrastructure"][
        "spec"
    ]
    assert infrastructure["shapeName"] == "VM.Standard2.1"
    assert "shapeConfigDetails" not in infrastructure


def test_a_published_conda_pack_and_exclude_tags_reach_the_runtime(tmp_path: Path) -> None:
    spec = spec_for(condaEnv="oci://conda@ns/packs/myenv_v1", excludeTags=["debug", "slow"])
    runtime = job_dict(spec, tmp_path)["spec"]["runtime"]["spec"]
    assert runtime["conda"] == {"type": "published", "uri": "oci://conda@ns/packs/myenv_v1"}
    assert runtime["excludeTags"] == ["debug", "slow"]


def test_the_job_name_carries_the_digest(tmp_path: Path) -> None:
    spec = spec_for(jobName="weekly")
    assert job_dict(spec, tmp_path)["spec"]["name"] == spec.display_name()
    assert spec.display_name().startswith("weekly-nl")
    assert spec.digest().startswith(spec.display_name().removeprefix("weekly-nl"))
