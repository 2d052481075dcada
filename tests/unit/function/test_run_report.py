"""The run report: the builder on real executed notebooks, the artifact bundle, and what the
status action serves from a report."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import nbformat
import pytest

from notebook_launcher.artifact import parameter_names as artifact_parameter_names
from notebook_launcher.artifact import redaction
from notebook_launcher.artifact import run_report_writer as writer
from notebook_launcher.function import parameters, report_artifact
from notebook_launcher.function.datascience_port import Job
from notebook_launcher.function.run_report import _Unavailable, output_folder, served_fields

EXECUTED = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks" / "executed"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "report_schema.json").read_text()
)
REDACTION = writer.load_redaction(Path(redaction.__file__))


def executed(name: str) -> Any:
    return nbformat.read(EXECUTED / name, as_version=4)


def build(name: str, state: str, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "notebook_name": name,
        "state": state,
        "started": "2026-12-02T04:00:00.000Z",
        "finished": "2026-12-02T04:00:03.500Z",
        "error": None,
        "parameters": {},
        "redaction": REDACTION,
        "files": [],
        "files_truncated": False,
        "html_name": name.replace(".ipynb", ".html"),
        "html_note": None,
        "job_run_id": "ocid1.datasciencejobrun.oc1.iad.x",
        **overrides,
    }
    report = writer.build_report(executed(name), **arguments)
    jsonschema.validate(report, SCHEMA)
    return report


def test_outputs_are_read_typed_from_scrapbook_scraps() -> None:
    report = build("records_outputs.ipynb", "SUCCEEDED")
    assert [(o["name"], o["type"], o["value"]) for o in report["outputs"]] == [
        ("region", "string", "apac"),
        ("rows", "number", 10),
        ("names", "list", ["a", "b", "apac"]),
        ("summary", "object", {"rows": 5, "ok": True, "ratio": 0.25, "none": None}),
    ]
    assert all(o["inlined"] and o["kept"] for o in report["outputs"])
    assert report["outputs"][1]["bytes"] == 2
    assert report["failure"] is None and report["notes"] == []


def test_timings_cover_every_executed_cell_and_rank_the_slowest() -> None:
    report = build("records_outputs.ipynb", "SUCCEEDED")
    cells = report["timings"]["cells"]
    assert [c["index"] for c in cells] == [0, 1, 2, 3, 4]
    assert [c["executionCount"] for c in cells] == [1, 2, 3, 4, 5]
    slowest = report["timings"]["slowestCells"]
    assert [s["seconds"] for s in slowest] == sorted((c["seconds"] for c in cells), reverse=True)
    assert report["timings"]["seconds"] == 3.5


def test_failure_names_the_cell_with_a_clean_trimmed_traceback() -> None:
    report = build("fails_keyerror.ipynb", "FAILED")
    failure = report["failure"]
    assert failure["cellIndex"] == 3 and failure["sourceCellIndex"] == 2
    assert failure["cellId"] == "fails_keyerror-2" and failure["executionCount"] == 4
    assert (failure["ename"], failure["evalue"]) == ("KeyError", "'emea'")
    assert "\x1b" not in failure["traceback"] and "counts['emea']" in failure["traceback"]
    # The cells after the failure never ran: no timing for them.
    assert [c["index"] for c in report["timings"]["cells"]] == [0, 1, 2, 3]


def test_a_failure_without_an_error_cell_reports_the_driver_exception() -> None:
    report = build(
        "records_outputs.ipynb", "FAILED", error=RuntimeError("Kernel died before replying")
    )
    failure = report["failure"]
    assert failure["cellIndex"] is None and failure["ename"] == "RuntimeError"
    assert failure["evalue"] == "Kernel died before replying"


def test_a_long_traceback_is_trimmed_to_its_end() -> None:
    lines = [f"\x1b[31mframe {i}\x1b[39m" for i in range(500)]
    text, truncated = writer._trim_traceback(lines)
    assert truncated and text.splitlines()[-1] == "frame 499"
    assert len(text.splitlines()) == writer.TRACEBACK_LINES and "\x1b" not in text


def test_secret_named_parameters_have_no_value_in_the_report() -> None:
    report = build(
        "records_outputs.ipynb",
        "SUCCEEDED",
        parameters={"region": "apac", "rows": 5, "api_token": "not-a-real-token"},
    )
    assert report["parameters"] == [
        {"name": "api_token", "redacted": True},
        {"name": "region", "redacted": False, "value": "apac"},
        {"name": "rows", "redacted": False, "value": 5},
    ]
    assert "not-a-real-token" not in json.dumps(report["parameters"])
    # Without the launcher's redaction module in the artifact, every value is withheld.
    withheld = writer.redact_parameters({"region": "apac"}, None)
    assert withheld == [{"name": "region", "redacted": True}]


def test_the_report_redacts_secrets_nested_under_innocent_names() -> None:
    values = {"config": {"db": [{"password": "not-a-real-pw", "host": "db1"}], "jwt": "x.y.z"}}
    (entry,) = writer.redact_parameters(values, REDACTION)
    assert entry == {
        "name": "config",
        "redacted": False,
        "value": {"db": [{"password": "<redacted>", "host": "db1"}], "jwt": "<redacted>"},
    }


@pytest.mark.parametrize(
    "name", ["password", "db_pwd", "API_KEY", "githubToken", "region", "rows", "author", "pass_"]
)
def test_the_writer_redacts_exactly_the_names_the_parameters_cell_redacts(name: str) -> None:
    entry = writer.redact_parameters({name: 1}, REDACTION)[0]
    assert entry["redacted"] is parameters.looks_secret(name)


def test_values_over_the_caps_are_kept_but_not_inlined() -> None:
    report = build("large_outputs.ipynb", "SUCCEEDED")
    entries = {o["name"]: o for o in report["outputs"]}
    assert entries["small"]["inlined"] and entries["after"]["inlined"]
    assert entries["large"]["inlined"] is False and entries["large"]["kept"] is True
    assert entries["large"]["bytes"] == 100 * 1024 + 2


def test_the_total_caps_apply_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "INLINE_TOTAL_BYTES", 8)
    monkeypatch.setattr(writer, "KEPT_TOTAL_BYTES", 12)
    cells = [
        {
            "cell_type": "code",
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": {writer.SCRAP_JSON_MIMETYPE: {"name": n, "data": v, "encoder": "json"}},
                }
                for n, v in (("a", "12345"), ("b", "1234"), ("c", "123"), ("a", "12"))
            ],
        }
    ]
    notes: list[str] = []
    entries = writer.collect_outputs(cells, notes)
    # "a" was recorded again last: the last value wins and moves to the end, as in scrapbook.
    assert [(e["name"], e["inlined"], e["kept"]) for e in entries] == [
        ("b", True, True),
        ("c", False, True),
        ("a", False, False),
    ]
    assert "value" not in entries[2]


def test_unsupported_encoders_and_bad_records_are_noted_not_fatal() -> None:
    cells = [
        {
            "cell_type": "code",
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": {
                        writer.SCRAP_JSON_MIMETYPE: {"name": "df", "data": {}, "encoder": "arrow"}
                    },
                },
                {"output_type": "display_data", "data": {writer.SCRAP_JSON_MIMETYPE: {"x": 1}}},
                {
                    "output_type": "display_data",
                    "data": {writer.SCRAP_TEXT_MIMETYPE: {"name": "t", "data": "hi"}},
                },
            ],
        }
    ]
    notes: list[str] = []
    entries = writer.collect_outputs(cells, notes)
    assert [(e["name"], e["value"]) for e in entries] == [("t", "hi")]
    assert any("'arrow'" in note for note in notes) and any("no name" in n for n in notes)


def test_files_list_leaves_out_the_notebook_and_the_report_files(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "nb.html").write_text("<html>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.csv").write_bytes(b"a,b\n")
    files, truncated = writer.list_files(tmp_path, {"nb.ipynb", "report.json", "nb.html"})
    assert files == [{"name": "sub/data.csv", "bytes": 4}] and truncated is False


def test_html_export_of_an_executed_notebook_is_a_page_with_the_error() -> None:
    html, note = writer.render_html(executed("fails_keyerror.ipynb"))
    assert note is None and html is not None
    assert re.search(r"<html[\s>]", html) and "KeyError" in html


def test_the_artifact_gets_the_writer_and_its_entrypoint() -> None:
    source = io.BytesIO()
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("driver_notebook.py", "print('driver')")
        archive.writestr("code/nb.ipynb", "{}")
    details = SimpleNamespace(
        job_configuration_details=SimpleNamespace(
            environment_variables={"JOB_RUN_ENTRYPOINT": "driver_notebook.py", "X": "1"}
        )
    )
    out = zipfile.ZipFile(
        io.BytesIO(report_artifact.with_report_writer(source.getvalue(), details))
    )
    assert sorted(out.namelist()) == [
        "code/nb.ipynb",
        "driver_notebook.py",
        writer.PARAMETER_NAMES_FILE,
        writer.REDACTION_FILE,
        writer.ENTRYPOINT_FILE,
    ]
    assert out.read(writer.ENTRYPOINT_FILE) == Path(writer.__file__).read_bytes()
    assert out.read(writer.REDACTION_FILE) == Path(redaction.__file__).read_bytes()
    shipped = out.read(writer.PARAMETER_NAMES_FILE)
    assert shipped == Path(artifact_parameter_names.__file__).read_bytes()
    assert details.job_configuration_details.environment_variables == {
        "JOB_RUN_ENTRYPOINT": writer.ENTRYPOINT_FILE,
        "X": "1",
    }


def test_the_writer_imports_only_what_a_job_run_has() -> None:
    text = Path(writer.__file__).read_text()
    imported = set(re.findall(r"^\s*(?:from|import) ([a-zA-Z_][\w]*)", text, re.MULTILINE))
    allowed = {"__future__", "datetime", "importlib", "json", "os", "re", "sys", "time"}
    allowed |= {"traceback", "collections", "pathlib", "typing", "urllib", "nbformat"}
    allowed |= {"nbconvert", "oci", "types"}
    assert imported <= allowed, imported - allowed
    assert writer.INJECTED_TAG == parameters.INJECTED_TAG


def test_served_fields_inline_small_values_and_list_the_others() -> None:
    report = build("large_outputs.ipynb", "SUCCEEDED")
    fields = served_fields(report, "oci://out@ns/runs/r1")
    assert fields["outputs"] == {"small": "fits", "after": 7}
    assert fields["outputsNotInlined"] == [{"name": "large", "type": "string", "bytes": 102402}]
    assert fields["reportUri"] == "oci://out@ns/runs/r1/report.json"
    assert fields["notebookUri"] == "oci://out@ns/runs/r1/large_outputs.ipynb"
    assert fields["htmlUri"] == "oci://out@ns/runs/r1/large_outputs.html"
    assert fields["failure"] is None


def _job(variables: dict[str, str]) -> Job:
    return Job("j1", "job", "p1", "c1", "ACTIVE", environment=variables)


def test_output_folder_expands_the_run_and_refuses_jobs_without_the_writer() -> None:
    job = _job(
        {"JOB_RUN_ENTRYPOINT": writer.ENTRYPOINT_FILE, "OUTPUT_URI": "oci://b@ns/p/${JOB_RUN_OCID}"}
    )
    assert output_folder(job, "r1") == ("ns", "b", "p/r1")
    with pytest.raises(_Unavailable, match="made before run reports"):
        output_folder(_job({"JOB_RUN_ENTRYPOINT": "driver_notebook.py"}), "r1")
    with pytest.raises(_Unavailable, match="no oci:// output folder"):
        output_folder(_job({"JOB_RUN_ENTRYPOINT": writer.ENTRYPOINT_FILE}), "r1")


def test_a_page_that_cannot_be_rendered_is_skipped_with_a_note() -> None:
    broken = nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}})  # no cells
    html, note = writer.render_html(broken)
    assert html is None and note is not None and note.startswith("the HTML page was not rendered")
    report = build("records_outputs.ipynb", "SUCCEEDED", html_name=None, html_note=note)
    assert report["html"] is None and report["htmlNote"] == note
    assert served_fields(report, "oci://out@ns/r")["htmlUri"] is None


def test_the_report_carries_the_parameter_warnings_the_shipped_rule_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "region = 'x'"}
        ]
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    monkeypatch.setenv(writer.PARAMETERS_ENV, json.dumps({"regoin": "apac", "region": "emea"}))
    warnings = writer.parameter_warnings(Path(artifact_parameter_names.__file__), path)
    assert [(w["field"], w.get("didYouMean")) for w in warnings] == [
        ("parameters.regoin", "region")
    ]
    report = build("records_outputs.ipynb", "SUCCEEDED", warnings=warnings)
    assert report["warnings"] == warnings
    assert build("records_outputs.ipynb", "SUCCEEDED")["warnings"] == []
    # Without the shipped module (or with an unreadable notebook) there is nothing to say.
    assert writer.parameter_warnings(tmp_path / "missing.py", path) == []
    assert writer.parameter_warnings(Path(artifact_parameter_names.__file__), tmp_path / "x") == []
