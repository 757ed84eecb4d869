"""A received message is confirmed only once its commit is durable, on every store.

The multi-file store groups commits (several messages' writes share one fsync, and the
next message is decrypted while the last one's commit reaches the disk); these tests
watch every stanza the socket sends and, at the moment a message's receipt goes out,
check that the store's commit holding that message (the Signal state and its saved copy)
and the commit removing the saved copy have both finished. Each store's commit is slowed
down so that a receipt sent too early would be caught in the act.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.client.conftest import Inbox
from tests.client.stores import every_store, link
from wamd.binary import Node
from wamd.sim import SimServer
from wamd.store.sqlite import SQLiteKeyStore
from wamd.store.types import SignalKeyStore

__all__ = ["every_store"]

BURST = 12


class Watch:
    """Records which saved copies' puts and drops are durable, and every receipt sent."""

    def __init__(self, keys: SignalKeyStore) -> None:
        self.durable_puts: set[str] = set()
        self.durable_drops: set[str] = set()
        self.buffer_of: dict[str, set[str]] = {}  # message id -> its saved copies
        self.early: list[str] = []  # receipts sent before their message was durable
        self.receipts: list[str] = []
        self.in_flight = 0
        real = keys._commit  # type: ignore[attr-defined]

        async def slow_commit(writes: dict[str, dict[str, Any]]) -> None:
            self.in_flight += 1
            try:
                await asyncio.sleep(0.02)  # a slow disk: an early receipt has time to leave
                await real(writes)
            finally:
                self.in_flight -= 1
            self.durable(writes)

        self.slow_commit = slow_commit
        self.real_grouped = getattr(keys, "_commit_grouped", None)
        self.unsynced: list[dict[str, dict[str, Any]]] = []  # committed, not yet fsynced
        self.unsynced_lock = threading.Lock()

    def durable(self, writes: dict[str, dict[str, Any]]) -> None:
        for buffer_id, value in writes.get("event-buffer", {}).items():
            if value is None:
                self.durable_drops.add(buffer_id)
            else:
                self.durable_puts.add(buffer_id)
                self.buffer_of.setdefault(value["id"], set()).add(buffer_id)

    async def grouped_commit(
        self, writes: dict[str, dict[str, Any]], *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        """SQLite: the COMMIT returns unsynced; its writes are durable once an fsync of
        the WAL that started after it has returned (``slow_sync`` tells)."""
        assert self.real_grouped is not None
        done = await self.real_grouped(writes, wait=wait)
        with self.unsynced_lock:
            self.unsynced.append(writes)
        return done

    def synced(self, real_sync: Any) -> None:
        """Run on the store's worker thread in place of its fsync of the WAL."""
        with self.unsynced_lock:
            covered, self.unsynced[:] = list(self.unsynced), []
        time.sleep(0.02)  # a slow disk: an early receipt has time to leave
        real_sync()
        for writes in covered:
            self.durable(writes)

    def sent(self, node: Node) -> None:
        if node.tag != "receipt" or node.attrs.get("type") == "retry":
            return
        message_id = node.attrs.get("id", "")
        self.receipts.append(message_id)
        copies = self.buffer_of.get(message_id, set())
        if not copies or not copies <= self.durable_drops:
            self.early.append(message_id)


async def watched(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Watch, Any]:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    first = await alice.send_text(bot_phone.jid, "establish")
    await inbox.wait(lambda m: m.key.id == first)
    await sock.idle()
    keys = sock.auth.keys
    watch = Watch(keys)
    if isinstance(keys, SQLiteKeyStore):  # durable at the WAL's fsync, not at COMMIT
        conn = keys._connection()
        real_sync = conn._sync

        monkeypatch.setattr(conn, "_sync", lambda: watch.synced(real_sync))
        monkeypatch.setattr(keys, "_commit_grouped", watch.grouped_commit)
    else:
        monkeypatch.setattr(keys, "_commit", watch.slow_commit)
    node_conn = sock.core.conn
    real_send = node_conn.send

    async def send(node: Node) -> None:
        watch.sent(node)
        await real_send(node)

    monkeypatch.setattr(node_conn, "send", send)
    return sock, watch, (alice, bot_phone, inbox)


async def test_no_receipt_leaves_before_its_message_is_durable(
    sim: SimServer, every_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, watch, (alice, bot_phone, inbox) = await watched(sim, monkeypatch)
    ids = [await alice.send_text(bot_phone.jid, f"m{n}") for n in range(BURST)]
    for message_id in ids:
        await inbox.wait(lambda m, i=message_id: m.key.id == i)
    await sock.idle()  # every receipt is out
    assert set(ids) <= set(watch.receipts)
    assert watch.early == [], f"{every_store}: receipts before durability: {watch.early}"
    assert [r for r in watch.receipts if r in ids] == ids  # in the chat's order
    # every message was emitted only after its put was durable, so its copy is known
    assert all(watch.buffer_of.get(i) for i in ids)
    await sock.end()


async def test_a_message_is_emitted_only_once_its_commit_is_durable(
    sim: SimServer, every_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, watch, (alice, bot_phone, inbox) = await watched(sim, monkeypatch)
    emitted_early: list[str] = []

    def on_upsert(update: Any) -> None:
        for message in update.messages:
            copies = watch.buffer_of.get(message.key.id, set())
            if not copies or not copies <= watch.durable_puts:
                emitted_early.append(message.key.id)

    sock.ev.on("messages.upsert", on_upsert)
    ids = [await alice.send_text(bot_phone.jid, f"e{n}") for n in range(BURST)]
    for message_id in ids:
        await inbox.wait(lambda m, i=message_id: m.key.id == i)
    await sock.idle()
    assert emitted_early == []
    await sock.end()
