"""Clocks that disagree or step back never give a chat two owners (memory, SQLite).

Redis needs no such test: its clients have no clock in the decision at all (expiry is the
server's PEXPIRE/TIME), which ``RedisAssignments`` shows by taking no clock argument.
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path

from wamd.assign import MemoryAssignments, RedisAssignments, SQLiteAssignments

from .conftest import FakeClock

CHAT = "15551234567@s.whatsapp.net"


async def test_sqlite_skewed_processes_never_share_a_chat(tmp_path: Path) -> None:
    path = tmp_path / "assign.sqlite"
    base = FakeClock(1_700_000_000.0)
    on_time = SQLiteAssignments(path, clock=base)
    late = SQLiteAssignments(path, clock=lambda: base() - 3600)  # an hour behind
    early = SQLiteAssignments(path, clock=lambda: base() + 3600)  # an hour ahead
    try:
        got = await on_time.claim(CHAT, "on-time", 10)
        assert got is not None
        # the file's time never goes back: to the late process the claim is live
        assert await late.claim(CHAT, "late", 10) is None
        held = await late.holder(CHAT)
        assert held is not None and held.handler == "on-time" and held.ttl <= 10
        base.advance(5)
        assert await late.claim(CHAT, "late", 10) is None
        # the early process moves the file's time forward: the claim ends early for all,
        # the old holder can tell (its token is stale), and there is one holder
        taken = await early.claim(CHAT, "early", 10)
        assert taken is not None and taken.fresh and taken.token > got.token
        for view in (on_time, late, early):
            now = await view.holder(CHAT)
            assert now is not None and (now.handler, now.token) == ("early", taken.token)
        assert await on_time.renew(CHAT, "on-time", 10, token=got.token) is None
        assert not await on_time.is_current(got)
        # every process now measures TTLs on the file's (advanced) clock
        other = await late.claim("other@s.whatsapp.net", "late", 10)
        assert other is not None and other.ttl <= 10
        assert await on_time.claim("other@s.whatsapp.net", "on-time", 10) is None
    finally:
        for b in (on_time, late, early):
            await b.close()


async def test_sqlite_random_skew_one_owner_at_a_time(tmp_path: Path) -> None:
    rng = random.Random(1234)
    base = FakeClock(1_700_000_000.0)
    offsets = [0.0, -7.0, 3.0, -1800.0, 0.5]
    views = [
        SQLiteAssignments(tmp_path / "a.sqlite", clock=lambda o=o: base() + o)  # type: ignore[misc]
        for o in offsets
    ]
    latest: tuple[str, int] | None = None
    tokens: list[int] = []
    try:
        for step in range(300):
            base.advance(rng.uniform(0, 2))
            i = rng.randrange(len(views))
            name = f"p{i}"
            if rng.random() < 0.3 and latest is not None:
                renewed = await views[i].renew(CHAT, name, rng.uniform(0.5, 5))
                if renewed is not None:
                    assert (name, renewed.token) == latest, step
            else:
                got = await views[i].claim(CHAT, name, rng.uniform(0.5, 5))
                if got is not None:
                    if got.fresh:
                        tokens.append(got.token)
                        latest = (name, got.token)
                    else:
                        assert (name, got.token) == latest, step
            for view in views:
                held = await view.holder(CHAT)
                assert held is None or (held.handler, held.token) == latest, step
        assert tokens == sorted(set(tokens)) and len(tokens) > 10
    finally:
        for view in views:
            await view.close()


async def test_a_clock_stepping_back_revives_nothing(tmp_path: Path) -> None:
    for make in (
        lambda c: MemoryAssignments(clock=c),
        lambda c: SQLiteAssignments(tmp_path / "back.sqlite", clock=c),
    ):
        clock = FakeClock(1_700_000_000.0)
        backend = make(clock)
        got = await backend.claim(CHAT, "alice", 1)
        assert got is not None
        clock.advance(2)
        assert await backend.holder(CHAT) is None
        clock.advance(-100)  # NTP steps the clock back
        assert await backend.holder(CHAT) is None
        assert await backend.renew(CHAT, "alice", 1, token=got.token) is None
        bob = await backend.claim(CHAT, "bob", 1)
        assert bob is not None
        clock.advance(50)  # still behind the highest time seen: bob's claim stands
        assert await backend.claim(CHAT, "carol", 1) is None
        clock.advance(52)  # past it again
        carol = await backend.claim(CHAT, "carol", 1)
        assert carol is not None and carol.token > bob.token
        await backend.close()


def test_redis_backend_takes_no_client_clock() -> None:
    assert "clock" not in inspect.signature(RedisAssignments).parameters
