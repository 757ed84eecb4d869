"""History sync after linking: the phone sends recent history inline, once, bounded."""

from __future__ import annotations

import zlib

from tests.sim.raw import pair_companion
from wamd.messaging.crypt import open_enc
from wamd.proto import e2e_pb2, history_sync_pb2
from wamd.signal import SignalRepository
from wamd.sim import HistorySyncPolicy, SimServer
from wamd.store import MemoryKeyStore

DAY = 86400


async def test_first_login_gets_recent_history_inline_and_only_once() -> None:
    now = [1_700_000_000.0]
    policy = HistorySyncPolicy(days=7, messages=2)
    async with SimServer(clock=lambda: now[0], history_sync=policy, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        old = await bob.send_text(alice.jid, "ten days ago")
        await alice.next_message()
        now[0] += 10 * DAY
        ids = [await bob.send_text(alice.jid, f"recent {n}") for n in range(3)]
        for _ in ids:
            await alice.next_message()
        reply = await alice.send_text(bob.jid, "answer")
        await bob.next_message()

        a1 = await pair_companion(sim, alice)
        node = await a1.next("message")
        assert node.attrs["from"] == str(alice.jid) and node.attrs["category"] == "peer"
        creds = a1.creds
        repo = SignalRepository(
            MemoryKeyStore(),
            creds.signed_identity_key,
            creds.registration_id,
            creds.signed_pre_key,
        )
        opened = await open_enc(repo, node.require_child("enc"), sim.session_jid(alice.jid), None)
        protocol = opened.message.protocolMessage
        assert protocol.type == e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
        notification = protocol.historySyncNotification
        assert notification.syncType == e2e_pb2.HistorySyncType.INITIAL_BOOTSTRAP
        assert not notification.directPath  # nothing to download: the payload is inline
        raw = zlib.decompress(notification.initialHistBootstrapInlinePayload)
        assert len(raw) == notification.fileLength
        sync = history_sync_pb2.HistorySync()
        sync.ParseFromString(raw)
        assert sync.syncType == history_sync_pb2.HistorySync.INITIAL_BOOTSTRAP
        (chat,) = sync.conversations
        assert chat.ID == str(bob.jid)
        sent = [(m.message.key.ID, m.message.key.fromMe) for m in chat.messages]
        # the newest two only: never the ten-day-old one, never more than asked
        assert sent == [(ids[2], False), (reply, True)]
        assert old not in [i for i, _ in sent]
        assert chat.messages[0].message.message.conversation == "recent 2"
        assert chat.messages[0].message.pushName == "Bob"
        assert {p.pushname for p in sync.pushnames} >= {"Alice", "Bob"}
        assert {m.lidJID for m in sync.phoneNumberToLidMappings} >= {str(bob.lid)}

        # whatsmeow answers with a hist_sync receipt; the server acks it, nothing is forwarded
        ack = await a1.receipt(node, "hist_sync")
        assert ack.attrs["type"] == "hist_sync"
        await a1.close()
        login = await a1.login()
        assert login.offline == []  # settled by the receipt, and not sent a second time


async def test_no_history_when_disabled_or_phone_offline() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:  # turned off
        alice = sim.add_phone("15550001111")
        a1 = await pair_companion(sim, alice)
        await a1.close()
        assert (await a1.login()).offline == []
    async with SimServer(history_sync=HistorySyncPolicy(), app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111")
        alice.go_offline()
        a1 = await pair_companion(sim, alice)
        await a1.close()
        assert (await a1.login()).offline == []
