"""The Schedules backend: Schedule resources kept in the `Store`, and their fires.

HTTP-free (`responses.py` calls it). A schedule is stored ACTIVE with its
`timeNextScheduledRun`; `fire_due(now)` fires every ACTIVE schedule whose time has come:
in ONE transaction it performs the action (a job run created through the Data Science
backend, with the retry token `schedule-<sha256(id, fire time)>`), records
`timeLastScheduleRun` and `lastScheduleRunDetails` (which names the run), and moves
`timeNextScheduledRun` on. A process killed before the commit left nothing (the schedule is
still due and fires on restart); one killed after it left a committed run (ACCEPTED runs are
queued again by the executor at start) and a schedule already moved on: never two runs for
one fire time, never a lost schedule.

Choices where OCI is undocumented (see README, "Scheduling"):
- missed fires (the service was down, or the clock jumped over several fire times) are
  coalesced: ONE fire for the missed window, then the next fire time after now;
- a schedule is created ACTIVE (the Create answer shows CREATING, as OCI's does while its
  work request runs; a GET shows ACTIVE); an INACTIVE schedule has no timeNextScheduledRun,
  and Activate sets the next fire time after now (no catch-up for the paused time);
- a fire whose action fails (the job was deleted) records the failure in
  lastScheduleRunDetails and the schedule stays ACTIVE;
- the run a fire creates is created by the schedule (createdBy is the schedule's OCID, as its
  resource principal would be), so `ListJobRuns?createdBy=<schedule id>` finds them all;
- deleted schedules stay readable as DELETED, out of lists unless asked for, like jobs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from notebook_launcher.localservice import validation
from notebook_launcher.localservice.datascience.models import (
    DataScience,
    ListResult,
    body_hash,
    finished_work_request,
)
from notebook_launcher.localservice.errors import (
    IncorrectStateError,
    InvalidParameterError,
    NoEtagMatchError,
    NotFoundError,
    ServiceError,
)
from notebook_launcher.localservice.ids import (
    PROJECT,
    format_time,
    is_ocid,
    new_ocid,
    now_text,
)
from notebook_launcher.localservice.schedules.actions import (
    HTTP_ACTION_TYPES,
    Action,
    Fired,
)
from notebook_launcher.localservice.schedules.triggers import Trigger, parse_time, parse_trigger
from notebook_launcher.localservice.store import SCHEDULES, Document, Record, Store, Transaction
from notebook_launcher.oci_facts.states import ScheduleState

logger = logging.getLogger(__name__)

SCHEDULE = "datascienceschedule"

# OCI's schedule states, written once in oci_facts
CREATING = ScheduleState.CREATING
ACTIVE = ScheduleState.ACTIVE
INACTIVE = ScheduleState.INACTIVE
UPDATING = ScheduleState.UPDATING
DELETING = ScheduleState.DELETING
DELETED = ScheduleState.DELETED
FAILED = ScheduleState.FAILED
STATES = tuple(ScheduleState)
ACTION_TYPES = ("HTTP",)


class Schedules:
    """Schedules: CRUD, activate/deactivate, and firing the due ones."""

    def __init__(self, store: Store, datascience: DataScience, actions: dict[str, Action]) -> None:
        self._store = store
        self._ds = datascience
        self._actions = actions
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called (no arguments) after a schedule's next fire time may have moved earlier."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # ----------------------------------------------------------------- checks

    def _action(self, value: object, principal_id: str) -> tuple[Document, Action]:
        action = validation.as_object(value, "action")
        kind = validation.string(action, "actionType", "action", needed=True)
        validation.choice(kind, "action.actionType", ACTION_TYPES)
        details = validation.as_object(
            validation.required(action, "actionDetails", "action"), "action.actionDetails"
        )
        http_type = validation.string(
            details, "httpActionType", "action.actionDetails", needed=True
        )
        validation.choice(http_type, "action.actionDetails.httpActionType", HTTP_ACTION_TYPES)
        assert http_type is not None
        performer = self._actions.get(http_type)
        if performer is None:
            raise InvalidParameterError(
                f"action.actionDetails.httpActionType {http_type} is not supported by the local"
                f" service (supported: {', '.join(sorted(self._actions))})."
            )
        stored = performer.check(details, principal_id)
        return {"actionType": "HTTP", "actionDetails": stored}, performer

    @staticmethod
    def _log_details(body: Mapping[str, Any]) -> Document | None:
        value = body.get("logDetails")
        if value is None:
            return None
        log = validation.as_object(value, "logDetails")
        return {
            "logGroupId": validation.ocid(log, "logGroupId", "loggroup", prefix="logDetails"),
            "logId": validation.ocid(log, "logId", "log", prefix="logDetails"),
        }

    # ----------------------------------------------------------------- operations

    def create(
        self, body: object, principal_id: str, retry_token: str | None, now: datetime
    ) -> tuple[Record, str]:
        """CreateSchedule: the schedule (as answered: CREATING) and the work request id."""
        details = validation.as_object(body)
        name = validation.string(details, "displayName", needed=True)
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        project_id = validation.ocid(details, "projectId", PROJECT)
        compartment = validation.compartment(details)
        trigger = parse_trigger(validation.required(details, "trigger"), now)
        log_details = self._log_details(details)
        freeform, defined = validation.tags(details)
        request_hash = body_hash(details)
        assert project_id is not None
        with self._store.transaction() as tx:
            if retry_token:
                previous = tx.check_retry_token("CreateSchedule", retry_token, request_hash)
                replayed = tx.get(SCHEDULES, previous) if previous else None
                if replayed is not None:
                    return _as_created(replayed), _work_request(tx, "SCHEDULE_CREATE", replayed)
            self._ds.require_project(tx, project_id)
            schedule_id = new_ocid(SCHEDULE)
            action, performer = self._action(validation.required(details, "action"), schedule_id)
            performer.verify(tx, action["actionDetails"], schedule_id)
            created = now_text()
            doc: Document = {
                "id": schedule_id,
                "compartmentId": compartment,
                "projectId": project_id,
                "displayName": name,
                "timeCreated": created,
                "timeUpdated": created,
                "createdBy": principal_id,
                "lifecycleState": ACTIVE,
                "trigger": trigger,
                "action": action,
                "freeformTags": freeform,
                "definedTags": defined,
                "systemTags": {},
            }
            if description is not None:
                doc["description"] = description
            if log_details is not None:
                doc["logDetails"] = log_details
            _set_next(doc, now)
            record = tx.insert(SCHEDULES, doc)
            if retry_token:
                tx.save_retry_token("CreateSchedule", retry_token, request_hash, schedule_id)
            work_request = _work_request(tx, "SCHEDULE_CREATE", record)
        logger.info("schedule %s created, next fire %s", record.id, doc.get("timeNextScheduledRun"))
        self._changed()
        return _as_created(record), work_request

    def get(self, schedule_id: str) -> Record:
        if not is_ocid(schedule_id, SCHEDULE):
            raise NotFoundError()
        record = self._store.get(SCHEDULES, schedule_id)
        if record is None:
            raise NotFoundError()
        return record

    def list_page(self, query: Mapping[str, str]) -> ListResult:
        return self._ds.list_records(
            SCHEDULES,
            query,
            ("projectId", "id", "displayName", "lifecycleState"),
            STATES,
            DELETED,
        )

    def update(self, schedule_id: str, body: object, if_match: str | None, now: datetime) -> str:
        """UpdateSchedule (displayName, description, trigger, action, logDetails, tags)."""
        self.get(schedule_id)
        details = validation.as_object(body)
        changes: Document = {}
        if (name := validation.string(details, "displayName")) is not None:
            changes["displayName"] = name
        description = validation.string(
            details, "description", max_length=validation.MAX_DESCRIPTION
        )
        if description is not None:
            changes["description"] = description
        if details.get("trigger") is not None:
            changes["trigger"] = parse_trigger(details["trigger"], now)
        if (log_details := self._log_details(details)) is not None:
            changes["logDetails"] = log_details
        for field in ("freeformTags", "definedTags"):
            if details.get(field) is not None:
                freeform, defined = validation.tags(details)
                changes[field] = freeform if field == "freeformTags" else defined
        with self._store.transaction() as tx:
            record = self._writable(tx.get(SCHEDULES, schedule_id), if_match)
            if details.get("action") is not None:
                action, performer = self._action(details["action"], schedule_id)
                performer.verify(tx, action["actionDetails"], schedule_id)
                changes["action"] = action
            doc = {**record.doc, **changes, "timeUpdated": now_text()}
            if "trigger" in changes and doc["lifecycleState"] == ACTIVE:
                _set_next(doc, now)
            tx.replace(SCHEDULES, doc)
            work_request = _work_request(tx, "SCHEDULE_UPDATE", record)
        self._changed()
        return work_request

    def delete(self, schedule_id: str, if_match: str | None) -> str:
        self.get(schedule_id)
        with self._store.transaction() as tx:
            record = self._writable(tx.get(SCHEDULES, schedule_id), if_match)
            doc = {**record.doc, "lifecycleState": DELETED, "timeUpdated": now_text()}
            doc.pop("timeNextScheduledRun", None)
            tx.replace(SCHEDULES, doc)
            work_request = _work_request(tx, "SCHEDULE_DELETE", record)
        logger.info("schedule %s deleted", schedule_id)
        return work_request

    def activate(
        self, schedule_id: str, if_match: str | None, retry_token: str | None, now: datetime
    ) -> str:
        return self._set_state(schedule_id, ACTIVE, if_match, retry_token, now)

    def deactivate(
        self, schedule_id: str, if_match: str | None, retry_token: str | None, now: datetime
    ) -> str:
        return self._set_state(schedule_id, INACTIVE, if_match, retry_token, now)

    def _set_state(
        self,
        schedule_id: str,
        target: str,
        if_match: str | None,
        retry_token: str | None,
        now: datetime,
    ) -> str:
        """Activate (INACTIVE → ACTIVE, next fire after now) or deactivate (ACTIVE →
        INACTIVE, no next fire); a retried call with its token answers the same work request."""
        self.get(schedule_id)
        operation = "ActivateSchedule" if target == ACTIVE else "DeactivateSchedule"
        source = INACTIVE if target == ACTIVE else ACTIVE
        request_hash = body_hash(schedule_id)
        with self._store.transaction() as tx:
            if retry_token:
                previous = tx.check_retry_token(operation, retry_token, request_hash)
                if previous is not None:
                    return previous
            record = self._writable(tx.get(SCHEDULES, schedule_id), if_match)
            if record.state != source:
                raise IncorrectStateError(
                    f"The schedule is {record.state}; only an {source} schedule can be"
                    f" {'activated' if target == ACTIVE else 'deactivated'}."
                )
            doc = {**record.doc, "lifecycleState": target, "timeUpdated": now_text()}
            if target == ACTIVE:
                _set_next(doc, now)
            else:
                doc.pop("timeNextScheduledRun", None)
            tx.replace(SCHEDULES, doc)
            work_request = _work_request(
                tx, "SCHEDULE_ACTIVATE" if target == ACTIVE else "SCHEDULE_DEACTIVATE", record
            )
            if retry_token:
                tx.save_retry_token(operation, retry_token, request_hash, work_request)
        logger.info("schedule %s %s", schedule_id, target)
        self._changed()
        return work_request

    @staticmethod
    def _writable(record: Record | None, if_match: str | None) -> Record:
        if record is None:
            raise NotFoundError()
        if if_match is not None and if_match not in ("*", record.etag):
            raise NoEtagMatchError("The if-match etag does not match the resource's current etag.")
        if record.state in (DELETING, DELETED):
            raise IncorrectStateError(f"The schedule is {record.state}.")
        return record

    # ----------------------------------------------------------------- firing

    def next_fire_time(self) -> datetime | None:
        """The earliest timeNextScheduledRun of the ACTIVE schedules."""
        times = []
        with self._store.transaction() as tx:
            for schedule_id in tx.ids_in_states(SCHEDULES, (ACTIVE,)):
                record = tx.get(SCHEDULES, schedule_id)
                if record is not None and record.doc.get("timeNextScheduledRun"):
                    times.append(parse_time(record.doc["timeNextScheduledRun"], "time"))
        return min(times, default=None)

    def fire_due(self, now: datetime) -> list[Fired]:
        """Fire each ACTIVE schedule whose timeNextScheduledRun is at or before `now`, once."""
        with self._store.transaction() as tx:
            candidates = tx.ids_in_states(SCHEDULES, (ACTIVE,))
        fired = []
        for schedule_id in candidates:
            result = self._fire(schedule_id, now)
            if result is not None:
                fired.append(result)
        return fired

    def _fire(self, schedule_id: str, now: datetime) -> Fired | None:
        outcome: Fired | None = None
        with self._store.transaction() as tx:
            record = tx.get(SCHEDULES, schedule_id)
            if record is None or record.state != ACTIVE:
                return None
            due_text = record.doc.get("timeNextScheduledRun")
            if not due_text or parse_time(due_text, "timeNextScheduledRun") > now:
                return None
            details = record.doc["action"]["actionDetails"]
            performer = self._actions.get(details["httpActionType"])
            token = "schedule-" + hashlib.sha256(f"{schedule_id}\n{due_text}".encode()).hexdigest()
            try:
                if performer is None:
                    raise InvalidParameterError(
                        f"{details['httpActionType']} is not supported by the local service."
                    )
                outcome = performer.perform(tx, details, schedule_id, token)
                summary = f"Created {outcome.kind} {outcome.resource_id} (fire time {due_text})."
            except ServiceError as exc:
                summary = f"The fire of {due_text} failed: {exc.code}: {exc.message}"
            doc = {
                **record.doc,
                "timeLastScheduleRun": format_time(now),
                "lastScheduleRunDetails": summary,
            }
            _set_next(doc, now)
            tx.replace(SCHEDULES, doc)
        logger.info("schedule %s fired: %s", schedule_id, summary)
        if outcome is not None and outcome.created and performer is not None:
            performer.submit(outcome)
        return outcome


def _set_next(doc: Document, now: datetime) -> None:
    """Set (or clear) timeNextScheduledRun: the trigger's first fire time after `now`."""
    following = Trigger.of(doc["trigger"], doc["id"]).next_after(now)
    if following is None:
        doc.pop("timeNextScheduledRun", None)
    else:
        doc["timeNextScheduledRun"] = format_time(following)


def _as_created(record: Record) -> Record:
    """The Create answer: OCI answers a new schedule CREATING while its work request runs
    (here it is already ACTIVE, as a GET shows)."""
    if record.state == ACTIVE:
        return Record({**record.doc, "lifecycleState": CREATING}, record.etag)
    return record


_WORK_REQUEST_ACTIONS = {
    "SCHEDULE_CREATE": "CREATED",
    "SCHEDULE_DELETE": "DELETED",
}


def _work_request(tx: Transaction, operation: str, record: Record) -> str:
    """The finished work request of a schedule operation (GetWorkRequest serves it)."""
    return finished_work_request(
        tx,
        operation,
        str(record.doc["compartmentId"]),
        "schedule",
        record.id,
        _WORK_REQUEST_ACTIONS.get(operation, "UPDATED"),
    )
