"""Job identity: the digest covers the notebook and every job-level setting, nothing per run."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import zipfile

from notebook_launcher.function.job_spec import (
    derived_token,
    resolve_job,
    resolve_run,
    shared_token,
)
from notebook_launcher.function.launcher import deterministic_zip
from notebook_launcher.function.request import parse_request
from notebook_launcher.function.settings import Settings

SETTINGS = Settings(
    project_id="ocid1.datascienceproject.oc1.iad.aaaa",
    compartment_id="ocid1.compartment.oc1..aaaa",
    log_group_id="ocid1.loggroup.oc1.iad.aaaa",
    output_folder="oci://bucket@ns/out/",
)


def spec_for(body: dict[str, object], prepared: bytes = b"nb"):  # type: ignore[no-untyped-def]
    request = parse_request(
        json.dumps({"noteBook": "https://e.com/a.ipynb", **body}).encode(), SETTINGS
    )
    return request, resolve_job(request, SETTINGS, "a.ipynb", prepared)


def test_per_run_values_do_not_change_the_job() -> None:
    _, base = spec_for({})
    _, other = spec_for(
        {
            "parameters": {"a": 1},
            "environmentVariables": {"X": "1"},
            "runName": "r",
            "maxRuntimeInMinutes": 5,
            "freeformTags": {"t": "v"},
            "idempotencyKey": "k1",
        }
    )
    assert base.digest() == other.digest()
    assert base.display_name() == other.display_name()


def test_job_settings_and_notebook_change_the_job() -> None:
    _, base = spec_for({})
    changes: tuple[dict[str, object], ...] = (
        {"shape": "VM.Standard2.1"},
        {"condaEnv": "other_v1"},
        {"jobName": "x"},
        {"excludeTags": ["skip"]},
        {"outputPerRun": False},
        {"ocpus": 2},
    )
    for change in changes:
        assert spec_for(change)[1].digest() != base.digest(), change
    assert spec_for({}, prepared=b"nb2")[1].digest() != base.digest()


def test_output_uri_per_run_by_default() -> None:
    _, spec = spec_for({})
    assert spec.output_uri == "oci://bucket@ns/out/${JOB_RUN_OCID}"
    _, flat = spec_for({"outputPerRun": False})
    assert flat.output_uri == "oci://bucket@ns/out"


def test_flex_defaults_and_fixed_shapes() -> None:
    _, flex = spec_for({})
    assert (flex.ocpus, flex.memory_in_gbs) == (1, 16)
    _, fixed = spec_for({"shape": "VM.Standard2.1"})
    assert fixed.ocpus is None and fixed.memory_in_gbs is None


def test_run_name_is_deterministic_with_a_key() -> None:
    request, spec = spec_for({"parameters": {"a": [1, {"b": None}]}})
    one = resolve_run(request, SETTINGS, spec.job_name, "key-1", "t1")
    two = resolve_run(request, SETTINGS, spec.job_name, "key-1", "t2")
    assert one == two and one.retry_token and len(one.retry_token) <= 64
    assert json.loads(one.environment["NOTEBOOK_PARAMETERS"]) == {"a": [1, {"b": None}]}
    assert resolve_run(request, SETTINGS, spec.job_name, None, "t1").retry_token is None


def test_derived_tokens_differ_by_purpose() -> None:
    tokens = {derived_token("k", p, "d") for p in ("job", "artifact", "run")}
    assert len(tokens) == 3 and all(t and len(t) <= 64 for t in tokens)


def test_deterministic_zip() -> None:
    def make(ts: tuple[int, int, int, int, int, int], order: list[str]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            for name in order:
                z.writestr(zipfile.ZipInfo(name, date_time=ts), name * 3)
        return out.getvalue()

    a = make((2024, 1, 1, 0, 0, 0), ["b", "a"])
    b = make((2025, 6, 1, 1, 2, 4), ["a", "b"])
    assert a != b and deterministic_zip(a) == deterministic_zip(b)
    assert zipfile.ZipFile(io.BytesIO(deterministic_zip(a))).read("b") == b"bbb"


def test_settings_replace_keeps_frozen() -> None:
    assert dataclasses.replace(SETTINGS, shape="VM.X").shape == "VM.X"


def test_int_and_float_sizes_are_the_same_job() -> None:
    _, defaults = spec_for({})
    _, explicit = spec_for({"ocpus": 1, "memoryInGBs": 16})
    assert defaults.digest() == explicit.digest()


def test_shared_token_is_the_same_for_every_creator_of_one_job() -> None:
    token = shared_token("job", "d" * 64, "body-sha", "artifact-sha")
    assert token == shared_token("job", "d" * 64, "body-sha", "artifact-sha")
    assert token != shared_token("job", "e" * 64, "body-sha", "artifact-sha")
    assert token != shared_token("job", "d" * 64, "other-body", "artifact-sha")
    assert token != shared_token("artifact", "d" * 64, "body-sha", "artifact-sha")
    # Never a key's token: a caller cannot collide with it by choosing a key.
    assert token != derived_token("d" * 64, "job")
    chained = shared_token("job-again", "d" * 64, "body-sha", "artifact-sha", "ocid1.x")
    for value in (token, chained):
        assert len(value) <= 64 and re.fullmatch(r"[A-Za-z0-9._:-]+", value), value
