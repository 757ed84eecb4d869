"""Across reconnects (no crash): every message reaches the application exactly once.

A connection that drops while a handler still works on a message leaves that message
unconfirmed, so the server delivers it again to the next connection. The new socket
must not emit it a second time (the handler already has it), and must still confirm it
once the handler is done (the server's outbox is empty then). Runs on every store: the
memory store keeps the copy too, as a closed connection's work is cancelled. Each socket
has its own emitter: the new socket's later messages of a chat wait until the old one's
handlers are done with the earlier ones, as one socket's handler sees them in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.client.conftest import link, socket_for
from tests.client.stores import close_state, open_state, store_kind  # noqa: F401 (fixture)
from wamd.events import MessagesUpsert
from wamd.sim import SimServer

BOUND = 10.0


async def wait_until(condition: Callable[[], bool]) -> None:
    while not condition():  # noqa: ASYNC110 (the socket's state has no event to wait on)
        await asyncio.sleep(0.01)


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
        # the redelivery arrives; its chat waits for the first socket's handler to be done
        # with it (a later message of the chat must not overtake it)
        busy = lambda: bool(second.core.attempt and second.core.attempt.workers.tasks())  # noqa: E731
        await asyncio.wait_for(wait_until(busy), BOUND)
        await asyncio.sleep(0.2)
        assert busy()
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


async def test_a_chat_keeps_its_order_while_the_old_socket_still_handles_its_messages(
    sim: SimServer,
    tmp_path: Path,
    store_kind: str,  # noqa: F811
) -> None:
    """The next socket's newer messages wait for the handlers of the ones the old socket
    emitted and its handlers have not reached yet (each socket has its own emitter)."""
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state = await open_state(store_kind, tmp_path)
    seen: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(update: MessagesUpsert) -> None:
        for message in update.messages:
            if message.text:
                seen.append(message.text)
                if message.text == "one":
                    started.set()
                    await release.wait()

    try:
        first = await link(sim, phone, state)
        first.ev.on("messages.upsert", handler)
        await alice.send_text(phone.jid, "one")
        await alice.send_text(phone.jid, "two")
        await asyncio.wait_for(started.wait(), BOUND)
        attempt = first.core.attempt
        assert attempt is not None
        await asyncio.wait_for(attempt.workers.join(), BOUND)  # "two" is emitted, queued
        assert seen == ["one"]
        await sim.faults.disconnect(phone.companions[1])
        await asyncio.wait_for(first.wait_closed(), BOUND)

        second = socket_for(sim, state)
        second.ev.on("messages.upsert", handler)
        await second.connect()
        await alice.send_text(phone.jid, "three")  # new: behind the two still redelivered
        for _ in range(50):  # time for a socket that does not wait to emit it
            await asyncio.sleep(0.01)
        assert seen == ["one"]
        release.set()
        await asyncio.wait_for(second.idle(), BOUND)
        assert seen == ["one", "two", "three"]
        await sim.settle()
        assert [k for k in phone.companions[1].outbox if k[0] == "message"] == []
        await second.end()
    finally:
        release.set()
        await close_state(state)
