"""The console's routes table, its pages and its guard.

Server-rendered (Jinja2, autoescaped); `static/console.js` polls two small endpoints for
live updates (the runs table's rows, a run's state and log). Every response carries a
strict Content-Security-Policy: the console's own scripts and styles only, nothing from
elsewhere, no framing by other sites.

The executed notebook is untrusted (its outputs may hold scripts): it is served only at
`/ui/untrusted/...`, with `Content-Security-Policy: sandbox` (no allow-scripts, no
allow-same-origin: an opaque origin that runs no script, even when opened directly) and no
sources but inline styles and data: images, and the run page embeds it in an
`<iframe sandbox>` without `allow-same-origin` or `allow-scripts`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notebook_launcher.artifact.run_report_writer import PARAMETERS_ENV
from notebook_launcher.localservice import lifecycle, validation
from notebook_launcher.localservice.errors import NotFoundError, ServiceError
from notebook_launcher.localservice.ui import sources
from notebook_launcher.localservice.ui.auth import CSRF_FIELD, TOKEN_PARAMETER, ConsoleAuth
from notebook_launcher.localservice.ui.redacted import redacted_json, redacted_value
from notebook_launcher.localservice.ui.sources import ConsoleSources, RunFilter
from notebook_launcher.oci_facts.states import (
    JOB_RUN_TERMINAL_STATES,
    PIPELINE_RUN_TERMINAL_STATES,
    STEP_RUN_TERMINAL_STATES,
)

PREFIX = "/ui"
HERE = Path(__file__).resolve().parent
# The sections of the navigation bar, in order (a section is a page and a line here).
NAVIGATION: tuple[tuple[str, str], ...] = (
    ("runs", "Runs"),
    ("jobs", "Jobs"),
    ("pipeline-runs", "Pipeline runs"),
    ("schedules", "Schedules"),
)
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
UNTRUSTED_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors {origin}"
)
COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a form post says `Origin: null`
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

MAX_FORM_BYTES = 16 * 1024  # the console's forms carry a CSRF token and nothing else

Endpoint = Callable[[Request], Awaitable[Response]]


def _format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _format_time(value: object) -> str:
    if not isinstance(value, str) or not value:
        return "-"
    return value.replace("T", " ")[:19] + " UTC"


def timeline(run: dict[str, Any]) -> list[dict[str, str]]:
    """The run's state timeline: accepted, started, and how it ended (or where it is)."""
    steps = [{"label": "ACCEPTED", "time": _format_time(run.get("timeAccepted"))}]
    if run.get("timeStarted"):
        steps.append({"label": "IN_PROGRESS", "time": _format_time(run.get("timeStarted"))})
    state = str(run.get("lifecycleState", ""))
    if run.get("timeFinished"):
        steps.append({"label": state, "time": _format_time(run.get("timeFinished"))})
    elif state not in ("ACCEPTED", "IN_PROGRESS"):
        steps.append({"label": state, "time": "now"})
    return steps


def run_summary(run: dict[str, Any], job_names: dict[str, str]) -> dict[str, Any]:
    """What the runs table and the live endpoint show of a run."""
    state = str(run.get("lifecycleState", ""))
    return {
        "id": run["id"],
        "name": run.get("displayName", ""),
        "state": state,
        "finished": state in JOB_RUN_TERMINAL_STATES,
        "details": run.get("lifecycleDetails") or "",
        "jobId": run.get("jobId", ""),
        "jobName": job_names.get(str(run.get("jobId")), run.get("jobId", "")),
        "duration": _format_duration(sources.duration_seconds(run)),
        "started": _format_time(run.get("timeStarted")),
        "accepted": _format_time(run.get("timeAccepted")),
    }


def pipeline_run_summary(run: dict[str, Any], pipeline_names: dict[str, str]) -> dict[str, Any]:
    """What the pipeline runs table and a pipeline run's page show of it."""
    state = str(run.get("lifecycleState", ""))
    pipeline_id = str(run.get("pipelineId", ""))
    return {
        "id": run["id"],
        "name": run.get("displayName", ""),
        "state": state,
        "finished": state in PIPELINE_RUN_TERMINAL_STATES,
        "details": run.get("lifecycleDetails") or "",
        "pipelineId": pipeline_id,
        "pipelineName": pipeline_names.get(pipeline_id, pipeline_id),
        "duration": _format_duration(sources.duration_seconds(run)),
        "started": _format_time(run.get("timeStarted")),
        "accepted": _format_time(run.get("timeAccepted")),
    }


