"""The Data Science operations of the local service: projects, jobs, artifacts, job runs.

HTTP-free: `responses.py` turns requests into calls here and results into responses. Creates
honour `opc-retry-token` (same token and body within 24 h: the first result; a different
body: 409 InvalidatedRetryToken), checked and recorded in the same transaction as the
create itself.

Choices where OCI's behaviour is not documented precisely:
- a job or run naming a project (or a run naming a job) that does not exist is refused with
  400 RelatedResourceNotAuthorizedOrNotFound, OCI's code for a missing resource named in
  a request body;
- deleted resources stay readable (lifecycleState DELETED) and are left out of lists unless
  a lifecycleState filter asks for them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from notebook_launcher.localservice import lifecycle, validation
from notebook_launcher.localservice.datascience.shapes import FAST_LAUNCH_JOB_CONFIGS, JOB_SHAPES
from notebook_launcher.localservice.errors import (
    ConflictError,
    IncorrectStateError,
    InvalidParameterError,
    MissingParameterError,
    NoEtagMatchError,
    NotFoundError,
    RelatedResourceNotFoundError,
)
from notebook_launcher.localservice.ids import (
    JOB,
    JOB_RUN,
    PROJECT,
    WORK_REQUEST,
    is_ocid,
    new_ocid,
    now_text,
    utc_now,
)
from notebook_launcher.localservice.layout import artifact_file
from notebook_launcher.localservice.store import (
    JOB_RUNS,
    JOBS,
    PROJECTS,
    WORK_REQUESTS,
    ArtifactInfo,
    Document,
    Kind,
    Page,
    Record,
    Store,
    Transaction,
)

logger = logging.getLogger(__name__)

DEFAULT_PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
SORT_FIELDS = ("timeCreated", "displayName")
SORT_ORDERS = ("ASC", "DESC")

_SUMMARY_FIELDS = {
    "projects": (
        "id",
        "timeCreated",
        "displayName",
        "description",
        "compartmentId",
        "createdBy",
        "lifecycleState",
        "freeformTags",
        "definedTags",
        "systemTags",
    ),
    "jobs": (
        "id",
        "timeCreated",
        "createdBy",
        "projectId",
        "compartmentId",
        "displayName",
        "lifecycleState",
        "freeformTags",
        "definedTags",
    ),
    "schedules": (
        "id",
        "displayName",
        "compartmentId",
        "projectId",
        "trigger",
        "timeCreated",
        "timeUpdated",
        "createdBy",
        "lifecycleState",
        "freeformTags",
        "definedTags",
        "systemTags",
    ),
    "job_runs": (
        "id",
        "timeAccepted",
        "timeStarted",
        "timeFinished",
        "createdBy",
        "projectId",
        "compartmentId",
        "jobId",
        "displayName",
        "lifecycleState",
        "lifecycleDetails",
        "freeformTags",
        "definedTags",
    ),
}
_FILENAME_RE = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


class RunLogs(Protocol):
    """What job runs need from the Logging service: a log for a run that logs."""

    def attach_run(
        self, run_id: str, compartment: str, group_id: str, log_id: str | None, run_name: str
    ) -> dict[str, str]: ...


class RunScheduler(Protocol):
    """What the operations need from the executor."""

    def submit(self, run_id: str) -> None: ...

    def cancel(self, run_id: str) -> None: ...


@dataclass(frozen=True)
class JobRunRequest:
    """A checked CreateJobRunDetails: the body, its digest, and what inserts the run."""

    details: Document
    request_hash: str
    build: Callable[[Transaction], Document]


@dataclass(frozen=True)
class ListResult:
    """A page of summaries and the `opc-next-page` token, None on the last page."""

    items: list[Document]
    next_page: str | None


def body_hash(*parts: bytes | str | Mapping[str, Any]) -> str:
    """A stable digest of a request (path ids and body) for retry-token comparison."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Mapping):
            part = json.dumps(part, sort_keys=True, separators=(",", ":"))
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest.hexdigest()


def summary(kind: Kind, doc: Document) -> Document:
    return {field: doc[field] for field in _SUMMARY_FIELDS[kind.table] if field in doc}


