"""``SQLiteAssignments``: the registry in one SQLite file, shared by processes on one machine.

Every operation, reads included, is one SQLite transaction opened with ``BEGIN
IMMEDIATE``, which takes the database's write lock up front: the read-decide-write of a
claim is serialised against every other process using the file (``busy_timeout`` makes
the others wait rather than fail). WAL mode with ``synchronous=NORMAL`` keeps each commit
an append without fsync: a committed claim survives a process crash; a power loss may
forget the last ones. All calls run on one worker thread per object, off the event loop
(as ``wamd.store.sqlite``).

Time: the clock is read *inside* the transaction that decides, and the highest time any
process has used is stored in the file (``meta.clock``); ``now`` is the larger of the two,
and it is stored back. So the file's time never goes back, whatever a process's clock
says: a process whose clock is behind (or stepped back) cannot see a live claim as free,
and once any process has seen a claim expire no later reading revives it (this is why
reads write too). A process whose clock is *ahead* moves the file's time forward for
everyone, which can only end claims early — never give a chat two live rows. Claims
therefore expire by one shared, non-decreasing clock, and the fencing token
(``meta.token``, one counter for the file) tells a holder whose claim ended early that it
lost the chat.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from wamd.assign import rules
from wamd.assign.base import AssignmentBackend
from wamd.assign.errors import BackendError
from wamd.assign.rules import Decision, Row
from wamd.assign.types import Grant
from wamd.store.sqlite import prepare_database

__all__ = ["SQLiteAssignments"]

T = TypeVar("T")

SWEEP_EVERY = 256  # write transactions between deletions of expired rows

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    chat TEXT PRIMARY KEY,
    handler TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS claims_by_handler ON claims (handler, expires_at);
CREATE TABLE IF NOT EXISTS marks (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS marks_by_expiry ON marks (expires_at);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""


class SQLiteAssignments(AssignmentBackend):
    """Claims and marks in the SQLite file ``path`` (created when missing).

    ``clock`` (seconds, default ``time.time``) is what this process contributes to the
    file's shared clock; tests inject one to play a skewed process.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        self._clock = clock or time.time
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wamd-assign")
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._writes = 0

    # ------------------------------------------------------------------ plumbing

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._closed:
            raise BackendError(f"{self.path}: the assignment store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except sqlite3.Error as exc:
            raise BackendError(f"{self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(
                self.path,
                isolation_level=None,
                timeout=self._busy_timeout,
                check_same_thread=False,
            )
            try:
                prepare_database(db, _SCHEMA, synchronous="NORMAL", busy_timeout=self._busy_timeout)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _now(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE name = 'clock'").fetchone()
        stored = int(row[0]) if row is not None else 0
        now = max(stored, int(self._clock() * 1000))
        if now > stored:
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('clock', ?)", (now,))
        return now

    def _transaction(self, fn: Callable[[sqlite3.Connection, int], T]) -> T:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            now = self._now(db)
            result = fn(db, now)
            self._writes += 1
            if self._writes % SWEEP_EVERY == 1:
                db.execute("DELETE FROM marks WHERE expires_at <= ?", (now,))
                db.execute("DELETE FROM claims WHERE expires_at <= ?", (now,))
            db.execute("COMMIT")
            return result
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    async def _write(self, fn: Callable[[sqlite3.Connection, int], T]) -> T:
        return await self._run(lambda: self._transaction(fn))

    _read = _write  # reads store the clock they used as well (see the module docstring)

    async def open(self) -> None:
        """Open (and create) the file now rather than on first use."""
        await self._run(self._connect)

    async def close(self) -> None:
        if self._closed:
            return

        def close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await self._run(close)
        self._closed = True
        self._executor.shutdown(wait=False)

    # ------------------------------------------------------------------ rows

    @staticmethod
    def _row(db: sqlite3.Connection, chat: str) -> Row | None:
        got = db.execute(
            "SELECT handler, token, expires_at FROM claims WHERE chat = ?", (chat,)
        ).fetchone()
        return None if got is None else Row(got[0], int(got[1]), int(got[2]))

    @staticmethod
    def _token_counter(db: sqlite3.Connection) -> Callable[[], int]:
        def new_token() -> int:
            got = db.execute("SELECT value FROM meta WHERE name = 'token'").fetchone()
            token = (int(got[0]) if got is not None else 0) + 1
            db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('token', ?)", (token,))
            return token

        return new_token

    @staticmethod
    def _apply(db: sqlite3.Connection, chat: str, now: int, decision: Decision) -> Grant | None:
        row = decision.row
        if decision.write:
            if row is None:
                db.execute("DELETE FROM claims WHERE chat = ?", (chat,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO claims (chat, handler, token, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (chat, row.handler, row.token, row.expires_at),
                )
        if not decision.ok or row is None:
            return None
        return Grant(chat, row.handler, row.token, row.expires_at - now, decision.fresh)

    # ------------------------------------------------------------------ primitives

    async def _claim(self, chat: str, handler: str, ttl: int, force: bool) -> Grant | None:
        def op(db: sqlite3.Connection, now: int) -> Grant | None:
            decision = rules.claim(
                self._row(db, chat), now, handler, ttl, force, self._token_counter(db)
            )
            return self._apply(db, chat, now, decision)

        return await self._write(op)

    async def _renew(self, chat: str, handler: str, ttl: int, token: int | None) -> Grant | None:
        def op(db: sqlite3.Connection, now: int) -> Grant | None:
            decision = rules.renew(self._row(db, chat), now, handler, token, ttl)
            return self._apply(db, chat, now, decision)

        return await self._write(op)

    async def _release(self, chat: str, handler: str, token: int | None) -> bool:
        def op(db: sqlite3.Connection, now: int) -> bool:
            decision = rules.release(self._row(db, chat), now, handler, token)
            self._apply(db, chat, now, decision)
            return decision.ok

        return await self._write(op)

    async def _transfer(
        self, chat: str, to: str, ttl: int, current: str | None, token: int | None
    ) -> Grant | None:
        def op(db: sqlite3.Connection, now: int) -> Grant | None:
            decision = rules.transfer(
                self._row(db, chat), now, to, ttl, current, token, self._token_counter(db)
            )
            return self._apply(db, chat, now, decision)

        return await self._write(op)

    async def _holder(self, chat: str) -> Grant | None:
        def op(db: sqlite3.Connection, now: int) -> Grant | None:
            row = rules.live(self._row(db, chat), now)
            return (
                None if row is None else Grant(chat, row.handler, row.token, row.expires_at - now)
            )

        return await self._read(op)

    async def _chats_of(self, handler: str) -> list[Grant]:
        def op(db: sqlite3.Connection, now: int) -> list[Grant]:
            rows = db.execute(
                "SELECT chat, token, expires_at FROM claims WHERE handler = ? AND expires_at > ?",
                (handler, now),
            ).fetchall()
            return [Grant(chat, handler, int(token), int(exp) - now) for chat, token, exp in rows]

        return await self._read(op)

    async def _load(self, handlers: list[str]) -> dict[str, int]:
        def op(db: sqlite3.Connection, now: int) -> dict[str, int]:
            counts = dict.fromkeys(handlers, 0)
            for handler in handlers:
                got = db.execute(
                    "SELECT COUNT(*) FROM claims WHERE handler = ? AND expires_at > ?",
                    (handler, now),
                ).fetchone()
                counts[handler] = int(got[0])
            return counts

        return await self._read(op)

    async def _mark(self, key: str, value: str, ttl: int) -> bool:
        def op(db: sqlite3.Connection, now: int) -> bool:
            got = db.execute("SELECT expires_at FROM marks WHERE key = ?", (key,)).fetchone()
            if got is not None and int(got[0]) > now:
                return False
            db.execute(
                "INSERT OR REPLACE INTO marks (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, now + ttl),
            )
            return True

        return await self._write(op)

    async def _get_mark(self, key: str) -> str | None:
        def op(db: sqlite3.Connection, now: int) -> str | None:
            got = db.execute(
                "SELECT value FROM marks WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
            return None if got is None else str(got[0])

        return await self._read(op)

    async def _unmark(self, key: str) -> bool:
        def op(db: sqlite3.Connection, now: int) -> bool:
            gone = db.execute(
                "DELETE FROM marks WHERE key = ? AND expires_at > ?", (key, now)
            ).rowcount
            db.execute("DELETE FROM marks WHERE key = ?", (key,))
            return bool(gone)

        return await self._write(op)
