"""Sending and receiving at the same moment, on every auth store.

The receive path holds a store transaction while it takes a device's Signal lock; a send
used to take the same two the other way round, and the socket deadlocked as soon as a
message from a device arrived while one to it was being encrypted (the durable stores
yield inside a transaction, the memory store never does, which is why it hid). Each test is
bounded by a timeout so that a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import asyncio

from tests.client.conftest import Inbox, socket_for
from tests.client.stores import any_state  # noqa: F401  (fixture)
from wamd.sim import SimServer
from wamd.store import AuthState

ROUNDS = 6
PER_ROUND = 8


async def test_sends_and_receives_at_once_do_not_deadlock(
    sim: SimServer,
    any_state: AuthState,  # noqa: F811
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = socket_for(sim, any_state)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    await bot_phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    inbox = Inbox(sock)
    to_alice = "15550002222@s.whatsapp.net"
    sent_ids: list[str] = []
    got_ids: list[str] = []
    try:
        async with asyncio.timeout(60):
            for round_no in range(ROUNDS):
                before = len(alice.received)
                theirs = [
                    alice.send_text(bot_phone.jid, f"a{round_no}-{n}") for n in range(PER_ROUND)
                ]
                ours = [
                    sock.send_message(to_alice, {"text": f"b{round_no}-{n}"})
                    for n in range(PER_ROUND)
                ]
                results = await asyncio.gather(*theirs, *ours)
                got_ids += [str(mid) for mid in results[:PER_ROUND]]
                sent_ids += [m.key.id for m in results[PER_ROUND:]]  # type: ignore[union-attr]
                for mid in results[:PER_ROUND]:
                    await inbox.wait(lambda m, mid=mid: m.key.id == mid)
                await alice.endpoint.wait_received(before + PER_ROUND - 1, timeout=30)
    finally:
        await sock.end()
    assert {m.key.id for m in inbox.messages} >= set(got_ids)
    texts = {m.id: m.text for m in alice.received}
    assert all(texts.get(mid, "").startswith("b") for mid in sent_ids)
    assert len(set(sent_ids)) == ROUNDS * PER_ROUND
