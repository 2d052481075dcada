"""Fetch the caller's notebook, guarded: the function fetches URLs on a caller's behalf.

https (http only if configured) with connect and total read timeouts, a size cap, redirects
re-checked hop by hop, and every resolved address checked: loopback, link-local (the
metadata service 169.254.169.254 included), private and other non-global addresses are
refused unless configured. The connection goes to the address that was checked, so a DNS
answer cannot change between the check and the connect. `oci://` goes through the Object
Storage API with the function's principal; local paths only where configured.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from notebook_launcher.function.deadline import Deadline
from notebook_launcher.function.errors import InvalidNotebookError, NotebookFetchError
from notebook_launcher.function.settings import Settings
from notebook_launcher.oci_facts.object_uri import ObjectUri

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "notebook-launcher/0.1 (+OCI Function)"


@dataclass(frozen=True)
class FetchedNotebook:
    """A notebook's bytes and the file name it will have in the job artifact."""

    content: bytes
    file_name: str
    source: str


class ObjectReader(Protocol):
    """Reads one object from Object Storage (the function's principal)."""

    def read_object(
        self, namespace: str, bucket: str, name: str, max_bytes: int, deadline: Deadline
    ) -> bytes: ...


def _file_name(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1] or "notebook.ipynb"
    if not name.endswith(".ipynb"):
        name += ".ipynb"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return safe[-120:]


def _check_host(host: str, settings: Settings) -> None:
    if not settings.notebook_hosts:
        return
    host = host.lower().rstrip(".")
    for allowed in settings.notebook_hosts:
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]):
                return
        elif host == allowed:
            return
    raise NotebookFetchError(
        f"noteBook host {host!r} is not in the configured allowlist (NL_NOTEBOOK_HOSTS)."
    )


NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[Any]:
    """The address and every IPv4 address an IPv6 form carries (mapped, compatible, NAT64,
    6to4, Teredo): each must be public, or ::ffff:127.0.0.1 would pass as public."""
    found: list[Any] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.ipv4_mapped:
            found.append(address.ipv4_mapped)
        if address in NAT64_PREFIX or (address in IPV4_COMPATIBLE and int(address) > 1):
            found.append(low32)
        if address.sixtofour:
            found.append(address.sixtofour)
        if address.teredo:
            found.extend(address.teredo)
    return found


