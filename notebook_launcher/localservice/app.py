"""The HTTP face of the local service: the middlewares, then each service's operations table.

The composition only: `SERVICES` lists the services (each a package whose `urls.py` declares
its operations once and builds its backend); `create_app` routes every operation, counting
each call by its name and applying any injected fault first, adds the `/_local` developer
routes, and answers errors in OCI's JSON. See the package docstring for the layout.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from notebook_launcher.localservice.clock import ControlledClock
from notebook_launcher.localservice.datascience import urls as datascience
from notebook_launcher.localservice.developer_api import DeveloperApi
from notebook_launcher.localservice.errors import (
    MethodNotAllowedError,
    RouteNotFoundError,
    ServiceError,
    error_for_status,
)
from notebook_launcher.localservice.faults import CallStats, FaultInjector
from notebook_launcher.localservice.identity.signatures import SignatureVerifier
from notebook_launcher.localservice.logging import urls as logging_service
from notebook_launcher.localservice.middleware import RequestIdMiddleware, SignatureMiddleware
from notebook_launcher.localservice.objectstorage import urls as objectstorage
from notebook_launcher.localservice.pipelines import urls as pipelines
from notebook_launcher.localservice.rest import (
    Operation,
    ServiceContext,
    ServiceSpec,
    error_response,
)
from notebook_launcher.localservice.schedules import urls as schedules
from notebook_launcher.localservice.ui import Console, ConsoleGate

logger = logging.getLogger(__name__)

# One line per service; the next one (pipelines, schedules, ...) is a folder and a line here.
SERVICES: tuple[ServiceSpec[Any], ...] = (
    datascience.SERVICE,
    objectstorage.SERVICE,
    pipelines.SERVICE,
    schedules.SERVICE,
    logging_service.SERVICE,
)


@dataclass(frozen=True)
class Monitoring:
    """Call counting and (when the service was started with it) fault injection."""

    stats: CallStats
    faults: FaultInjector | None


def create_app(
    context: ServiceContext,
    verifier: SignatureVerifier,
    monitoring: Monitoring,
    services: Sequence[ServiceSpec[Any]] = SERVICES,
    console: Callable[[Mapping[str, Any]], Console] | None = None,
) -> Starlette:
    """The Starlette app serving one data dir's services; `console`, given the services' backends
    by name, makes the web console served at /ui (its own token auth, before the signature
    check). The app's `state.console` is that console (or None)."""
    routes: list[BaseRoute] = []
    names: set[str] = set()
    backends: dict[str, Any] = {}
    for service in services:
        backend = backends[service.name] = service.build(context)
        for operation in service.operations:
            names.add(operation.name)
            endpoint = _endpoint(operation, backend, monitoring)
            routes += [Route(p, endpoint, methods=[operation.method]) for p in operation.paths]
    developer = DeveloperApi(
        context.layout,
        context.store,
        monitoring.stats,
        monitoring.faults,
        frozenset(names),
        context.clock if isinstance(context.clock, ControlledClock) else None,
    )
    routes += developer.routes()
    web_console = console(backends) if console is not None else None
    app = Starlette(
        routes=_exact(routes),
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(ConsoleGate, console=web_console),  # only /ui, /ui/...
            Middleware(SignatureMiddleware, verifier=verifier, uploads_dir=context.layout.uploads),
        ],
        exception_handlers={
            ServiceError: _on_service_error,
            HTTPException: _on_http_error,
        },
    )
    app.state.console = web_console
    # No redirect from `/x` to `/x/` (or back): a client re-sending a redirected request
    # signs a path it did not ask for; an unknown path is OCI's 404 NotFound instead.
    app.router.redirect_slashes = False
    return app


def _endpoint(
    operation: Operation[Any], backend: Any, monitoring: Monitoring
) -> Callable[[Request], Awaitable[Response]]:
    """Count the call, apply any injected fault, then run the operation's handler."""
    name = operation.name

    async def endpoint(request: Request) -> Response:
        monitoring.stats.record(name)
        fault = monitoring.faults.take(name) if monitoring.faults else None
        if fault is not None:
            if fault.delay_seconds:
                await asyncio.sleep(fault.delay_seconds)
            if fault.status is not None:
                logger.info("injected %d for %s", fault.status, name)
                raise error_for_status(fault.status, f"Injected fault for {name}.")
        return await operation.handler(backend, request)

    return endpoint


async def _on_service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500:
        logger.warning(
            "%s %s answered %d %s", request.method, request.url.path, exc.status, exc.code
        )
    return error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return error_response(
            MethodNotAllowedError(
                f"Method {request.method} is not allowed on {request.url.path}"
                + (f"; allowed: {allowed}." if allowed else ".")
            ),
            headers={"allow": allowed} if allowed else None,
        )
    if exc.status_code == 404:
        return error_response(
            RouteNotFoundError(f"No operation is defined at {request.method} {request.url.path}.")
        )
    return JSONResponse(
        {"code": "InvalidParameter", "message": str(exc.detail)}, status_code=exc.status_code
    )


def _exact(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Make each route match the whole path: Starlette anchors route patterns with `$`, which
    also matches before a final line feed, so `/jobs/<id>%0a` would alias `/jobs/<id>`."""
    for route in routes:
        if isinstance(route, Route) and route.path_regex.pattern.endswith("$"):
            route.path_regex = re.compile(route.path_regex.pattern[:-1] + r"\Z")
    return routes
