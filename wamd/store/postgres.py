"""``use_postgres_auth_state``: many accounts' credentials and keys in one PostgreSQL database.

Install with ``pip install 'wamd[postgres]'``.

The driver is psycopg 3 (``psycopg``), not asyncpg. Both are well kept and async; psycopg
is the one that is fully typed (wamd is checked with ``mypy --strict``, and asyncpg ships
no type information), it is the PostgreSQL project's own line of Python drivers with a
separate, optional pool package (``psycopg_pool``) users may already run, and it speaks
plain SQL with server-side parameters, which is all this store needs. asyncpg's speed
advantage is in decoding many rows; a key store reads a few small rows at a time.

Layout (one schema, rows keyed by account; created and migrated by wamd)::

    wamd_schema_version (id = 0, version)          which migrations have run
    wamd_keys  (account, type, id) -> value        the SignalKeyStore's {type: {id: value}}
    wamd_creds (account) -> value, updated_at      AuthenticationCreds, as JSON
    wamd_set_aside (account, type, id, value, at)  unreadable keys moved out of the way

Values are the same JSON text as the SQLite and multi-file stores write (Baileys'
BufferJSON), kept as ``text`` so that a damaged row is refused by name (``CorruptedStore``)
instead of being read as something else.

Guarantees, as for the SQLite store:

- a key store transaction is one PostgreSQL transaction: all or nothing, committed when
  the block ends; every read-modify-write of one account is serialised across processes
  and machines by a transaction-scoped advisory lock on the account
  (``pg_advisory_xact_lock``), so two processes never interleave one account's key
  transactions; other accounts are not held up;
- within a process, one transaction at a time per store object, bound to its task
  (``TransactionalKeyStore``);
- a creds save is a statement of its own on another connection than the key
  transactions', durable when it returns, never part of a key transaction;
- migrations run under an advisory lock of their own, in one transaction each time the
  store opens; a database migrated by a newer wamd is refused.

``dsn_or_pool`` is a connection string (the store opens two connections of its own: one
for key transactions, one for reads outside them and creds saves) or a pool with psycopg
pool's interface (``async with pool.connection() as conn``), from which every transaction,
read and save borrows a connection: many accounts in one process can share one pool.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from wamd.errors import CorruptedStore, StoreError
from wamd.store.auth import AuthState, AuthStateAndSave
from wamd.store.base import TransactionalKeyStore, Writes
from wamd.store.creds import AuthenticationCreds, init_auth_creds
from wamd.store.serialize import dumps, loads

if TYPE_CHECKING:
    from psycopg import AsyncConnection, AsyncTransaction

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "ConnectionPool",
    "PostgresKeyStore",
    "migrate",
    "use_postgres_auth_state",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

# advisory lock classes (the two-int form's first key): "wamd" and "wamd" + 1
ACCOUNT_LOCK: Final = 0x77616D64
MIGRATION_LOCK: Final = ACCOUNT_LOCK + 1

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: keys and creds, keyed by account
    (
        """CREATE TABLE wamd_keys (
            account text NOT NULL,
            type text NOT NULL,
            id text NOT NULL,
            value text NOT NULL,
            PRIMARY KEY (account, type, id)
        )""",
        """CREATE TABLE wamd_creds (
            account text PRIMARY KEY,
            value text NOT NULL
        )""",
    ),
    # 2: creds rows say when they were last saved (which accounts are stale, for a fleet)
    ("ALTER TABLE wamd_creds ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()",),
    # 3: unreadable keys are moved here by set_aside (kept for a look, never deleted)
    (
        """CREATE TABLE wamd_set_aside (
            account text NOT NULL,
            type text NOT NULL,
            id text NOT NULL,
            value text NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        )""",
        "CREATE INDEX wamd_set_aside_account ON wamd_set_aside (account)",
    ),
)
SCHEMA_VERSION: Final = len(MIGRATIONS)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS wamd_schema_version (
    id integer PRIMARY KEY CHECK (id = 0),
    version integer NOT NULL
)"""


class ConnectionPool(Protocol):
    """What the store needs of a pool: psycopg_pool.AsyncConnectionPool has it."""

    def connection(self) -> AbstractAsyncContextManager[AsyncConnection[Any]]: ...


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - depends on the install
        raise StoreError(
            "the Postgres auth state needs psycopg 3: pip install 'wamd[postgres]'"
        ) from None
    return psycopg


