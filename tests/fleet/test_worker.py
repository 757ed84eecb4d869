"""Fleet workers in one process sharing a real PostgreSQL database and a real sim.

Takeover after a SIGKILL needs separate processes: ``test_processes.py``.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from wamd.events import MessagesUpsert
from wamd.fleet import AccountEvent
from wamd.fleet.leases import PostgresLeases
from wamd.fleet.worker import FleetWorker
from wamd.sim import SimServer

from .helpers import Partition, live, options, provision, until

TTL = 3.0  # seconds: short leases keep the test quick, long enough for a loaded machine


def worker(sim: SimServer, dsn: str, name: str, got: Counter[tuple[str, str]]) -> FleetWorker:
    w = FleetWorker(
        dsn, name=name, lease_ttl=TTL, pool_size=3, socket_options=options(sim), initial_delay=0.2
    )

    async def record(event: AccountEvent[MessagesUpsert]) -> None:
        for msg in event.payload.messages:
            if not msg.key.from_me:
                got[(event.account, msg.text or "")] += 1

    w.fleet.on("messages.upsert", record)
    return w


async def test_a_joining_worker_takes_its_share_and_nothing_is_lost(
    sim: SimServer, postgres_db: str
) -> None:
    phones = await provision(sim, postgres_db, 6)
    alice = sim.add_phone("15559990000", "Alice")
    got: Counter[tuple[str, str]] = Counter()
    first = worker(sim, postgres_db, "w1", got)
    second = worker(sim, postgres_db, "w2", got)
    await first.start()
    try:
        await until(lambda: first.fleet.connected == 6, "w1 runs all six")
        await second.start()
        sent = []
        for round in range(5):
            for name, phone in phones.items():
                text = f"{name} #{round}"
                await alice.send_text(phone.jid, text)
                sent.append((name, text))
            await asyncio.sleep(TTL / 4)
        await until(
            lambda: first.fleet.connected == 3 and second.fleet.connected == 3, "three each"
        )
        await until(lambda: all(got[s] for s in sent), "every message handled")
        assert sim.logins.replaced == 0  # nobody pushed anybody off
        assert all(live(p) == 1 for p in phones.values())
        assert set(first.held).isdisjoint(second.held)
        assert first.lost == second.lost == 0  # handed over on purpose, not lost
    finally:
        await second.stop(drain=False)
        await first.stop(drain=False)
    assert all(live(p) == 0 for p in phones.values())


async def test_a_lost_lease_closes_the_socket_before_anyone_else_connects(
    sim: SimServer, postgres_db: str
) -> None:
    phones = await provision(sim, postgres_db, 2)
    got: Counter[tuple[str, str]] = Counter()
    w = worker(sim, postgres_db, "w1", got)
    await w.start()
    try:
        await until(lambda: w.fleet.connected == 2, "both open")
        first = [
            d.connection
            for d in phones["acct-0"].companions.values()
            if d.connection is not None and not d.connection.closed
        ]
        assert len(first) == 1
        async with PostgresLeases(postgres_db) as admin:
            # someone else takes acct-0's lease (as if w1 had been cut off past its expiry)
            left = await admin.revoke("acct-0")
            assert left > 0
            await admin.set_account("acct-0", "paired")
            # w1 learns it at its next renewal and closes; the intruder waits for the expiry.
            # The connection of the old lease is watched, not the count: w1 may take the
            # account again so soon that a poll never sees none open
            await until(lambda: first[0].closed, "acct-0's socket closed")
            assert w.lost >= 1  # acct-0 (and, on a slow machine, maybe a late renewal)
            # w1 takes it again later (a new lease, a new token): one connection again
            await until(lambda: live(phones["acct-0"]) == 1, "acct-0 back")
        assert live(phones["acct-1"]) == 1
        assert sim.logins.replaced == 0
    finally:
        await w.stop(drain=False)


async def test_draining_hands_everything_over_without_losing_a_message(
    sim: SimServer, postgres_db: str
) -> None:
    phones = await provision(sim, postgres_db, 6)
    alice = sim.add_phone("15559990000", "Alice")
    got: Counter[tuple[str, str]] = Counter()
    w1, w2 = worker(sim, postgres_db, "w1", got), worker(sim, postgres_db, "w2", got)
    await w1.start()
    await w2.start()
    try:
        await until(lambda: w1.fleet.connected + w2.fleet.connected == 6, "all six open")
        await until(lambda: w1.fleet.connected == 3, "an even split")
        sent: list[tuple[str, str]] = []

        async def chatter() -> None:
            for round in range(12):
                for name, phone in phones.items():
                    text = f"{name} #{round}"
                    await alice.send_text(phone.jid, text)
                    sent.append((name, text))
                await asyncio.sleep(0.05)

        talking = asyncio.ensure_future(chatter())
        await asyncio.sleep(0.1)
        await w1.stop()  # drains: every account handed to w2, then leaves
        await talking
        await until(lambda: w2.fleet.connected == 6, "w2 runs all six")
        await until(lambda: all(got[s] for s in sent), "every message handled")
        missing = [s for s in sent if not got[s]]
        assert missing == []
        assert sim.logins.replaced == 0
        async with PostgresLeases(postgres_db) as admin:
            assert [x.worker for x in await admin.workers()] == ["w2"]
    finally:
        await w2.stop(drain=False)


async def test_a_logged_out_account_is_final_and_not_taken_again(
    sim: SimServer, postgres_db: str
) -> None:
    phones = await provision(sim, postgres_db, 2)
    got: Counter[tuple[str, str]] = Counter()
    w = worker(sim, postgres_db, "w1", got)
    await w.start()
    try:
        await until(lambda: w.fleet.connected == 2, "both open")
        phone = phones["acct-1"]
        await phone.unlink(next(iter(phone.companions.values())))
        async with PostgresLeases(postgres_db) as admin:

            async def final() -> Any:
                row = await admin.account("acct-1")
                return row is not None and row.state == "final"

            await until(final, "acct-1 marked final")
            row = await admin.account("acct-1")
            assert row is not None and row.detail == "logged out (401)"
            await asyncio.sleep(TTL)  # a few ticks: it is not taken again
            assert "acct-1" not in w.held and await admin.holder("acct-1") is None
        assert live(phones["acct-0"]) == 1
    finally:
        await w.stop(drain=False)


async def test_a_worker_cut_off_from_the_database_lets_go_before_its_leases_expire(
    sim: SimServer, postgres_db: str
) -> None:
    phones = await provision(sim, postgres_db, 3)
    got: Counter[tuple[str, str]] = Counter()
    partition = Partition(postgres_db)
    w1 = worker(sim, await partition.start(), "w1", got)
    w2 = worker(sim, postgres_db, "w2", got)
    await w1.start()
    try:
        await until(lambda: w1.fleet.connected == 3, "w1 runs all three")
        partition.cut()  # w1 can neither renew nor release; its sockets still work
        await w2.start()
        # w1's watchdog closes each socket by its own clock; w2 takes over after expiry
        await until(lambda: w2.fleet.connected == 3, "w2 took all three over")
        assert w1.lost == 3 and w1.fleet.connected == 0
        assert sim.logins.replaced == 0  # w1 was gone before w2 connected
        assert all(live(p) == 1 for p in phones.values())
    finally:
        await w2.stop(drain=False)
        await w1.stop(drain=False)
        await partition.stop()
