"""The typed views over the key store, on every backend, and the layout they keep."""

from __future__ import annotations

import json
from pathlib import Path

from wamd.crypto import generate_keypair
from wamd.store import MultiFileKeyStore
from wamd.store.types import SignalKeyStore
from wamd.store.views import (
    BufferedMessage,
    EventBuffer,
    LidMap,
    PreKeys,
    SenderKeyMemory,
    SentMessage,
    SentMessages,
)


async def test_lid_map_both_ways_in_baileys_layout(store: SignalKeyStore) -> None:
    lids = LidMap(store)
    assert await lids.lid_for("15551234567") is None
    await lids.learn("15551234567", "123456789")
    await lids.learn("15557654321", "987654321")
    assert await lids.lid_for("15551234567") == "123456789"
    assert await lids.pn_for("123456789") == "15551234567"
    assert await lids.pn_for("15551234567") is None  # a pn is not a lid
    assert await lids.lids_for(["15551234567", "15557654321", "1"]) == {
        "15551234567": "123456789",
        "15557654321": "987654321",
    }
    assert await lids.pns_for(["987654321", "5"]) == {"987654321": "15557654321"}
    raw = await store.get("lid-mapping", ["15551234567", "123456789_reverse"])
    assert raw == {"15551234567": "123456789", "123456789_reverse": "15551234567"}


async def test_lid_map_ignores_values_of_the_wrong_shape(store: SignalKeyStore) -> None:
    await store.set({"lid-mapping": {"1555": {"not": "a user"}, "99_reverse": 5}})
    lids = LidMap(store)
    assert await lids.lid_for("1555") is None and await lids.pn_for("99") is None


async def test_sender_key_memory(store: SignalKeyStore) -> None:
    memory = SenderKeyMemory(store)
    group = "120363000000000000@g.us"
    assert await memory.get(group) == {}
    assert await memory.needing(group, ["a.1", "b.2"]) == ["a.1", "b.2"]
    await memory.mark(group, ["a.1"])
    await memory.mark(group, ["b.2"])  # added to who had it
    await memory.mark(group, [])
    assert await memory.needing(group, ["a.1", "b.2", "c.0"]) == ["c.0"]
    assert await store.get("sender-key-memory", [group]) == {group: {"a.1": True, "b.2": True}}
    await memory.forget(group)
    assert await store.get("sender-key-memory", [group]) == {}
    await store.set({"sender-key-memory": {group: ["garbage"]}})
    assert await memory.get(group) == {}


async def test_sent_messages_ring_keeps_the_last_ones(store: SignalKeyStore) -> None:
    sent = SentMessages(store, keep=3)
    for n in range(5):
        await sent.remember(f"MID{n}", "1555@s.whatsapp.net", bytes([n]) * 4, 1000 + n)
    assert await sent.get("MID0") is None and await sent.get("MID1") is None  # pushed out
    assert await sent.get("MID4") == SentMessage("1555@s.whatsapp.net", b"\x04" * 4, 1004)
    raw = await store.get("sent-message", ["ring", "slot-0", "slot-1", "slot-2", "MID2"])
    # the client's layout: a ring counter, slots naming the kept ids, one entry per id
    assert raw == {
        "ring": {"next": 5},
        "slot-0": "MID3",
        "slot-1": "MID4",
        "slot-2": "MID2",
        "MID2": {"chat": "1555@s.whatsapp.net", "message": b"\x02" * 4, "t": 1002},
    }
    await sent.remember("MID4", "1555@s.whatsapp.net", b"again", 2000)  # the same id again
    assert await sent.get("MID4") == SentMessage("1555@s.whatsapp.net", b"again", 2000)
    await store.set({"sent-message": {"bad": {"chat": 5, "message": b""}}})
    assert await sent.get("bad") is None


async def test_event_buffer(store: SignalKeyStore) -> None:
    buffer = EventBuffer(store)
    await buffer.put("b1", b"\x0a\x02hi", "MID1", 1700000000)
    await buffer.put("b2", b"\x0a\x02yo", "MID2", 1700000001)
    assert await buffer.get("b1") == BufferedMessage(b"\x0a\x02hi", "MID1", 1700000000)
    assert set(await buffer.get_many(["b1", "b2", "b3"])) == {"b1", "b2"}
    assert await store.get("event-buffer", ["b2"]) == {
        "b2": {"plaintext": b"\x0a\x02yo", "id": "MID2", "t": 1700000001}
    }
    await buffer.drop(["b1", "b2"])
    await buffer.drop([])
    assert await buffer.get_many(["b1", "b2"]) == {}
    await store.set({"event-buffer": {"b3": {"plaintext": "not bytes"}}})
    assert await buffer.get("b3") is None


async def test_views_join_the_callers_transaction(store: SignalKeyStore) -> None:
    try:
        async with store.transaction():
            await LidMap(store).learn("1555", "99")
            await PreKeys(store).add([(1, generate_keypair())])
            await SenderKeyMemory(store).mark("g@g.us", ["a.1"])
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert await LidMap(store).lid_for("1555") is None
    assert await PreKeys(store).get(1) is None
    assert await SenderKeyMemory(store).get("g@g.us") == {}


async def test_multi_file_layout_is_baileys(tmp_path: Path) -> None:
    store = MultiFileKeyStore(tmp_path / "auth")
    await LidMap(store).learn("15551234567", "123456789")
    pair = generate_keypair()
    await PreKeys(store).add([(17, pair)])
    folder = tmp_path / "auth"
    assert json.loads((folder / "lid-mapping-15551234567.json").read_text()) == "123456789"
    assert (folder / "lid-mapping-123456789_reverse.json").exists()
    prekey = json.loads((folder / "pre-key-17.json").read_text())
    assert set(prekey) == {"private", "public"} and prekey["public"]["type"] == "Buffer"