async def migrate(conn: AsyncConnection[Any], target: int = SCHEMA_VERSION) -> int:
    """Bring the database's wamd tables to schema ``target``; returns the version now.

    Safe to run from many processes at once (an advisory lock serialises them) and on
    every open (a database that is current is left alone). ``StoreError`` for a database
    that a newer wamd migrated past what this one knows.
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"no schema version {target}")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s::int, 0)", (MIGRATION_LOCK,))
        await conn.execute(_VERSION_TABLE)
        cur = await conn.execute("SELECT version FROM wamd_schema_version WHERE id = 0")
        row = await cur.fetchone()
        current = int(row[0]) if row is not None else 0
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the database's wamd schema is version {current}, newer than this wamd "
                f"knows ({SCHEMA_VERSION}): upgrade wamd"
            )
        for version in range(current + 1, target + 1):
            for statement in MIGRATIONS[version - 1]:
                await conn.execute(statement)
        if target > current:
            await conn.execute(
                "INSERT INTO wamd_schema_version (id, version) VALUES (0, %s) "
                "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
                (target,),
            )
        return max(current, target)


class PostgresKeyStore(TransactionalKeyStore):
    """The key store of one account in a PostgreSQL database (see the module docstring)."""

    def __init__(
        self, dsn_or_pool: str | ConnectionPool, *, account: str, busy_timeout: float = 30.0
    ) -> None:
        super().__init__()
        self._busy_timeout = busy_timeout
        if not isinstance(account, str) or not account:
            raise ValueError("account must be a non-empty string")
        self.account = account
        self._dsn = dsn_or_pool if isinstance(dsn_or_pool, str) else None
        self._pool = None if isinstance(dsn_or_pool, str) else dsn_or_pool
        self._tx_conn: AsyncConnection[Any] | None = None  # own connections (DSN mode)
        self._io_conn: AsyncConnection[Any] | None = None
        self._open = False
        # the open key transaction: its connection, psycopg transaction, pool lease
        self._conn: AsyncConnection[Any] | None = None
        self._pg_tx: AbstractAsyncContextManager[AsyncTransaction] | None = None
        self._lease: AbstractAsyncContextManager[AsyncConnection[Any]] | None = None

    def __repr__(self) -> str:  # never the DSN: it may carry a password
        return f"PostgresKeyStore(account={self.account!r})"

    def _where(self, what: str = "") -> str:
        return f"postgres account {self.account!r}" + (f": {what}" if what else "")

    async def _guard(self, job: Awaitable[T]) -> T:
        psycopg = _driver()
        try:
            return await job
        except psycopg.Error as exc:
            raise StoreError(f"{self._where()}: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ connections

    async def open(self) -> None:
        """Connect (DSN mode) and create or migrate the schema."""
        psycopg = _driver()

        async def connect() -> None:
            if self._dsn is not None:
                self._tx_conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                self._io_conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            async with self._io() as conn:
                await migrate(conn)

        self._open = True
        try:
            await self._guard(connect())
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._open = False
        for conn in (self._tx_conn, self._io_conn):
            if conn is not None:
                await conn.close()
        self._tx_conn = self._io_conn = None

    def _check_open(self) -> None:
        if not self._open:
            raise StoreError(f"{self._where()}: store is not open")

    @asynccontextmanager
    async def _io(self) -> AsyncIterator[AsyncConnection[Any]]:
        """A connection for work outside key transactions (a read, a creds save)."""
        if self._pool is not None:
            async with self._pool.connection() as conn, conn.transaction():
                yield conn
        else:
            self._io_conn = await self._usable(self._io_conn)
            yield self._io_conn  # autocommit: each statement commits on its own

    async def _on_io(self, job: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run ``job`` on an ``_io()`` connection; once more on a new one if that one was lost.

        Only for work that is safe to repeat (a read, a creds save: the same row again).
        """
        psycopg = _driver()
        try:
            async with self._io() as conn:
                return await job(conn)
        except psycopg.OperationalError:
            if self._pool is not None or self._io_conn is None or not self._io_conn.broken:
                raise
        async with self._io() as conn:  # _usable() reconnects
            return await job(conn)

    async def _usable(self, conn: AsyncConnection[Any] | None) -> AsyncConnection[Any]:
        """``conn``, or a new connection when it was lost (a server restart, the network)."""
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if not self._open or self._dsn is None:
            raise StoreError(f"{self._where()}: store is not open")
        if conn is not None:
            log.info("%s: connection lost, reconnecting", self._where())
            await conn.close()
        new: AsyncConnection[Any] = await _driver().AsyncConnection.connect(
            self._dsn, autocommit=True
        )
        return new

    # ------------------------------------------------------------------ backend hooks

    async def _begin(self) -> None:
        self._check_open()

        async def begin() -> None:
            if self._pool is not None:
                lease = self._pool.connection()
                conn = await lease.__aenter__()
                self._lease = lease
            else:
                conn = self._tx_conn = await self._usable(self._tx_conn)
            tx = conn.transaction()
            try:
                await tx.__aenter__()
            except _driver().OperationalError:
                if self._pool is not None or not conn.broken:
                    raise
                # lost while idle (nothing was done yet): once more on a new connection
                conn = self._tx_conn = await self._usable(conn)
                tx = conn.transaction()
                await tx.__aenter__()
            self._conn, self._pg_tx = conn, tx
            # wait for another process's transaction of this account, but not for ever
            await conn.execute(f"SET LOCAL lock_timeout = {int(self._busy_timeout * 1000)}")
            await conn.execute(
                "SELECT pg_advisory_xact_lock(%s::int, hashtext(%s))", (ACCOUNT_LOCK, self.account)
            )

        try:
            await self._guard(begin())
        except BaseException:
            await self._end(commit=False)
            raise

    async def _end(self, *, commit: bool) -> None:
        """Commit or roll back the open transaction, and give its connection back."""
        tx, lease = self._pg_tx, self._lease
        self._conn = self._pg_tx = self._lease = None
        psycopg = _driver()
        try:
            if tx is not None:
                if commit:
                    await tx.__aexit__(None, None, None)
                else:
                    await tx.__aexit__(psycopg.Rollback, psycopg.Rollback(), None)
        finally:
            if lease is not None:
                await lease.__aexit__(None, None, None)

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        if not ids:
            return {}
        self._check_open()
        query = "SELECT id, value FROM wamd_keys WHERE account = %s AND type = %s AND id = ANY(%s)"
        params = (self.account, type, list(ids))

        async def read() -> list[tuple[Any, ...]]:
            if self.in_transaction and self._conn is not None:
                cur = await self._conn.execute(query, params)
                return await cur.fetchall()
            return await self._on_io(lambda conn: _fetchall(conn, query, params))

        rows = await self._guard(read())
        out: dict[str, Any] = {}
        for key_id, value in rows:
            try:
                out[key_id] = loads(value, self._where(f"{type}/{key_id}"))
            except CorruptedStore as exc:  # named, so that the client can set it aside
                raise exc.about(type, key_id) from None
        return out

    async def _commit(self, writes: Writes) -> None:
        conn = self._conn
        assert conn is not None

        async def commit() -> None:
            for type, values in writes.items():
                upserts = [
                    (self.account, type, k, dumps(v)) for k, v in values.items() if v is not None
                ]
                deletes = [k for k, v in values.items() if v is None]
                if upserts:
                    async with conn.cursor() as cur:
                        await cur.executemany(
                            "INSERT INTO wamd_keys (account, type, id, value) "
                            "VALUES (%s, %s, %s, %s) ON CONFLICT (account, type, id) "
                            "DO UPDATE SET value = EXCLUDED.value",
                            upserts,
                        )
                if deletes:
                    await conn.execute(
                        "DELETE FROM wamd_keys WHERE account = %s AND type = %s AND id = ANY(%s)",
                        (self.account, type, deletes),
                    )
            await self._end(commit=True)

        async def run() -> None:
            try:
                await self._guard(commit())
            except BaseException:
                await self._end(commit=False)
                raise

        await _to_the_end(run())

    async def _rollback(self) -> None:
        await _to_the_end(self._guard(self._end(commit=False)))

    # ------------------------------------------------------------------ creds

    async def read_creds(self) -> AuthenticationCreds | None:
        self._check_open()

        query = "SELECT value FROM wamd_creds WHERE account = %s"
        rows = await self._guard(self._on_io(lambda conn: _fetchall(conn, query, (self.account,))))
        row = rows[0] if rows else None
        if row is None:
            return None
        location = self._where("creds")
        try:
            raw = json.loads(row[0])
        except ValueError:
            raise CorruptedStore(location, "not valid JSON") from None
        return AuthenticationCreds.from_json(raw, location)

    async def write_creds(self, creds: AuthenticationCreds) -> None:
        """Save ``creds`` in a statement of its own (not in any key transaction), durably."""
        self._check_open()
        text = dumps(creds.to_json())

        query = (
            "INSERT INTO wamd_creds (account, value, updated_at) VALUES (%s, %s, now()) "
            "ON CONFLICT (account) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
        )

        async def write() -> None:
            await self._on_io(lambda conn: _fetchall(conn, query, (self.account, text), rows=False))

        await _to_the_end(self._guard(write()))

    async def set_aside(self, type: str, key_id: str) -> str:
        """Move one key's row into ``wamd_set_aside`` (kept, never deleted); where it went.

        For a key that cannot be read (``CorruptedStore``): the client then asks the
        sender to resend (``wamd.client.storefail``). One transaction under the account
        lock; a key that another process set aside already is left alone.
        """
        self._check_open()
        async with self._outside_transactions("set_aside()"):
            await self._begin()
            conn = self._conn
            assert conn is not None
            where = (self.account, type, key_id)

            async def move() -> None:
                await conn.execute(
                    "INSERT INTO wamd_set_aside (account, type, id, value) "
                    "SELECT account, type, id, value FROM wamd_keys "
                    "WHERE account = %s AND type = %s AND id = %s",
                    where,
                )
                await conn.execute(
                    "DELETE FROM wamd_keys WHERE account = %s AND type = %s AND id = %s", where
                )
                await self._end(commit=True)

            try:
                await _to_the_end(self._guard(move()))
            except BaseException:
                await self._end(commit=False)
                raise
        return self._where("table wamd_set_aside")

    async def remove_account(self) -> None:
        """Delete this account's keys, creds and set-aside keys, in one transaction under the
        account lock (what ``wamd fleet remove --forget`` asks for)."""
        self._check_open()
        async with self._outside_transactions("remove_account()"):
            await self._begin()
            conn = self._conn
            assert conn is not None

            async def delete() -> None:
                for table in ("wamd_keys", "wamd_creds", "wamd_set_aside"):
                    await conn.execute(f"DELETE FROM {table} WHERE account = %s", (self.account,))
                await self._end(commit=True)

            try:
                await _to_the_end(self._guard(delete()))
            except BaseException:
                await self._end(commit=False)
                raise


