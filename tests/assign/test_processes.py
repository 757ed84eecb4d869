"""Several OS processes sharing one backend (SQLite file, Redis server)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wamd.assign import AssignmentBackend, SQLiteAssignments

from .fakes import customer, device
from .workers import chat_of, make_backend

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")

ROOT = Path(__file__).resolve().parents[2]
SHARED = ["sqlite", "redis"]  # the backends that work across processes


class Target:
    def __init__(self, kind: str, where: str, prefix: str) -> None:
        self.kind, self.where, self.prefix = kind, where, prefix

    def backend(self) -> AssignmentBackend:
        return make_backend(self.kind, self.where, self.prefix)


@pytest.fixture(params=SHARED)
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    kind: str = request.param
    if kind == "sqlite":
        where = str(tmp_path / "shared.sqlite")
    else:
        where = request.getfixturevalue("redis_url")
    yield Target(kind, where, f"wamd-proc:{uuid.uuid4().hex}:")


async def spawn(mode: str, target: Target, *args: object) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.assign.workers",
        mode,
        target.kind,
        target.where,
        target.prefix,
        *(str(a) for a in args),
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def line(proc: asyncio.subprocess.Process, timeout: float = 60) -> Any:
    assert proc.stdout is not None
    raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
    assert raw, f"worker exited with {await proc.wait()}"
    text = raw.decode().strip()
    return text if text in ("ready", "open") else json.loads(text)


async def start_together(procs: list[asyncio.subprocess.Process]) -> None:
    """Wait until every worker is ready, then tell them all to go."""
    for proc in procs:
        assert await line(proc) == "ready"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"go {time.time() + 0.2}\n".encode())
    await asyncio.gather(*(proc.stdin.drain() for proc in procs if proc.stdin))


async def test_two_processes_race_one_winner_per_chat(target: Target, tmp_path: Path) -> None:
    n = 150
    procs = [await spawn("race", target, name, n) for name in ("p1", "p2")]
    await start_together(procs)
    results = [await line(proc) for proc in procs]
    assert [await proc.wait() for proc in procs] == [0, 0]
    won = [set(r["won"]) for r in results]
    marked = [set(r["marked"]) for r in results]
    assert won[0].isdisjoint(won[1]) and won[0] | won[1] == set(range(n))
    assert marked[0].isdisjoint(marked[1]) and marked[0] | marked[1] == set(range(n))
    backend = target.backend()
    try:
        for i in range(n):
            held = await backend.holder(chat_of(i))
            assert held is not None and held.handler == ("p1" if i in won[0] else "p2")
            who = await backend.handled_by(chat_of(i), None, "MSG")
            assert who == ("p1" if i in marked[0] else "p2")
    finally:
        await backend.close()


async def test_a_killed_holder_loses_its_claims_after_the_ttl(target: Target) -> None:
    ttl, n = 1.5, 10
    proc = await spawn("hold", target, "doomed", n, ttl)
    tokens = {int(k): v for k, v in (await line(proc))["tokens"].items()}
    ready = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    backend = target.backend()
    try:
        # until the TTL has passed the dead process still holds its chats ...
        first = await backend.claim(chat_of(0), "survivor", 60)
        assert first is None or time.monotonic() - ready >= ttl
        # ... and then they are free; the new tenure has a larger token
        deadline = time.monotonic() + 30
        free: set[int] = set()
        while len(free) < n and time.monotonic() < deadline:
            for i in range(n):
                if i not in free and await backend.claim(chat_of(i), "survivor", 60):
                    free.add(i)
            await asyncio.sleep(0.05)
        assert free == set(range(n))
        for i in range(n):
            held = await backend.holder(chat_of(i))
            assert held is not None and held.handler == "survivor" and held.token > tokens[i]
            # a message the dead process marked stays handled: at most once, never twice
            assert await backend.handled_by(chat_of(i), None, "MSG") == "doomed"
        assert await backend.chats_of("doomed") == []
    finally:
        await backend.close()


async def test_sqlite_survives_kills_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "churn.sqlite"
    target = Target("sqlite", str(path), "")
    rng = random.Random(5)
    for round in range(4):
        proc = await spawn("churn", target, "churner")
        assert await line(proc) == "ready"
        await asyncio.sleep(rng.uniform(0.05, 0.3))
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        db.close()
        backend = SQLiteAssignments(path)
        try:
            got = await backend.claim("after-crash", f"me-{round}", 60, force=True)
            assert got is not None and got.fresh
        finally:
            await backend.close()


async def test_two_bot_processes_one_reply_per_message_and_admin_takeover(
    target: Target, tmp_path: Path
) -> None:
    """Two bots linked to one account get 500 messages from 20 customers: one reply each.

    Each bot's replies reach the other as device-sent (``from_me``) messages, which must
    not count as an admin. Half way, the admin (device 3, "alice") writes to one customer:
    both bots go quiet in that chat, and nobody else's chat is taken over.
    """
    rng = random.Random(11)
    customers = [customer(i) for i in range(20)]
    taken = customers[7]
    events: list[dict[str, str]] = []
    for i in range(500):
        if i == 250:
            events.append(
                {
                    "t": "admin",
                    "chat": taken,
                    "id": "3EB0ADMIN",
                    "text": "alice here",
                    "sender": device(3),
                }
            )
        events.append(
            {"t": "in", "chat": rng.choice(customers), "id": f"IN{i:05d}", "text": f"q{i}"}
        )
    script = tmp_path / "script.json"
    script.write_text(json.dumps(events))
    procs = [
        await spawn("desk", target, me, other, script, tmp_path) for me, other in ((5, 6), (6, 5))
    ]
    await start_together(procs)
    summaries = [await line(proc, timeout=300) for proc in procs]
    assert [await proc.wait() for proc in procs] == [0, 0]

    sent = [
        json.loads(raw)
        for me in (5, 6)
        for raw in (tmp_path / f"sent-{me}.jsonl").read_text().splitlines()
    ]
    admin_at = next(i for i, e in enumerate(events) if e["t"] == "admin")
    expected = {
        e["id"]
        for i, e in enumerate(events)
        if e["t"] == "in" and not (e["chat"] == taken and i > admin_at)
    }
    quoted = [s["quoted"] for s in sent]
    assert len(quoted) == len(set(quoted)), "a message was answered twice"
    assert set(quoted) == expected
    assert 400 < len(expected) < 500
    assert sum(s["handled"] for s in summaries) == len(expected)
    split = [s["handled"] for s in summaries]
    assert all(n > 0 for n in split), f"one process handled everything: {split}"
    assert sorted(c for s in summaries for c in s["fresh_takeovers"]) == [taken]
    backend = target.backend()
    try:
        held = await backend.holder(taken)
        assert held is not None and held.handler == "alice"
        for chat in customers:
            if chat != taken:
                assert await backend.holder(chat) is None, chat
        for s in sent:
            assert await backend.sent_by(s["id"]) in ("bot-5", "bot-6")
    finally:
        await backend.close()


async def test_two_bot_processes_on_the_sim_500_messages_from_20_customers(
    target: Target, tmp_path: Path
) -> None:
    """The issue's end-to-end check: two bot processes, two companions of one sim account.

    20 customers send 25 messages each; every message is answered exactly once. Half way
    the account's phone (a human) writes to one customer: from then on neither bot answers
    that customer, while the others are still answered.
    """
    from wamd.sim import SimServer

    async with SimServer() as sim:
        account = sim.add_phone("15550001111", "Shop")
        customers = [sim.add_phone(f"155500030{i:02d}", f"Customer {i}") for i in range(20)]
        admins = json.dumps(
            {str(account.jid): "owner", f"{account.number}:0@s.whatsapp.net": "owner"}
        )
        procs = []
        for name in ("bot-a", "bot-b"):
            proc = await spawn("simbot", target, name, sim.url, sim.root_public_key.hex(), admins)
            await account.scan_qr((await line(proc))["qr"])
            assert await line(proc) == "open"
            procs.append(proc)
        backend = target.backend()
        try:
            asked: dict[str, list[str]] = {c.number: [] for c in customers}
            taken = customers[7]
            silenced: list[str] = []

            def answered(phone: Any) -> list[str]:
                return [
                    m.message.extendedTextMessage.contextInfo.stanzaID
                    for m in phone.received
                    if m.message.HasField("extendedTextMessage")
                    and m.message.extendedTextMessage.contextInfo.stanzaID
                ]

            async def until(check: Any, timeout: float = 120) -> None:
                deadline = time.monotonic() + timeout
                while not await check():
                    assert time.monotonic() < deadline, "timed out"
                    await asyncio.sleep(0.05)

            for round in range(25):
                if round == 12:

                    async def caught_up() -> bool:
                        return len(answered(taken)) == len(asked[taken.number])

                    await until(caught_up)
                    await account.send_text(taken.jid, "Hi, the owner here")

                    async def held() -> bool:
                        return await backend.holder(str(taken.jid)) is not None

                    await until(held)
                for c in customers:
                    mid = await c.send_text(account.jid, f"q{round}")
                    (silenced if c is taken and round >= 12 else asked[c.number]).append(mid)

            async def all_answered() -> bool:
                return all(len(answered(c)) >= len(asked[c.number]) for c in customers)

            await until(all_answered)
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"stop\n")
            summaries = [await line(proc) for proc in procs]
            assert [await proc.wait() for proc in procs] == [0, 0]
            for c in customers:
                got = answered(c)
                assert len(got) == len(set(got)), f"{c.number} got a second reply"
                assert set(got) == set(asked[c.number])
            assert len(silenced) == 13
            assert sum(len(v) for v in asked.values()) == 500 - 13
            assert sum(s["handled"] for s in summaries) == 500 - 13
            owner = await backend.holder(str(taken.jid))
            assert owner is not None and owner.handler == "owner"
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            await backend.close()
