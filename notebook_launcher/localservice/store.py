"""Durable records of the local service: projects, jobs, job runs, pipelines, pipeline runs,
schedules, artifacts, retry tokens.

SQLite in WAL mode holds the records; artifacts, logs and objects live as files beside it.
Every change commits before the HTTP answer, so a killed service (even kill -9) loses no
record it has acknowledged. One connection is shared behind a lock: the service is small,
and serialising writes keeps retry-token checks and state transitions atomic.

Resources are kept as their API representation (camelCase JSON) plus the columns that
lists filter and sort on.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notebook_launcher.localservice.errors import (
    InvalidatedRetryTokenError,
    InvalidParameterError,
)
from notebook_launcher.localservice.ids import now_text

logger = logging.getLogger(__name__)

RETRY_TOKEN_TTL_SECONDS = 24 * 60 * 60

Document = dict[str, Any]


def serialize(doc: Document) -> str:
    """A document as strict JSON (no NaN or Infinity) that encodes as UTF-8.

    Called inside the writing transaction, so a value that could never be answered back
    (requests are checked before this; it is the last line) rolls the whole change back.
    """
    try:
        text = json.dumps(doc, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        raise InvalidParameterError(
            "The resource holds a value that cannot be stored: a number that is not finite"
            " or text that is not valid Unicode."
        ) from None
    return text


@dataclass(frozen=True)
class Kind:
    """A resource kind: its table and the document field its time column mirrors."""

    table: str
    time_field: str


PROJECTS = Kind("projects", "timeCreated")
JOBS = Kind("jobs", "timeCreated")
JOB_RUNS = Kind("job_runs", "timeAccepted")
PIPELINES = Kind("pipelines", "timeCreated")
PIPELINE_RUNS = Kind("pipeline_runs", "timeAccepted")
SCHEDULES = Kind("schedules", "timeCreated")
WORK_REQUESTS = Kind("work_requests", "timeAccepted")
KINDS = (PROJECTS, JOBS, JOB_RUNS, PIPELINES, PIPELINE_RUNS, SCHEDULES, WORK_REQUESTS)

# document field -> column, for the columns lists filter on
_COLUMNS = {
    "compartmentId": "compartment_id",
    "projectId": "project_id",
    "jobId": "job_id",
    "pipelineId": "pipeline_id",
    "displayName": "display_name",
    "lifecycleState": "lifecycle_state",
    "createdBy": "created_by",
}

_SCHEMA = [
    *(
        f"""CREATE TABLE IF NOT EXISTS {kind.table} (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            compartment_id TEXT, project_id TEXT, job_id TEXT, pipeline_id TEXT,
            display_name TEXT, lifecycle_state TEXT, created_by TEXT,
            time_created TEXT NOT NULL,
            etag TEXT NOT NULL,
            doc TEXT NOT NULL)"""
        for kind in KINDS
    ),
    # Lists page by key (sort column, seq): with these, every page costs the same.
    *(
        f"CREATE INDEX IF NOT EXISTS {kind.table}_by_{name} ON {kind.table} ({columns})"
        for kind in KINDS
        for name, columns in (
            ("compartment_time", "compartment_id, time_created, seq"),
            ("job_time", "job_id, time_created, seq"),
            ("compartment_name", "compartment_id, display_name, seq"),
        )
    ),
    """CREATE TABLE IF NOT EXISTS artifacts (
        job_id TEXT PRIMARY KEY,
        file_name TEXT NOT NULL,
        size INTEGER NOT NULL,
        md5_base64 TEXT NOT NULL,
        sha256_hex TEXT NOT NULL,
        time_created TEXT NOT NULL)""",
    # Every lifecycle state a resource (step "") or one of its step runs was stored in, in
    # order: what tests read (GET /_local/transitions/{id}) instead of what a poll happened
    # to see.
    """CREATE TABLE IF NOT EXISTS transitions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        resource_id TEXT NOT NULL,
        step TEXT NOT NULL,
        lifecycle_state TEXT NOT NULL,
        time TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS transitions_by_resource ON transitions (resource_id, seq)",
    """CREATE TABLE IF NOT EXISTS retry_tokens (
        operation TEXT NOT NULL,
        token TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (operation, token))""",
]


@dataclass(frozen=True)
class Record:
    """A stored resource: its API document and current etag."""

    doc: Document
    etag: str

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def state(self) -> str:
        return str(self.doc.get("lifecycleState"))


