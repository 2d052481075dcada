"""The local service's web console at `/ui/`: runs, a run's log, report and notebook, jobs.

Self-contained: `ConsoleGate` sits in front of the service's signed API and hands only
`/ui` and `/ui/...` to the console app (its own routes, templates, static files and token
authentication, see auth.py); every other path goes to the API untouched, signature checks
included. The console reads the service's own store, backend and files (sources.py) and
acts through the backend, so it shows what the API answers and follows the API's rules.

    sources.py    what the pages show, from the store, DataScience, ObjectStore, logs
    auth.py       the token, its cookie, CSRF and cross-site checks
    pages.py      the routes table, the handlers, the guard and the security headers
    templates/    Jinja2 pages;  static/  the stylesheet and the script (no build step)
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from notebook_launcher.localservice.ui.auth import new_token
from notebook_launcher.localservice.ui.pages import PREFIX, Console
from notebook_launcher.localservice.ui.sources import ConsoleSources

__all__ = ["PREFIX", "Console", "ConsoleGate", "ConsoleSources", "new_token"]


class ConsoleGate:
    """Routes `/ui` and `/ui/...` to the console (when there is one), the rest to `app`."""

    def __init__(self, app: ASGIApp, console: Console | None) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if self.console is not None and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.console.app(scope, receive, send)
            return
        await self.app(scope, receive, send)
