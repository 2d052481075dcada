"""What a schedule's fire does: one `Action` per `httpActionType`, looked up in `ACTIONS`.

Each action checks its details when the schedule is stored (the same checks as the API
operation it performs, 400s naming the field under `action.actionDetails`), and on a fire
performs that operation through the same backend as the API, inside the scheduler's
transaction, with a retry token the fire derives from the schedule and its fire time:
CREATE_JOB_RUN → the Data Science backend's CreateJobRun, CREATE_PIPELINE_RUN → the
pipelines backend's CreatePipelineRun (the pipelines service's orchestrator, sweeping every
second, starts the run). INVOKE_ML_APPLICATION_PROVIDER_TRIGGER is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.datascience.models import DataScience
from notebook_launcher.localservice.errors import ServiceError
from notebook_launcher.localservice.logging import models as logging_models
from notebook_launcher.localservice.pipelines.models import Pipelines
from notebook_launcher.localservice.pipelines.orchestrator import Orchestrator
from notebook_launcher.localservice.rest import ServiceContext
from notebook_launcher.localservice.store import Transaction

CREATE_JOB_RUN = "CREATE_JOB_RUN"
CREATE_PIPELINE_RUN = "CREATE_PIPELINE_RUN"
INVOKE_ML_APPLICATION_PROVIDER_TRIGGER = "INVOKE_ML_APPLICATION_PROVIDER_TRIGGER"
HTTP_ACTION_TYPES = (
    CREATE_JOB_RUN,
    CREATE_PIPELINE_RUN,
    INVOKE_ML_APPLICATION_PROVIDER_TRIGGER,
)
_PREFIX = "action.actionDetails"


@dataclass(frozen=True)
class Fired:
    """What a fire made: the resource's id, its kind in words, whether it is new."""

    resource_id: str
    kind: str
    created: bool


class Action(Protocol):
    """One `httpActionType`."""

    def check(self, details: Mapping[str, Any], principal_id: str) -> dict[str, Any]:
        """The action details to store, or a 400 naming the field."""
        ...

    def verify(self, tx: Transaction, details: Mapping[str, Any], principal_id: str) -> None:
        """Inside the create's transaction: what the details name exists (else a 400)."""
        ...

    def perform(
        self, tx: Transaction, details: Mapping[str, Any], principal_id: str, retry_token: str
    ) -> Fired:
        """Make the run inside `tx` (raises the operation's own ServiceErrors)."""
        ...

    def submit(self, fired: Fired) -> None:
        """Start what `perform` made, once the transaction is committed."""
        ...


class CreateJobRunAction:
    """CREATE_JOB_RUN: `createJobRunDetails` is a CreateJobRunDetails, performed as
    CreateJobRun by the Data Science backend (created by the schedule's principal)."""

    def __init__(self, datascience: DataScience) -> None:
        self._ds = datascience

    def check(self, details: Mapping[str, Any], principal_id: str) -> dict[str, Any]:
        name = f"{_PREFIX}.createJobRunDetails"
        run = validation.as_object(
            validation.required(details, "createJobRunDetails", _PREFIX), name
        )
        try:
            request = self._ds.job_run_request(run, principal_id)
        except ServiceError as exc:
            raise type(exc)(f"{name}: {exc.message}") from None
        return {"httpActionType": CREATE_JOB_RUN, "createJobRunDetails": request.details}

    def verify(self, tx: Transaction, details: Mapping[str, Any], principal_id: str) -> None:
        # CreateJobRun's own checks of what the body names (the project ACTIVE, the job
        # ACTIVE), without inserting: a schedule that could never fire is not stored.
        request = self._ds.job_run_request(details["createJobRunDetails"], principal_id)
        try:
            request.build(tx)
        except ServiceError as exc:
            raise type(exc)(f"{_PREFIX}.createJobRunDetails: {exc.message}") from None

    def perform(
        self, tx: Transaction, details: Mapping[str, Any], principal_id: str, retry_token: str
    ) -> Fired:
        request = self._ds.job_run_request(details["createJobRunDetails"], principal_id)
        record, created = self._ds.create_job_run_in(tx, request, retry_token)
        return Fired(record.id, "job run", created)

    def submit(self, fired: Fired) -> None:
        self._ds.submit_job_run(fired.resource_id)


class CreatePipelineRunAction:
    """CREATE_PIPELINE_RUN: `createPipelineRunDetails` is a CreatePipelineRunDetails,
    performed as CreatePipelineRun by the pipelines backend (created by the schedule)."""

    def __init__(self, pipelines: Pipelines) -> None:
        self._pipelines = pipelines

    def check(self, details: Mapping[str, Any], principal_id: str) -> dict[str, Any]:
        name = f"{_PREFIX}.createPipelineRunDetails"
        run = validation.as_object(
            validation.required(details, "createPipelineRunDetails", _PREFIX), name
        )
        try:
            request = self._pipelines.pipeline_run_request(run, principal_id)
        except ServiceError as exc:
            raise type(exc)(f"{name}: {exc.message}") from None
        return {"httpActionType": CREATE_PIPELINE_RUN, "createPipelineRunDetails": request.details}

    def verify(self, tx: Transaction, details: Mapping[str, Any], principal_id: str) -> None:
        # CreatePipelineRun's own checks of what the body names (the pipeline ACTIVE, its
        # steps), without inserting.
        request = self._pipelines.pipeline_run_request(
            details["createPipelineRunDetails"], principal_id
        )
        try:
            request.build(tx)
        except ServiceError as exc:
            raise type(exc)(f"{_PREFIX}.createPipelineRunDetails: {exc.message}") from None

    def perform(
        self, tx: Transaction, details: Mapping[str, Any], principal_id: str, retry_token: str
    ) -> Fired:
        request = self._pipelines.pipeline_run_request(
            details["createPipelineRunDetails"], principal_id
        )
        record, created = self._pipelines.create_pipeline_run_in(tx, request, retry_token)
        return Fired(record.id, "pipeline run", created)

    def submit(self, fired: Fired) -> None:
        """Nothing to start here: the pipelines service's orchestrator sweeps the store
        every SWEEP_SECONDS and runs the ACCEPTED run."""


def build_actions(context: ServiceContext) -> dict[str, Action]:
    """The actions this service can perform; the other HTTP action types are refused."""
    datascience = DataScience(
        context.store, context.layout.artifacts, context.executor, logging_models.backend(context)
    )
    # Not started: the pipelines service's own orchestrator sweeps the store and runs what a
    # fire creates; this one only gives the backend its type.
    pipelines = Pipelines(context.store, datascience, Orchestrator(context.store, datascience))
    builders: dict[str, Callable[[], Action]] = {
        CREATE_JOB_RUN: lambda: CreateJobRunAction(datascience),
        CREATE_PIPELINE_RUN: lambda: CreatePipelineRunAction(pipelines),
    }
    return {name: build() for name, build in builders.items()}