@dataclass(frozen=True)
class ArtifactInfo:
    """Metadata of an uploaded job artifact (the bytes are a file under the data dir)."""

    job_id: str
    file_name: str
    size: int
    md5_base64: str
    sha256_hex: str
    time_created: str


@dataclass(frozen=True)
class Transition:
    """A lifecycle state a resource (step None) or one of its step runs was stored in."""

    step: str | None
    lifecycle_state: str
    time: str  # when the service stored it (RFC 3339, UTC)


def _states(doc: Document | None) -> dict[str, str]:
    """The lifecycle states of a document: its step runs' (by name), then its own (key ""),
    so that within one write a run's end is recorded after its steps'."""
    if doc is None:
        return {}
    states: dict[str, str] = {}
    for step_run in doc.get("stepRuns") or ():
        if step_run.get("stepName") and step_run.get("lifecycleState"):
            states[str(step_run["stepName"])] = str(step_run["lifecycleState"])
    if doc.get("lifecycleState"):
        states[""] = str(doc["lifecycleState"])
    return states


@dataclass(frozen=True)
class Page:
    """One page of a list: the records, the offset of the next page, if any, and the key
    (sort value, seq) of the page's last record, after which the next page starts."""

    records: list[Record]
    next_offset: int | None
    next_after: tuple[str, int] | None = None


