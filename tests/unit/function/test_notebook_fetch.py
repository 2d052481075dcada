"""The guarded notebook fetch, against a real HTTP server on loopback."""

from __future__ import annotations

import dataclasses
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notebook_launcher.function.errors import InvalidNotebookError, NotebookFetchError
from notebook_launcher.function.notebook_fetch import fetch_notebook, validate_notebook
from notebook_launcher.function.settings import Settings

NOTEBOOK = json.dumps(
    {
        "cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": []}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
).encode()

LOCAL = Settings(allow_http=True, allow_private_addresses=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        if self.path == "/stall":
            time.sleep(3)
        if self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            for _ in range(30):  # one byte every 0.2 s: never a socket timeout
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
            return
        status, headers, body = self.routes.get(self.path, (404, {}, b"no"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Handler.routes = {
        "/nb.ipynb": (200, {}, NOTEBOOK),
        "/big.ipynb": (200, {}, b" " * 5000),
        "/text": (200, {}, b"hello, not a notebook"),
        "/v3.ipynb": (200, {}, json.dumps({"nbformat": 3, "worksheets": []}).encode()),
        "/to-nb": (302, {"Location": "/nb.ipynb"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/stall": (200, {}, NOTEBOOK),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_fetches_a_notebook_when_local_addresses_are_allowed(server: str) -> None:
    fetched = fetch_notebook(f"{server}/nb.ipynb", LOCAL, None)
    assert fetched.content == NOTEBOOK
    assert fetched.file_name == "nb.ipynb"


def test_redirect_is_followed_and_rechecked(server: str) -> None:
    assert fetch_notebook(f"{server}/to-nb", LOCAL, None).content == NOTEBOOK
    with pytest.raises(NotebookFetchError, match="scheme 'file'"):
        fetch_notebook(f"{server}/to-file", LOCAL, None)
    with pytest.raises(NotebookFetchError, match="more than"):
        fetch_notebook(f"{server}/loop", LOCAL, None)
    only_public = dataclasses.replace(LOCAL, allow_private_addresses=False)
    with pytest.raises(NotebookFetchError, match="non-public"):
        fetch_notebook(f"{server}/nb.ipynb", only_public, None)


def test_redirect_to_metadata_address_refused(server: str) -> None:
    allow_loopback_only = dataclasses.replace(LOCAL, notebook_hosts=("127.0.0.1",))
    with pytest.raises(NotebookFetchError, match="allowlist"):
        fetch_notebook(f"{server}/to-metadata", allow_loopback_only, None)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/nb.ipynb",
        "https://169.254.169.254/opc/v2/instance/",
        "https://10.0.0.8/nb.ipynb",
        "https://192.168.1.1/nb.ipynb",
        "https://172.16.5.4/nb.ipynb",
        "https://[::1]/nb.ipynb",
        "https://[fe80::1]/nb.ipynb",
        "https://100.64.0.1/nb.ipynb",
        "https://0.0.0.0/nb.ipynb",
        "https://localhost/nb.ipynb",
        "https://[::ffff:127.0.0.1]/nb.ipynb",
    ],
)
def test_internal_addresses_refused_by_default(url: str) -> None:
    with pytest.raises(NotebookFetchError, match="non-public"):
        fetch_notebook(url, Settings(), None)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://example.com/nb.ipynb", "https"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("ftp://example.com/nb.ipynb", "scheme 'ftp'"),
        ("gopher://example.com/", "scheme 'gopher'"),
        ("/etc/passwd", "local paths"),
        ("https://user:pw@example.com/nb.ipynb", "credentials"),
        ("oci://bucket@ns", "oci://bucket@namespace/path"),
    ],
)
def test_schemes_and_forms_refused(url: str, match: str) -> None:
    with pytest.raises(NotebookFetchError, match=match):
        fetch_notebook(url, Settings(), None)


def test_size_cap(server: str) -> None:
    small = dataclasses.replace(LOCAL, notebook_max_bytes=1000)
    with pytest.raises(NotebookFetchError, match="limit"):
        fetch_notebook(f"{server}/big.ipynb", small, None)


def test_not_a_notebook(server: str) -> None:
    with pytest.raises(InvalidNotebookError, match="not UTF-8 JSON"):
        fetch_notebook(f"{server}/text", LOCAL, None)
    with pytest.raises(InvalidNotebookError, match="nbformat 4"):
        fetch_notebook(f"{server}/v3.ipynb", LOCAL, None)


def test_read_timeout(server: str) -> None:
    quick = dataclasses.replace(LOCAL, fetch_connect_timeout=0.5, fetch_read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(NotebookFetchError, match="timed out"):
        fetch_notebook(f"{server}/stall", quick, None)
    assert time.monotonic() - started < 2.5


def test_local_path_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "my notebook.ipynb"
    path.write_bytes(NOTEBOOK)
    with pytest.raises(NotebookFetchError, match="local paths"):
        fetch_notebook(str(path), Settings(), None)
    fetched = fetch_notebook(str(path), Settings(allow_local_notebooks=True), None)
    assert fetched.file_name == "my_notebook.ipynb"


@pytest.mark.parametrize(
    "notebook",
    [
        {"nbformat": 4},
        {"nbformat": 4, "cells": [{"cell_type": "bogus", "source": ""}]},
        {"nbformat": 4, "cells": [{"cell_type": "code"}]},
        {"nbformat": 4, "cells": [], "metadata": []},
    ],
)
def test_structure_checked(notebook: dict[str, object]) -> None:
    with pytest.raises(InvalidNotebookError):
        validate_notebook(json.dumps(notebook).encode())


@pytest.mark.parametrize(
    "url",
    [
        "https://[::a9fe:a9fe]/nb.ipynb",  # IPv4-compatible 169.254.169.254
        "https://[64:ff9b::a9fe:a9fe]/nb.ipynb",  # NAT64 of the metadata address
        "https://[2002:7f00:1::1]/nb.ipynb",  # 6to4 of 127.0.0.1
    ],
)
def test_ipv4_carried_in_ipv6_is_checked(url: str) -> None:
    with pytest.raises(NotebookFetchError, match="non-public"):
        fetch_notebook(url, Settings(), None)


@pytest.mark.parametrize("path", ["/dev/zero", "/tmp"])
def test_local_path_must_be_a_regular_file(path: str) -> None:
    settings = Settings(allow_local_notebooks=True)
    with pytest.raises(NotebookFetchError, match="regular file"):
        fetch_notebook(path, settings, None)


def test_malformed_urls_are_fetch_errors() -> None:
    for url in ("https://x.invalid:99999/n.ipynb", "https://[::1/n.ipynb"):
        with pytest.raises(NotebookFetchError, match="malformed"):
            fetch_notebook(url, Settings(), None)


def test_a_server_dripping_bytes_is_cut_off_at_the_total_timeout(server: str) -> None:
    quick = dataclasses.replace(LOCAL, fetch_connect_timeout=0.5, fetch_read_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(NotebookFetchError, match="timed out"):
        fetch_notebook(f"{server}/drip", quick, None)
    assert time.monotonic() - started < 3.0


def test_the_invocation_deadline_bounds_the_fetch(server: str) -> None:
    from notebook_launcher.function.deadline import Deadline

    started = time.monotonic()
    with pytest.raises(NotebookFetchError, match="timed out"):
        fetch_notebook(f"{server}/drip", LOCAL, None, Deadline.after(1.0))
    assert time.monotonic() - started < 3.0


def test_a_resolver_that_does_not_answer_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """getaddrinfo takes no timeout: a silent name server (here a resolver that answers only
    once released) must not hold the invocation past its deadline."""
    import socket

    from notebook_launcher.function.deadline import Deadline

    released = threading.Event()
    asked: list[str] = []

    def silent_resolver(host: str, port: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        released.wait(120)
        raise socket.gaierror(socket.EAI_AGAIN, "released by the test")

    monkeypatch.setattr(socket, "getaddrinfo", silent_resolver)
    try:
        with pytest.raises(NotebookFetchError, match="did not resolve within") as refused:
            fetch_notebook(
                "https://slow-dns.example.com/n.ipynb", Settings(), None, Deadline.after(0.5)
            )
        # Refused while the lookup was still waiting for its answer.
        assert asked == ["slow-dns.example.com"] and not released.is_set()
        assert "'slow-dns.example.com'" in str(refused.value)
    finally:
        released.set()
