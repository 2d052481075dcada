"""The function process as the image runs it: what it logs, and where matplotlib keeps its cache.

Each test starts a fresh interpreter (fdk configures logging when imported, so an import in
this test process would prove nothing) that imports func.py and runs its handler through fdk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.console.test_target import write_oci_config

ROOT = Path(__file__).resolve().parents[3]

# A status call whose GetJobRun goes, through the real oci SDK (requests, urllib3), to a local
# stand-in answering 404: the SDK and urllib3 log at DEBUG on the way.
STATUS_CALL = textwrap.dedent(
    """
    import asyncio, io, json, os, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class NotFound(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = b'{"code": "NotAuthorizedOrNotFound", "message": "not found"}'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["OCI_ODSC_SERVICE_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"

    import func
    from fdk import fixtures

    body = {"action": "status", "id": "ocid1.datasciencejobrun.oc1.iad.aaaaaaaanosuchrun"}
    content = io.BytesIO(json.dumps(body).encode())

    async def call():
        coro = await fixtures.setup_fn_call(func.handler, content=content)
        return await coro

    data, status, _ = asyncio.run(call())
    print(json.dumps({"status": int(status), "body": json.loads(data)}))
    """
)


def run_status_call(tmp_path: Path, **env: str) -> tuple[dict[str, object], list[str]]:
    config = write_oci_config(tmp_path / "oci" / "config")
    done = subprocess.run(
        [sys.executable, "-c", STATUS_CALL],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOME": str(tmp_path),
            "NL_OCI_CONFIG_FILE": str(config),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer, done.stderr.splitlines()


def json_lines(lines: list[str]) -> list[dict[str, object]]:
    found = []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def test_at_the_default_level_the_invocation_line_is_all_the_function_logs(
    tmp_path: Path,
) -> None:
    answer, stderr = run_status_call(tmp_path)
    assert answer["body"]["error"]["code"] == "NotFound"  # type: ignore[index]
    debug = [line for line in stderr if "DEBUG" in line]
    assert debug == [], f"{len(debug)} DEBUG lines, e.g. {debug[:3]}"
    [record] = json_lines(stderr)
    assert record["action"] == "status" and record["error"] == "NotFound"
    assert record["status"] == 404 and "callId" in record
    assert [line for line in stderr if line.strip()] == [json.dumps(record, sort_keys=True)]


def test_nl_log_level_debug_turns_library_debug_lines_on(tmp_path: Path) -> None:
    _, stderr = run_status_call(tmp_path, NL_LOG_LEVEL="DEBUG")
    debug = [line for line in stderr if "DEBUG" in line]
    assert any("urllib3" in line for line in debug), stderr[:20]
    assert len(json_lines(stderr)) == 1


def test_nl_log_level_warning_drops_the_invocation_line(tmp_path: Path) -> None:
    _, stderr = run_status_call(tmp_path, NL_LOG_LEVEL="warning")
    assert json_lines(stderr) == []


MPL_PROBE = textwrap.dedent(
    """
    import json, os
    import func
    import matplotlib, matplotlib.font_manager
    print(json.dumps({"MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR"),
                      "cachedir": matplotlib.get_cachedir(),
                      "configdir": matplotlib.get_configdir()}))
    """
)


def mpl_probe(tmp_path: Path, home: str) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", MPL_PROBE],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(ROOT),
            "HOME": home,
            "TMPDIR": str(tmp_path / "tmp"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_matplotlib_keeps_one_cache_in_tmp_when_home_is_not_writable(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    expected = str(tmp_path / "tmp" / "notebook-launcher-matplotlib")
    # A HOME that does not exist (the tests run as root, for whom every folder is writable):
    # inside tmp_path, so a failing run cannot leave a folder behind for the next one.
    missing_home = str(tmp_path / "missing-home")
    first = mpl_probe(tmp_path, missing_home)
    assert first == {"MPLCONFIGDIR": expected, "cachedir": expected, "configdir": expected}
    assert list(Path(expected).glob("fontlist-*.json")), "no font cache was written"
    # the next cold start on the same /tmp finds it: the same folder, not a fresh temp dir
    assert mpl_probe(tmp_path, missing_home) == first
    assert not Path(missing_home).exists()


def test_a_writable_home_is_left_to_matplotlib(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    result = mpl_probe(tmp_path, str(home))
    assert result["MPLCONFIGDIR"] is None
    assert result["configdir"].startswith(str(home))
