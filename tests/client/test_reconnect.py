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
from typing import Any

import pytest

from tests.client.conftest import link, socket_for
from tests.client.stores import STORE_KINDS, close_state, open_state
from wamd.events import MessagesUpsert
from wamd.sim import SimServer

BOUND = 10.0


@pytest.mark.parametrize("kind", STORE_KINDS)
async def test_a_redelivery_after_a_dropped_connection_is_not_emitted_again(
    sim: SimServer, tmp_path: Path, kind: str
) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state = await open_state(kind, tmp_path)
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


# On the memory store, the one that used to skip the saved copy: the hook below sits on
# its commit step (the file stores commit through paths this hook does not see)
@pytest.mark.parametrize("kind", ["memory"])
async def test_work_cut_short_right_after_decrypting_is_emitted_from_the_saved_copy(
    sim: SimServer, tmp_path: Path, kind: str
) -> None:
    """A connection's end cancels its chat workers wherever they are: here while the
    transaction that advances the Signal session commits (the commit completes, the
    cancellation comes through after it), before the emission. The
    message's keys are used up, so only the saved copy can bring it back (the memory
    store too: a cancelled worker is a crash for what it held)."""
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state = await open_state(kind, tmp_path)
    seen: list[str] = []
    cut = asyncio.Event()
    try:
        first = await link(sim, phone, state)
        first.ev.on("messages.upsert", lambda u: seen.extend(m.key.id for m in u.messages))
        keys: Any = state.keys
        commit = keys._commit

        async def cut_while_committing(writes: dict[str, Any]) -> None:
            await commit(writes)
            opened = keys._current.get()  # the commit step runs in a task of its own
            worker = opened.task if opened is not None else None  # the chat worker's
            attempt = first.core.attempt
            ours = attempt is not None and worker in attempt.workers.tasks()
            decrypting = "session" in writes and "event-buffer" in writes  # a message opened
            if not cut.is_set() and decrypting and ours:
                cut.set()
                worker.cancel()  # what the connection's end does to its workers, right here

        keys._commit = cut_while_committing
        mid = await alice.send_text(phone.jid, "decrypted, then cut short")
        await asyncio.wait_for(cut.wait(), BOUND)
        keys._commit = commit
        await first.end()
        assert seen == []

        second = socket_for(sim, state)
        second.ev.on("messages.upsert", lambda u: seen.extend(m.key.id for m in u.messages))
        await second.connect()
        await second.ev.wait_for(
            "connection.update", lambda u: u.received_pending_notifications, timeout=BOUND
        )
        await asyncio.wait_for(second.idle(), BOUND)
        await sim.settle()
        assert seen == [mid]  # redelivered and emitted from the copy saved with the session
        device = phone.companions[1]
        assert [k for k in device.outbox if k[0] == "message"] == []
        await second.end()
    finally:
        await close_state(state)
