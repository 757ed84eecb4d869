"""Where a fleet's accounts keep their auth state: one place for many accounts.

An ``AuthBackend`` opens an account's ``(state, save_creds)`` by name, deletes an
account's data, and is closed once. Three of them:

- ``PostgresAuths(dsn, pool_size=...)``: every account in one PostgreSQL database
  (``wamd.store.postgres``), over **one shared pool** of connections per process, so a
  worker with 500 accounts holds ``pool_size`` connections, not 1000. A pool of the
  caller's (psycopg_pool's ``AsyncConnectionPool``, or anything with ``async with
  pool.connection()``) may be passed instead;
- ``SQLiteAuths(path)``: every account in one SQLite file (``account=`` rows), for a
  fleet on one machine without a server;
- ``MemoryAuths()``: tests; nothing survives the process.

``Pool`` is the small pool ``PostgresAuths`` uses when given a DSN. It is written here
rather than taken from ``psycopg_pool`` because the store needs only ``connection()``,
and one optional dependency less is one thing less to install on every worker; a user
who runs psycopg_pool already passes theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wamd.errors import FleetError, StoreError
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.creds import init_auth_creds
from wamd.store.memory import MemoryKeyStore

if TYPE_CHECKING:
    from psycopg import AsyncConnection

    from wamd.store.postgres import ConnectionPool

__all__ = ["AuthBackend", "MemoryAuths", "Pool", "PostgresAuths", "SQLiteAuths"]

POOL_WAIT = 60.0  # seconds a borrower waits for a free connection before StoreError


class AuthBackend(ABC):
    """Opens the auth state of an account by name (see the module docstring)."""

    @abstractmethod
    async def open(self, account: str) -> AuthStateAndSave:
        """The account's state (fresh credentials, saved, when it has none yet)."""

    async def forget(self, account: str, state: AuthState) -> None:  # noqa: B027
        """Delete what is stored for ``account`` (``state`` is its open state)."""

    async def release(self, state: AuthState) -> None:
        """Give back what the open state holds (its connections, its thread)."""
        closer = getattr(state.keys, "close", None)
        if closer is not None:
            await closer()

    async def close(self) -> None:  # noqa: B027
        """Release what the backend holds (a pool)."""


class MemoryAuths(AuthBackend):
    """Accounts in memory, kept while the object lives (so a stopped account can restart)."""

    def __init__(self) -> None:
        self.states: dict[str, AuthState] = {}

    async def open(self, account: str) -> AuthStateAndSave:
        state = self.states.get(account)
        if state is None:
            state = self.states[account] = AuthState(init_auth_creds(), MemoryKeyStore())

        async def save_creds(*_update: object) -> None:
            return None

        return AuthStateAndSave(state, save_creds)

    async def forget(self, account: str, state: AuthState) -> None:
        self.states.pop(account, None)

    async def release(self, state: AuthState) -> None:
        return None


class SQLiteAuths(AuthBackend):
    """Every account in one SQLite file (rows keyed by account)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SQLiteAuths({str(self.path)!r})"

    async def open(self, account: str) -> AuthStateAndSave:
        from wamd.store.sqlite import use_sqlite_auth_state

        return await use_sqlite_auth_state(self.path, account=account)

    async def forget(self, account: str, state: AuthState) -> None:
        remove = getattr(state.keys, "remove_account", None)
        if remove is not None:
            await remove()
            return
        # the SQLite store has no remove_account: the account's rows go in one transaction
        # (its store is closed first, by the caller)
        await asyncio.to_thread(_sqlite_delete, self.path, account)


def _sqlite_delete(path: Path, account: str) -> None:
    import sqlite3

    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            for table in ("keys", "creds"):
                db.execute(f"DELETE FROM {table} WHERE account = ?", (account,))
    finally:
        db.close()


class Pool:
    """At most ``size`` autocommit psycopg connections to ``dsn``, lent one at a time.

    A lent connection comes back idle (a transaction left open is rolled back) or, when
    it broke, is closed and replaced on the next borrow. A borrower that waits more than
    ``wait`` seconds gets ``StoreError`` (a pool too small for the load says so instead of
    hanging).
    """

    def __init__(self, dsn: str, *, size: int = 10, wait: float = POOL_WAIT) -> None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise FleetError(f"the pool size must be a positive int, got {size!r}")
        self._dsn = dsn
        self.size = size
        self._wait = wait
        self._idle: list[AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(size)
        self._all: set[AsyncConnection[Any]] = set()
        self._closed = False

    def __repr__(self) -> str:  # never the DSN: it may carry a password
        return f"Pool(size={self.size}, open={len(self._all)})"

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        if self._closed:
            raise StoreError("the Postgres pool is closed")
        try:
            async with asyncio.timeout(self._wait):
                await self._slots.acquire()
        except TimeoutError:
            raise StoreError(
                f"no Postgres connection free within {self._wait:g} s "
                f"(pool of {self.size}): raise the pool size"
            ) from None
        conn: AsyncConnection[Any] | None = None
        try:
            conn = await self._take()
            yield conn
        finally:
            if conn is not None:
                await self._give_back(conn)
            self._slots.release()

    async def _take(self) -> AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and not conn.broken:
                return conn
            self._all.discard(conn)
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to Postgres: {type(exc).__name__}: {exc}") from exc
        self._all.add(conn)
        return conn

    async def _give_back(self, conn: AsyncConnection[Any]) -> None:
        import psycopg

        if not conn.closed and not conn.broken:
            status = conn.info.transaction_status
            if status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    await conn.rollback()
        if conn.closed or conn.broken or self._closed:
            self._all.discard(conn)
            with contextlib.suppress(Exception):
                await conn.close()
            return
        self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        for conn in list(self._all):
            with contextlib.suppress(Exception):
                await conn.close()
        self._all.clear()
        self._idle.clear()


class PostgresAuths(AuthBackend):
    """Every account in one PostgreSQL database, over one pool (see the module docstring)."""

    def __init__(
        self,
        dsn_or_pool: str | ConnectionPool,
        *,
        pool_size: int = 10,
    ) -> None:
        if isinstance(dsn_or_pool, str):
            if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 2:
                raise FleetError(f"the pool needs at least 2 connections, got {pool_size!r}")
            self.pool: ConnectionPool = Pool(dsn_or_pool, size=pool_size)
            self._own_pool = True
        else:
            self.pool = dsn_or_pool
            self._own_pool = False

    def __repr__(self) -> str:
        return f"PostgresAuths({self.pool!r})"

    async def open(self, account: str) -> AuthStateAndSave:
        from wamd.store.postgres import use_postgres_auth_state

        return await use_postgres_auth_state(self.pool, account=account)

    async def forget(self, account: str, state: AuthState) -> None:
        remove = getattr(state.keys, "remove_account", None)
        if remove is not None:
            await remove()

    async def close(self) -> None:
        if self._own_pool and isinstance(self.pool, Pool):
            await self.pool.close()