async def _fetchall(
    conn: AsyncConnection[Any], query: str, params: Sequence[Any], *, rows: bool = True
) -> list[tuple[Any, ...]]:
    cur = await conn.execute(query, params)
    return await cur.fetchall() if rows else []


async def _to_the_end(job: Awaitable[T]) -> T:
    """Await ``job``; a cancelled caller still waits for it (a commit is not cut in half)."""
    task = asyncio.ensure_future(job)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            try:
                await task
            except BaseException:
                pass
        raise


async def use_postgres_auth_state(
    dsn_or_pool: str | ConnectionPool, *, account: str = "default"
) -> AuthStateAndSave:
    """``(state, save_creds)`` for ``account`` in a PostgreSQL database.

    Many accounts share one database (and, with a pool, its connections); the schema is
    created or migrated on open. ``state.creds`` are loaded or made fresh (and saved) for
    a new account; a damaged creds row raises ``CorruptedStore``. ``state.keys.close()``
    releases the store's own connections (a pool is the caller's to close).
    """
    store = PostgresKeyStore(dsn_or_pool, account=account)
    await store.open()
    try:
        creds = await store.read_creds()
        state = AuthState(creds or init_auth_creds(), store)
        if creds is None:
            await store.write_creds(state.creds)
    except BaseException:
        await store.close()
        raise

    async def save_creds(*_update: object) -> None:
        await store.write_creds(state.creds)

    return AuthStateAndSave(state, save_creds)
