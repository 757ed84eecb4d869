"""Stanza shapes the sim must send as the real server does (issue 18's findings).

Each test names the reference the shape comes from; each failed on the sim before the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from tests.sim.raw import WAIT, RawCompanion, open_raw, pair_companion, registration
from wamd.binary import JID, Node
from wamd.errors import RequestError
from wamd.messaging.core import device_sent, new_message_id
from wamd.messaging.crypt import encrypt_for_devices
from wamd.pairing import make_qr_string, verify_pair_success
from wamd.proto import e2e_pb2
from wamd.signal import SignalRepository, parse_bundle
from wamd.signal.address import signal_address
from wamd.signal.session import PreKeyBundle
from wamd.sim import PRIMARY_OFFLINE_LIMIT, SimDevice, SimPhone, SimServer
from wamd.sim.services import bundle_node
from wamd.store import MemoryKeyStore, init_auth_creds

NOW = 1_790_000_000.0  # a frozen sim clock
SERVER = "s.whatsapp.net"


async def pair_raw(sim: SimServer, phone: SimPhone) -> tuple[Node, Node, SimDevice]:
    """Link a device by QR with raw nodes; the pair-device and pair-success it got."""
    creds = init_auth_creds()
    conn = await open_raw(sim, registration(creds), 3, creds.noise_key)
    pair_device = await asyncio.wait_for(conn.receive(), WAIT)
    await conn.send(Node("iq", {"to": SERVER, "type": "result", "id": pair_device.attrs["id"]}))
    ref = pair_device.require_child("pair-device").get_children("ref")[0].content_bytes() or b""
    qr = make_qr_string(
        ref, creds.noise_key.public, creds.signed_identity_key.public, creds.adv_secret_key
    )
    scan = asyncio.ensure_future(phone.scan_qr(qr))
    success = await asyncio.wait_for(conn.receive(), WAIT)
    child = success.require_child("pair-success")
    identity = child.require_child("device-identity").content_bytes() or b""
    result = verify_pair_success(identity, creds.adv_secret_key, creds.signed_identity_key)
    sign = Node(
        "pair-device-sign",
        {},
        [Node("device-identity", {"key-index": str(result.key_index)}, result.reply_identity)],
    )
    await conn.send(Node("iq", {"to": SERVER, "type": "result", "id": success.attrs["id"]}, [sign]))
    restart = await asyncio.wait_for(conn.receive(), WAIT)
    assert restart.tag == "stream:error" and restart.attrs["code"] == "515"
    device = await asyncio.wait_for(scan, WAIT)
    await conn.close()
    return pair_device, success, device


async def test_pair_success_is_a_set_iq_in_the_md_namespace() -> None:
    # whatsmeow pair.go / Baileys socket.ts: pair-device and pair-success both come as
    # requests from the server; a strict client ignores an <iq type="result">
    async with SimServer(clock=lambda: NOW, history_sync=None, app_state_keys=False) as sim:
        phone = sim.add_phone("15550001111", "Alice")
        pair_device, success, device = await pair_raw(sim, phone)
        assert pair_device.attrs["type"] == "set" and pair_device.attrs["xmlns"] == "md"
        assert success.tag == "iq" and success.get_child("pair-success") is not None
        assert success.attrs["type"] == "set"
        assert success.attrs["xmlns"] == "md"
        assert success.attrs["from"] == SERVER
        assert success.attrs["t"] == str(int(NOW))  # clients take their clock offset from it
        assert device.jid.device == 1


async def test_a_business_account_names_itself_in_pair_success_a_personal_one_does_not() -> None:
    # whatsmeow pair.go handlePairSuccess / Baileys configureSuccessfulPairing: <biz name>
    # is read as the business name (Baileys: creds.me.name); only business accounts have it
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        shop = sim.add_phone("15550001111", "Corner Shop", business=True)
        _, success, _ = await pair_raw(sim, shop)
        child = success.require_child("pair-success")
        biz = child.get_child("biz")
        assert biz is not None and biz.attrs["name"] == "Corner Shop"
        assert child.require_child("platform").attrs["name"] == "smba"
        alice = sim.add_phone("15550002222", "Alice")
        _, success, _ = await pair_raw(sim, alice)
        child = success.require_child("pair-success")
        assert child.get_child("biz") is None
        assert child.require_child("platform").attrs["name"] == "android"


async def test_the_phone_names_itself_on_what_it_sends_a_new_companion() -> None:
    # the push name of a personal account reaches a companion as the notify attribute of
    # the phone's own stanzas (whatsmeow message.go parseMessageInfo: PushName = notify;
    # Baileys decodeMessageNode: pushName), starting with the key share at link time
    async with SimServer(history_sync=None) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        a1 = await pair_companion(sim, alice)
        share = await a1.next("message")
        assert share.attrs["category"] == "peer" and share.attrs["notify"] == "Alice"


async def test_login_queries_get_answers_not_501() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        a1 = await pair_companion(sim, alice)
        # Baileys fetchAbProps, every login
        abt = await a1.query(
            Node("iq", {"type": "get", "xmlns": "abt"}, [Node("props", {"protocol": "1"})])
        )
        props = abt.require_child("props")
        assert props.attrs["protocol"] == "1" and props.attrs["hash"]
        # whatsmeow mediaconn.go queryMediaConn / Baileys refreshMediaConn
        media = await a1.query(Node("iq", {"type": "set", "xmlns": "w:m"}, [Node("media_conn")]))
        conn = media.require_child("media_conn")
        assert conn.attrs["auth"] == sim.media_auth
        assert int(conn.attrs["ttl"]) > 0 and int(conn.attrs["auth_ttl"]) > 0
        assert int(conn.attrs["max_buckets"]) > 0
        assert [h.attrs["hostname"] for h in conn.get_children("host")] == [sim.media.hostname]
        assert sim.media.hostname.startswith("127.0.0.1:")  # the media host, on loopback


async def test_a_privacy_token_request_is_answered_and_the_peer_gets_the_token() -> None:
    # whatsmeow tctoken.go issuePrivacyToken; notification.go handlePrivacyTokenNotification
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        a1 = await pair_companion(sim, alice)
        b1 = await pair_companion(sim, bob)
        token = Node("token", {"jid": str(bob.jid), "t": "1790000000", "type": "trusted_contact"})
        answer = await a1.query(
            Node("iq", {"type": "set", "xmlns": "privacy"}, [Node("tokens", {}, [token])])
        )
        assert answer.attrs["type"] == "result"
        got = await b1.next("notification", lambda n: n.attrs.get("type") == "privacy_token")
        assert got.attrs["from"] == str(alice.jid) and got.attrs["sender_lid"] == str(alice.lid)
        (sent,) = got.require_child("tokens").get_children("token")
        assert sent.attrs == {"type": "trusted_contact", "t": "1790000000"}
        assert len(sent.content_bytes() or b"") > 0
        await sim.settle()
        kinds = [n.attrs.get("type") for n in bob.endpoint.notifications]
        assert "privacy_token" in kinds  # the phone, device 0, gets it too
        assert not [
            n for n in alice.endpoint.notifications if n.attrs.get("type") == "privacy_token"
        ]
        bad = Node("token", {"jid": "not a jid", "type": "trusted_contact"})
        with pytest.raises(RequestError) as refused:
            await a1.query(
                Node("iq", {"type": "set", "xmlns": "privacy"}, [Node("tokens", {}, [bad])])
            )
        assert refused.value.code == 400


class Signal:
    """A raw companion's own Signal endpoint, encrypting real messages to the sim's phones."""

    def __init__(self, sim: SimServer, companion: RawCompanion) -> None:
        creds = companion.creds
        self.sim = sim
        self.companion = companion
        self.repo = SignalRepository(
            MemoryKeyStore(), creds.signed_identity_key, creds.registration_id, creds.signed_pre_key
        )

    async def _bundles(self, devices: Sequence[JID]) -> Mapping[JID, PreKeyBundle | Exception]:
        out: dict[JID, PreKeyBundle | Exception] = {}
        for jid in devices:
            device = self.sim.device_of(jid)
            assert device is not None
            if device.phone.primary is device:
                await device.phone.endpoint.refill_prekeys()
            out[jid] = parse_bundle(bundle_node(device, str(jid)))
        return out

    async def send_text(self, to: SimPhone, text: str) -> tuple[str, Node]:
        """A 1:1 text to ``to``'s phone, copied to this account's phone; (id, server ack)."""
        own = self.companion.phone
        message = e2e_pb2.Message(conversation=text)
        enc = await encrypt_for_devices(
            self.repo,
            [to.primary.jid, own.primary.jid],
            message.SerializeToString(),
            fetch_bundles=self._bundles,
            own_users=frozenset({own.number}),
            dsm_plaintext=device_sent(to.jid, message).SerializeToString(),
            session_jid=self.sim.session_jid,
        )
        message_id = new_message_id(own.number)
        children = [Node("participants", {}, enc.nodes)]
        if enc.include_identity:
            children.append(Node("device-identity", {}, self.companion.creds.account or b""))
        stanza = Node("message", {"id": message_id, "to": str(to.jid), "type": "text"}, children)
        return message_id, await self.companion.send_message(stanza)


async def test_the_phone_confirms_its_own_companions_copy_with_a_sender_receipt() -> None:
    # whatsmeow receipt.go sendMessageReceipt (type="sender" when IsFromMe) and
    # buildBaseReceipt (recipient copied); parseMessageSource takes the chat of a
    # receipt from our own device from recipient
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        a1 = await pair_companion(sim, alice)
        message_id, ack = await Signal(sim, a1).send_text(bob, "hello bob")
        assert "error" not in ack.attrs
        receipts = []
        for _ in range(2):
            receipts.append(await a1.next("receipt", lambda n: n.attrs["id"] == message_id))
        by_sender = {r.attrs["from"]: r for r in receipts}
        own = by_sender[str(alice.jid)]
        assert own.attrs["type"] == "sender" and own.attrs["recipient"] == str(bob.jid)
        delivered = by_sender[str(bob.jid)]
        assert "type" not in delivered.attrs and "recipient" not in delivered.attrs
        copy = await alice.next_message()
        assert copy.from_me and copy.chat == bob.jid and copy.text == "hello bob"
        assert (await bob.next_message()).text == "hello bob"


async def test_a_connected_companion_is_logged_out_past_14_days_without_the_phone() -> None:
    # whatsmeow connectionevents.go: <stream:error code="401"><conflict
    # type="device_removed"/> logs a connected device out; the sim used to wait for the
    # companion's next login to refuse it
    now = [NOW]
    async with SimServer(clock=lambda: now[0], history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        a1 = await pair_companion(sim, alice)
        b1 = await pair_companion(sim, bob)
        alice.go_offline()
        now[0] += PRIMARY_OFFLINE_LIMIT - 60  # not yet: a ping is answered
        pong = await a1.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
        assert pong.attrs["type"] == "result"
        now[0] += 120
        await a1.send(Node("iq", {"id": "ping-2", "type": "get", "xmlns": "w:p"}, [Node("ping")]))
        error = await a1.next("stream:error")
        assert error.attrs["code"] == "401"
        assert error.require_child("conflict").attrs["type"] == "device_removed"
        assert a1.device.unlinked
        removed = await b1.next("notification", lambda n: n.attrs.get("type") == "devices")
        assert removed.require_child("remove").require_child("device").attrs["jid"] == str(a1.jid)


async def test_moving_the_clock_past_14_days_logs_out_a_silent_companion() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        a1 = await pair_companion(sim, alice)
        alice.go_offline()
        sim.clock_offset = PRIMARY_OFFLINE_LIMIT + 60  # as POST /clock does
        await sim.settle()
        error = await a1.next("stream:error")
        assert error.attrs["code"] == "401"
        assert a1.device.unlinked
        assert await sim.expire_companions() == 0  # nothing left to expire


async def test_a_phone_moves_its_pn_sessions_to_the_lid_when_it_learns_it() -> None:
    # whatsmeow store/sqlstore MigratePNToLID (message.go migrateSessionStore): the
    # session a phone opened under a phone number serves the first message that comes
    # under the LID, with no Bad MAC and no retry receipt
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        await alice.send_text(bob.jid, "first, to a number")
        pn_address = signal_address(bob.primary.jid)
        lid_address = signal_address(JID(bob.lid_user, "lid", 0))
        store = alice.endpoint.store
        assert (await store.get("session", [pn_address])).get(pn_address) is not None
        assert (await store.get("session", [lid_address])).get(lid_address) is None
        assert (await bob.next_message()).text == "first, to a number"
        await bob.send_text(alice.jid, "a reply, which shows bob's lid")  # a msg, not a pkmsg
        reply = await alice.next_message()
        assert reply.text == "a reply, which shows bob's lid"
        await sim.settle()
        assert not [r for r in bob.receipts if r.type == "retry"]
        assert (await store.get("session", [pn_address])).get(pn_address) is None
        assert (await store.get("session", [lid_address])).get(lid_address) is not None
        assert (await store.get("identity-key", [pn_address])).get(pn_address) is None
        await alice.send_text(bob.jid, "and on, under the lid")
        assert (await bob.next_message()).text == "and on, under the lid"
        await sim.settle()
        assert not [r for r in alice.receipts if r.type == "retry"]


async def test_a_group_message_that_shows_the_lid_decrypts_with_the_moved_session() -> None:
    # the sender key distribution to alice travels under the pairwise session alice
    # opened under bob's number; participant_lid on the same stanza is where she learns
    # his LID
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        bob = sim.add_phone("15550002222", "Bob")
        group = await alice.create_group("Team", [bob.jid])
        await alice.send_text(bob.jid, "hi")  # alice has bob under his number
        await bob.next_message()
        await bob.send_text(group.jid, "to the group")  # bob's sender key, with his lid
        got = await alice.next_message()
        assert got.text == "to the group" and got.chat == group.jid
        await bob.send_text(group.jid, "again")  # skmsg only: read with the moved key
        assert (await alice.next_message()).text == "again"
        await sim.settle()
        assert not [r for r in bob.receipts if r.type == "retry"]
