"""Building the function's request from a JSON file and flags: flags win, values keep types."""

from __future__ import annotations

import io
from pathlib import Path

import click
import pytest

from notebook_launcher.console.request_body import (
    RequestFlags,
    build_request,
    load_request,
    parse_param,
)


def test_flags_override_the_file_and_maps_merge_key_by_key() -> None:
    base = {
        "noteBook": "https://example.com/a.ipynb",
        "jobName": "from-file",
        "parameters": {"region": "emea", "months": 3},
        "freeformTags": {"team": "analytics"},
        "maxRuntimeInMinutes": 30,
    }
    flags = RequestFlags(
        job_name="from-flag",
        params=("months=6", 'label="q3 \\"final\\""', "weights=[0.5, 1]", "draft=false"),
        tags=("owner=ana=b",),
        env=("MODE=fast",),
        reuse_job=False,
        dry_run=True,
    )
    body = build_request(base, flags)
    assert body == {
        "noteBook": "https://example.com/a.ipynb",
        "jobName": "from-flag",
        "parameters": {
            "region": "emea",
            "months": 6,
            "label": 'q3 "final"',
            "weights": [0.5, 1],
            "draft": False,
        },
        "freeformTags": {"team": "analytics", "owner": "ana=b"},
        "environmentVariables": {"MODE": "fast"},
        "maxRuntimeInMinutes": 30,
        "reuseJob": False,
        "dryRun": True,
    }
    assert base["parameters"] == {"region": "emea", "months": 3}  # the file's dict is untouched


def test_every_scalar_flag_reaches_its_field() -> None:
    flags = RequestFlags(
        notebook="oci://b@ns/n.ipynb",
        run_name="r",
        idempotency_key="k-1",
        job_id="ocid1.datasciencejob.oc1.iad.x",
        project_id="ocid1.datascienceproject.oc1.iad.x",
        compartment_id="ocid1.compartment.oc1..x",
        log_group_id="ocid1.loggroup.oc1.iad.x",
        output_folder="oci://out@ns/p",
        shape="VM.Standard.E4.Flex",
        conda_env="slug_v1",
        max_runtime_minutes=5,
    )
    assert build_request({}, flags) == {
        "noteBook": "oci://b@ns/n.ipynb",
        "runName": "r",
        "idempotencyKey": "k-1",
        "jobId": "ocid1.datasciencejob.oc1.iad.x",
        "projectId": "ocid1.datascienceproject.oc1.iad.x",
        "compartmentId": "ocid1.compartment.oc1..x",
        "logGroupId": "ocid1.loggroup.oc1.iad.x",
        "outputFolder": "oci://out@ns/p",
        "shape": "VM.Standard.E4.Flex",
        "condaEnv": "slug_v1",
        "maxRuntimeInMinutes": 5,
    }


def test_no_flags_leave_the_file_as_it_is() -> None:
    base = {"noteBook": "https://h/n.ipynb", "reuseJob": True, "unknownField": 1}
    assert build_request(base, RequestFlags()) == base  # the function judges unknown fields


def test_relative_local_notebook_is_resolved_against_the_base_folder(tmp_path: Path) -> None:
    body = build_request({"noteBook": "examples/n.ipynb"}, RequestFlags(), relative_to=tmp_path)
    assert body["noteBook"] == str(tmp_path / "examples" / "n.ipynb")
    for location in ("https://h/n.ipynb", "oci://b@ns/n.ipynb", "/abs/n.ipynb", "file:///x"):
        body = build_request({"noteBook": location}, RequestFlags(), relative_to=tmp_path)
        assert body["noteBook"] == location


@pytest.mark.parametrize("text", ["region=apac", "=1", "noequals", "x={"])
def test_a_param_must_be_name_equals_json(text: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_param(text)


def test_a_bare_word_param_explains_how_to_quote_it() -> None:
    with pytest.raises(click.BadParameter, match=r"""region='"apac"'"""):
        parse_param("region=apac")


def test_load_request_wants_a_json_object() -> None:
    assert load_request(None) == {}
    assert load_request(io.StringIO('{"jobName": "x"}')) == {"jobName": "x"}
    with pytest.raises(click.BadParameter, match="not valid JSON"):
        load_request(io.StringIO("{nope"))
    with pytest.raises(click.BadParameter, match="JSON object"):
        load_request(io.StringIO("[1]"))
