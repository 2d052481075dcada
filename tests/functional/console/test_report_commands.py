"""`wait` ends with the run report, and `report` prints it, on the session's local service."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from notebook_launcher.console.errors import ExitCode
from tests.functional.console.conftest import Cli, launch

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"


def rows(stdout: str) -> list[tuple[str, str]]:
    return [(line[:14].strip(), line[14:]) for line in stdout.splitlines()]


def page_text(path: Path) -> str:
    parser = _TextCollector()
    parser.feed(path.read_text(encoding="utf-8"))
    return "".join(parser.texts)


class _TextCollector(HTMLParser):
    """Collects a page's text (what a reader sees, no markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def test_wait_ends_with_the_outputs_and_the_html_file(cli: Cli) -> None:
    answer = launch(
        cli,
        "--notebook",
        str(NOTEBOOKS / "records_outputs.ipynb"),
        "--param",
        'region="apac"',
        "--param",
        "rows=5",
    )
    waited = cli("wait", answer["id"], "--interval", "0.2", "--timeout", "90")
    assert waited.exit_code == 0, waited.output
    shown = rows(waited.stdout)
    outputs = [value for label, value in shown if label == "output"]
    assert outputs == [
        'region = "apac"',
        "rows = 10",
        'names = ["a", "b", "apac"]',
        'summary = {"none": null, "ok": true, "ratio": 0.25, "rows": 5}',
    ]
    [html] = [value for label, value in shown if label == "html"]
    assert Path(html).is_file() and html.endswith("records_outputs.html")
    assert "record('rows', rows * 2)" in page_text(Path(html))

    printed = cli("report", answer["id"])
    assert printed.exit_code == 0, printed.output
    assert [v for label, v in rows(printed.stdout) if label == "output"] == outputs
    raw = cli("report", answer["id"], "--json")
    document = json.loads(raw.stdout)
    assert document["schema"] == "notebook-launcher/run-report"
    assert {o["name"]: o["value"] for o in document["outputs"]}["rows"] == 10


def test_wait_on_a_failure_names_the_cell_and_its_error(cli: Cli) -> None:
    answer = launch(cli, "--notebook", str(NOTEBOOKS / "fails_keyerror.ipynb"))
    waited = cli("wait", answer["id"], "--interval", "0.2", "--timeout", "90")
    assert waited.exit_code == ExitCode.FAILED
    shown = dict(rows(waited.stdout))
    assert shown["failed in"] == "cell 2 of the notebook (id fails_keyerror-2, In [4])"
    assert shown["error"] == "KeyError: 'emea'"
    assert "counts['emea']" in waited.stdout
    assert "KeyError" in page_text(Path(shown["html"]))


def test_report_of_a_run_without_one_says_why(cli: Cli) -> None:
    answer = launch(cli, "--notebook", str(NOTEBOOKS / "blocks_report.ipynb"))
    waited = cli("wait", answer["id"], "--interval", "0.2", "--timeout", "90")
    assert waited.exit_code == 0, waited.output
    assert "(none: no report in" in dict(rows(waited.stdout))["report"]
    printed = cli("report", answer["id"])
    assert printed.exit_code == 1
    assert "has no report: no report in" in printed.output
