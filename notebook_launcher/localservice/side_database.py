"""A service's own SQLite file beside the main store (Object Storage's object attributes,
Logging's groups and logs): WAL, one connection shared behind a re-entrant lock, and
`transaction()` as BEGIN IMMEDIATE … COMMIT (ROLLBACK on any exception)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


class SideDatabase:
    """One SQLite database of a service, created with its schema on first use."""

    def __init__(self, path: Path, schema: Iterable[str], pragmas: Iterable[str] = ()) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        for pragma in pragmas:
            self.connection.execute(f"PRAGMA {pragma}")
        with self.transaction() as conn:
            for statement in schema:
                conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
            self.connection.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.connection.close()