def _getaddrinfo_within(host: str, port: int, seconds: float) -> list[Any]:
    """socket.getaddrinfo, waited for at most `seconds`: it takes no timeout of its own, and a
    slow or unreachable resolver holds it for its own timeouts and attempts (often 5 s each,
    per name server), past the invocation's deadline. A lookup still going is left to end on
    its own in a daemon thread; the caller gets a refusal naming the host."""
    found: list[Any] = []

    def resolve() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # noqa: BLE001 (handed to the waiting caller)
            found.append(exc)

    worker = threading.Thread(target=resolve, name="nl-resolve", daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    if not found:
        raise NotebookFetchError(
            f"noteBook host {host[:80]!r} did not resolve within {max(0.0, seconds):.1f} s "
            "(NL_FETCH_CONNECT_TIMEOUT, or the time left before the function's deadline)."
        )
    if isinstance(found[0], BaseException):
        raise found[0]
    return list(found[0])


def _resolve_checked(host: str, port: int, settings: Settings, seconds: float) -> str:
    """Resolve host within `seconds` and return one address that passed the guard (all must
    pass)."""
    try:
        infos = _getaddrinfo_within(host, port, seconds)
    except (socket.gaierror, UnicodeError) as exc:
        raise NotebookFetchError(f"noteBook host {host!r} could not be resolved: {exc}") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if (
            not all(a.is_global for a in _embedded(address))
            and not settings.allow_private_addresses
        ):
            raise NotebookFetchError(
                f"noteBook host {host!r} resolves to a non-public address ({address}); "
                "internal, loopback, link-local and metadata addresses are refused."
            )
        addresses.append(str(address))
    if not addresses:
        raise NotebookFetchError(f"noteBook host {host!r} has no address.")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def fetch_url(
    url: str, settings: Settings, budget: Deadline, max_bytes: int | None = None
) -> bytes:
    """GET url through every guard, at most max_bytes (default NL_NOTEBOOK_MAX_BYTES)."""
    limit = settings.notebook_max_bytes if max_bytes is None else max_bytes
    deadline = budget.at
    for _ in range(MAX_REDIRECTS + 1):
        try:
            parts = urlsplit(url)
            port_given = parts.port
        except ValueError as exc:
            raise NotebookFetchError(f"noteBook URL is malformed: {exc}.") from None
        scheme = parts.scheme.lower()
        if scheme == "http" and not settings.allow_http:
            raise NotebookFetchError("noteBook must be an https:// URL (plain http is disabled).")
        if scheme not in ("http", "https"):
            raise NotebookFetchError(f"noteBook URL scheme {scheme!r} is not allowed.")
        if parts.username or parts.password:
            raise NotebookFetchError("noteBook URL must not carry credentials.")
        host = parts.hostname
        if not host:
            raise NotebookFetchError("noteBook URL has no host.")
        _check_host(host, settings)
        port = port_given or (443 if scheme == "https" else 80)
        resolve_timeout = min(settings.fetch_connect_timeout, deadline - time.monotonic())
        address = _resolve_checked(host, port, settings, resolve_timeout)
        conn_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connect_timeout = min(settings.fetch_connect_timeout, deadline - time.monotonic())
        if connect_timeout <= 0:
            raise NotebookFetchError("noteBook download timed out.")
        conn = conn_class(host, port, address, connect_timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            if conn.sock is not None:
                conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise NotebookFetchError("noteBook URL redirected without a Location.")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise NotebookFetchError(
                    f"noteBook URL answered HTTP {response.status} {response.reason}."
                )
            length = response.getheader("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise NotebookFetchError(f"noteBook is {length} bytes; the limit is {limit}.")
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise NotebookFetchError("noteBook download timed out.")
                # read1: whatever has arrived (up to 64 KiB), so a server dripping bytes is
                # cut off at the deadline; the socket may wait only for the time left.
                if conn.sock is not None:
                    conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
                chunk = response.read1(65536)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise NotebookFetchError(f"noteBook is larger than the limit of {limit} bytes.")
                chunks.append(chunk)
            return b"".join(chunks)
        except TimeoutError:
            raise NotebookFetchError("noteBook download timed out.") from None
        except ssl.SSLError as exc:
            raise NotebookFetchError(f"noteBook TLS connection failed: {exc.reason}.") from None
        except (OSError, http.client.HTTPException) as exc:
            raise NotebookFetchError(
                f"noteBook could not be downloaded: {type(exc).__name__}."
            ) from None
        finally:
            conn.close()
    raise NotebookFetchError(f"noteBook URL redirected more than {MAX_REDIRECTS} times.")


def validate_notebook(content: bytes) -> dict[str, Any]:
    """Check that content is an nbformat 4 notebook; return it parsed."""
    try:
        notebook = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidNotebookError("noteBook is not a notebook: not UTF-8 JSON.") from None
    if not isinstance(notebook, dict):
        raise InvalidNotebookError("noteBook is not a notebook: not a JSON object.")
    if notebook.get("nbformat") != 4:
        raise InvalidNotebookError(
            f"noteBook must be nbformat 4, found nbformat {notebook.get('nbformat')!r}."
        )
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise InvalidNotebookError("noteBook is not a notebook: it has no cells list.")
    minor = notebook.get("nbformat_minor", 0)
    if not isinstance(minor, int) or isinstance(minor, bool) or minor < 0:
        raise InvalidNotebookError("noteBook nbformat_minor must be a non-negative integer.")
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebookError(f"noteBook cell {index} has no valid cell_type.")
        if not isinstance(cell.get("source"), str | list):
            raise InvalidNotebookError(f"noteBook cell {index} has no source.")
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            raise InvalidNotebookError(f"noteBook cell {index} metadata must be an object.")
        tags = metadata.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise InvalidNotebookError(f"noteBook cell {index} tags must be a list of strings.")
    if not isinstance(notebook.get("metadata", {}), dict):
        raise InvalidNotebookError("noteBook metadata must be an object.")
    return notebook


def fetch_notebook(
    location: str,
    settings: Settings,
    objects: ObjectReader | None,
    deadline: Deadline | None = None,
) -> FetchedNotebook:
    """Fetch and validate the notebook at location (https, oci://, or a permitted local path),
    within the fetch timeouts and, when given, the invocation's deadline."""
    budget = Deadline.after(settings.fetch_connect_timeout + settings.fetch_read_timeout)
    if deadline is not None and deadline.at < budget.at:
        budget = deadline
    lowered = location.lower()
    if lowered.startswith("oci://"):
        uri = ObjectUri.parse(location)
        if uri is None or not uri.prefix:
            raise NotebookFetchError("noteBook must look like oci://bucket@namespace/path.ipynb")
        bucket, namespace, path = uri.bucket, uri.namespace, uri.path
        if objects is None:
            raise NotebookFetchError("noteBook oci:// URIs need Object Storage access.")
        content = objects.read_object(namespace, bucket, path, settings.notebook_max_bytes, budget)
        name = path
    elif lowered.startswith(("https://", "http://")):
        content = fetch_url(location, settings, budget)
        name = urlsplit(location).path  # parsed (and checked) by fetch_url already
    elif "://" in location or lowered.startswith("file:"):
        scheme = location.split(":", 1)[0]
        raise NotebookFetchError(
            f"noteBook scheme {scheme!r} is not allowed; use https:// or oci://."
        )
    else:
        if not settings.allow_local_notebooks:
            raise NotebookFetchError(
                "noteBook must be an https:// URL or an oci:// URI; "
                "local paths are allowed only when NL_ALLOW_LOCAL_NOTEBOOKS is set."
            )
        path_obj = Path(location).expanduser()
        try:
            if not path_obj.is_file():
                raise NotebookFetchError("noteBook local path is not a regular file.")
            size = path_obj.stat().st_size
            if size > settings.notebook_max_bytes:
                raise NotebookFetchError(
                    f"noteBook is {size} bytes; the limit is {settings.notebook_max_bytes}."
                )
            content = path_obj.read_bytes()
        except OSError as exc:
            raise NotebookFetchError(
                f"noteBook local file cannot be read: {exc.strerror}."
            ) from None
        except ValueError:
            raise NotebookFetchError("noteBook local path is not a valid path.") from None
        name = path_obj.name
    validate_notebook(content)
    logger.debug("fetched notebook", extra={"bytes": len(content)})
    return FetchedNotebook(content=content, file_name=_file_name(name), source=location)
