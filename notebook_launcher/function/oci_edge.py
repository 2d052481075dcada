"""The cloud edge: auth, the oci SDK clients, and translation of their errors.

Auth is chosen here and only here: resource principal when OCI Functions set
`OCI_RESOURCE_PRINCIPAL_VERSION`, otherwise an OCI config file (such as the one the local
service writes). Endpoints are the region's unless configured (`OCI_ODSC_SERVICE_ENDPOINT`,
ADS's own name, and `NL_OBJECTSTORAGE_ENDPOINT`). Only `oci` is imported: the reuse path
never loads ADS. Every call carries a `DeadlineRetryStrategy`, and every oci error leaves
this module as a `LauncherError`. `OciEdge` implements the Data Science port
(`function.datascience_port`): SDK models are turned into the port's records here, and
nowhere else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from notebook_launcher.function.datascience_port import Job, JobPage, JobQuery, JobRun, NewJobRun
from notebook_launcher.function.deadline import Deadline, DeadlineExceeded, DeadlineRetryStrategy
from notebook_launcher.function.errors import (
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    LauncherError,
    NotebookFetchError,
    NotFoundError,
    RetryTokenInvalidatedError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UpstreamError,
)
from notebook_launcher.function.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class Auth:
    """What the oci SDK clients are built with."""

    config: dict[str, Any]
    signer: Any | None
    kind: str  # "resource_principal" or "api_key"

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"config": self.config}
        if self.signer is not None:
            kwargs["signer"] = self.signer
        return kwargs


def load_auth(settings: Settings, environ: Mapping[str, str] | None = None) -> Auth:
    """Resource principal inside OCI Functions; otherwise the configured OCI config file."""
    env = os.environ if environ is None else environ
    import oci  # the SDK loads its service modules lazily; this is cheap

    try:
        if env.get("OCI_RESOURCE_PRINCIPAL_VERSION"):
            signer = oci.auth.signers.get_resource_principals_signer()
            return Auth(config={"region": signer.region}, signer=signer, kind="resource_principal")
        location = settings.oci_config_file or oci.config.DEFAULT_LOCATION
        config = oci.config.from_file(location, settings.oci_profile)
        # One signer, so the key file is read once, not again by every client ADS builds.
        signer = oci.signer.Signer.from_config(config)
        return Auth(config=config, signer=signer, kind="api_key")
    except Exception as exc:  # noqa: BLE001 - any auth set-up failure is a configuration error
        raise ConfigurationError(
            f"The function cannot authenticate to OCI ({type(exc).__name__}): set up a resource "
            "principal (OCI Functions) or NL_OCI_CONFIG_FILE / NL_OCI_PROFILE."
        ) from None


def translate(exc: BaseException, operation: str) -> LauncherError:
    """An oci SDK failure as the function's error, keeping the service's request id."""
    if isinstance(exc, DeadlineExceeded):
        last = exc.last_error
        why = f" (last answer: {_describe(last)})" if last is not None else ""
        return ServiceUnavailableError(
            f"{operation} could not complete within the function's deadline{why}; "
            "try again (with the same idempotencyKey to avoid a second run).",
            opc_request_id=getattr(last, "request_id", None),
        )
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    if isinstance(status, int) and code is not None:
        request_id = getattr(exc, "request_id", None)
        message = str(getattr(exc, "message", "") or code)
        text = f"Data Science refused {operation}: {code}: {message}"
        if status == 404:
            return NotFoundError(
                f"{text}. The resource does not exist or a policy does not let the function "
                "see it (see policies/).",
                opc_request_id=request_id,
            )
        if status == 409 and code == "InvalidatedRetryToken":
            return RetryTokenInvalidatedError(
                f"{operation}: this idempotencyKey was already used for a different request.",
                opc_request_id=request_id,
            )
        if status in (409, 412):
            return ConflictError(text, opc_request_id=request_id)
        if status == 429:
            return TooManyRequestsError(
                f"{text}. Throttled beyond the retry budget; try again later.",
                opc_request_id=request_id,
            )
        if status in (400, 422):
            return InvalidRequestError(text, opc_request_id=request_id)
        if status in (401, 403):
            return UpstreamError(
                f"{text}. The function is not authenticated or authorized.",
                opc_request_id=request_id,
            )
        if status in (503, 504):
            return ServiceUnavailableError(f"{text}. Try again.", opc_request_id=request_id)
        return UpstreamError(text, opc_request_id=request_id)
    return ServiceUnavailableError(
        f"{operation} failed to reach the service ({type(exc).__name__}); try again."
    )


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    code = getattr(exc, "code", None)
    return f"{status} {code}" if status else type(exc).__name__


class OciEdge:
    """Data Science and Object Storage clients for one process, called within a deadline."""

    def __init__(self, settings: Settings, auth: Auth) -> None:
        self.settings = settings
        self.auth = auth
        self._datascience: Any = None
        self._objectstorage: Any = None
        self.calls: list[str] = []

    def _client(self, client_class: Any, endpoint: str | None) -> Any:
        from oci.circuit_breaker import NoCircuitBreakerStrategy

        kwargs = self.auth.client_kwargs()
        if endpoint:
            kwargs["service_endpoint"] = endpoint
        return client_class(
            **kwargs,
            circuit_breaker_strategy=NoCircuitBreakerStrategy(),
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
        )

    @property
    def datascience(self) -> Any:
        if self._datascience is None:
            from oci.data_science import DataScienceClient

            self._datascience = self._client(DataScienceClient, self.settings.datascience_endpoint)
        return self._datascience

    @property
    def objectstorage(self) -> Any:
        if self._objectstorage is None:
            from oci.object_storage import ObjectStorageClient

            self._objectstorage = self._client(
                ObjectStorageClient, self.settings.objectstorage_endpoint
            )
        return self._objectstorage

    @property
    def endpoint(self) -> str:
        """The Data Science endpoint with its API version, e.g. https://.../20190101."""
        return str(self.datascience.base_client.endpoint).rstrip("/")

    # -- the Data Science port ------------------------------------------------------------

    def get_job(self, job_id: str, deadline: Deadline) -> Job:
        ds = self.datascience
        job = self.call("GetJob", ds, ds.get_job, deadline, job_id=job_id).data
        return self._job(job, document=True)

    def find_jobs(self, query: JobQuery, deadline: Deadline) -> JobPage:
        ds = self.datascience
        state = {"lifecycle_state": query.lifecycle_state} if query.lifecycle_state else {}
        response = self.call(
            "ListJobs",
            ds,
            ds.list_jobs,
            deadline,
            compartment_id=query.compartment_id,
            project_id=query.project_id,
            display_name=query.display_name,
            sort_by="timeCreated",
            sort_order="ASC",
            limit=query.limit,
            **state,
        )
        return JobPage(tuple(self._job(j) for j in response.data), bool(response.has_next_page))

    def create_job(
        self, body: Mapping[str, Any], retry_token: str | None, deadline: Deadline
    ) -> Job:
        ds = self.datascience
        response = self.call(
            "CreateJob",
            ds,
            ds.create_job,
            deadline,
            create_job_details=dict(body),
            opc_retry_token=retry_token,
        )
        return self._job(response.data, response.headers.get("etag"))

    def upload_artifact(
        self,
        job_id: str,
        artifact: bytes,
        file_name: str,
        retry_token: str | None,
        deadline: Deadline,
    ) -> None:
        ds = self.datascience
        self.call(
            "CreateJobArtifact",
            ds,
            ds.create_job_artifact,
            deadline,
            job_id=job_id,
            job_artifact=artifact,
            content_length=len(artifact),
            content_disposition=f"attachment; filename={file_name}",
            opc_retry_token=retry_token,
        )

    def delete_job(self, job_id: str, etag: str | None, deadline: Deadline) -> None:
        ds = self.datascience
        kwargs: dict[str, Any] = {"if_match": etag} if etag else {}
        self.call("DeleteJob", ds, ds.delete_job, deadline, job_id=job_id, **kwargs)

    def get_run(self, run_id: str, deadline: Deadline) -> JobRun:
        ds = self.datascience
        return _run(self.call("GetJobRun", ds, ds.get_job_run, deadline, job_run_id=run_id).data)

    def create_run(self, run: NewJobRun, retry_token: str | None, deadline: Deadline) -> JobRun:
        from oci.data_science.models import CreateJobRunDetails

        details = CreateJobRunDetails(
            project_id=run.project_id,
            compartment_id=run.compartment_id,
            job_id=run.job_id,
            display_name=run.display_name,
            job_configuration_override_details=run.override_details,
            freeform_tags=dict(run.freeform_tags),
            defined_tags=run.defined_tags or None,
        )
        ds = self.datascience
        kwargs: dict[str, Any] = {"create_job_run_details": details}
        if retry_token:
            kwargs["opc_retry_token"] = retry_token
        return _run(self.call("CreateJobRun", ds, ds.create_job_run, deadline, **kwargs).data)

    def cancel_run(self, run_id: str, deadline: Deadline) -> None:
        ds = self.datascience
        self.call("CancelJobRun", ds, ds.cancel_job_run, deadline, job_run_id=run_id)

    def _job(self, job: Any, etag: str | None = None, document: bool = False) -> Job:
        """The port's Job from an SDK Job or JobSummary (a summary has no configuration);
        with document, the job as the API answered it too (GetJob's, for a dry run)."""
        configuration = getattr(job, "job_configuration_details", None)
        environment = getattr(configuration, "environment_variables", None) or {}
        return Job(
            id=job.id,
            display_name=job.display_name,
            project_id=job.project_id,
            compartment_id=job.compartment_id,
            lifecycle_state=job.lifecycle_state,
            time_created=job.time_created,
            freeform_tags=dict(job.freeform_tags or {}),
            environment=dict(environment),
            document=(
                self.datascience.base_client.sanitize_for_serialization(job) if document else {}
            ),
            etag=etag,
        )

    def call(
        self, operation: str, client: Any, method: Callable[..., T], deadline: Deadline, **kw: Any
    ) -> T:
        """Call one SDK operation within the deadline, translating any failure."""
        remaining = deadline.remaining()
        if remaining < 1.0:
            raise ServiceUnavailableError(
                f"No time left to call {operation} before the function's deadline; try again."
            )

        def fit_timeouts(_attempt: int) -> None:
            # Before every attempt, retries included: no attempt may outlast the deadline.
            left = max(0.5, deadline.remaining())
            client.base_client.timeout = (min(CONNECT_TIMEOUT, left), min(READ_TIMEOUT, left))

        self.calls.append(operation)
        try:
            strategy = DeadlineRetryStrategy(deadline, on_attempt=fit_timeouts)
            return method(retry_strategy=strategy, **kw)
        except LauncherError:
            raise
        except Exception as exc:  # noqa: BLE001 - the edge: every SDK failure is translated
            logger.info("%s failed: %s", operation, _describe(exc))
            raise translate(exc, operation) from None

    def read_object(
        self, namespace: str, bucket: str, name: str, max_bytes: int, deadline: Deadline
    ) -> bytes:
        """Read an Object Storage object (the oci:// notebook), refusing one over max_bytes."""
        client = self.objectstorage
        try:
            response = self.call(
                "GetObject",
                client,
                client.get_object,
                deadline,
                namespace_name=namespace,
                bucket_name=bucket,
                object_name=name,
            )
        except NotFoundError:
            raise NotebookFetchError(
                f"noteBook object {name!r} was not found in bucket {bucket!r} "
                f"(namespace {namespace!r}), or a policy does not let the function read it."
            ) from None
        length = response.headers.get("content-length")
        if length and str(length).isdigit() and int(length) > max_bytes:
            raise NotebookFetchError(f"noteBook is {length} bytes; the limit is {max_bytes}.")
        content = bytearray()
        for chunk in response.data.raw.stream(65536, decode_content=False):
            content.extend(chunk)
            if len(content) > max_bytes:
                raise NotebookFetchError(f"noteBook is larger than the limit of {max_bytes} bytes.")
        return bytes(content)

    def list_objects(
        self, namespace: str, bucket: str, prefix: str, max_entries: int, deadline: Deadline
    ) -> list[tuple[str, int]]:
        """(name, size) of the objects under prefix, in name order: ListObjects pages until
        the listing ends or holds more than max_entries (the caller refuses that many)."""
        client = self.objectstorage
        found: list[tuple[str, int]] = []
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"start": start} if start else {}
            try:
                page = self.call(
                    "ListObjects",
                    client,
                    client.list_objects,
                    deadline,
                    namespace_name=namespace,
                    bucket_name=bucket,
                    prefix=prefix,
                    fields="name,size",
                    limit=min(1000, max_entries + 1),
                    **kwargs,
                ).data
            except NotFoundError:
                raise NotebookFetchError(
                    f"noteBook bucket {bucket!r} (namespace {namespace!r}) was not found, or a "
                    "policy does not let the function list it."
                ) from None
            found.extend((o.name, int(o.size or 0)) for o in page.objects)
            start = page.next_start_with
            if not start or len(found) > max_entries:
                return found


def _run(run: Any) -> JobRun:
    """The port's JobRun from an SDK JobRun."""
    return JobRun(
        id=run.id,
        job_id=run.job_id,
        display_name=run.display_name,
        lifecycle_state=run.lifecycle_state,
        lifecycle_details=run.lifecycle_details,
        time_accepted=run.time_accepted,
        time_started=run.time_started,
        time_finished=run.time_finished,
    )
