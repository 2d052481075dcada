"""Run reports end to end: real notebooks run on the local service by the artifact the
function builds (ADS's driver, then the report writer), read back through `status`."""

from __future__ import annotations

import json
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from notebook_launcher.artifact import run_report_writer as writer
from tests.functional.function.conftest import FunctionUnderTest, notebook

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "docs" / "report_schema.json").read_text()
)


def unique_job() -> str:
    return f"report-{uuid.uuid4().hex[:8]}"


def launch_and_wait(fn: FunctionUnderTest, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    answer = fn.launch({"jobName": unique_job(), **body})
    return answer, fn.wait(answer["id"])


def read_report(fn: FunctionUnderTest, answer: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(
        fn.output_file(answer["outputUri"], writer.REPORT_FILE).read_text()
    )
    jsonschema.validate(report, SCHEMA)
    return report


def status(fn: FunctionUnderTest, run_id: str) -> dict[str, Any]:
    code, body = fn.invoke({"action": "status", "id": run_id})
    assert code == 200, body
    return body


class _Page(HTMLParser):
    """The text of an HTML page, and whether it parsed as a whole document."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert {"html", "head", "body"} <= page.tags
    return page


def test_outputs_come_back_typed_and_secret_parameter_values_stay_out(
    fn: FunctionUnderTest,
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    answer, run = launch_and_wait(
        fn,
        {
            "noteBook": notebook("records_outputs.ipynb"),
            "parameters": {"region": "apac", "rows": 5, "api_token": secret},
        },
    )
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    report = read_report(fn, answer)
    assert report["state"] == "SUCCEEDED" and report["failure"] is None
    assert report["jobRunId"] == answer["id"]
    values = {o["name"]: o["value"] for o in report["outputs"]}
    assert values == {
        "region": "apac",
        "rows": 10,
        "names": ["a", "b", "apac"],
        "summary": {"rows": 5, "ok": True, "ratio": 0.25, "none": None},
    }
    assert [o["type"] for o in report["outputs"]] == ["string", "number", "list", "object"]
    assert report["parameters"] == [
        {"name": "api_token", "redacted": True},
        {"name": "region", "redacted": False, "value": "apac"},
        {"name": "rows", "redacted": False, "value": 5},
    ]
    assert {"name": "data.csv", "bytes": 8} in report["files"]
    timings = report["timings"]
    assert timings["seconds"] > 0 and len(timings["cells"]) == 5
    assert timings["slowestCells"][0]["seconds"] == max(c["seconds"] for c in timings["cells"])

    body = status(fn, answer["id"])
    assert body["lifecycleState"] == "SUCCEEDED"
    assert body["outputs"] == values and body["failure"] is None
    assert body["reportUri"] == f"{answer['outputUri']}/report.json"
    assert body["notebookUri"] == f"{answer['outputUri']}/records_outputs.ipynb"
    assert body["htmlUri"] == f"{answer['outputUri']}/records_outputs.html"
    assert "reportUnavailable" not in body

    html = fn.output_file(answer["outputUri"], "records_outputs.html")
    page = parse_page(html)
    assert "api_token = <redacted>" in "".join(page.text)
    for path in (
        fn.output_file(answer["outputUri"], "report.json"),
        html,
        fn.output_file(answer["outputUri"], "records_outputs.ipynb"),
        fn.service.log_path(answer["id"]),
    ):
        assert secret not in path.read_text(encoding="utf-8"), path
    assert secret not in json.dumps(body)


def test_failure_names_the_failing_cell_and_the_page_shows_the_error(
    fn: FunctionUnderTest,
) -> None:
    answer, run = launch_and_wait(fn, {"noteBook": notebook("fails_keyerror.ipynb")})
    assert run.lifecycle_state == "FAILED"
    assert run.lifecycle_details == "Job run artifact execution failed with exit code 1."
    report = read_report(fn, answer)
    failure = report["failure"]
    assert report["state"] == "FAILED"
    # The injected parameters cell sits at the top: the notebook's third cell is index 3.
    assert failure["cellIndex"] == 3 and failure["sourceCellIndex"] == 2
    assert failure["cellId"] == "fails_keyerror-2"
    assert failure["executionCount"] == 4
    assert failure["ename"] == "KeyError" and failure["evalue"] == "'emea'"
    assert "counts['emea']" in failure["traceback"] and "\x1b" not in failure["traceback"]

    body = status(fn, answer["id"])
    assert body["failure"] == failure and body["outputs"] == {}
    page = parse_page(fn.output_file(answer["outputUri"], "fails_keyerror.html"))
    text = "".join(page.text)
    assert "KeyError" in text and "'emea'" in text


def test_outputs_over_the_cap_stay_in_the_report_marked_not_inlined(
    fn: FunctionUnderTest,
) -> None:
    answer, run = launch_and_wait(fn, {"noteBook": notebook("large_outputs.ipynb")})
    assert run.lifecycle_state == "SUCCEEDED", run.lifecycle_details
    report = read_report(fn, answer)
    entries = {o["name"]: o for o in report["outputs"]}
    assert entries["large"]["inlined"] is False and entries["large"]["kept"] is True
    assert entries["large"]["value"] == "x" * (100 * 1024)
    assert entries["large"]["bytes"] > writer.INLINE_VALUE_BYTES
    body = status(fn, answer["id"])
    assert body["outputs"] == {"small": "fits", "after": 7}
    assert body["outputsNotInlined"] == [
        {"name": "large", "type": "string", "bytes": entries["large"]["bytes"]}
    ]
    assert len(json.dumps(body).encode()) < 512 * 1024


@pytest.mark.parametrize("succeeded", [True, False])
def test_a_report_that_cannot_be_written_leaves_the_run_state_alone(
    fn: FunctionUnderTest, succeeded: bool
) -> None:
    body: dict[str, Any] = {"noteBook": notebook("blocks_report.ipynb")}
    if not succeeded:
        body["parameters"] = {"fail": True}
    answer, run = launch_and_wait(fn, body)
    expected = "SUCCEEDED" if succeeded else "FAILED"
    assert run.lifecycle_state == expected, run.lifecycle_details
    assert fn.output_file(answer["outputUri"], "blocks_report.ipynb").is_file()
    assert not fn.output_file(answer["outputUri"], "report.json").is_file()
    assert "the run report could not be written" in fn.service.logs(answer["id"])
    served = status(fn, answer["id"])
    assert served["lifecycleState"] == expected
    assert "no report" in served["reportUnavailable"]
    assert not {"failure", "outputs", "reportUri"} & set(served)


def test_a_run_canceled_midway_answers_without_a_report_and_says_why(
    fn: FunctionUnderTest,
) -> None:
    answer = fn.launch({"noteBook": notebook("sleeps.ipynb"), "jobName": unique_job()})
    client = fn.service.datascience_client()
    end = time.monotonic() + 60
    while client.get_job_run(answer["id"]).data.lifecycle_state != "IN_PROGRESS":
        assert time.monotonic() < end
        time.sleep(0.2)
    running = status(fn, answer["id"])
    assert running["reportUnavailable"] == "the run has not ended"
    code, _ = fn.invoke({"action": "cancel", "id": answer["id"]})
    assert code == 200
    assert fn.wait(answer["id"]).lifecycle_state == "CANCELED"
    served = status(fn, answer["id"])
    assert served["lifecycleState"] == "CANCELED"
    assert "canceled" in served["reportUnavailable"] and "outputs" not in served


def test_a_job_whose_artifact_has_no_writer_answers_why(fn: FunctionUnderTest) -> None:
    """A job made before run reports (ADS's own artifact, ADS's driver as entrypoint)."""
    import oci

    from notebook_launcher.function import ads_job
    from notebook_launcher.function.job_spec import resolve_job
    from notebook_launcher.function.request import parse_request
    from notebook_launcher.function.settings import Settings

    settings = Settings.from_config(fn.config)
    request = parse_request(json.dumps({"noteBook": notebook("hello.ipynb")}).encode(), settings)
    content = Path(notebook("hello.ipynb")).read_bytes()
    job_spec = resolve_job(request, settings, "hello.ipynb", content)
    auth = {
        "config": oci.config.from_file(fn.config["NL_OCI_CONFIG_FILE"]),
        "client_kwargs": {"service_endpoint": fn.service.endpoint},
    }
    job = ads_job.build_job(job_spec, notebook("hello.ipynb"), auth).create()
    answer = fn.launch({"jobId": job.id})
    assert fn.wait(answer["id"]).lifecycle_state == "SUCCEEDED"
    served = status(fn, answer["id"])
    assert served["lifecycleState"] == "SUCCEEDED"
    assert "made before run reports" in served["reportUnavailable"]
    assert "outputs" not in served and "failure" not in served
