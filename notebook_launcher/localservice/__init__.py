"""A local stand-in for OCI Data Science, Object Storage and Logging, as runs and their
operators use them.

`python -m notebook_launcher serve` (cli.py, server.py) runs it; `EmbeddedService`
(embedded.py) is its testing helper. Who calls whom:

    server.serve ─ builds ─► layout.DataDir, store.Store, executor.Executor, identity/
        │
        ▼
    app.create_app          the composition: middlewares, then each service's table
        │
        ├─ middleware.py    RequestIdMiddleware, SignatureMiddleware (identity/signatures,
        │                   body caps) — every request, every path
        ├─ datascience/     urls.py ─► responses.py ─► models.py ─► store, lifecycle, validation
        │                                                 └─► executor (runs job runs)
        ├─ objectstorage/   urls.py ─► responses.py ─► models.py (objects as files, their
        │                   attributes, buckets and multipart uploads in objectstorage.db)
        ├─ logging/         urls.py ─► responses.py ─► models.py (log groups, logs, SearchLogs
        │                   over the runs' output); datascience gives runs their logs through it
        ├─ pipelines/       urls.py ─► responses.py ─► models.py; orchestrator.py runs each
        │                   step as a job run through datascience (woken by the executor)
        └─ developer_api.py /_local: run logs, call stats, faults (not OCI operations)

    identity/  provisioning (the service's tenancy, user, API key, OCI config),
               session_tokens (resource-principal sessions for functions and runs),
               signatures (checking a request's OCI signature)
    rest.py    what services share: Operation, ServiceSpec, ServiceContext, request readers,
               OCI-style responses
    layout.py  the data dir's files and folders, named once

The contract for a service (moto's layout: one folder per service, split by role):

    localservice/<service>/
        __init__.py    what the service is
        models.py      the backend: state and rules, no HTTP; raises `errors.ServiceError`s
        responses.py   `async def handler(backend, request) -> Response`: reads the request,
                       makes one backend call, answers in OCI's dialect (`rest`)
        urls.py        OPERATIONS, the one table of its operations, each declared once as
                       `Operation(name, method, path, handler)` (the name is what stats and
                       faults call it); and SERVICE = ServiceSpec(name, OPERATIONS, build),
                       where `build(ServiceContext)` makes the backend

and one line in `app.SERVICES`. Nothing else changes to add one (pipelines, schedules, logging
search): routing, call counting and fault injection follow from the table.
"""
