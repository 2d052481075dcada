"""The console's gate, over plain HTTP: the token, the cookie, cross-site posts, and the API
behind it still requiring signatures."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from notebook_launcher.localservice.embedded import EmbeddedService
from tests.functional.ui.conftest import Launch, ensure_stopped, wait_for_state, write_notebook


@pytest.fixture
def token(local_service: EmbeddedService) -> str:
    return local_service.console_url.partition("?token=")[2]


def test_serve_announces_the_console_url_with_a_token(local_service: EmbeddedService) -> None:
    url = local_service.console_url
    assert url.startswith(f"{local_service.endpoint}/ui/?token=")
    assert len(url.partition("?token=")[2]) >= 40
    assert f"Web console: {url}" in local_service.service_log.read_text()


def test_a_request_without_the_token_is_refused(local_service: EmbeddedService) -> None:
    base = local_service.endpoint
    for path in ("/ui", "/ui/", "/ui/runs", "/ui/jobs", "/ui/api/runs", "/ui/static/console.js"):
        response = httpx.get(base + path)
        assert response.status_code == 403, path
        assert "token" in response.text
    assert httpx.get(f"{base}/ui/runs?token=not-the-token").status_code == 403
    wrong = httpx.get(f"{base}/ui/runs", headers={"authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    forged = httpx.get(f"{base}/ui/runs", cookies={"nl-console-x": "y"})
    assert forged.status_code == 403


def test_the_token_url_sets_a_strict_httponly_cookie_and_drops_the_token(
    local_service: EmbeddedService, token: str
) -> None:
    response = httpx.get(f"{local_service.endpoint}/ui/runs?state=FAILED&token={token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/runs?state=FAILED"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert token not in cookie
    name, _, value = cookie.split(";")[0].partition("=")
    page = httpx.get(f"{local_service.endpoint}/ui/runs", cookies={name: value})
    assert page.status_code == 200 and "Job runs" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_the_oci_api_still_requires_signatures_with_the_console_credentials(
    local_service: EmbeddedService, token: str
) -> None:
    base = local_service.endpoint
    bearer = {"authorization": f"Bearer {token}"}
    for path in ("/20190101/jobRuns", "/_local/stats", "/n", "/ui/../20190101/jobRuns"):
        response = httpx.get(base + path, headers=bearer)
        assert response.status_code in (401, 403), path
        if path.startswith("/ui"):
            continue
        assert response.json()["code"] == "NotAuthenticated"


def test_cross_site_and_tokenless_posts_are_refused_and_change_nothing(
    local_service: EmbeddedService, token: str, launch: Launch, tmp_path: Path
) -> None:
    notebook = write_notebook(tmp_path / "waits.ipynb", "import time\ntime.sleep(600)")
    run_id = launch(notebook)["id"]
    base = local_service.endpoint
    bearer = {"authorization": f"Bearer {token}"}
    page = httpx.get(f"{base}/ui/runs/{run_id}", headers=bearer)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    cancel = f"{base}/ui/runs/{run_id}/cancel"
    try:
        refused = [
            httpx.post(cancel, headers=bearer, data={}),
            httpx.post(cancel, headers=bearer, data={"csrf": "0" * 64}),
            httpx.post(
                cancel,
                headers={**bearer, "origin": "http://evil.example"},
                data={"csrf": csrf},
            ),
            httpx.post(
                cancel, headers={**bearer, "sec-fetch-site": "cross-site"}, data={"csrf": csrf}
            ),
            httpx.post(
                cancel, headers={**bearer, "sec-fetch-site": "same-site"}, data={"csrf": csrf}
            ),
            httpx.post(cancel, data={"csrf": csrf}),  # no token at all
        ]
        assert [r.status_code for r in refused] == [403] * 6
        run = local_service.datascience_client().get_job_run(run_id).data
        assert run.lifecycle_state in ("ACCEPTED", "IN_PROGRESS")
        accepted = httpx.post(
            cancel,
            headers={**bearer, "origin": base, "sec-fetch-site": "same-origin"},
            data={"csrf": csrf},
        )
        assert accepted.status_code == 303
        assert wait_for_state(local_service, run_id, {"CANCELED"}).lifecycle_state == "CANCELED"
    finally:
        ensure_stopped(local_service, run_id)
