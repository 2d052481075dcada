"""The Pipelines operations of the local service: pipelines of ML_JOB steps and their runs.

HTTP-free, like `datascience.models`. A pipeline is checked whole before anything is stored
(bodies.py: unique step names, `dependsOn` naming steps of the pipeline, no dependency
cycle; here: every step's job existing and ACTIVE); a refusal is a 400 naming the step.
UpdatePipeline and UpdatePipelineRun are in updates.py. Runs are executed by the
`Orchestrator` (orchestrator.py): each step a real job run made through CreateJobRun's path.
Creates (and CancelPipelineRun) honour `opc-retry-token` as datascience's creates do.

Choices where OCI's behaviour is not documented precisely (or not supported locally):
- only ML_JOB steps run locally; CUSTOM_SCRIPT, CONTAINER and DATAFLOW steps, pipeline
  parameters and storage mounts are refused (400) rather than run without them;
- a pipeline of ML_JOB steps needs no step artifact, so it is ACTIVE as soon as it is created;
- a step whose job is missing is 400 RelatedResourceNotAuthorizedOrNotFound, one whose job
  is not ACTIVE 400 InvalidParameter; a run of a pipeline that is not ACTIVE, 409
  IncorrectState;
- deleted pipelines and runs stay readable (DELETED) and are left out of lists, as jobs are;
- `terminateGracefully=true` on cancel asks the steps' own code to stop, which the local
  service cannot do: refused (400).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from notebook_launcher.localservice import lifecycle, validation
from notebook_launcher.localservice.datascience.models import (
    DEFAULT_PAGE_LIMIT,
    MAX_PAGE_LIMIT,
    SORT_ORDERS,
    DataScience,
    ListResult,
    body_hash,
    create_record,
    finished_work_request,
    get_record,
    int_query,
    page_key,
    page_token,
)
from notebook_launcher.localservice.errors import (
    ConflictError,
    IncorrectStateError,
    InvalidParameterError,
    MissingParameterError,
    NotFoundError,
    RelatedResourceNotFoundError,
)
from notebook_launcher.localservice.ids import (
    PIPELINE,
    PIPELINE_RUN,
    PROJECT,
    new_ocid,
    now_text,
    utc_now,
)
from notebook_launcher.localservice.pipelines import orchestrator as orch
from notebook_launcher.localservice.pipelines.bodies import (
    check_etag,
    pipeline_configuration,
    refuse_unsupported,
    step_configuration,
    step_details,
)
from notebook_launcher.localservice.store import (
    JOB_RUNS,
    JOBS,
    PIPELINE_RUNS,
    PIPELINES,
    PROJECTS,
    Document,
    Kind,
    Record,
    Store,
    Transaction,
)
from notebook_launcher.oci_facts.states import PipelineState

logger = logging.getLogger(__name__)

PIPELINE_ACTIVE = PipelineState.ACTIVE
PIPELINE_DELETED = PipelineState.DELETED
PIPELINE_STATES = ("CREATING", PIPELINE_ACTIVE, "DELETING", "FAILED", PIPELINE_DELETED)

_PIPELINE_SUMMARY = (
    "id",
    "timeCreated",
    "timeUpdated",
    "createdBy",
    "projectId",
    "compartmentId",
    "displayName",
    "description",
    "lifecycleState",
    "lifecycleDetails",
    "freeformTags",
    "definedTags",
    "systemTags",
)
_RUN_SUMMARY = (
    "id",
    "timeAccepted",
    "timeStarted",
    "timeUpdated",
    "timeFinished",
    "createdBy",
    "projectId",
    "compartmentId",
    "pipelineId",
    "displayName",
    "lifecycleState",
    "lifecycleDetails",
    "freeformTags",
    "definedTags",
    "systemTags",
)


def _default_name(prefix: str) -> str:
    return f"{prefix}{utc_now().strftime('%Y%m%d%H%M%S')}"


@dataclass(frozen=True)
class PipelineRunRequest:
    """A checked CreatePipelineRun body: `build(tx)` makes the run's document (or raises)."""

    details: Document
    request_hash: str
    build: Callable[[Transaction], Document]


