"""What a newly linked companion gets and asks right after login, driven with raw nodes."""

from __future__ import annotations

from tests.sim.raw import pair_companion
from wamd.binary import Node
from wamd.messaging.crypt import open_enc
from wamd.proto import e2e_pb2
from wamd.signal import SignalRepository
from wamd.sim import SimServer
from wamd.store import MemoryKeyStore


async def test_the_phone_shares_its_app_state_key_then_the_history() -> None:
    async with SimServer() as sim:
        alice = sim.add_phone("15550001111", "Alice")
        a1 = await pair_companion(sim, alice)
        creds = a1.creds
        repo = SignalRepository(
            MemoryKeyStore(), creds.signed_identity_key, creds.registration_id, creds.signed_pre_key
        )
        opened = []
        for _ in range(2):
            node = await a1.next("message")
            assert node.attrs["category"] == "peer" and node.attrs["from"] == str(alice.jid)
            enc = node.require_child("enc")
            opened.append(await open_enc(repo, enc, sim.session_jid(alice.jid), None))
        share, history = (o.message.protocolMessage for o in opened)
        assert share.type == e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE
        assert history.type == e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
        (key,) = share.appStateSyncKeyShare.keys
        assert len(key.keyID.keyID) == 6 and len(key.keyData.keyData) == 32
        assert key.keyData.fingerprint.currentIndex == alice.companions[1].key_index
        # a second companion gets the same account key
        a2 = await pair_companion(sim, alice)
        node = await a2.next("message")
        repo2 = SignalRepository(
            MemoryKeyStore(),
            a2.creds.signed_identity_key,
            a2.creds.registration_id,
            a2.creds.signed_pre_key,
        )
        again = await open_enc(repo2, node.require_child("enc"), sim.session_jid(alice.jid), None)
        (key2,) = again.message.protocolMessage.appStateSyncKeyShare.keys
        assert key2.keyID.keyID == key.keyID.keyID and key2.keyData.keyData == key.keyData.keyData


async def test_props_blocklist_privacy_and_app_state_queries_are_answered() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        a1 = await pair_companion(sim, alice)
        props = await a1.query(
            Node(
                "iq",
                {"to": "s.whatsapp.net", "type": "get", "xmlns": "w"},
                [Node("props", {"protocol": "2", "hash": ""})],
            )
        )
        assert props.require_child("props").attrs["protocol"] == "2"
        assert props.require_child("props").attrs["hash"]
        blocked = await a1.query(
            Node("iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "blocklist"})
        )
        assert blocked.require_child("list").get_children("item") == []
        privacy = await a1.query(
            Node(
                "iq", {"to": "s.whatsapp.net", "type": "get", "xmlns": "privacy"}, [Node("privacy")]
            )
        )
        names = {
            c.attrs["name"]: c.attrs["value"]
            for c in privacy.require_child("privacy").get_children("category")
        }
        assert names["readreceipts"] == "all" and names["last"] == "all"
        collections = [
            Node("collection", {"name": name, "version": "0", "return_snapshot": "true"})
            for name in ("regular", "regular_high", "critical_block")
        ]
        synced = await a1.query(
            Node(
                "iq",
                {"to": "s.whatsapp.net", "type": "set", "xmlns": "w:sync:app:state"},
                [Node("sync", {}, collections)],
            )
        )
        answered = synced.require_child("sync").get_children("collection")
        assert [(c.attrs["name"], c.attrs["version"]) for c in answered] == [
            ("regular", "0"),
            ("regular_high", "0"),
            ("critical_block", "0"),
        ]
        assert all(c.get_child("snapshot") is None for c in answered)
