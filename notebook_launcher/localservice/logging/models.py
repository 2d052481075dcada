"""Log groups, logs and their entries: the Logging management API (20200531) and Logging
Search (20190909) over the job runs' output.

A job run whose job (or run) enables logging with a log group gets `logDetails` as OCI sets
them: the log it names, or (enableAutoLogCreation) a log created for the run in that group.
The run's stdout and stderr (`<data-dir>/logs/<run id>.log`) are that log's entries: each
line is ingested, with an id of its own and a time inside the window it was written in
(after the run was accepted and the lines before it, by the file's last change), when a
search reads the log, much as OCI ingests log lines shortly after they are written.

Records live in `logging.db`; create operations finish at once and answer a work request
(SUCCEEDED, its first resource the new OCID, which ADS reads). Local choices: a log group
named by a job but unknown here is adopted (created under that OCID in the job's
compartment) so jobs configured for a tenancy's log group run locally; SearchLogs
understands the query forms ADS and the oci CLI send (query.py) and refuses others with a
400 that says so.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notebook_launcher.localservice.errors import (
    ConflictError,
    InvalidParameterError,
    MissingParameterError,
    NotFoundError,
)
from notebook_launcher.localservice.identity.provisioning import ensure_identity
from notebook_launcher.localservice.ids import format_time, is_compartment_ocid, is_ocid, new_ocid
from notebook_launcher.localservice.logging.query import (
    Query,
    log_matches,
    parse_query,
    source_matches,
)
from notebook_launcher.localservice.side_database import SideDatabase

if TYPE_CHECKING:
    from notebook_launcher.localservice.rest import ServiceContext

logger = logging.getLogger(__name__)

LOG_GROUP = "loggroup"
LOG = "log"
WORK_REQUEST = "logworkrequest"
ENTRY_TYPE = "com.oraclecloud.datascience.jobrun.stdout"  # local choice (not documented)
MAX_SEARCH_LIMIT = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS log_groups (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS logs (id TEXT PRIMARY KEY, log_group_id TEXT NOT NULL,
        doc TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS work_requests (id TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS sources (log_id TEXT NOT NULL, run_id TEXT NOT NULL,
        compartment_id TEXT NOT NULL, PRIMARY KEY (log_id, run_id))""",
    # Entries are timed in microseconds (`lines`, `line_offsets`; the former `entries` and
    # `ingested`, in milliseconds, are left unread: their runs are taken afresh).
    """CREATE TABLE IF NOT EXISTS line_offsets (run_id TEXT PRIMARY KEY,
        offset INTEGER NOT NULL, count INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS lines (run_id TEXT NOT NULL, seq INTEGER NOT NULL,
        time_us INTEGER NOT NULL, id TEXT NOT NULL, message TEXT NOT NULL,
        PRIMARY KEY (run_id, seq))""",
    # When the run was attached (its timeAccepted or later): no line of it is older.
    "CREATE TABLE IF NOT EXISTS run_floors (run_id TEXT PRIMARY KEY, time_us INTEGER NOT NULL)",
)


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _now() -> datetime:
    return datetime.now(UTC)