class Pipelines:
    """Pipelines and pipeline runs kept in a `Store`; runs advanced by an `Orchestrator`."""

    def __init__(
        self, store: Store, datascience: DataScience, orchestrator: orch.Orchestrator
    ) -> None:
        self._store = store
        self._datascience = datascience
        self._orchestrator = orchestrator

    @property
    def store(self) -> Store:
        """The store (for the update operations in updates.py)."""
        return self._store

    # ----------------------------------------------------------------- shared helpers

    def _list(
        self,
        kind: Kind,
        query: Mapping[str, str],
        filter_fields: tuple[str, ...],
        states: tuple[str, ...],
        sort_fields: tuple[str, ...],
        summary_fields: tuple[str, ...],
    ) -> ListResult:
        compartment = query.get("compartmentId")
        if not compartment:
            raise MissingParameterError("Missing parameter: compartmentId.")
        filters = {"compartmentId": compartment}
        filters.update({name: query[name] for name in filter_fields if query.get(name)})
        validation.choice(filters.get("lifecycleState"), "lifecycleState", states)
        sort_by = validation.choice(query.get("sortBy"), "sortBy", sort_fields) or sort_fields[0]
        sort_order = validation.choice(query.get("sortOrder"), "sortOrder", SORT_ORDERS)
        if sort_order is None:
            sort_order = "ASC" if sort_by == "displayName" else "DESC"
        limit = int_query(query, "limit", DEFAULT_PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
        order = f"{sort_by} {sort_order}"
        after = page_key(query.get("page"), order)
        with self._store.transaction() as tx:
            page = tx.query(
                kind,
                filters,
                sort_by=sort_by,
                descending=sort_order == "DESC",
                offset=0,
                limit=limit,
                exclude_states=(PIPELINE_DELETED,),
                after=after,
            )
        items = [{k: r.doc[k] for k in summary_fields if k in r.doc} for r in page.records]
        token = None if page.next_after is None else page_token(page.next_after, order)
        return ListResult(items, token)

    # ----------------------------------------------------------------- pipelines

    def create_pipeline(
        self, body: object, principal_id: str, retry_token: str | None
    ) -> tuple[Record, bool]:
        details = validation.as_object(body)
        refuse_unsupported(details, "", "storageMountConfigurationDetailsList", "parameters")
        project_id = validation.ocid(details, "projectId", PROJECT)
        compartment = validation.compartment(details)
        name = validation.string(details, "displayName") or _default_name("pipeline")
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        optional: Document = {}
        if details.get("configurationDetails") is not None:
            optional["configurationDetails"] = pipeline_configuration(
                details["configurationDetails"], "configurationDetails"
            )
        if details.get("logConfigurationDetails") is not None:
            optional["logConfigurationDetails"] = validation.log_configuration(
                details["logConfigurationDetails"], "logConfigurationDetails"
            )
        if details.get("infrastructureConfigurationDetails") is not None:
            optional["infrastructureConfigurationDetails"] = dict(
                validation.as_object(
                    details["infrastructureConfigurationDetails"],
                    "infrastructureConfigurationDetails",
                )
            )
        steps = step_details(validation.required(details, "stepDetails"))
        freeform, defined = validation.tags(details)
        assert project_id is not None  # required above

        def build(tx: Transaction) -> Document:
            project = tx.get(PROJECTS, project_id)
            if project is None or project.state != lifecycle.PROJECT_ACTIVE:
                raise RelatedResourceNotFoundError(
                    f"projectId {project_id} does not exist or is not authorized."
                )
            for step in steps:
                self._require_active_job(tx, step)
            now = now_text()
            doc: Document = {
                "id": new_ocid(PIPELINE),
                "timeCreated": now,
                "timeUpdated": now,
                "createdBy": principal_id,
                "projectId": project_id,
                "compartmentId": compartment,
                "displayName": name,
                **optional,
                "stepDetails": steps,
                "lifecycleState": PIPELINE_ACTIVE,
                "freeformTags": freeform,
                "definedTags": defined,
                "systemTags": {},
            }
            if description is not None:
                doc["description"] = description
            return doc

        record, created = create_record(
            self._store, "CreatePipeline", PIPELINES, retry_token, body_hash(details), build
        )
        return record, created

    def _require_active_job(self, tx: Transaction, step: Mapping[str, Any]) -> None:
        job = tx.get(JOBS, str(step["jobId"]))
        if job is None or job.state == lifecycle.JOB_DELETED:
            raise RelatedResourceNotFoundError(
                f"step {step['stepName']}: jobId {step['jobId']} does not exist or is not"
                " authorized."
            )
        if job.state != lifecycle.JOB_ACTIVE:
            raise InvalidParameterError(
                f"step {step['stepName']}: the job {step['jobId']} is {job.state}; a step's"
                " job must be ACTIVE."
            )

    def get_pipeline(self, pipeline_id: str) -> Record:
        return get_record(self._store, PIPELINES, pipeline_id, PIPELINE)

    def list_pipelines(self, query: Mapping[str, str]) -> ListResult:
        return self._list(
            PIPELINES,
            query,
            ("projectId", "id", "displayName", "lifecycleState", "createdBy"),
            PIPELINE_STATES,
            ("timeCreated", "displayName"),
            _PIPELINE_SUMMARY,
        )

    def delete_pipeline(
        self,
        pipeline_id: str,
        delete_related_runs: bool,
        delete_related_job_runs: bool,
        if_match: str | None,
    ) -> str:
        """Delete a pipeline (and, if asked, its runs and their job runs); a work request id."""
        self.get_pipeline(pipeline_id)
        with self._store.transaction() as tx:
            record = tx.get(PIPELINES, pipeline_id)
            if record is None:
                raise NotFoundError()
            check_etag(record, if_match)
            if record.state == PIPELINE_DELETED:
                raise IncorrectStateError("The pipeline is already DELETED.")
            runs = self._runs_of(tx, pipeline_id)
            unfinished = [r.id for r in runs if r.state in orch.UNFINISHED_RUN_STATES]
            if unfinished:
                raise ConflictError(
                    f"The pipeline has {len(unfinished)} unfinished pipeline run(s);"
                    " cancel them first."
                )
            if runs and not delete_related_runs:
                raise ConflictError(
                    "The pipeline has pipeline runs; delete them first or set"
                    " deleteRelatedPipelineRuns=true."
                )
            for run in runs:
                self._delete_run_in(tx, run, delete_related_job_runs)
            tx.replace(
                PIPELINES,
                {**record.doc, "lifecycleState": PIPELINE_DELETED, "timeUpdated": now_text()},
            )
            work_request = finished_work_request(
                tx, "PIPELINE_DELETE", str(record.doc["compartmentId"]), "pipeline", pipeline_id
            )
        logger.info("pipeline %s deleted with %d run(s)", pipeline_id, len(runs))
        return work_request

    @staticmethod
    def _runs_of(tx: Transaction, pipeline_id: str) -> list[Record]:
        return tx.query(
            PIPELINE_RUNS,
            {"pipelineId": pipeline_id},
            sort_by="timeAccepted",
            descending=False,
            offset=0,
            limit=1_000_000,
            exclude_states=(orch.RUN_DELETED,),
        ).records

    # ----------------------------------------------------------------- pipeline runs

    def create_pipeline_run(
        self, body: object, principal_id: str, retry_token: str | None
    ) -> tuple[Record, bool]:
        request = self.pipeline_run_request(body, principal_id)
        record, created = create_record(
            self._store,
            "CreatePipelineRun",
            PIPELINE_RUNS,
            retry_token,
            request.request_hash,
            request.build,
        )
        if created:
            self._orchestrator.wake()
        return record, created

    def create_pipeline_run_in(
        self, tx: Transaction, request: PipelineRunRequest, retry_token: str
    ) -> tuple[Record, bool]:
        """CreatePipelineRun inside `tx` (a schedule's fire): the run, and whether it is new.
        The orchestrator's sweep starts it once `tx` is committed."""
        previous = tx.check_retry_token("CreatePipelineRun", retry_token, request.request_hash)
        if previous is not None and (record := tx.get(PIPELINE_RUNS, previous)) is not None:
            return record, False
        record = tx.insert(PIPELINE_RUNS, request.build(tx))
        tx.save_retry_token("CreatePipelineRun", retry_token, request.request_hash, record.id)
        return record, True

    def pipeline_run_request(self, body: object, principal_id: str) -> PipelineRunRequest:
        """A CreatePipelineRun body, checked (400s naming the field); what it names is
        checked when the request is built inside a transaction."""
        details = validation.as_object(body)
        refuse_unsupported(
            details,
            "",
            "parametersOverride",
            "storageMountConfigurationOverrideDetailsList",
            "infrastructureConfigurationOverrideDetails",
        )
        pipeline_id = validation.ocid(details, "pipelineId", PIPELINE)
        project_id = validation.ocid(details, "projectId", PROJECT, needed=False)
        compartment = validation.compartment(details)
        name = validation.string(details, "displayName") or _default_name("pipelinerun")
        optional: Document = {}
        if details.get("configurationOverrideDetails") is not None:
            optional["configurationOverrideDetails"] = pipeline_configuration(
                details["configurationOverrideDetails"], "configurationOverrideDetails"
            )
        if details.get("logConfigurationOverrideDetails") is not None:
            optional["logConfigurationOverrideDetails"] = validation.log_configuration(
                details["logConfigurationOverrideDetails"], "logConfigurationOverrideDetails"
            )
        overrides = self._step_overrides(details.get("stepOverrideDetails"))
        if overrides:
            optional["stepOverrideDetails"] = overrides
        freeform, defined = validation.tags(details)
        assert pipeline_id is not None  # required above

        def build(tx: Transaction) -> Document:
            pipeline = tx.get(PIPELINES, pipeline_id)
            if pipeline is None or pipeline.state == PIPELINE_DELETED:
                raise RelatedResourceNotFoundError(
                    f"pipelineId {pipeline_id} does not exist or is not authorized."
                )
            if pipeline.state != PIPELINE_ACTIVE:
                raise IncorrectStateError(
                    f"The pipeline is {pipeline.state}; only an ACTIVE pipeline can be run."
                )
            project = project_id or str(pipeline.doc["projectId"])
            if project_id is not None:
                found = tx.get(PROJECTS, project_id)
                if found is None or found.state != lifecycle.PROJECT_ACTIVE:
                    raise RelatedResourceNotFoundError(
                        f"projectId {project_id} does not exist or is not authorized."
                    )
            step_names = {str(step["stepName"]) for step in pipeline.doc["stepDetails"]}
            for override in overrides:
                if override["stepName"] not in step_names:
                    raise InvalidParameterError(
                        f"stepOverrideDetails: step {override['stepName']} is not a step of"
                        " the pipeline."
                    )
            doc: Document = {
                "id": new_ocid(PIPELINE_RUN),
                "timeAccepted": now_text(),
                "createdBy": principal_id,
                "projectId": project,
                "compartmentId": compartment,
                "pipelineId": pipeline_id,
                "displayName": name,
                **optional,
                "stepRuns": [
                    {
                        "stepType": "ML_JOB",
                        "stepName": step["stepName"],
                        "lifecycleState": orch.WAITING,
                        **({"stepRunName": step["stepRunName"]} if "stepRunName" in step else {}),
                    }
                    for step in pipeline.doc["stepDetails"]
                ],
                "lifecycleState": orch.RUN_ACCEPTED,
                "freeformTags": freeform,
                "definedTags": defined,
                "systemTags": {},
            }
            if "configurationDetails" in pipeline.doc:
                doc["configurationDetails"] = pipeline.doc["configurationDetails"]
            for step in pipeline.doc["stepDetails"]:
                # what each step's job run will be asked for, checked against its limits now
                job_run = orch.step_job_run_details(pipeline.doc, doc, step["stepName"])
                validation.job_configuration(
                    job_run["jobConfigurationOverrideDetails"], f"step {step['stepName']}"
                )
            # As OCI: the pipeline's log configuration (or the run's override) gives the run
            # a log, which its steps' job runs write to (PipelineRunLogDetails).
            log_details = self._datascience.run_log_details(
                str(doc["id"]),
                compartment,
                name,
                pipeline.doc.get("logConfigurationDetails"),
                optional.get("logConfigurationOverrideDetails"),
            )
            if log_details is not None:
                doc["logDetails"] = log_details
            return doc

        return PipelineRunRequest(details, body_hash(details), build)

    @staticmethod
    def _step_overrides(value: object) -> list[Document]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidParameterError("stepOverrideDetails must be a list.")
        overrides: list[Document] = []
        seen: set[str] = set()
        for index, raw in enumerate(value):
            where = f"stepOverrideDetails[{index}]"
            item = validation.as_object(raw, where)
            step_name = validation.string(item, "stepName", where, needed=True)
            assert step_name is not None
            if step_name in seen:
                raise InvalidParameterError(
                    f"stepOverrideDetails: step {step_name} is overridden twice."
                )
            seen.add(step_name)
            refuse_unsupported(
                item,
                where,
                "stepContainerConfigurationDetails",
                "stepDataflowConfigurationDetails",
                "stepInfrastructureConfigurationDetails",
                "stepStorageMountConfigurationDetailsList",
            )
            overrides.append(
                {
                    "stepName": step_name,
                    "stepConfigurationDetails": step_configuration(
                        validation.required(item, "stepConfigurationDetails", where),
                        f"{where}.stepConfigurationDetails",
                    ),
                }
            )
        return overrides

    def get_pipeline_run(self, run_id: str) -> Record:
        return get_record(self._store, PIPELINE_RUNS, run_id, PIPELINE_RUN)

    def list_pipeline_runs(self, query: Mapping[str, str]) -> ListResult:
        return self._list(
            PIPELINE_RUNS,
            query,
            ("pipelineId", "id", "displayName", "lifecycleState", "createdBy"),
            orch.RUN_STATES,
            ("timeAccepted", "displayName"),
            _RUN_SUMMARY,
        )

    def cancel_pipeline_run(
        self,
        run_id: str,
        if_match: str | None,
        retry_token: str | None,
        terminate_gracefully: bool,
    ) -> None:
        """Move the run to CANCELING; the orchestrator cancels its steps' job runs."""
        if terminate_gracefully:
            raise InvalidParameterError(
                "terminateGracefully=true is not supported by the local service."
            )
        self.get_pipeline_run(run_id)
        request_hash = body_hash(run_id)
        with self._store.transaction() as tx:
            if retry_token and tx.check_retry_token("CancelPipelineRun", retry_token, request_hash):
                return
            record = tx.get(PIPELINE_RUNS, run_id)
            if record is None:
                raise NotFoundError()
            check_etag(record, if_match)
            if record.state not in (orch.RUN_ACCEPTED, orch.RUN_IN_PROGRESS):
                raise IncorrectStateError(
                    f"The pipeline run is {record.state}; only an ACCEPTED or IN_PROGRESS"
                    " pipeline run can be canceled."
                )
            tx.replace(
                PIPELINE_RUNS,
                {**record.doc, "lifecycleState": orch.RUN_CANCELING, "timeUpdated": now_text()},
            )
            if retry_token:
                tx.save_retry_token("CancelPipelineRun", retry_token, request_hash, run_id)
        logger.info("pipeline run %s canceling", run_id)
        self._orchestrator.wake()

    def delete_pipeline_run(
        self, run_id: str, delete_related_job_runs: bool, if_match: str | None
    ) -> None:
        self.get_pipeline_run(run_id)
        with self._store.transaction() as tx:
            record = tx.get(PIPELINE_RUNS, run_id)
            if record is None:
                raise NotFoundError()
            check_etag(record, if_match)
            if record.state not in orch.FINISHED_RUN_STATES:
                raise IncorrectStateError(
                    f"The pipeline run is {record.state}; only a finished pipeline run can be"
                    " deleted."
                )
            self._delete_run_in(tx, record, delete_related_job_runs)

    @staticmethod
    def _delete_run_in(tx: Transaction, run: Record, delete_job_runs: bool) -> None:
        if delete_job_runs:
            for step_run in run.doc["stepRuns"]:
                job_run = tx.get(JOB_RUNS, str(step_run.get("jobRunId")))
                if job_run is not None and job_run.state in lifecycle.FINISHED_RUN_STATES:
                    tx.replace(JOB_RUNS, {**job_run.doc, "lifecycleState": lifecycle.DELETED})
        tx.replace(
            PIPELINE_RUNS,
            {**run.doc, "lifecycleState": orch.RUN_DELETED, "timeUpdated": now_text()},
        )
