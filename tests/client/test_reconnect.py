"""Across reconnects (no crash): every message reaches the application exactly once.

A connection that drops while a handler still works on a message leaves that message
unconfirmed, so the server delivers it again to the next connection. The new socket
must not emit it a second time (the handler already has it), and must still confirm it
once the handler is done (the server's outbox is empty then). Runs on every store: the
memory store keeps the copy too, as a closed connection's work is cancelled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.client.conftest import link, socket_for
from tests.client.stores import close_state, open_state, store_kind  # noqa: F401 (fixture)
from wamd.events import MessagesUpsert
from wamd.sim import SimServer

BOUND = 10.0


async def test_a_redelivery_after_a_dropped_connection_is_not_emitted_again(
    sim: SimServer,
    tmp_path: Path,
    store_kind: str,  # noqa: F811
) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state = await open_state(store_kind, tmp_path)
    seen: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(update: MessagesUpsert) -> None:
        for message in update.messages:
            if message.text:
                seen.append(message.key.id)
                started.set()
                await release.wait()

    try:
        first = await link(sim, phone, state)
        first.ev.on("messages.upsert", handler)
        mid = await alice.send_text(phone.jid, "once, please")
        await asyncio.wait_for(started.wait(), BOUND)
        device = phone.companions[1]
        await sim.faults.disconnect(device)  # the link breaks; no receipt went out
        await asyncio.wait_for(first.wait_closed(), BOUND)

        second = socket_for(sim, state)  # what run_forever does: a new socket, same state
        second.ev.on("messages.upsert", handler)
        await second.connect()
        await second.ev.wait_for(
            "connection.update", lambda u: u.received_pending_notifications, timeout=BOUND
        )
        attempt = second.core.attempt
        assert attempt is not None
        await asyncio.wait_for(attempt.workers.join(), BOUND)  # the redelivery is handled
        await asyncio.wait_for(second.ev.drain(), BOUND)
        assert seen == [mid]  # redelivered, but not emitted again
        assert [k for k in device.outbox if k[0] == "message"] != []  # nor confirmed yet
        release.set()
        await asyncio.wait_for(second.idle(), BOUND)  # the confirmation waited for that
        await sim.settle()
        assert [k for k in device.outbox if k[0] == "message"] == []  # confirmed
        await second.end()

        third = socket_for(sim, state)  # confirmed now: nothing comes a third time
        third.ev.on("messages.upsert", handler)
        await third.connect()
        await third.ev.wait_for(
            "connection.update", lambda u: u.received_pending_notifications, timeout=BOUND
        )
        await asyncio.wait_for(third.idle(), BOUND)
        await sim.settle()
        assert seen == [mid]
        await third.end()
    finally:
        release.set()
        await close_state(state)
