"""The Postgres auth state: accounts side by side, migrations, corruption refused, pools.

The contract, view, isolation, process and SIGKILL tests run on Postgres too (the
``store`` fixture's ``postgres`` backend and the ``kind`` parameters); these are the parts
only Postgres has. All of them use a real server (``conftest.postgres_dsn``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from wamd.errors import CorruptedStore, StoreError
from wamd.store import init_auth_creds
from wamd.store.postgres import (
    SCHEMA_VERSION,
    PostgresKeyStore,
    migrate,
    use_postgres_auth_state,
)
from wamd.store.serialize import dumps

psycopg = pytest.importorskip("psycopg")


async def columns(dsn: str, table: str) -> set[str]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
        )
        return {row[0] for row in await cur.fetchall()}


async def schema_version(dsn: str) -> int:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cur = await conn.execute("SELECT version FROM wamd_schema_version")
        rows = await cur.fetchall()
        assert len(rows) == 1
        return int(rows[0][0])


async def test_migrates_an_empty_database(postgres_db: str) -> None:
    assert SCHEMA_VERSION == 3
    state, _ = await use_postgres_auth_state(postgres_db, account="a")
    assert await schema_version(postgres_db) == SCHEMA_VERSION
    assert await columns(postgres_db, "wamd_keys") == {"account", "type", "id", "value"}
    assert await columns(postgres_db, "wamd_creds") == {"account", "value", "updated_at"}
    assert await columns(postgres_db, "wamd_set_aside") == {"account", "type", "id", "value", "at"}
    await state.keys.close()  # type: ignore[attr-defined]
    again, _ = await use_postgres_auth_state(postgres_db, account="a")  # current: left alone
    assert again.creds == state.creds
    await again.keys.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("previous", [1, 2])
async def test_migrates_from_a_previous_version(postgres_db: str, previous: int) -> None:
    creds = init_auth_creds()
    creds.account_sync_counter = 41
    async with await psycopg.AsyncConnection.connect(postgres_db, autocommit=True) as conn:
        assert await migrate(conn, target=previous) == previous
        await conn.execute(
            "INSERT INTO wamd_creds (account, value) VALUES ('old', %s)", (dumps(creds.to_json()),)
        )
        await conn.execute(
            "INSERT INTO wamd_keys (account, type, id, value) VALUES ('old', 'session', 'a.1', %s)",
            (dumps(b"record"),),
        )
    assert ("updated_at" in await columns(postgres_db, "wamd_creds")) == (previous >= 2)
    assert await columns(postgres_db, "wamd_set_aside") == set()  # not there yet
    state, save = await use_postgres_auth_state(postgres_db, account="old")
    assert await schema_version(postgres_db) == SCHEMA_VERSION
    assert state.creds == creds  # the data came through the migration
    assert await state.keys.get("session", ["a.1"]) == {"a.1": b"record"}
    await save()
    async with await psycopg.AsyncConnection.connect(postgres_db) as conn:
        cur = await conn.execute("SELECT updated_at FROM wamd_creds WHERE account = 'old'")
        row = await cur.fetchone()
        assert row is not None and row[0] is not None
    # what version 3 brought works on the migrated database
    where = await state.keys.set_aside("session", "a.1")  # type: ignore[attr-defined]
    assert "wamd_set_aside" in where
    assert await state.keys.get("session", ["a.1"]) == {}
    await state.keys.close()  # type: ignore[attr-defined]


async def test_a_damaged_key_is_set_aside_not_deleted(postgres_dsn: str, account: str) -> None:
    state, _ = await use_postgres_auth_state(postgres_dsn, account=account)
    other, _ = await use_postgres_auth_state(postgres_dsn, account=f"{account}-other")
    await state.keys.set({"session": {"a.1": b"x", "b.1": b"kept"}})
    await other.keys.set({"session": {"a.1": b"theirs"}})
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute(
            "UPDATE wamd_keys SET value = '{broken' WHERE account = %s AND id = 'a.1'", (account,)
        )
        with pytest.raises(CorruptedStore) as err:
            await state.keys.get("session", ["a.1"])
        assert (err.value.key_type, err.value.key_id) == ("session", "a.1")  # named
        where = await state.keys.set_aside("session", "a.1")  # type: ignore[attr-defined]
        assert account in where and "wamd_set_aside" in where
        assert await state.keys.get("session", ["a.1", "b.1"]) == {"b.1": b"kept"}
        assert await other.keys.get("session", ["a.1"]) == {"a.1": b"theirs"}
        cur = await conn.execute(
            "SELECT type, id, value FROM wamd_set_aside WHERE account = %s", (account,)
        )
        assert await cur.fetchall() == [("session", "a.1", "{broken")]  # kept as it was
        # removing the account (wamd fleet remove --forget) takes the set-aside rows too
        await state.keys.remove_account()  # type: ignore[attr-defined]
        cur = await conn.execute(
            "SELECT count(*) FROM wamd_set_aside WHERE account = %s", (account,)
        )
        assert await cur.fetchone() == (0,)
    for one in (state, other):
        await one.keys.close()  # type: ignore[attr-defined]


async def test_a_newer_schema_is_refused(postgres_db: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_db, autocommit=True) as conn:
        await migrate(conn)
        await conn.execute("UPDATE wamd_schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer than this wamd"):
        await use_postgres_auth_state(postgres_db, account="a")


async def test_accounts_share_a_database_and_nothing_else(postgres_dsn: str, account: str) -> None:
    one, save_one = await use_postgres_auth_state(postgres_dsn, account=f"{account}-1")
    two, save_two = await use_postgres_auth_state(postgres_dsn, account=f"{account}-2")
    assert one.creds.noise_key != two.creds.noise_key
    await one.keys.set({"session": {"a.1": b"one"}})
    await two.keys.set({"session": {"a.1": b"two"}})
    one.creds.account_sync_counter = 1
    two.creds.account_sync_counter = 2
    await save_one()
    await save_two()
    assert await one.keys.get("session", ["a.1"]) == {"a.1": b"one"}
    assert await two.keys.get("session", ["a.1"]) == {"a.1": b"two"}
    remove = one.keys.remove_account  # type: ignore[attr-defined]
    await remove()
    assert await one.keys.get("session", ["a.1"]) == {}
    assert await two.keys.get("session", ["a.1"]) == {"a.1": b"two"}
    again, _ = await use_postgres_auth_state(postgres_dsn, account=f"{account}-2")
    assert again.creds.account_sync_counter == 2
    for state in (one, two, again):
        await state.keys.close()  # type: ignore[attr-defined]


async def test_damaged_rows_are_refused_by_name(postgres_dsn: str, account: str) -> None:
    state, _ = await use_postgres_auth_state(postgres_dsn, account=account)
    await state.keys.set({"session": {"a": b"x"}})
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as conn:
        await conn.execute(
            "UPDATE wamd_keys SET value = '{broken' WHERE account = %s AND id = 'a'", (account,)
        )
        with pytest.raises(CorruptedStore, match=r"session/a") as err:
            await state.keys.get("session", ["a"])
        assert account in str(err.value)
        await conn.execute("UPDATE wamd_creds SET value = '[1]' WHERE account = %s", (account,))
    await state.keys.close()  # type: ignore[attr-defined]
    with pytest.raises(CorruptedStore, match="creds"):
        await use_postgres_auth_state(postgres_dsn, account=account)
    # the damaged creds row is left as it was, not replaced by fresh credentials
    async with await psycopg.AsyncConnection.connect(postgres_dsn) as conn:
        cur = await conn.execute("SELECT value FROM wamd_creds WHERE account = %s", (account,))
        assert await cur.fetchone() == ("[1]",)


async def test_no_dsn_in_errors_or_repr(postgres_dsn: str) -> None:
    secret = postgres_dsn.replace("wamd@", "wamd:hunter2@").rsplit(":", 1)[0] + ":1/postgres"
    store = PostgresKeyStore(secret, account="x")
    assert "hunter2" not in repr(store)
    with pytest.raises(StoreError) as err:
        await store.open()
    assert "hunter2" not in str(err.value)


async def test_a_lost_connection_is_replaced(postgres_db: str) -> None:
    state, save = await use_postgres_auth_state(postgres_db, account="a")
    await state.keys.set({"session": {"a.1": b"x"}})

    async def cut() -> int:  # the server ends every connection of the store (a restart)
        async with await psycopg.AsyncConnection.connect(postgres_db, autocommit=True) as admin:
            cur = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cur.fetchone()
            return int(row[0]) if row else 0

    assert await cut() == 2
    assert await state.keys.get("session", ["a.1"]) == {"a.1": b"x"}
    async with state.keys.transaction():
        await state.keys.set({"session": {"a.1": b"y"}})
    assert await cut() == 2
    state.creds.account_sync_counter = 3
    await save()
    async with state.keys.transaction():
        await state.keys.set({"session": {"a.1": b"z"}})
    await state.keys.close()  # type: ignore[attr-defined]
    again, _ = await use_postgres_auth_state(postgres_db, account="a")
    assert again.creds.account_sync_counter == 3
    assert await again.keys.get("session", ["a.1"]) == {"a.1": b"z"}
    await again.keys.close()  # type: ignore[attr-defined]


class TinyPool:
    """The pool interface the store asks for (psycopg_pool's), over a fixed set."""

    def __init__(self, conns: list[Any]) -> None:
        self.free = list(conns)
        self.lent = 0

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        conn = self.free.pop()
        self.lent += 1
        try:
            yield conn
        finally:
            self.free.append(conn)


async def test_accounts_can_share_a_pool(postgres_dsn: str, account: str) -> None:
    conns = [await psycopg.AsyncConnection.connect(postgres_dsn) for _ in range(3)]
    pool = TinyPool(conns)
    one, save_one = await use_postgres_auth_state(pool, account=f"{account}-a")
    two, _ = await use_postgres_auth_state(pool, account=f"{account}-b")
    async with one.keys.transaction():
        await one.keys.set({"session": {"s": b"1"}})
        await two.keys.set({"session": {"s": b"2"}})  # another account: not held up
    with pytest.raises(RuntimeError):
        async with one.keys.transaction():
            await one.keys.set({"session": {"s": b"lost"}})
            raise RuntimeError
    await save_one()
    assert await one.keys.get("session", ["s"]) == {"s": b"1"}
    assert await two.keys.get("session", ["s"]) == {"s": b"2"}
    assert len(pool.free) == 3 and pool.lent > 0  # every connection came back
    for conn in conns:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        await conn.close()