def step_views(run: dict[str, Any], pipeline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each step run with what the page shows: state, dependsOn (from the pipeline), times,
    its job run, and its layer in the DAG (0 for the steps that depend on none)."""
    depends = {
        str(step.get("stepName")): [str(d) for d in step.get("dependsOn") or []]
        for step in (pipeline or {}).get("stepDetails") or []
    }
    layers: dict[str, int] = {}

    def layer(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in layers:
            parents = [d for d in depends.get(name, []) if d not in seen]
            layers[name] = 1 + max((layer(d, seen | {name}) for d in parents), default=-1)
        return layers[name]

    views = []
    for step in run.get("stepRuns") or []:
        name = str(step.get("stepName", ""))
        state = str(step.get("lifecycleState", ""))
        views.append(
            {
                "name": name,
                "state": state,
                "finished": state in STEP_RUN_TERMINAL_STATES,
                "details": step.get("lifecycleDetails") or "",
                "dependsOn": depends.get(name, []),
                "jobRunId": step.get("jobRunId") or "",
                "started": _format_time(step.get("timeStarted")),
                "finishedAt": _format_time(step.get("timeFinished")),
                "duration": _format_duration(sources.duration_seconds(step)),
                "layer": layer(name),
            }
        )
    return views


def dag_layers(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The steps in layers: each layer's steps depend only on steps of earlier layers."""
    count = 1 + max((step["layer"] for step in steps), default=-1)
    return [[step for step in steps if step["layer"] == index] for index in range(count)]


def trigger_text(trigger: dict[str, Any]) -> str:
    """A schedule's trigger in words: its cron expression, interval or iCal recurrence."""
    kind = str(trigger.get("triggerType", ""))
    if kind == "CRON":
        text = f"cron {trigger.get('cronExpression', '')}"
    elif kind == "INTERVAL":
        unit = str(trigger.get("frequency", "")).lower()
        text = f"every {trigger.get('interval', '')} {unit}"
        if trigger.get("isRandomStartTime"):
            text += " (random start)"
    else:
        text = f"iCal {trigger.get('recurrence', '')}"
    return text


def made_summary(kind: str, run: dict[str, Any]) -> dict[str, Any]:
    """A run a schedule made (a job run or a pipeline run), with its page's path."""
    section = "runs" if kind == "job" else "pipeline-runs"
    return {
        "kind": "job run" if kind == "job" else "pipeline run",
        "id": run["id"],
        "name": run.get("displayName", ""),
        "state": str(run.get("lifecycleState", "")),
        "path": f"{section}/{quote(str(run['id']), safe='')}",
        "accepted": _format_time(run.get("timeAccepted")),
        "duration": _format_duration(sources.duration_seconds(run)),
    }


def schedule_summary(schedule: dict[str, Any], made: list[tuple[str, Any]]) -> dict[str, Any]:
    """What the schedules table shows of a schedule; `made` its runs, newest first."""
    return {
        "id": schedule["id"],
        "name": schedule.get("displayName", ""),
        "state": str(schedule.get("lifecycleState", "")),
        "trigger": trigger_text(schedule.get("trigger") or {}),
        "next": _format_time(schedule.get("timeNextScheduledRun")),
        "last": _format_time(schedule.get("timeLastScheduleRun")),
        "lastDetails": schedule.get("lastScheduleRunDetails") or "",
        "lastRun": made_summary(*made[0]) if made else None,
    }


class Console:
    """The console app for one service: its routes, templates and guard."""

    def __init__(self, sources_: ConsoleSources, token: str) -> None:
        self.sources = sources_
        self.auth = ConsoleAuth(token)
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["urlquote"] = lambda value: quote(str(value), safe="")
        self.templates.env.filters["urlpath"] = lambda value: quote(str(value), safe="/")
        self.templates.env.globals.update(navigation=NAVIGATION, prefix=PREFIX)
        self.app: ASGIApp = _Guard(
            Starlette(
                routes=self.routes(),
                exception_handlers={ServiceError: self._on_service_error},
            ),
            self.auth,
        )

    def url(self, endpoint: str) -> str:
        """The console's address with its token, e.g. for `serve` to print."""
        return f"{endpoint}{PREFIX}/?{TOKEN_PARAMETER}={self.auth.token}"

    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, str, Endpoint]] = [
            ("GET", "", self.home),
            ("GET", "/", self.home),
            ("GET", "/runs", self.runs_page),
            ("GET", "/runs/rows", self.runs_rows),
            ("GET", "/runs/{runId}", self.run_page),
            ("POST", "/runs/{runId}/cancel", self.cancel),
            ("POST", "/runs/{runId}/rerun", self.rerun),
            ("GET", "/runs/{runId}/files/{name:path}", self.download),
            ("GET", "/untrusted/runs/{runId}/notebook", self.notebook),
            ("GET", "/jobs", self.jobs_page),
            ("GET", "/jobs/{jobId}", self.job_page),
            ("GET", "/pipeline-runs", self.pipeline_runs_page),
            ("GET", "/pipeline-runs/rows", self.pipeline_runs_rows),
            ("GET", "/pipeline-runs/{runId}", self.pipeline_run_page),
            ("GET", "/schedules", self.schedules_page),
            ("GET", "/schedules/{scheduleId}", self.schedule_page),
            ("GET", "/api/runs", self.api_runs),
            ("GET", "/api/runs/{runId}", self.api_run),
            ("GET", "/api/pipeline-runs/{runId}", self.api_pipeline_run),
        ]
        routes: list[BaseRoute] = [
            Route(PREFIX + path, handler, methods=[method]) for method, path, handler in table
        ]
        routes.append(Mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static")))
        return routes

    # ----------------------------------------------------------------- helpers

    def _page(self, request: Request, name: str, section: str, **context: Any) -> Response:
        return self.templates.TemplateResponse(
            request,
            name,
            {"section": section, "csrf": self.auth.csrf_token, **context},
        )

    async def _on_service_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        if request.url.path.startswith(f"{PREFIX}/api/"):
            return JSONResponse(exc.to_body(), status_code=exc.status)
        return self.templates.TemplateResponse(
            request,
            "error.html",
            {"section": "", "status": exc.status, "code": exc.code, "message": exc.message},
            status_code=exc.status,
        )

    async def _checked_post(self, request: Request) -> None:
        """Refuse a post that is not from the console's own form (403)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise _Forbidden(f"the form is larger than {MAX_FORM_BYTES} bytes")
        form = parse_qs(body.decode("latin-1"), max_num_fields=10)
        candidate = (form.get(CSRF_FIELD) or [""])[0]
        if not self.auth.csrf_matches(candidate):
            raise _Forbidden("the form's CSRF token is missing or wrong: reload the page")

    def _run_filter(self, request: Request) -> RunFilter:
        params = request.query_params
        state = params.get("state", "")
        if state and state not in lifecycle.RUN_STATES:
            state = ""
        page = validation.small_integer(params.get("page", "1")) or 1
        return RunFilter(state, params.get("job", ""), params.get("q", "").strip(), page)

    # ----------------------------------------------------------------- pages

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/runs", status_code=303)

    def _runs_context(self, request: Request) -> dict[str, Any]:
        wanted = self._run_filter(request)
        page = self.sources.runs(wanted)
        names = self.sources.job_names()
        query = {"state": wanted.state, "job": wanted.job_id, "q": wanted.text}
        kept = {k: v for k, v in query.items() if v}

        def page_url(number: int) -> str:
            return f"{PREFIX}/runs?{urlencode({**kept, 'page': number})}"

        return {
            "runs": [run_summary(run, names) for run in page.runs],
            "page": page,
            "filter": wanted,
            "states": list(sources.states()),
            "jobs": sorted(names.items(), key=lambda item: item[1]),
            "rows_url": f"{PREFIX}/runs/rows?{urlencode({**kept, 'page': page.page})}",
            "previous_url": page_url(page.page - 1) if page.page > 1 else None,
            "next_url": page_url(page.page + 1) if page.page < page.pages else None,
        }

    async def runs_page(self, request: Request) -> Response:
        return self._page(request, "runs.html", "runs", **self._runs_context(request))

    async def runs_rows(self, request: Request) -> Response:
        return self.templates.TemplateResponse(
            request, "runs_rows.html", self._runs_context(request)
        )

    async def run_page(self, request: Request) -> Response:
        run = self.sources.run(request.path_params["runId"])
        job = self.sources.job(str(run.get("jobId", "")))
        outputs = await run_in_threadpool(self.sources.outputs, run)
        log, offset = self.sources.log_chunk(str(run["id"]), None)
        environment = sources.run_environment(job, run)
        summary = run_summary(run, self.sources.job_names())
        return self._page(
            request,
            "run.html",
            "runs",
            run=run,
            summary=summary,
            job=job,
            timeline=timeline(run),
            parameters=sources.parameters(environment),
            variables=sorted(
                (name, redacted_value(name, value))
                for name, value in (
                    (run.get("jobConfigurationOverrideDetails") or {}).get("environmentVariables")
                    or {}
                ).items()
                if name != PARAMETERS_ENV
            ),
            outputs=outputs,
            log=log,
            log_offset=offset,
            can_cancel=summary["state"] in ("ACCEPTED", "IN_PROGRESS", "NEEDS_ATTENTION"),
            can_rerun=job is not None and job.get("lifecycleState") == lifecycle.JOB_ACTIVE,
        )

    async def cancel(self, request: Request) -> Response:
        await self._checked_post(request)
        run_id = request.path_params["runId"]
        self.sources.cancel(run_id)
        return RedirectResponse(f"{PREFIX}/runs/{quote(run_id)}", status_code=303)

    async def rerun(self, request: Request) -> Response:
        await self._checked_post(request)
        new_id = self.sources.rerun(request.path_params["runId"])
        return RedirectResponse(f"{PREFIX}/runs/{quote(new_id)}", status_code=303)

    async def download(self, request: Request) -> Response:
        run = self.sources.run(request.path_params["runId"])
        name = request.path_params["name"]
        path = await run_in_threadpool(self.sources.output_file, run, name)
        return FileResponse(
            path,
            media_type="application/octet-stream",
            headers={
                "content-disposition": "attachment; filename*=UTF-8''"
                + quote(Path(name).name, safe=""),
                "content-security-policy": _untrusted_csp(request),
            },
        )

    async def notebook(self, request: Request) -> Response:
        run = self.sources.run(request.path_params["runId"])
        page = await run_in_threadpool(self.sources.notebook_page, run)
        if page is None:
            raise NotFoundError("The run left no executed notebook.")
        return HTMLResponse(page, headers={"content-security-policy": _untrusted_csp(request)})

    async def jobs_page(self, request: Request) -> Response:
        jobs = self.sources.jobs()
        rows = []
        for job in jobs:
            runs = self.sources.runs_of_job(str(job["id"]), limit=5)
            rows.append({"job": job, "runs": [run_summary(r, {}) for r in runs]})
        return self._page(request, "jobs.html", "jobs", rows=rows)

    async def job_page(self, request: Request) -> Response:
        job = self.sources.job(request.path_params["jobId"])
        if job is None:
            raise NotFoundError()
        config = job.get("jobConfigurationDetails") or {}
        variables = sorted(
            (name, redacted_value(name, value))
            for name, value in (config.get("environmentVariables") or {}).items()
        )
        runs = [run_summary(r, {}) for r in self.sources.runs_of_job(str(job["id"]))]
        definition = redacted_json(
            {
                key: job.get(key)
                for key in (
                    "jobInfrastructureConfigurationDetails",
                    "jobLogConfigurationDetails",
                    "freeformTags",
                    "definedTags",
                )
            }
        )
        return self._page(
            request,
            "job.html",
            "jobs",
            job=job,
            config=config,
            variables=variables,
            runs=runs,
            definition=definition,
        )

    def _pipeline_runs_context(self, request: Request) -> dict[str, Any]:
        wanted = validation.small_integer(request.query_params.get("page", "1")) or 1
        page = self.sources.pipeline_runs(wanted)
        names = self.sources.pipeline_names()

        def page_url(number: int) -> str:
            return f"{PREFIX}/pipeline-runs?{urlencode({'page': number})}"

        return {
            "runs": [pipeline_run_summary(run, names) for run in page.runs],
            "page": page,
            "rows_url": f"{PREFIX}/pipeline-runs/rows?{urlencode({'page': page.page})}",
            "previous_url": page_url(page.page - 1) if page.page > 1 else None,
            "next_url": page_url(page.page + 1) if page.page < page.pages else None,
        }

    async def pipeline_runs_page(self, request: Request) -> Response:
        context = self._pipeline_runs_context(request)
        return self._page(request, "pipeline_runs.html", "pipeline-runs", **context)

    async def pipeline_runs_rows(self, request: Request) -> Response:
        return self.templates.TemplateResponse(
            request, "pipeline_runs_rows.html", self._pipeline_runs_context(request)
        )

    def _pipeline_run_view(self, run_id: str) -> dict[str, Any]:
        run = self.sources.pipeline_run(run_id)
        pipeline = self.sources.pipeline(str(run.get("pipelineId", "")))
        names = {str(pipeline["id"]): str(pipeline.get("displayName", ""))} if pipeline else {}
        return {
            "run": run,
            "summary": pipeline_run_summary(run, names),
            "steps": step_views(run, pipeline),
        }

    async def pipeline_run_page(self, request: Request) -> Response:
        view = self._pipeline_run_view(request.path_params["runId"])
        return self._page(
            request,
            "pipeline_run.html",
            "pipeline-runs",
            **view,
            layers=dag_layers(view["steps"]),
        )

    async def schedules_page(self, request: Request) -> Response:
        rows = [
            schedule_summary(schedule, self.sources.made_by(str(schedule["id"]), limit=1))
            for schedule in self.sources.schedules()
        ]
        return self._page(request, "schedules.html", "schedules", schedules=rows)

    async def schedule_page(self, request: Request) -> Response:
        schedule = self.sources.schedule(request.path_params["scheduleId"])
        made = self.sources.made_by(str(schedule["id"]))
        return self._page(
            request,
            "schedule.html",
            "schedules",
            schedule=schedule,
            summary=schedule_summary(schedule, made),
            made=[made_summary(kind, run) for kind, run in made],
            definition=redacted_json(
                {
                    "trigger": schedule.get("trigger"),
                    "action": schedule.get("action"),
                    "logDetails": schedule.get("logDetails"),
                    "freeformTags": schedule.get("freeformTags"),
                }
            ),
        )

    # ----------------------------------------------------------------- live data

    async def api_pipeline_run(self, request: Request) -> Response:
        view = self._pipeline_run_view(request.path_params["runId"])
        return JSONResponse({**view["summary"], "steps": view["steps"]})

    async def api_runs(self, request: Request) -> Response:
        page = self.sources.runs(self._run_filter(request))
        names = self.sources.job_names()
        return JSONResponse(
            {
                "items": [run_summary(run, names) for run in page.runs],
                "page": page.page,
                "pages": page.pages,
                "total": page.total,
            }
        )

    async def api_run(self, request: Request) -> Response:
        run = self.sources.run(request.path_params["runId"])
        raw = request.query_params.get("logOffset")
        offset = validation.small_integer(raw) if raw is not None else None
        log, next_offset = self.sources.log_chunk(str(run["id"]), offset)
        return JSONResponse(
            {
                **run_summary(run, self.sources.job_names()),
                "timeline": timeline(run),
                "log": log,
                "logOffset": next_offset,
            }
        )


def _untrusted_csp(request: Request) -> str:
    """The untrusted content's CSP; framed only by the console's own pages (named by their
    origin: in a sandboxed document 'self' would be the opaque origin, matching nothing)."""
    return UNTRUSTED_CSP.format(origin=f"{request.url.scheme}://{request.url.netloc}")


class _Forbidden(ServiceError):
    status = 403
    code = "Forbidden"


class _Guard:
    """Token authentication, cross-site refusal and security headers for the console app."""

    def __init__(self, app: ASGIApp, auth: ConsoleAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        token = request.query_params.get(TOKEN_PARAMETER)
        if token is not None:
            response = self._log_in(request, token)
        elif not self.auth.authenticated(request):
            response = self._refusal(
                request, 403, "This console needs its token: open the URL `serve` printed."
            )
        elif request.method not in ("GET", "HEAD") and (
            reason := self.auth.cross_site_reason(request)
        ):
            response = self._refusal(request, 403, f"Cross-site request refused ({reason}).")
        else:
            await self.app(scope, receive, _with_headers(send))
            return
        await response(scope, receive, _with_headers(send))

    def _log_in(self, request: Request, token: str) -> Response:
        if not self.auth.token_matches(token):
            return self._refusal(request, 403, "The token is not this console's.")
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != TOKEN_PARAMETER]
        target = URL(path=request.url.path, query=urlencode(kept))
        response = RedirectResponse(str(target), status_code=303)
        response.set_cookie(
            self.auth.cookie_name,
            self.auth.cookie_value,
            path=PREFIX,
            httponly=True,
            samesite="strict",
        )
        return response

    @staticmethod
    def _refusal(request: Request, status: int, message: str) -> Response:
        if request.url.path.startswith(f"{PREFIX}/api/"):
            return JSONResponse({"code": "Forbidden", "message": message}, status_code=status)
        return PlainTextResponse(message, status_code=status)


def _with_headers(send: Send) -> Send:
    """Add the common headers, and the console's CSP unless the response set its own."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            for name, value in COMMON_HEADERS.items():
                if name.encode() not in present:
                    headers.append((name.encode(), value.encode()))
            if b"content-security-policy" not in present:
                headers.append((b"content-security-policy", CONSOLE_CSP.encode()))
            message = {**message, "headers": headers}
        await send(message)

    return sending