class Transaction:
    """Reads and writes inside one SQLite transaction (see `Store.transaction`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, kind: Kind, resource_id: str) -> Record | None:
        row = self._conn.execute(
            f"SELECT doc, etag FROM {kind.table} WHERE id = ?",  # noqa: S608 (table from a constant)
            (resource_id,),
        ).fetchone()
        return None if row is None else Record(json.loads(row[0]), row[1])

    def insert(self, kind: Kind, doc: Document) -> Record:
        etag = uuid.uuid4().hex
        self._conn.execute(
            f"INSERT INTO {kind.table} (id, {', '.join(_COLUMNS.values())},"  # noqa: S608
            " time_created, etag, doc)"
            f" VALUES ({', '.join('?' for _ in range(len(_COLUMNS) + 4))})",
            (
                doc["id"],
                *(doc.get(field) for field in _COLUMNS),
                doc[kind.time_field],
                etag,
                serialize(doc),
            ),
        )
        self._record_transitions(None, doc)
        return Record(doc, etag)

    def replace(self, kind: Kind, doc: Document) -> Record:
        """Store a new version of an existing resource (a new etag)."""
        previous = self.get(kind, str(doc["id"]))
        etag = uuid.uuid4().hex
        assignments = ", ".join(f"{column} = ?" for column in _COLUMNS.values())
        cursor = self._conn.execute(
            f"UPDATE {kind.table} SET {assignments}, etag = ?, doc = ? WHERE id = ?",  # noqa: S608
            (*(doc.get(field) for field in _COLUMNS), etag, serialize(doc), doc["id"]),
        )
        if cursor.rowcount != 1:
            raise KeyError(doc["id"])
        self._record_transitions(previous.doc if previous else None, doc)
        return Record(doc, etag)

    def _record_transitions(self, before: Document | None, after: Document) -> None:
        old = _states(before)
        now = now_text()
        for step, state in _states(after).items():
            if old.get(step) != state:
                self._conn.execute(
                    "INSERT INTO transitions (resource_id, step, lifecycle_state, time)"
                    " VALUES (?, ?, ?, ?)",
                    (after["id"], step, state, now),
                )

    def transitions(self, resource_id: str) -> list[Transition]:
        """The states resource_id and its step runs were stored in, oldest first."""
        rows = self._conn.execute(
            "SELECT step, lifecycle_state, time FROM transitions WHERE resource_id = ?"
            " ORDER BY seq",
            (resource_id,),
        ).fetchall()
        return [Transition(step or None, state, when) for step, state, when in rows]

    def query(
        self,
        kind: Kind,
        filters: dict[str, str],
        *,
        sort_by: str,
        descending: bool,
        offset: int,
        limit: int,
        exclude_states: Sequence[str] = (),
        after: tuple[str, int] | None = None,
    ) -> Page:
        """Records matching every `filters` field exactly (`id` or a document field), in
        sort order from `offset`, or (keyset paging) after the key `after` of a previous
        page's last record, which costs the same on every page."""
        clauses: list[str] = []
        params: list[Any] = []
        for field, value in filters.items():
            column = "id" if field == "id" else _COLUMNS[field]
            clauses.append(f"{column} = ?")
            params.append(value)
        if exclude_states and "lifecycleState" not in filters:
            clauses.append(f"lifecycle_state NOT IN ({', '.join('?' for _ in exclude_states)})")
            params.extend(exclude_states)
        column = "display_name" if sort_by == "displayName" else "time_created"
        direction = "DESC" if descending else "ASC"
        if after is not None:
            beyond = "<" if descending else ">"
            clauses.append(f"({column}, seq) {beyond} (?, ?)")
            params.extend(after)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(
            f"SELECT doc, etag, seq, {column} FROM {kind.table} {where}"  # noqa: S608
            f" ORDER BY {column} {direction}, seq {direction} LIMIT ? OFFSET ?",
            (*params, limit + 1, offset),
        ).fetchall()
        records = [Record(json.loads(doc), etag) for doc, etag, _, _ in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return Page(
            records,
            offset + limit if more else None,
            (str(last[3]), int(last[2])) if last is not None else None,
        )

    def ids_in_states(self, kind: Kind, states: Sequence[str]) -> list[str]:
        """Ids of resources in any of `states`, oldest first."""
        rows = self._conn.execute(
            f"SELECT id FROM {kind.table} WHERE lifecycle_state IN"  # noqa: S608
            f" ({', '.join('?' for _ in states)}) ORDER BY seq",
            tuple(states),
        ).fetchall()
        return [row[0] for row in rows]

    def save_artifact(self, info: ArtifactInfo) -> None:
        self._conn.execute(
            "INSERT INTO artifacts (job_id, file_name, size, md5_base64, sha256_hex, time_created)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                info.job_id,
                info.file_name,
                info.size,
                info.md5_base64,
                info.sha256_hex,
                info.time_created,
            ),
        )

    def get_artifact(self, job_id: str) -> ArtifactInfo | None:
        row = self._conn.execute(
            "SELECT job_id, file_name, size, md5_base64, sha256_hex, time_created"
            " FROM artifacts WHERE job_id = ?",
            (job_id,),
        ).fetchone()
        return None if row is None else ArtifactInfo(*row)

    def check_retry_token(self, operation: str, token: str, body_hash: str) -> str | None:
        """The resource a live retry token created, None if the token is new (or expired).

        Raises InvalidatedRetryTokenError when the token was used with a different request.
        """
        self._conn.execute(
            "DELETE FROM retry_tokens WHERE created_at < ?",
            (time.time() - RETRY_TOKEN_TTL_SECONDS,),
        )
        row = self._conn.execute(
            "SELECT body_hash, resource_id FROM retry_tokens WHERE operation = ? AND token = ?",
            (operation, token),
        ).fetchone()
        if row is None:
            return None
        if row[0] != body_hash:
            raise InvalidatedRetryTokenError(
                "The retry token was already used for a different request; "
                "use a new opc-retry-token for a new request."
            )
        return str(row[1])

    def save_retry_token(
        self, operation: str, token: str, body_hash: str, resource_id: str
    ) -> None:
        self._conn.execute(
            "INSERT INTO retry_tokens (operation, token, body_hash, resource_id, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (operation, token, body_hash, resource_id, time.time()),
        )


class Store:
    """The SQLite database of one data dir, safe to use from many threads."""

    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (committed pages are in the OS); only a power
        # cut could lose the last commits, which is acceptable for a local stand-in.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        with self.transaction():
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._add_missing_columns()
        logger.debug("store opened at %s", db_path)

    def _add_missing_columns(self) -> None:
        """Add the filter columns a data dir written by an older version lacks."""
        for kind in KINDS:
            rows = self._conn.execute(f"PRAGMA table_info({kind.table})").fetchall()
            present = {row[1] for row in rows}
            for column in _COLUMNS.values():
                if column not in present:
                    self._conn.execute(f"ALTER TABLE {kind.table} ADD COLUMN {column} TEXT")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A write transaction, committed when the block ends without an exception."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield Transaction(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get(self, kind: Kind, resource_id: str) -> Record | None:
        with self.transaction() as tx:
            return tx.get(kind, resource_id)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
