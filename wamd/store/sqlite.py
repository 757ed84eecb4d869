"""``use_sqlite_auth_state``: credentials and keys in one SQLite file (WAL mode).

A key store transaction is one SQLite transaction, opened with ``BEGIN IMMEDIATE`` so
that its reads and writes are serialised against other processes using the same file
(SQLite's own locking; ``busy_timeout`` makes them wait rather than fail). Everything
runs on one connection and one worker thread per store, off the event loop; a creds save
is a transaction of its own, made when no key transaction is open on that connection
(so it cannot be rolled back with, or wait in, another task's key transaction). A row that cannot be decoded
raises ``CorruptedStore`` naming the file, type and id.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from wamd.errors import CorruptedStore, StoreError
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.base import TransactionalKeyStore, Writes
from wamd.store.creds import AuthenticationCreds, init_auth_creds
from wamd.store.files import FOLDER_MODE, create_private_file
from wamd.store.serialize import dumps, loads

__all__ = ["SQLiteKeyStore", "prepare_database", "use_sqlite_auth_state"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS creds (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    value TEXT NOT NULL
);
"""


def prepare_database(
    db: sqlite3.Connection, schema: str, *, synchronous: str, busy_timeout: float
) -> None:
    """WAL mode, ``synchronous`` and ``schema``, waiting out other processes doing the same.

    Switching a new file to WAL answers "database is locked" at once to every process but
    one, without the busy timeout; so do schema writes racing it. Retries (with a
    growing pause, on the calling thread: a store's worker, never the event loop) until
    ``busy_timeout`` seconds have passed.
    """
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"not a synchronous mode: {synchronous!r}")
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={synchronous}")
            db.executescript(schema)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class SQLiteKeyStore(TransactionalKeyStore):
    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wamd-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: {exc}") from exc

    async def open(self) -> None:
        def connect() -> None:
            if str(self.path) != ":memory:":
                # owner-only from the start; SQLite gives -wal and -shm the same mode
                Path(self.path).parent.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
                create_private_file(Path(self.path))
            db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout)
            try:
                prepare_database(db, _SCHEMA, synchronous="FULL", busy_timeout=self._busy_timeout)
            except BaseException:
                db.close()
                raise
            self._db = db

        await self._run(connect)

    async def close(self) -> None:
        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(close)
        self._executor.shutdown(wait=False)

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"{self.path}: store is not open")
        return self._db

    async def _begin(self) -> None:
        await self._run(lambda: self.db.execute("BEGIN IMMEDIATE"))

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if not ids:
            return {}

        def read() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"SELECT id, value FROM keys WHERE type = ? AND id IN ({marks})",
                    (type, *chunk),
                ).fetchall()
                for key_id, value in rows:
                    out[key_id] = loads(value, f"{self.path}: {type}/{key_id}")
            return out

        return await self._run(read)

    async def _commit(self, writes: Writes) -> None:
        def commit() -> None:
            db = self.db
            try:
                for type, values in writes.items():
                    upserts = [(type, k, dumps(v)) for k, v in values.items() if v is not None]
                    deletes = [(type, k) for k, v in values.items() if v is None]
                    if upserts:
                        db.executemany(
                            "INSERT OR REPLACE INTO keys (type, id, value) VALUES (?, ?, ?)",
                            upserts,
                        )
                    if deletes:
                        db.executemany("DELETE FROM keys WHERE type = ? AND id = ?", deletes)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

        await self._run(commit)

    async def _rollback(self) -> None:
        def rollback() -> None:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

        await self._run(rollback)

    async def read_creds(self) -> AuthenticationCreds | None:
        row = await self._run(
            lambda: self.db.execute("SELECT value FROM creds WHERE id = 0").fetchone()
        )
        if row is None:
            return None
        location = f"{self.path}: creds"
        import json

        try:
            raw = json.loads(row[0])
        except ValueError:
            raise CorruptedStore(location, "not valid JSON") from None
        return AuthenticationCreds.from_json(raw, location)

    async def write_creds(self, creds: AuthenticationCreds) -> None:
        """Save ``creds`` durably, in a transaction of its own.

        The connection is shared with the key transactions, so the write waits until none
        is open (``_outside_transactions``): it never rides in another task's key
        transaction, which could still roll back or be lost in a crash after this returned.
        """
        text = dumps(creds.to_json())
        async with self._outside_transactions("save_creds()"):
            await self._run(
                lambda: self.db.execute(
                    "INSERT OR REPLACE INTO creds (id, value) VALUES (0, ?)", (text,)
                )
            )


async def use_sqlite_auth_state(
    path: str | os.PathLike[str],
) -> AuthStateAndSave:
    """``(state, save_creds)`` backed by one SQLite file; safe for several processes."""
    store = SQLiteKeyStore(path)
    await store.open()
    creds = await store.read_creds()
    state = AuthState(creds or init_auth_creds(), store)
    if creds is None:
        await store.write_creds(state.creds)

    async def save_creds(*_update: object) -> None:
        await store.write_creds(state.creds)

    return AuthStateAndSave(state, save_creds)
