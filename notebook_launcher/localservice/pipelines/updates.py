"""UpdatePipeline and UpdatePipelineRun (PUT /pipelines/{id}, PUT /pipelineRuns/{id}).

The bodies are the SDK's `UpdatePipelineDetails` (displayName, description,
configurationDetails, infrastructureConfigurationDetails, logConfigurationDetails,
stepDetails as `PipelineStepUpdateDetails`: stepName, stepType, description,
stepConfigurationDetails; parameters, storage mounts, tags) and `UpdatePipelineRunDetails`
(displayName and tags only). Fields left out keep their values. As for jobs and job runs
here: `if-match` is checked, a pipeline can be updated while ACTIVE, a run in any state but
DELETED. A step update names a step of the pipeline and keeps its type; what the local
service does not run (parameters, storage mounts) is refused, as on create. Runs already
made keep what they were created with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.errors import (
    IncorrectStateError,
    InvalidParameterError,
    NotFoundError,
)
from notebook_launcher.localservice.ids import now_text
from notebook_launcher.localservice.pipelines import orchestrator as orch
from notebook_launcher.localservice.pipelines.bodies import (
    STEP_TYPES,
    check_etag,
    pipeline_configuration,
    refuse_unsupported,
    step_configuration,
)
from notebook_launcher.localservice.pipelines.models import PIPELINE_ACTIVE
from notebook_launcher.localservice.store import PIPELINE_RUNS, PIPELINES, Document, Record, Store


def _tag_changes(details: Mapping[str, Any]) -> Document:
    changes: Document = {}
    if details.get("freeformTags") is not None or details.get("definedTags") is not None:
        freeform, defined = validation.tags(details)
        if details.get("freeformTags") is not None:
            changes["freeformTags"] = freeform
        if details.get("definedTags") is not None:
            changes["definedTags"] = defined
    return changes


def _step_updates(value: object) -> dict[str, Document]:
    """stepDetails of an update, by step name (each checked, none named twice)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidParameterError("stepDetails must be a list.")
    updates: dict[str, Document] = {}
    for index, raw in enumerate(value):
        where = f"stepDetails[{index}]"
        item = validation.as_object(raw, where)
        name = validation.string(item, "stepName", where, needed=True)
        assert name is not None
        if name in updates:
            raise InvalidParameterError(f"stepDetails: step {name} is updated twice.")
        refuse_unsupported(item, where, "stepContainerConfigurationDetails")
        update: Document = {}
        if item.get("stepType") is not None:
            update["stepType"] = validation.choice(
                str(item["stepType"]), f"{where}.stepType", STEP_TYPES
            )
        description = validation.string(
            item, "description", where, max_length=validation.MAX_DESCRIPTION
        )
        if description is not None:
            update["description"] = description
        if item.get("stepConfigurationDetails") is not None:
            update["stepConfigurationDetails"] = step_configuration(
                item["stepConfigurationDetails"], f"{where}.stepConfigurationDetails"
            )
        updates[name] = update
    return updates


def update_pipeline(store: Store, pipeline_id: str, body: object, if_match: str | None) -> Record:
    details = validation.as_object(body)
    refuse_unsupported(details, "", "storageMountConfigurationDetailsList", "parameters")
    changes: Document = _tag_changes(details)
    if (name := validation.string(details, "displayName")) is not None:
        changes["displayName"] = name
    description = validation.string(details, "description", max_length=validation.MAX_DESCRIPTION)
    if description is not None:
        changes["description"] = description
    if details.get("configurationDetails") is not None:
        changes["configurationDetails"] = pipeline_configuration(
            details["configurationDetails"], "configurationDetails"
        )
    if details.get("logConfigurationDetails") is not None:
        changes["logConfigurationDetails"] = validation.log_configuration(
            details["logConfigurationDetails"], "logConfigurationDetails"
        )
    if details.get("infrastructureConfigurationDetails") is not None:
        changes["infrastructureConfigurationDetails"] = dict(
            validation.as_object(
                details["infrastructureConfigurationDetails"],
                "infrastructureConfigurationDetails",
            )
        )
    step_updates = _step_updates(details.get("stepDetails"))
    with store.transaction() as tx:
        record = tx.get(PIPELINES, pipeline_id)
        if record is None:
            raise NotFoundError()
        check_etag(record, if_match)
        if record.state != PIPELINE_ACTIVE:
            raise IncorrectStateError(
                f"The pipeline is {record.state}; only an ACTIVE pipeline can be updated."
            )
        steps = [dict(step) for step in record.doc["stepDetails"]]
        by_name = {str(step["stepName"]): step for step in steps}
        for name, update in step_updates.items():
            step = by_name.get(name)
            if step is None:
                raise InvalidParameterError(
                    f"stepDetails: step {name} is not a step of the pipeline."
                )
            if update.get("stepType", step["stepType"]) != step["stepType"]:
                raise InvalidParameterError(
                    f"stepDetails: step {name} is {step['stepType']}; its type cannot change."
                )
            step.update({key: value for key, value in update.items() if key != "stepType"})
        doc: Document = {**record.doc, **changes, "timeUpdated": now_text()}
        if step_updates:
            doc["stepDetails"] = steps
        return tx.replace(PIPELINES, doc)


def update_pipeline_run(store: Store, run_id: str, body: object, if_match: str | None) -> Record:
    details = validation.as_object(body)
    changes: Document = _tag_changes(details)
    if (name := validation.string(details, "displayName")) is not None:
        changes["displayName"] = name
    with store.transaction() as tx:
        record = tx.get(PIPELINE_RUNS, run_id)
        if record is None:
            raise NotFoundError()
        check_etag(record, if_match)
        if record.state == orch.RUN_DELETED:
            raise IncorrectStateError("The pipeline run is DELETED; it cannot be updated.")
        return tx.replace(PIPELINE_RUNS, {**record.doc, **changes, "timeUpdated": now_text()})
