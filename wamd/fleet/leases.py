"""Account leases in PostgreSQL: which worker connects which account, with fencing tokens.

The same ideas as ``wamd.assign`` (owner, one clock, fencing tokens), for accounts instead
of chats, in the database the auth states live in (``wamd[postgres]``)::

    wamd_fleet_schema_version (id = 0, version)
    wamd_fleet_accounts (account, state, jid, detail, added_at, updated_at)
        state: 'new' (added, not paired), 'paired' (workers run it), 'final' (logged out,
        banned, replaced: a person must look), 'removing'
    wamd_fleet_workers  (worker, host, pid, started_at, expires_at, draining)
    wamd_fleet_leases   (account, owner, token, expires_at, status, status_at)
    wamd_fleet_token    a sequence: every new lease gets the next value

Rules, each one SQL statement (atomic; the rows it decides on are locked by it):

- **one clock**: every expiry is computed and compared with the database's
  ``clock_timestamp()``; a worker never compares its clock with another's. What a worker
  keeps locally is ``deadline``: ``time.monotonic()`` when it *sent* the request plus the
  time the database said was left, never later than the real expiry while the two clocks
  run at the same rate;
- **one owner**: a lease is taken only when the account has none or its lease has
  expired (``INSERT ... ON CONFLICT DO UPDATE ... WHERE expires_at <= clock_timestamp()``);
  taking it gives a **new token** from the sequence, so tokens only grow;
- **renew** extends only a live lease with the same owner *and* token: a worker whose
  lease expired, even for a moment, can never extend it again (it must take it anew, and
  so learns it lost it);
- **release** deletes only the caller's lease with its token.

Workers announce themselves with a heartbeat row that expires like a lease; the live,
not draining ones share the paired accounts (``fair_share``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from wamd.errors import FleetError

if TYPE_CHECKING:
    from psycopg import AsyncConnection

__all__ = [
    "FLEET_SCHEMA_VERSION",
    "AccountRow",
    "Lease",
    "LeaseRow",
    "PostgresLeases",
    "WorkerRow",
    "fair_share",
]

MIGRATION_LOCK: Final = 0x77616D64 + 2  # advisory lock class: "wamd" + 2 (the store uses +0, +1)

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """CREATE TABLE wamd_fleet_accounts (
            account text PRIMARY KEY,
            state text NOT NULL DEFAULT 'new',
            jid text,
            detail text,
            added_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )""",
        """CREATE TABLE wamd_fleet_workers (
            worker text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            expires_at timestamptz NOT NULL,
            draining boolean NOT NULL DEFAULT false
        )""",
        """CREATE TABLE wamd_fleet_leases (
            account text PRIMARY KEY REFERENCES wamd_fleet_accounts ON DELETE CASCADE,
            owner text NOT NULL,
            token bigint NOT NULL,
            expires_at timestamptz NOT NULL,
            status text,
            status_at timestamptz
        )""",
        "CREATE INDEX wamd_fleet_leases_by_owner ON wamd_fleet_leases (owner)",
        "CREATE SEQUENCE wamd_fleet_token",
    ),
)
FLEET_SCHEMA_VERSION: Final = len(MIGRATIONS)

_LEFT = "EXTRACT(EPOCH FROM (expires_at - clock_timestamp()))::float8"


def fair_share(accounts: int, workers: int) -> int:
    """How many accounts each of ``workers`` may hold: ``ceil(accounts / workers)``."""
    return math.ceil(accounts / max(1, workers)) if accounts else 0


def _ms(ttl: float) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
        raise FleetError(f"a lease ttl is a number of seconds, got {ttl!r}")
    if not 0.1 <= ttl <= 3600:
        raise FleetError(f"a lease ttl is between 0.1 and 3600 s, got {ttl!r}")
    return math.ceil(ttl * 1000)


@dataclass(frozen=True, slots=True)
class Lease:
    """An account held by this worker: ``token`` fences it, ``deadline`` is local."""

    account: str
    owner: str
    token: int
    ttl: float  # seconds left by the database's clock when it answered
    deadline: float  # time.monotonic() by which this worker must have let go

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True, slots=True)
class AccountRow:
    account: str
    state: str
    jid: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class LeaseRow:
    account: str
    owner: str
    token: int
    left: float  # seconds until it expires (negative: expired)
    status: str | None


@dataclass(frozen=True, slots=True)
class WorkerRow:
    worker: str
    host: str
    pid: int
    left: float
    draining: bool
    leases: int


class PostgresLeases:
    """Accounts, workers and leases in a PostgreSQL database (see the module docstring).

    Runs on one connection of its own (not the auth stores' pool), so that renewing
    leases never queues behind key transactions.
    """

    def __init__(self, dsn: str) -> None:
        if not isinstance(dsn, str) or not dsn:
            raise FleetError("the fleet needs a PostgreSQL DSN (postgresql://...)")
        self._dsn = dsn
        self._conn: AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the connection

    def __repr__(self) -> str:  # never the DSN: it may carry a password
        return "PostgresLeases()"

    async def open(self) -> None:
        await self._connection()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def __aenter__(self) -> PostgresLeases:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _connection(self) -> AsyncConnection[Any]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        try:
            import psycopg
        except ImportError:  # pragma: no cover - depends on the install
            raise FleetError("the fleet needs psycopg 3: pip install 'wamd[postgres]'") from None
        if conn is not None:
            await conn.close()
        try:
            conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
            await _migrate(conn)
        except psycopg.Error as exc:
            raise FleetError(f"fleet database: {type(exc).__name__}: {exc}") from exc
        self._conn = conn
        return conn

    async def _rows(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        import psycopg

        async with self._lock:
            conn = await self._connection()
            try:
                cur = await conn.execute(query, params)
                return await cur.fetchall() if cur.description is not None else []
            except psycopg.Error as exc:
                raise FleetError(f"fleet database: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------------ accounts

    async def add_account(self, account: str) -> bool:
        """Register ``account`` (state ``new``); ``False`` when it is registered already."""
        rows = await self._rows(
            "INSERT INTO wamd_fleet_accounts (account) VALUES (%s) "
            "ON CONFLICT (account) DO NOTHING RETURNING account",
            (account,),
        )
        return bool(rows)

    async def set_account(
        self, account: str, state: str, *, jid: str | None = None, detail: str | None = None
    ) -> bool:
        rows = await self._rows(
            "UPDATE wamd_fleet_accounts SET state = %s, jid = COALESCE(%s, jid), detail = %s, "
            "updated_at = clock_timestamp() WHERE account = %s RETURNING account",
            (state, jid, detail, account),
        )
        return bool(rows)

    async def account(self, account: str) -> AccountRow | None:
        rows = await self._rows(
            "SELECT account, state, jid, detail FROM wamd_fleet_accounts WHERE account = %s",
            (account,),
        )
        return AccountRow(*rows[0]) if rows else None

    async def accounts(self) -> list[AccountRow]:
        rows = await self._rows(
            "SELECT account, state, jid, detail FROM wamd_fleet_accounts ORDER BY account"
        )
        return [AccountRow(*row) for row in rows]

    async def revoke(self, account: str) -> float:
        """Take ``account`` out of service: not eligible, its lease gone. Returns the seconds
        its old holder may still be connected (until its lease would have expired)."""
        await self.set_account(account, "removing")
        rows = await self._rows(
            f"DELETE FROM wamd_fleet_leases WHERE account = %s RETURNING {_LEFT}", (account,)
        )
        return max(0.0, float(rows[0][0])) if rows else 0.0

    async def delete_account(self, account: str) -> bool:
        rows = await self._rows(
            "DELETE FROM wamd_fleet_accounts WHERE account = %s RETURNING account", (account,)
        )
        return bool(rows)

    async def mark_final(self, account: str, owner: str, token: int, detail: str) -> bool:
        """State ``final`` (no worker runs it again), only while ``owner`` holds the lease
        with ``token``; the lease is dropped. ``False`` when the lease was not current."""
        rows = await self._rows(
            "WITH gone AS (DELETE FROM wamd_fleet_leases WHERE account = %(a)s AND "
            "owner = %(o)s AND token = %(t)s AND expires_at > clock_timestamp() "
            "RETURNING account) "
            "UPDATE wamd_fleet_accounts SET state = 'final', detail = %(d)s, "
            "updated_at = clock_timestamp() WHERE account IN (SELECT account FROM gone) "
            "RETURNING account",
            {"a": account, "o": owner, "t": token, "d": detail},
        )
        return bool(rows)

    # ------------------------------------------------------------------ workers

    async def heartbeat(
        self, worker: str, ttl: float, *, host: str, pid: int, draining: bool = False
    ) -> bool:
        """Say ``worker`` is alive for ``ttl`` s; returns whether someone asked it to drain
        (``draining`` set in its row by ``wamd fleet drain``), or ``draining`` itself."""
        rows = await self._rows(
            "INSERT INTO wamd_fleet_workers (worker, host, pid, expires_at, draining) "
            "VALUES (%(w)s, %(h)s, %(p)s, clock_timestamp() + %(ms)s * interval '1 millisecond', "
            "%(d)s) ON CONFLICT (worker) DO UPDATE SET expires_at = EXCLUDED.expires_at, "
            "host = EXCLUDED.host, pid = EXCLUDED.pid, "
            "draining = wamd_fleet_workers.draining OR EXCLUDED.draining RETURNING draining",
            {"w": worker, "h": host, "p": pid, "ms": _ms(ttl), "d": draining},
        )
        return bool(rows[0][0])

    async def ask_drain(self, worker: str) -> bool:
        rows = await self._rows(
            "UPDATE wamd_fleet_workers SET draining = true WHERE worker = %s RETURNING worker",
            (worker,),
        )
        return bool(rows)

    async def leave(self, worker: str) -> None:
        await self._rows("DELETE FROM wamd_fleet_workers WHERE worker = %s", (worker,))

    async def census(self) -> tuple[int, int]:
        """(paired accounts, live workers that are not draining), in one statement."""
        rows = await self._rows(
            "SELECT (SELECT count(*) FROM wamd_fleet_accounts WHERE state = 'paired'), "
            "(SELECT count(*) FROM wamd_fleet_workers WHERE NOT draining "
            "AND expires_at > clock_timestamp())"
        )
        return int(rows[0][0]), int(rows[0][1])

    async def workers(self) -> list[WorkerRow]:
        rows = await self._rows(
            "SELECT w.worker, w.host, w.pid, "
            "EXTRACT(EPOCH FROM (w.expires_at - clock_timestamp()))::float8, w.draining, "
            "(SELECT count(*) FROM wamd_fleet_leases l WHERE l.owner = w.worker "
            "AND l.expires_at > clock_timestamp()) FROM wamd_fleet_workers w ORDER BY w.worker"
        )
        return [WorkerRow(r[0], r[1], int(r[2]), float(r[3]), bool(r[4]), int(r[5])) for r in rows]

    # ------------------------------------------------------------------ leases

    async def acquire(self, owner: str, count: int, ttl: float) -> list[Lease]:
        """Take up to ``count`` paired accounts that have no live lease."""
        if count <= 0:
            return []
        started = time.monotonic()
        rows = await self._rows(
            "WITH cand AS (SELECT a.account FROM wamd_fleet_accounts a "
            "WHERE a.state = 'paired' AND NOT EXISTS (SELECT 1 FROM wamd_fleet_leases l "
            "WHERE l.account = a.account AND l.expires_at > clock_timestamp()) "
            "ORDER BY random() LIMIT %(n)s FOR UPDATE OF a SKIP LOCKED) "
            "INSERT INTO wamd_fleet_leases AS l (account, owner, token, expires_at) "
            "SELECT account, %(o)s, nextval('wamd_fleet_token'), "
            "clock_timestamp() + %(ms)s * interval '1 millisecond' FROM cand "
            "ON CONFLICT (account) DO UPDATE SET owner = EXCLUDED.owner, token = EXCLUDED.token, "
            "expires_at = EXCLUDED.expires_at, status = NULL, status_at = NULL "
            "WHERE l.expires_at <= clock_timestamp() "
            f"RETURNING l.account, l.token, {_LEFT}",
            {"n": count, "o": owner, "ms": _ms(ttl)},
        )
        return [Lease(a, owner, int(t), float(left), started + float(left)) for a, t, left in rows]

    async def take(self, account: str, owner: str, ttl: float) -> Lease | None:
        """Take ``account``'s lease whatever its state (``wamd fleet pair``), if it is free."""
        started = time.monotonic()
        rows = await self._rows(
            "INSERT INTO wamd_fleet_leases AS l (account, owner, token, expires_at) "
            "SELECT account, %(o)s, nextval('wamd_fleet_token'), "
            "clock_timestamp() + %(ms)s * interval '1 millisecond' "
            "FROM wamd_fleet_accounts WHERE account = %(a)s "
            "ON CONFLICT (account) DO UPDATE SET owner = EXCLUDED.owner, token = EXCLUDED.token, "
            "expires_at = EXCLUDED.expires_at, status = NULL, status_at = NULL "
            "WHERE l.expires_at <= clock_timestamp() "
            f"RETURNING l.account, l.token, {_LEFT}",
            {"a": account, "o": owner, "ms": _ms(ttl)},
        )
        if not rows:
            return None
        a, t, left = rows[0]
        return Lease(a, owner, int(t), float(left), started + float(left))

    async def renew(
        self, owner: str, leases: Sequence[Lease], ttl: float, statuses: dict[str, str]
    ) -> list[Lease]:
        """Extend every live lease of ``leases`` that still has its token; the others are
        lost. ``statuses`` (account -> text) are stored for ``wamd fleet list``."""
        if not leases:
            return []
        started = time.monotonic()
        rows = await self._rows(
            "UPDATE wamd_fleet_leases AS l SET "
            "expires_at = clock_timestamp() + %(ms)s * interval '1 millisecond', "
            "status = v.status, status_at = clock_timestamp() "
            "FROM unnest(%(a)s::text[], %(t)s::bigint[], %(s)s::text[]) AS v(account, token, status) "
            "WHERE l.account = v.account AND l.token = v.token AND l.owner = %(o)s "
            "AND l.expires_at > clock_timestamp() "
            "RETURNING l.account, l.token, EXTRACT(EPOCH FROM (l.expires_at - clock_timestamp()))::float8",
            {
                "ms": _ms(ttl),
                "a": [lease.account for lease in leases],
                "t": [lease.token for lease in leases],
                "s": [statuses.get(lease.account, "") for lease in leases],
                "o": owner,
            },
        )
        return [Lease(a, owner, int(t), float(left), started + float(left)) for a, t, left in rows]

    async def release(self, lease: Lease) -> bool:
        rows = await self._rows(
            "DELETE FROM wamd_fleet_leases WHERE account = %s AND owner = %s AND token = %s "
            "RETURNING account",
            (lease.account, lease.owner, lease.token),
        )
        return bool(rows)

    async def leases(self) -> list[LeaseRow]:
        rows = await self._rows(
            f"SELECT account, owner, token, {_LEFT}, status FROM wamd_fleet_leases ORDER BY account"
        )
        return [LeaseRow(r[0], r[1], int(r[2]), float(r[3]), r[4]) for r in rows]

    async def holder(self, account: str) -> LeaseRow | None:
        rows = await self._rows(
            f"SELECT account, owner, token, {_LEFT}, status FROM wamd_fleet_leases "
            "WHERE account = %s AND expires_at > clock_timestamp()",
            (account,),
        )
        return LeaseRow(*rows[0]) if rows else None


async def _migrate(conn: AsyncConnection[Any]) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s::int, 0)", (MIGRATION_LOCK,))
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS wamd_fleet_schema_version ("
            "id integer PRIMARY KEY CHECK (id = 0), version integer NOT NULL)"
        )
        cur = await conn.execute("SELECT version FROM wamd_fleet_schema_version WHERE id = 0")
        row = await cur.fetchone()
        current = int(row[0]) if row is not None else 0
        if current > FLEET_SCHEMA_VERSION:
            raise FleetError(
                f"the database's fleet schema is version {current}, newer than this wamd "
                f"knows ({FLEET_SCHEMA_VERSION}): upgrade wamd"
            )
        for version in range(current + 1, FLEET_SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                await conn.execute(statement)
        if FLEET_SCHEMA_VERSION > current:
            await conn.execute(
                "INSERT INTO wamd_fleet_schema_version (id, version) VALUES (0, %s) "
                "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version",
                (FLEET_SCHEMA_VERSION,),
            )
