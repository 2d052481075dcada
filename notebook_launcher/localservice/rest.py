"""What every service of the local service shares: OCI's REST dialect, and the shape of a service.

A service package (`datascience/`, `objectstorage/`, ...) declares its operations in its
`urls.py` as one table of `Operation`s (name, method, path, handler) and exposes a
`ServiceSpec` that names that table and builds its backend from a `ServiceContext`. The app
routes each operation and counts it (and injects faults) by its name. Handlers are
`async def handler(backend, request) -> Response`, turning the request into one backend call.

The request readers and response writers here speak OCI's dialect: JSON bodies that must be
strict JSON, query parameters that must be valid Unicode, errors as `{"code", "message"}`,
and resources answered with their `etag`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.clock import Clock, SystemClock
from notebook_launcher.localservice.errors import (
    CannotParseRequestError,
    InvalidParameterError,
    ServiceError,
)
from notebook_launcher.localservice.executor import Executor
from notebook_launcher.localservice.identity.signatures import Principal
from notebook_launcher.localservice.layout import DataDir
from notebook_launcher.localservice.store import Record, Store

logger = logging.getLogger(__name__)

Backend = TypeVar("Backend")


# --------------------------------------------------------------------------- a service's shape


@dataclass(frozen=True)
class Operation(Generic[Backend]):
    """One OCI operation: its name (what stats and faults call it), and where it is routed
    (`path`, and any other paths that are the same operation, such as a trailing slash)."""

    name: str
    method: str
    path: str
    handler: Callable[[Backend, Request], Awaitable[Response]]
    also: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path, *self.also)


class BackgroundWork:
    """Work backends do beside their operations (a scheduler's thread): each registers a
    start and a stop while it is built; the server starts them once the executor has
    settled the runs a previous process left, and stops them before the executor."""

    def __init__(self) -> None:
        self._tasks: list[tuple[Callable[[], None], Callable[[], None]]] = []

    def add(self, start: Callable[[], None], stop: Callable[[], None]) -> None:
        self._tasks.append((start, stop))

    def start(self) -> None:
        for start, _ in self._tasks:
            start()

    def stop(self) -> None:
        for _, stop in reversed(self._tasks):
            stop()


@dataclass(frozen=True)
class ServiceContext:
    """What a service's backend is built from: the data dir, its records, the executor, the
    clock schedules run on, and where background work is registered."""

    layout: DataDir
    store: Store
    executor: Executor
    clock: Clock = field(default_factory=SystemClock)
    background: BackgroundWork = field(default_factory=BackgroundWork)


@dataclass(frozen=True)
class ServiceSpec(Generic[Backend]):
    """A service as the app registers it: its operations table and how to build its backend."""

    name: str
    operations: tuple[Operation[Backend], ...]
    build: Callable[[ServiceContext], Backend]


# --------------------------------------------------------------------------- requests


def principal_id(request: Request) -> str:
    """The OCID of who signed the request (`SignatureMiddleware` put it there)."""
    principal = request.state.principal
    assert isinstance(principal, Principal)
    return principal.id


async def json_body(request: Request) -> object:
    """The request's JSON body, refused (400) when empty or not strict JSON."""
    raw = await request.body()
    if not raw:
        raise CannotParseRequestError("The request body is empty; a JSON object is expected.")
    return validation.parse_json_body(raw)


def query(request: Request) -> dict[str, str]:
    """The query parameters, refused (400) when one is not valid Unicode."""
    params = dict(request.query_params)
    for name, value in params.items():
        if not (validation.is_unicode_text(name) and validation.is_unicode_text(value)):
            raise InvalidParameterError("A query parameter is not valid Unicode.")
    return params


def upload(request: Request) -> Path:
    """The file an upload's body was streamed to."""
    path = request.state.upload
    assert isinstance(path, Path)  # SignatureMiddleware streams every upload to a file
    return path


# --------------------------------------------------------------------------- responses


class ServiceJSONResponse(JSONResponse):
    """Strict JSON in UTF-8; a stored value that is not (a NaN, a lone surrogate: records
    written before bodies were checked) is answered repaired rather than as a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except (ValueError, UnicodeEncodeError):
            logger.warning("answering a document with unstorable values repaired")
            return super().render(repaired(content))


def repaired(value: Any) -> Any:
    """`value` with non-finite numbers as null and lone surrogates as U+FFFD."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {repaired(key): repaired(item) for key, item in value.items()}
    if isinstance(value, list):
        return [repaired(item) for item in value]
    return value


def error_response(error: ServiceError, headers: dict[str, str] | None = None) -> JSONResponse:
    return ServiceJSONResponse(error.to_body(), status_code=error.status, headers=headers)


def resource_response(record: Record, status: int = 200) -> JSONResponse:
    return ServiceJSONResponse(record.doc, status_code=status, headers={"etag": record.etag})
