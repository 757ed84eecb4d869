"""Account leases in a real PostgreSQL server: one owner, one clock, growing tokens."""

from __future__ import annotations

import asyncio

import pytest

from wamd.errors import FleetError
from wamd.fleet.leases import FLEET_SCHEMA_VERSION, PostgresLeases, fair_share


async def registry(dsn: str, n: int) -> PostgresLeases:
    leases = PostgresLeases(dsn)
    await leases.open()
    for i in range(n):
        await leases.add_account(f"a{i}")
        await leases.set_account(f"a{i}", "paired", jid=f"1555{i}:1@s.whatsapp.net")
    return leases


async def test_racing_workers_split_the_accounts_with_no_overlap(postgres_db: str) -> None:
    await (await registry(postgres_db, 60)).close()
    workers = [PostgresLeases(postgres_db) for _ in range(6)]
    try:
        got = await asyncio.gather(*(w.acquire(f"w{i}", 60, 30) for i, w in enumerate(workers)))
        taken = [lease.account for leases in got for lease in leases]
        assert sorted(taken) == sorted(f"a{i}" for i in range(60))  # each exactly once
        tokens = [lease.token for leases in got for lease in leases]
        assert len(set(tokens)) == 60
        # nothing is left for a latecomer
        assert await workers[0].acquire("late", 10, 30) == []
    finally:
        for w in workers:
            await w.close()


async def test_renew_release_and_expiry_by_the_database_clock(postgres_db: str) -> None:
    leases = await registry(postgres_db, 2)
    try:
        (lease,) = await leases.acquire("w1", 1, 0.5)
        other = "a1" if lease.account == "a0" else "a0"
        assert await leases.acquire("w2", 1, 30) and await leases.holder(other) is not None
        # live: nobody else gets it, its owner renews it (same token)
        assert await leases.take(lease.account, "w2", 30) is None
        (again,) = await leases.renew("w1", [lease], 0.5, {lease.account: "open"})
        assert again.token == lease.token and 0 < again.ttl <= 0.5
        assert again.deadline <= lease.deadline + 0.5 + 0.1
        # a stale token or another owner cannot renew
        stale = type(lease)(lease.account, "w1", lease.token - 1, 1, 0)
        assert await leases.renew("w1", [stale], 1, {}) == []
        assert await leases.renew("w2", [lease], 1, {}) == []
        # expired by the database's clock: not renewable, taken by another with a new token
        await asyncio.sleep(0.7)
        assert await leases.renew("w1", [again], 30, {}) == []
        taken = await leases.take(lease.account, "w2", 30)
        assert taken is not None and taken.token > again.token
        assert not await leases.release(again)  # the old holder's release does nothing
        assert (await leases.holder(lease.account)).owner == "w2"  # type: ignore[union-attr]
        assert await leases.release(taken)
        assert await leases.holder(lease.account) is None
    finally:
        await leases.close()


async def test_only_paired_accounts_are_leased_and_final_needs_the_lease(postgres_db: str) -> None:
    leases = await registry(postgres_db, 1)
    try:
        await leases.add_account("fresh")  # state 'new': no worker runs it
        (lease,) = await leases.acquire("w1", 5, 30)
        assert lease.account == "a0"
        # marking final needs the current token, and takes the account out of service
        assert not await leases.mark_final("a0", "w1", lease.token + 1, "logged out (401)")
        assert await leases.mark_final("a0", "w1", lease.token, "logged out (401)")
        row = await leases.account("a0")
        assert row is not None and row.state == "final" and row.detail == "logged out (401)"
        assert await leases.acquire("w1", 5, 30) == []
        # revoking: the lease goes, and the time its holder may still be connected is said
        await leases.set_account("a0", "paired")
        (lease,) = await leases.acquire("w1", 5, 30)
        left = await leases.revoke("a0")
        assert 25 < left <= 30 and await leases.holder("a0") is None
    finally:
        await leases.close()


async def test_workers_census_and_drain_requests(postgres_db: str) -> None:
    leases = await registry(postgres_db, 7)
    try:
        assert await leases.census() == (7, 0)
        assert not await leases.heartbeat("w1", 30, host="h", pid=1)
        await leases.heartbeat("w2", 0.3, host="h", pid=2)
        assert await leases.census() == (7, 2)
        await asyncio.sleep(0.5)
        assert await leases.census() == (7, 1)  # w2's heartbeat expired
        assert await leases.ask_drain("w1")
        assert await leases.heartbeat("w1", 30, host="h", pid=1)  # it learns it should drain
        assert await leases.census() == (7, 0)  # a draining worker takes no share
        assert [w.worker for w in await leases.workers()] == ["w1", "w2"]
        await leases.leave("w2")
        assert [w.worker for w in await leases.workers()] == ["w1"]
    finally:
        await leases.close()
    assert [fair_share(7, w) for w in (0, 1, 2, 3, 7, 8)] == [7, 7, 4, 3, 1, 1]
    assert fair_share(0, 3) == 0


async def test_schema_version_and_bad_input(postgres_db: str) -> None:
    import psycopg

    leases = PostgresLeases(postgres_db)
    await leases.open()
    await leases.close()
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        row = conn.execute("SELECT version FROM wamd_fleet_schema_version").fetchone()
        assert row == (FLEET_SCHEMA_VERSION,)
        conn.execute("UPDATE wamd_fleet_schema_version SET version = 99")
    with pytest.raises(FleetError, match="newer than this wamd"):
        await PostgresLeases(postgres_db).open()
    with pytest.raises(FleetError, match="DSN"):
        PostgresLeases("")
    with pytest.raises(FleetError, match="does not exist"):
        await PostgresLeases(postgres_db.replace("/wamd_", "/nonexistent_")).open()
    with pytest.raises(FleetError, match="lease ttl"):
        await PostgresLeases(postgres_db).acquire("w", 1, 0)