def _check_etag(record: Record, if_match: str | None) -> None:
    if if_match is not None and if_match not in ("*", record.etag):
        raise NoEtagMatchError("The if-match etag does not match the resource's current etag.")


def _fixed_page(items: Sequence[Document], query: Mapping[str, str]) -> ListResult:
    """A page of a fixed list (shapes, fast launch configurations) in a compartment."""
    if not query.get("compartmentId"):
        raise MissingParameterError("Missing parameter: compartmentId.")
    limit = int_query(query, "limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
    start = 0
    if query.get("page"):
        start = validation.small_integer(query["page"]) or -1
        if not 0 < start < len(items):
            raise InvalidParameterError("page is not a valid page token.")
    more = start + limit < len(items)
    return ListResult(list(items[start : start + limit]), str(start + limit) if more else None)


def _default_name(prefix: str) -> str:
    return f"{prefix}{utc_now().strftime('%Y%m%d%H%M%S')}"


def create_in(
    tx: Transaction,
    operation: str,
    kind: Kind,
    retry_token: str | None,
    request_hash: str,
    build: Callable[[Transaction], Document],
) -> tuple[Record, bool]:
    """Inside `tx`: replay a live retry token's resource, or insert what `build` makes."""
    if retry_token:
        previous = tx.check_retry_token(operation, retry_token, request_hash)
        if previous is not None:
            record = tx.get(kind, previous)
            if record is not None:
                return record, False
    record = tx.insert(kind, build(tx))
    if retry_token:
        tx.save_retry_token(operation, retry_token, request_hash, record.id)
    return record, True


def create_record(
    store: Store,
    operation: str,
    kind: Kind,
    retry_token: str | None,
    request_hash: str,
    build: Callable[[Transaction], Document],
) -> tuple[Record, bool]:
    """A Create* of any Data Science kind (pipelines/ create through it): insert what `build`
    makes, or replay a retry; (record, created)."""
    with store.transaction() as tx:
        record, created = create_in(tx, operation, kind, retry_token, request_hash, build)
    if created:
        logger.info("%s created %s", operation, record.id)
    return record, created


def get_record(store: Store, kind: Kind, resource_id: str, *resource_types: str) -> Record:
    """A Get* of any Data Science kind: the record, or 404 for a malformed or unknown id."""
    if not is_ocid(resource_id, *resource_types):
        raise NotFoundError()
    record = store.get(kind, resource_id)
    if record is None:
        raise NotFoundError()
    return record


class DataScience:
    """Projects, jobs, job artifacts and job runs kept in a `Store`."""

    def __init__(
        self,
        store: Store,
        artifacts_dir: Path,
        scheduler: RunScheduler,
        logs: RunLogs | None = None,
    ) -> None:
        self._store = store
        self._logs = logs
        self._artifacts_dir = artifacts_dir
        self._scheduler = scheduler
        artifacts_dir.mkdir(parents=True, exist_ok=True)

    # ----------------------------------------------------------------- shared helpers

    def _create(
        self,
        operation: str,
        kind: Kind,
        retry_token: str | None,
        request_hash: str,
        build: Callable[[Transaction], Document],
    ) -> tuple[Record, bool]:
        """Insert what `build` makes, or replay a retry; (record, created)."""
        return create_record(self._store, operation, kind, retry_token, request_hash, build)

    def _get(self, kind: Kind, resource_id: str, *resource_types: str) -> Record:
        return get_record(self._store, kind, resource_id, *resource_types)

    def _list(
        self,
        kind: Kind,
        query: Mapping[str, str],
        filter_fields: tuple[str, ...],
        states: tuple[str, ...],
        deleted_state: str,
    ) -> ListResult:
        compartment = query.get("compartmentId")
        if not compartment:
            raise MissingParameterError("Missing parameter: compartmentId.")
        filters = {"compartmentId": compartment}
        for field in filter_fields:
            value = query.get(field)
            if value:
                filters[field] = value
        validation.choice(filters.get("lifecycleState"), "lifecycleState", states)
        sort_by = validation.choice(query.get("sortBy"), "sortBy", SORT_FIELDS) or "timeCreated"
        sort_order = validation.choice(query.get("sortOrder"), "sortOrder", SORT_ORDERS)
        if sort_order is None:
            sort_order = "DESC" if sort_by == "timeCreated" else "ASC"
        limit = int_query(query, "limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
        order = f"{sort_by} {sort_order}"
        after = page_key(query.get("page"), order)
        with self._store.transaction() as tx:
            page: Page = tx.query(
                kind,
                filters,
                sort_by=sort_by,
                descending=sort_order == "DESC",
                offset=0,
                limit=limit,
                exclude_states=(deleted_state,),
                after=after,
            )
        return ListResult(
            [summary(kind, r.doc) for r in page.records],
            None if page.next_after is None else page_token(page.next_after, order),
        )

    def list_records(
        self,
        kind: Kind,
        query: Mapping[str, str],
        filter_fields: tuple[str, ...],
        states: tuple[str, ...],
        deleted_state: str,
    ) -> ListResult:
        """A List* of any Data Science kind (schedules/ lists through it): OCI's filters,
        sorting and paging, summaries out."""
        return self._list(kind, query, filter_fields, states, deleted_state)

    def require_project(self, tx: Transaction, project_id: str) -> Record:
        """The ACTIVE project a request body names, else 400 RelatedResource..."""
        return self._require_project(tx, project_id)

    # ----------------------------------------------------------------- projects

    def create_project(
        self, body: object, principal_id: str, retry_token: str | None
    ) -> tuple[Record, bool]:
        details = validation.as_object(body)
        compartment = validation.compartment(details)
        name = validation.string(details, "displayName") or _default_name("project")
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        freeform, defined = validation.tags(details)

        def build(_: Transaction) -> Document:
            doc: Document = {
                "id": new_ocid(PROJECT),
                "timeCreated": now_text(),
                "displayName": name,
                "compartmentId": compartment,
                "createdBy": principal_id,
                "lifecycleState": lifecycle.PROJECT_ACTIVE,
                "freeformTags": freeform,
                "definedTags": defined,
                "systemTags": {},
            }
            if description is not None:
                doc["description"] = description
            return doc

        return self._create("CreateProject", PROJECTS, retry_token, body_hash(details), build)

    def get_project(self, project_id: str) -> Record:
        return self._get(PROJECTS, project_id, PROJECT)

    def list_projects(self, query: Mapping[str, str]) -> ListResult:
        return self._list(
            PROJECTS,
            query,
            ("id", "displayName", "lifecycleState", "createdBy"),
            lifecycle.PROJECT_STATES,
            "DELETED",
        )

    def update_project(self, project_id: str, body: object, if_match: str | None) -> Record:
        self.get_project(project_id)
        details = validation.as_object(body)
        changes = _common_changes(details, description=True)
        with self._store.transaction() as tx:
            record = tx.get(PROJECTS, project_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state != lifecycle.PROJECT_ACTIVE:
                raise IncorrectStateError(
                    f"The project is {record.state}; only an ACTIVE project can be updated."
                )
            return tx.replace(PROJECTS, {**record.doc, **changes})

    def delete_project(self, project_id: str, if_match: str | None) -> str:
        """Delete a project that holds no job (any longer); the work request id.

        A project still holding jobs is refused with 409 Conflict (not IncorrectState,
        which the SDK's default retry strategy would retry for ten minutes)."""
        self.get_project(project_id)
        with self._store.transaction() as tx:
            record = tx.get(PROJECTS, project_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state != lifecycle.PROJECT_ACTIVE:
                raise IncorrectStateError(f"The project is already {record.state}.")
            jobs = tx.query(
                JOBS,
                {"projectId": project_id},
                sort_by="timeCreated",
                descending=False,
                offset=0,
                limit=1,
                exclude_states=(lifecycle.JOB_DELETED,),
            ).records
            if jobs:
                raise ConflictError("The project still holds jobs; delete them before the project.")
            tx.replace(PROJECTS, {**record.doc, "lifecycleState": "DELETED"})
            return finished_work_request(
                tx, "PROJECT_DELETE", str(record.doc["compartmentId"]), "project", project_id
            )

    def _require_project(self, tx: Transaction, project_id: str) -> Record:
        project = tx.get(PROJECTS, project_id)
        if project is None or project.state != lifecycle.PROJECT_ACTIVE:
            raise RelatedResourceNotFoundError(
                f"projectId {project_id} does not exist or is not authorized."
            )
        return project

    # ----------------------------------------------------------------- jobs

    def create_job(
        self, body: object, principal_id: str, retry_token: str | None
    ) -> tuple[Record, bool]:
        details = validation.as_object(body)
        _refuse_unsupported(
            details,
            "jobEnvironmentConfigurationDetails",
            "jobStorageMountConfigurationDetailsList",
            "jobNodeConfigurationDetails",
        )
        project_id = validation.ocid(details, "projectId", PROJECT)
        compartment = validation.compartment(details)
        name = validation.string(details, "displayName") or _default_name("job")
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        configuration = validation.job_configuration(
            validation.required(details, "jobConfigurationDetails"), "jobConfigurationDetails"
        )
        infrastructure = validation.infrastructure(
            validation.required(details, "jobInfrastructureConfigurationDetails"),
            "jobInfrastructureConfigurationDetails",
        )
        log_config = (
            validation.log_configuration(
                details["jobLogConfigurationDetails"], "jobLogConfigurationDetails"
            )
            if details.get("jobLogConfigurationDetails") is not None
            else None
        )
        freeform, defined = validation.tags(details)
        assert project_id is not None  # required above

        def build(tx: Transaction) -> Document:
            self._require_project(tx, project_id)
            doc: Document = {
                "id": new_ocid(JOB),
                "timeCreated": now_text(),
                "createdBy": principal_id,
                "projectId": project_id,
                "compartmentId": compartment,
                "displayName": name,
                "jobConfigurationDetails": configuration,
                "jobInfrastructureConfigurationDetails": infrastructure,
                "lifecycleState": lifecycle.JOB_CREATING,
                "freeformTags": freeform,
                "definedTags": defined,
            }
            if description is not None:
                doc["description"] = description
            if log_config is not None:
                doc["jobLogConfigurationDetails"] = log_config
            return doc

        return self._create("CreateJob", JOBS, retry_token, body_hash(details), build)

    def get_job(self, job_id: str) -> Record:
        return self._get(JOBS, job_id, JOB)

    def list_jobs(self, query: Mapping[str, str]) -> ListResult:
        return self._list(
            JOBS,
            query,
            ("projectId", "id", "displayName", "lifecycleState", "createdBy"),
            lifecycle.JOB_STATES,
            lifecycle.JOB_DELETED,
        )

    def update_job(self, job_id: str, body: object, if_match: str | None) -> Record:
        self.get_job(job_id)
        details = validation.as_object(body)
        changes: Document = {}
        if (name := validation.string(details, "displayName")) is not None:
            changes["displayName"] = name
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        if description is not None:
            changes["description"] = description
        if details.get("freeformTags") is not None or details.get("definedTags") is not None:
            freeform, defined = validation.tags(details)
            if details.get("freeformTags") is not None:
                changes["freeformTags"] = freeform
            if details.get("definedTags") is not None:
                changes["definedTags"] = defined
        if details.get("jobInfrastructureConfigurationDetails") is not None:
            changes["jobInfrastructureConfigurationDetails"] = validation.infrastructure(
                details["jobInfrastructureConfigurationDetails"],
                "jobInfrastructureConfigurationDetails",
            )
        with self._store.transaction() as tx:
            record = tx.get(JOBS, job_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state not in (lifecycle.JOB_CREATING, lifecycle.JOB_ACTIVE):
                raise IncorrectStateError(
                    f"The job is {record.state}; only a CREATING or ACTIVE job can be updated."
                )
            return tx.replace(JOBS, {**record.doc, **changes})

    def delete_job(self, job_id: str, delete_related_runs: bool, if_match: str | None) -> str:
        """Delete a job (and, if asked, its runs); the work request id."""
        self.get_job(job_id)
        with self._store.transaction() as tx:
            record = tx.get(JOBS, job_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state in (lifecycle.JOB_DELETING, lifecycle.JOB_DELETED):
                raise IncorrectStateError(f"The job is already {record.state}.")
            runs = tx.query(
                JOB_RUNS,
                {"jobId": job_id},
                sort_by="timeCreated",
                descending=False,
                offset=0,
                limit=1_000_000,
                exclude_states=(lifecycle.DELETED,),
            ).records
            active = [r.id for r in runs if r.state in lifecycle.UNFINISHED_RUN_STATES]
            if active:
                raise ConflictError(
                    f"The job has {len(active)} unfinished job run(s); cancel them first."
                )
            if runs and not delete_related_runs:
                raise ConflictError(
                    "The job has job runs; delete them first or set deleteRelatedJobRuns=true."
                )
            for run in runs:
                tx.replace(JOB_RUNS, {**run.doc, "lifecycleState": lifecycle.DELETED})
            tx.replace(JOBS, {**record.doc, "lifecycleState": lifecycle.JOB_DELETED})
            work_request = finished_work_request(
                tx, "JOB_DELETE", str(record.doc["compartmentId"]), "job", job_id
            )
        logger.info("job %s deleted with %d run(s)", job_id, len(runs))
        return work_request

    # ----------------------------------------------------------------- artifacts

    def artifact_path(self, job_id: str) -> Path:
        return artifact_file(self._artifacts_dir, job_id)

    def create_job_artifact(
        self,
        job_id: str,
        content: bytes | Path,
        content_disposition: str | None,
        retry_token: str | None,
    ) -> None:
        """Store a job's artifact: its bytes, or a file holding them (an upload the HTTP
        layer streamed to disk, which this takes over: moved into place or removed)."""
        # Put the bytes in place first (under a name of their own), then commit the record:
        # a crash in between leaves an orphan file, never a record without its file.
        staged = self._artifacts_dir / f".{job_id}.{uuid.uuid4().hex}.tmp"
        try:
            if isinstance(content, Path):
                shutil.move(content, staged)
            else:
                staged.write_bytes(content)
            self._commit_artifact(job_id, staged, content_disposition, retry_token)
        finally:
            staged.unlink(missing_ok=True)

    def _commit_artifact(
        self,
        job_id: str,
        staged: Path,
        content_disposition: str | None,
        retry_token: str | None,
    ) -> None:
        self.get_job(job_id)
        size, md5_base64, sha256_hex = _file_digests(staged)
        if not size:
            raise MissingParameterError("Missing parameter: jobArtifact (the request body).")
        file_name = _file_name(content_disposition)
        request_hash = body_hash(job_id, file_name, sha256_hex)
        with self._store.transaction() as tx:
            if retry_token:
                previous = tx.check_retry_token("CreateJobArtifact", retry_token, request_hash)
                if previous is not None:
                    return
            record = tx.get(JOBS, job_id)
            if record is None:
                raise NotFoundError()
            if tx.get_artifact(job_id) is not None:
                raise ConflictError("The job already has an artifact; it cannot be replaced.")
            if record.state != lifecycle.JOB_CREATING:
                raise IncorrectStateError(
                    f"The job is {record.state}; an artifact can be uploaded only while the"
                    " job is CREATING."
                )
            os.replace(staged, self.artifact_path(job_id))
            tx.save_artifact(
                ArtifactInfo(
                    job_id=job_id,
                    file_name=file_name,
                    size=size,
                    md5_base64=md5_base64,
                    sha256_hex=sha256_hex,
                    time_created=now_text(),
                )
            )
            tx.replace(JOBS, {**record.doc, "lifecycleState": lifecycle.JOB_ACTIVE})
            if retry_token:
                tx.save_retry_token("CreateJobArtifact", retry_token, request_hash, job_id)
        logger.info("job %s artifact stored (%d bytes); job ACTIVE", job_id, size)

    def artifact(self, job_id: str) -> ArtifactInfo:
        self.get_job(job_id)
        with self._store.transaction() as tx:
            info = tx.get_artifact(job_id)
        if info is None:
            raise NotFoundError()
        return info

    # ----------------------------------------------------------------- job runs

    def create_job_run(
        self, body: object, principal_id: str, retry_token: str | None
    ) -> tuple[Record, bool]:
        request = self.job_run_request(body, principal_id)
        record, created = self._create(
            "CreateJobRun", JOB_RUNS, retry_token, request.request_hash, request.build
        )
        if created:
            self._scheduler.submit(record.id)
        return record, created

    def create_job_run_in(
        self, tx: Transaction, request: JobRunRequest, retry_token: str | None
    ) -> tuple[Record, bool]:
        """CreateJobRun inside the caller's transaction (a schedule commits the run it makes
        with its own bookkeeping); the caller calls `submit_job_run` once committed."""
        return create_in(
            tx, "CreateJobRun", JOB_RUNS, retry_token, request.request_hash, request.build
        )

    def submit_job_run(self, run_id: str) -> None:
        self._scheduler.submit(run_id)

    def job_run_request(self, body: object, principal_id: str) -> JobRunRequest:
        """A CreateJobRunDetails body checked (400s name the field), ready to insert."""
        details = validation.as_object(body)
        project_id = validation.ocid(details, "projectId", PROJECT)
        compartment = validation.compartment(details)
        job_id = validation.ocid(details, "jobId", JOB)
        name = validation.string(details, "displayName") or _default_name("jobrun")
        override = (
            validation.job_configuration(
                details["jobConfigurationOverrideDetails"], "jobConfigurationOverrideDetails"
            )
            if details.get("jobConfigurationOverrideDetails") is not None
            else None
        )
        log_override = (
            validation.log_configuration(
                details["jobLogConfigurationOverrideDetails"],
                "jobLogConfigurationOverrideDetails",
            )
            if details.get("jobLogConfigurationOverrideDetails") is not None
            else None
        )
        _refuse_unsupported(
            details,
            "jobInfrastructureConfigurationOverrideDetails",
            "jobEnvironmentConfigurationOverrideDetails",
            "jobNodeConfigurationOverrideDetails",
        )
        freeform, defined = validation.tags(details)
        assert project_id is not None and job_id is not None  # required above

        def build(tx: Transaction) -> Document:
            self._require_project(tx, project_id)
            job = tx.get(JOBS, job_id)
            if job is None or job.state == lifecycle.JOB_DELETED:
                raise RelatedResourceNotFoundError(
                    f"jobId {job_id} does not exist or is not authorized."
                )
            if job.state != lifecycle.JOB_ACTIVE:
                raise IncorrectStateError(
                    f"The job is {job.state}; a job run can be created only for an ACTIVE job."
                )
            run_id = new_ocid(JOB_RUN)
            doc: Document = {
                "id": run_id,
                "timeAccepted": now_text(),
                "createdBy": principal_id,
                "projectId": project_id,
                "compartmentId": compartment,
                "jobId": job_id,
                "displayName": name,
                "jobInfrastructureConfigurationDetails": job.doc[
                    "jobInfrastructureConfigurationDetails"
                ],
                "lifecycleState": lifecycle.ACCEPTED,
                "freeformTags": freeform,
                "definedTags": defined,
            }
            if override is not None:
                doc["jobConfigurationOverrideDetails"] = override
            if log_override is not None:
                doc["jobLogConfigurationOverrideDetails"] = log_override
            log_details = self.run_log_details(
                run_id, compartment, name, job.doc.get("jobLogConfigurationDetails"), log_override
            )
            if log_details is not None:
                doc["logDetails"] = log_details
            return doc

        return JobRunRequest(details, body_hash(details), build)

    def run_log_details(
        self,
        run_id: str,
        compartment: str,
        run_name: str,
        job_config: object,
        override: Document | None,
    ) -> Document | None:
        """The run's logDetails as OCI sets them: with logging enabled and a log group, the
        log named, or with enableAutoLogCreation a log made for this run in the group."""
        config: Document = dict(job_config) if isinstance(job_config, dict) else {}
        if override:
            config.update(override)
        group, log = config.get("logGroupId"), config.get("logId")
        if not config.get("enableLogging") or not group:
            return None
        if not log and not config.get("enableAutoLogCreation"):
            raise InvalidParameterError(
                "jobLogConfigurationDetails names a log group but no logId, and"
                " enableAutoLogCreation is false: there is no log to write to."
            )
        if self._logs is None:
            return {"logGroupId": group, "logId": log} if log else None
        return self._logs.attach_run(run_id, compartment, str(group), log or None, run_name)

    def get_job_run(self, run_id: str) -> Record:
        return self._get(JOB_RUNS, run_id, JOB_RUN)

    def list_job_runs(self, query: Mapping[str, str]) -> ListResult:
        return self._list(
            JOB_RUNS,
            query,
            ("id", "jobId", "displayName", "lifecycleState", "createdBy"),
            lifecycle.RUN_STATES,
            lifecycle.DELETED,
        )

    def update_job_run(self, run_id: str, body: object, if_match: str | None) -> Record:
        """UpdateJobRun: displayName and tags (UpdateJobRunDetails), in any state but DELETED."""
        self.get_job_run(run_id)
        details = validation.as_object(body)
        changes = _common_changes(details, description=False)
        with self._store.transaction() as tx:
            record = tx.get(JOB_RUNS, run_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state == lifecycle.DELETED:
                raise IncorrectStateError("The job run is DELETED; it cannot be updated.")
            return tx.replace(JOB_RUNS, {**record.doc, **changes})

    # ----------------------------------------------------------------- job shapes

    def list_job_shapes(self, query: Mapping[str, str]) -> ListResult:
        return _fixed_page([shape.summary() for shape in JOB_SHAPES], query)

    def list_fast_launch_job_configs(self, query: Mapping[str, str]) -> ListResult:
        return _fixed_page(list(FAST_LAUNCH_JOB_CONFIGS), query)

    # ----------------------------------------------------------------- work requests

    def get_work_request(self, request_id: str) -> Record:
        return self._get(WORK_REQUESTS, request_id, WORK_REQUEST)

    def list_work_requests(self, query: Mapping[str, str]) -> ListResult:
        compartment = query.get("compartmentId")
        if not compartment:
            raise MissingParameterError("Missing parameter: compartmentId.")
        limit = int_query(query, "limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
        with self._store.transaction() as tx:
            records = tx.query(
                WORK_REQUESTS,
                {"compartmentId": compartment, **({"id": query["id"]} if query.get("id") else {})},
                sort_by="timeCreated",
                descending=query.get("sortOrder", "DESC") != "ASC",
                offset=0,
                limit=100_000,
            ).records
        docs = [
            r.doc
            for r in records
            if query.get("operationType") in (None, "", r.doc["operationType"])
            and query.get("status") in (None, "", r.doc["status"])
            and (
                not query.get("resourceId")
                or any(x["identifier"] == query["resourceId"] for x in r.doc["resources"])
            )
        ]
        start = 0
        if query.get("page"):
            start = validation.small_integer(query["page"]) or -1
            if not 0 < start < len(docs):
                raise InvalidParameterError("page is not a valid page token.")
        more = start + limit < len(docs)
        return ListResult(docs[start : start + limit], str(start + limit) if more else None)

    def work_request_logs(self, request_id: str) -> list[Document]:
        doc = self.get_work_request(request_id).doc
        resource = doc["resources"][0]
        return [
            {
                "message": f"{doc['operationType']} of {resource['identifier']} succeeded.",
                "timestamp": doc["timeFinished"],
            }
        ]

    def work_request_errors(self, request_id: str) -> list[Document]:
        self.get_work_request(request_id)
        return []  # local work requests finish when they are made, and never fail

    def cancel_job_run(self, run_id: str, if_match: str | None) -> None:
        self.get_job_run(run_id)
        with self._store.transaction() as tx:
            record = tx.get(JOB_RUNS, run_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state == lifecycle.ACCEPTED:
                # Still waiting for a slot, never started: canceled at once.
                target, details = lifecycle.CANCELED, lifecycle.CANCELED_DETAILS
            elif record.state in lifecycle.CANCELABLE_RUN_STATES:
                # The executor stops the process tree, then moves it to CANCELED.
                target, details = lifecycle.CANCELING, None
            else:
                raise IncorrectStateError(
                    f"The job run is {record.state}; only an ACCEPTED or IN_PROGRESS job run"
                    " can be canceled."
                )
            lifecycle.transition_in(
                tx,
                run_id,
                (record.state,),
                target,
                details=details,
                finished=target == lifecycle.CANCELED,
            )
        self._scheduler.cancel(run_id)

    def delete_job_run(self, run_id: str, if_match: str | None) -> None:
        self.get_job_run(run_id)
        with self._store.transaction() as tx:
            record = tx.get(JOB_RUNS, run_id)
            if record is None:
                raise NotFoundError()
            _check_etag(record, if_match)
            if record.state not in lifecycle.FINISHED_RUN_STATES:
                raise IncorrectStateError(
                    f"The job run is {record.state}; only a finished job run can be deleted."
                )
            tx.replace(JOB_RUNS, {**record.doc, "lifecycleState": lifecycle.DELETED})


def _common_changes(details: Mapping[str, Any], *, description: bool) -> Document:
    """The displayName, description (when the resource has one) and tags an Update sets."""
    changes: Document = {}
    if (name := validation.string(details, "displayName")) is not None:
        changes["displayName"] = name
    if description:
        text = validation.string(details, "description", max_length=validation.MAX_DESCRIPTION)
        if text is not None:
            changes["description"] = text
    if details.get("freeformTags") is not None or details.get("definedTags") is not None:
        freeform, defined = validation.tags(details)
        if details.get("freeformTags") is not None:
            changes["freeformTags"] = freeform
        if details.get("definedTags") is not None:
            changes["definedTags"] = defined
    return changes


def finished_work_request(
    tx: Transaction,
    operation: str,
    compartment: str,
    entity: str,
    resource_id: str,
    action: str = "DELETED",
) -> str:
    """A work request for an operation the local service finished at once: SUCCEEDED, 100 %,
    the resource `action` (CREATED, UPDATED, DELETED...: what `*_and_wait_for_state`,
    `--wait-for-state` and ADS's waiters poll). `entity` is OCI's entity type (`job`,
    `pipeline`, `schedule`...), `operation` its WorkRequest operationType."""
    now = now_text()
    doc: Document = {
        "id": new_ocid(WORK_REQUEST),
        "operationType": operation,
        "status": "SUCCEEDED",
        "compartmentId": compartment,
        "percentComplete": 100.0,
        "resources": [
            {
                "entityType": entity,
                "actionType": action,
                "identifier": resource_id,
                "entityUri": f"/{entity}s/{resource_id}",
            }
        ],
        "timeAccepted": now,
        "timeStarted": now,
        "timeFinished": now,
    }
    tx.insert(WORK_REQUESTS, doc)
    return str(doc["id"])


def _refuse_unsupported(details: Mapping[str, Any], *fields: str) -> None:
    """400 for configuration the local service cannot honour (containers, storage mounts,
    multi-node), rather than silently running without it. An empty list asks for nothing."""
    for field in fields:
        if details.get(field) not in (None, []):
            raise InvalidParameterError(f"{field} is not supported by the local service.")


def _file_digests(path: Path) -> tuple[int, str, str]:
    """Size, base64 MD5 and hex SHA-256 of a file, read in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1024 * 1024):
            size += len(chunk)
            md5.update(chunk)
            sha256.update(chunk)
    return size, base64.b64encode(md5.digest()).decode(), sha256.hexdigest()


def _file_name(content_disposition: str | None) -> str:
    if content_disposition:
        match = _FILENAME_RE.search(content_disposition)
        if match:
            return os.path.basename(match.group(1).strip())
    return "artifact.zip"


def int_query(query: Mapping[str, str], name: str, default: int, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    number = validation.small_integer(raw)
    if number is None or not minimum <= number <= maximum:
        raise InvalidParameterError(f"{name} must be an integer between {minimum} and {maximum}.")
    return number


def page_token(key: tuple[str, int], order: str) -> str:
    """A keyset page token: the sort value and seq of the page's last record, and the order
    it is valid for (a token is refused with another sortBy or sortOrder)."""
    text = json.dumps({"order": order, "value": key[0], "seq": key[1]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def page_key(token: str | None, order: str) -> tuple[str, int] | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        decoded = json.loads(text)
    except ValueError:
        raise InvalidParameterError("page is not a valid page token.") from None
    if (
        not isinstance(decoded, dict)
        or not isinstance(decoded.get("value"), str)
        or type(decoded.get("seq")) is not int
    ):
        raise InvalidParameterError("page is not a valid page token.")
    if decoded.get("order") != order:
        raise InvalidParameterError(
            "page was issued for another sortBy or sortOrder; list again from the first page."
        )
    return decoded["value"], decoded["seq"]