class Logs:
    """Log groups, logs, their work requests and the entries of the runs that log to them."""

    def __init__(self, database: Path, run_logs: Path, tenancy_id: str) -> None:
        self._run_logs = run_logs
        self._tenancy = tenancy_id
        self._db = SideDatabase(database, _SCHEMA, pragmas=("busy_timeout=5000",))
        self._tx = self._db.transaction

    def _get(self, conn: sqlite3.Connection, table: str, resource_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            f"SELECT doc FROM {table} WHERE id = ?",  # noqa: S608 (table from a constant)
            (resource_id,),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _work_request(
        self, conn: sqlite3.Connection, operation: str, compartment: str, entity: str, ocid: str
    ) -> str:
        now = format_time(_now())
        doc = {
            "id": new_ocid(WORK_REQUEST),
            "operationType": operation,
            "status": "SUCCEEDED",
            "compartmentId": compartment,
            "percentComplete": 100.0,
            "resources": [
                {
                    "entityType": entity,
                    "actionType": "CREATED",
                    "identifier": ocid,
                    "entityUri": "",
                }
            ],
            "timeAccepted": now,
            "timeStarted": now,
            "timeFinished": now,
        }
        conn.execute(
            "INSERT INTO work_requests (id, doc) VALUES (?, ?)", (doc["id"], json.dumps(doc))
        )
        return str(doc["id"])

    # ----------------------------------------------------------------- log groups

    def create_log_group(self, details: Mapping[str, Any]) -> str:
        compartment = details.get("compartmentId")
        name = details.get("displayName")
        if not is_compartment_ocid(compartment):
            raise InvalidParameterError("compartmentId must be a compartment OCID.")
        if not isinstance(name, str) or not name:
            raise MissingParameterError("Missing parameter: displayName.")
        with self._tx() as conn:
            for group in self._groups(conn):
                if group["compartmentId"] == compartment and group["displayName"] == name:
                    raise ConflictError(
                        f"A log group named {name!r} already exists in the compartment."
                    )
            doc = self._group_doc(new_ocid(LOG_GROUP), str(compartment), name, details)
            conn.execute(
                "INSERT INTO log_groups (id, doc) VALUES (?, ?)", (doc["id"], json.dumps(doc))
            )
            return self._work_request(
                conn, "CREATE_LOG_GROUP", str(compartment), "loggroup", doc["id"]
            )

    @staticmethod
    def _group_doc(
        group_id: str, compartment: str, name: str, details: Mapping[str, Any]
    ) -> dict[str, Any]:
        now = format_time(_now())
        return {
            "id": group_id,
            "compartmentId": compartment,
            "displayName": name,
            "description": details.get("description"),
            "lifecycleState": "ACTIVE",
            "freeformTags": details.get("freeformTags") or {},
            "definedTags": details.get("definedTags") or {},
            "timeCreated": now,
            "timeLastModified": now,
        }

    def _groups(self, conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute("SELECT doc FROM log_groups ORDER BY rowid").fetchall()
        return [json.loads(row[0]) for row in rows]

    def get_log_group(self, group_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            doc = self._get(conn, "log_groups", group_id)
        if doc is None:
            raise NotFoundError()
        return doc

    def list_log_groups(self, compartment: str | None, name: str | None) -> list[dict[str, Any]]:
        if not compartment:
            raise MissingParameterError("Missing parameter: compartmentId.")
        with self._tx() as conn:
            groups = self._groups(conn)
        return [
            g
            for g in groups
            if g["compartmentId"] == compartment and (name is None or g["displayName"] == name)
        ]

    # ----------------------------------------------------------------- logs

    def create_log(self, group_id: str, details: Mapping[str, Any]) -> str:
        name = details.get("displayName")
        log_type = details.get("logType")
        if not isinstance(name, str) or not name:
            raise MissingParameterError("Missing parameter: displayName.")
        if log_type not in ("CUSTOM", "SERVICE"):
            raise InvalidParameterError("logType must be CUSTOM or SERVICE.")
        with self._tx() as conn:
            group = self._get(conn, "log_groups", group_id)
            if group is None:
                raise NotFoundError()
            doc = self._insert_log(conn, group, name, str(log_type), details)
            return self._work_request(conn, "CREATE_LOG", group["compartmentId"], "log", doc["id"])

    def _insert_log(
        self,
        conn: sqlite3.Connection,
        group: Mapping[str, Any],
        name: str,
        log_type: str,
        details: Mapping[str, Any],
        *,
        unique_name: bool = True,
    ) -> dict[str, Any]:
        for log in self._logs(conn, group["id"]) if unique_name else ():
            if log["displayName"] == name:
                raise ConflictError(f"A log named {name!r} already exists in the log group.")
        now = format_time(_now())
        doc = {
            "id": new_ocid(LOG),
            "tenancyId": self._tenancy,
            "logGroupId": group["id"],
            "displayName": name,
            "logType": log_type,
            "isEnabled": details.get("isEnabled", True) is not False,
            "configuration": details.get("configuration"),
            "lifecycleState": "ACTIVE",
            "timeCreated": now,
            "timeLastModified": now,
            "retentionDuration": details.get("retentionDuration") or 30,
            "compartmentId": group["compartmentId"],
            "freeformTags": details.get("freeformTags") or {},
            "definedTags": details.get("definedTags") or {},
        }
        conn.execute(
            "INSERT INTO logs (id, log_group_id, doc) VALUES (?, ?, ?)",
            (doc["id"], group["id"], json.dumps(doc)),
        )
        return doc

    def _logs(self, conn: sqlite3.Connection, group_id: str) -> list[dict[str, Any]]:
        rows = conn.execute(
            "SELECT doc FROM logs WHERE log_group_id = ? ORDER BY rowid", (group_id,)
        ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def get_log(self, group_id: str, log_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            doc = self._get(conn, "logs", log_id)
        if doc is None or doc["logGroupId"] != group_id:
            raise NotFoundError()
        return doc

    def list_logs(
        self, group_id: str, name: str | None, filters: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """ListLogs; `filters` are its logType, sourceService and sourceResource."""
        with self._tx() as conn:
            if self._get(conn, "log_groups", group_id) is None:
                raise NotFoundError()
            logs = self._logs(conn, group_id)
        wanted = dict(filters or {})
        return [
            log
            for log in logs
            if (name is None or log["displayName"] == name) and log_matches(log, wanted)
        ]

    def get_work_request(self, request_id: str) -> dict[str, Any]:
        with self._tx() as conn:
            doc = self._get(conn, "work_requests", request_id)
        if doc is None:
            raise NotFoundError()
        return doc

    # ----------------------------------------------------------------- job runs

    def attach_run(
        self,
        run_id: str,
        compartment: str,
        group_id: str,
        log_id: str | None,
        run_name: str,
    ) -> dict[str, str]:
        """The run's logDetails: the named log, or a log made for it in the group."""
        if not is_ocid(group_id, LOG_GROUP):
            raise InvalidParameterError("logGroupId must be a log group OCID.")
        if log_id is not None and not is_ocid(log_id, LOG):
            raise InvalidParameterError("logId must be a log OCID.")
        with self._tx() as conn:
            group = self._get(conn, "log_groups", group_id)
            if group is None:  # a tenancy's log group, adopted locally
                group = self._group_doc(group_id, compartment, group_id[-12:], {})
                conn.execute(
                    "INSERT INTO log_groups (id, doc) VALUES (?, ?)", (group_id, json.dumps(group))
                )
            if log_id is None:
                # Named after the run and its OCID: run names repeat, a run's log is its own.
                log = self._insert_log(
                    conn,
                    group,
                    f"{run_name}-{run_id[-12:]}",
                    "SERVICE",
                    {
                        "configuration": {
                            "compartmentId": group["compartmentId"],
                            "source": {
                                "sourceType": "OCISERVICE",
                                "service": "datascience",
                                "resource": run_id,
                                "category": "stdout",
                            },
                        }
                    },
                    unique_name=False,
                )
                log_id = str(log["id"])
            elif self._get(conn, "logs", log_id) is None:
                self._adopt_log(conn, group, log_id)
            conn.execute(
                "INSERT OR IGNORE INTO sources (log_id, run_id, compartment_id) VALUES (?, ?, ?)",
                (log_id, run_id, compartment),
            )
            conn.execute(
                "INSERT OR IGNORE INTO run_floors (run_id, time_us) VALUES (?, ?)",
                (run_id, _us(_now())),
            )
        return {"logGroupId": group_id, "logId": log_id}

    def _adopt_log(self, conn: sqlite3.Connection, group: Mapping[str, Any], log_id: str) -> None:
        now = format_time(_now())
        doc = {
            "id": log_id,
            "tenancyId": self._tenancy,
            "logGroupId": group["id"],
            "displayName": log_id[-12:],
            "logType": "CUSTOM",
            "isEnabled": True,
            "lifecycleState": "ACTIVE",
            "timeCreated": now,
            "timeLastModified": now,
            "retentionDuration": 30,
            "compartmentId": group["compartmentId"],
        }
        conn.execute(
            "INSERT INTO logs (id, log_group_id, doc) VALUES (?, ?, ?)",
            (log_id, group["id"], json.dumps(doc)),
        )

    # ----------------------------------------------------------------- search

    def search(
        self, query_text: str, time_start: datetime, time_end: datetime, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """(entries, whether more follow) matching the query within [start, end)."""
        query = parse_query(query_text)
        found: list[tuple[int, int, dict[str, Any]]] = []
        start_us, end_us = _us(time_start), _us(time_end)
        with self._tx() as conn:
            runs = self._runs_of(conn, query)
            for run_id, *_ in runs:
                self._ingest(conn, run_id)
            found = self._matching(conn, query, runs, start_us, end_us)
        found.sort(key=lambda item: (item[0], item[1]), reverse=query.descending)
        page = [entry for _, _, entry in found[offset : offset + limit]]
        return page, len(found) > offset + limit

    def _matching(
        self,
        conn: sqlite3.Connection,
        query: Query,
        runs: list[tuple[str, str, str, str]],
        start_us: int,
        end_us: int,
    ) -> list[tuple[int, int, dict[str, Any]]]:
        found: list[tuple[int, int, dict[str, Any]]] = []
        for run_id, log_id, group_id, compartment in runs:
            combine = any if query.any_source else all
            if query.sources and not combine(source_matches(s, run_id) for s in query.sources):
                continue
            rows = conn.execute(
                "SELECT seq, time_us, id, message FROM lines"
                " WHERE run_id = ? AND time_us >= ? AND time_us < ? ORDER BY seq",
                (run_id, start_us, end_us),
            ).fetchall()
            for seq, time_us, entry_id, message in rows:
                found.append(
                    (
                        time_us,
                        seq,
                        _entry(
                            run_id,
                            log_id,
                            group_id,
                            compartment,
                            self._tenancy,
                            time_us,
                            entry_id,
                            message,
                        ),
                    )
                )
        return found

    def _runs_of(self, conn: sqlite3.Connection, query: Query) -> list[tuple[str, str, str, str]]:
        """(run, log, log group, compartment) of every run logging to the query's stream."""
        rows = conn.execute(
            "SELECT s.run_id, s.log_id, l.log_group_id, l.doc FROM sources s"
            " JOIN logs l ON l.id = s.log_id ORDER BY s.rowid"
        ).fetchall()
        found = []
        for run_id, log_id, group_id, doc in rows:
            compartment = json.loads(doc)["compartmentId"]
            if compartment != query.compartment:
                continue
            if query.log_group is not None and group_id != query.log_group:
                continue
            if query.log is not None and log_id != query.log:
                continue
            found.append((run_id, log_id, group_id, compartment))
        return found

    def _ingest(self, conn: sqlite3.Connection, run_id: str) -> None:
        """Take the complete lines the run wrote since the last look as new entries."""
        path = self._run_logs / f"{run_id}.log"
        row = conn.execute(
            "SELECT offset, count FROM line_offsets WHERE run_id = ?", (run_id,)
        ).fetchone()
        offset, count = (0, 0) if row is None else row
        try:
            with open(path, "rb") as file:
                file.seek(offset)
                chunk = file.read()
                # Read after the lines: they were written by the file's last change.
                written = min(_us(_now()), os.fstat(file.fileno()).st_mtime_ns // 1000)
        except FileNotFoundError:
            return
        end = chunk.rfind(b"\n") + 1
        if not end:
            return
        lines = chunk[:end].split(b"\n")[:-1]
        first, step = self._batch_times(conn, run_id, written, len(lines))
        for index, line in enumerate(lines):
            conn.execute(
                "INSERT INTO lines (run_id, seq, time_us, id, message) VALUES (?, ?, ?, ?, ?)",
                (
                    run_id,
                    count,
                    first + index * step,
                    str(uuid.uuid4()),
                    line.decode("utf-8", "replace").rstrip("\r"),
                ),
            )
            count += 1
        conn.execute(
            "INSERT OR REPLACE INTO line_offsets (run_id, offset, count) VALUES (?, ?, ?)",
            (run_id, offset + end, count),
        )

    @staticmethod
    def _batch_times(
        conn: sqlite3.Connection, run_id: str, written: int, count: int
    ) -> tuple[int, int]:
        """(first time, microseconds between lines) for `count` new lines.

        The lines were written after the entries taken before (or, for the first batch,
        after the run was attached, i.e. accepted) and by the file's last change: each gets
        a time in that window, in order, never earlier than the run or an earlier line.
        Spread over the window as evenly as it allows (ADS pages by time and can read at
        most 1,000 entries of one millisecond, then sorts by `time`), never after `written`.
        """
        last = conn.execute(
            "SELECT MAX(time_us) FROM lines WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
        floor_row = conn.execute(
            "SELECT time_us FROM run_floors WHERE run_id = ?", (run_id,)
        ).fetchone()
        floor = max(last if last is not None else 0, floor_row[0] if floor_row is not None else 0)
        if floor == 0 or floor > written:  # no record of the run's start, or a coarse mtime
            return max(written, floor), 0
        return floor, (written - floor) // max(count - 1, 1)


def _entry(
    run_id: str,
    log_id: str,
    group_id: str,
    compartment: str,
    tenancy: str,
    time_us: int,
    entry_id: str,
    message: str,
) -> dict[str, Any]:
    """A search result's `data`, in OCI's log format (CloudEvents 1.0 plus `oracle`)."""
    moment = datetime.fromtimestamp(time_us // 1_000_000, UTC).replace(
        microsecond=time_us % 1_000_000
    )
    # `time` to the microsecond (RFC 3339 allows it): lines of one millisecond keep their
    # order when a reader sorts by it, as ADS's tail does.
    when = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "datetime": time_us // 1000,
        "logContent": {
            "data": {"message": message},
            "id": entry_id,
            "oracle": {
                "compartmentid": compartment,
                "ingestedtime": when,
                "loggroupid": group_id,
                "logid": log_id,
                "tenantid": tenancy,
            },
            "source": run_id,
            "specversion": "1.0",
            "time": when,
            "type": ENTRY_TYPE,
        },
    }


def backend(context: ServiceContext) -> Logs:
    """The Logging backend of a data dir (Data Science uses it to give runs their logs)."""
    identity = ensure_identity(context.layout.root)
    return Logs(context.layout.logging_db, context.layout.logs, identity.tenancy_id)
