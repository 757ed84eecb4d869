"""Receiver and Sender on a fake link: literal stanzas in, stanzas out, no socket, no sim."""

from __future__ import annotations

import logging

import pytest

from tests.client.fakes import OfflineClient, Peer, offline_client, usync_answer
from wamd.binary import JID, Node
from wamd.events import MessagesUpsert
from wamd.messaging.core import pad
from wamd.messaging.types import MessageReceipt
from wamd.proto import e2e_pb2
from wamd.signal.prekeys import parse_bundle

ALICE = "15550002222@s.whatsapp.net"


class World:
    """Alice's phone and companion, our own phone, and the server's answers about them."""

    def __init__(self) -> None:
        self.alice = [Peer(ALICE), Peer("15550002222:1@s.whatsapp.net")]
        self.our_phone = Peer("15550001111@s.whatsapp.net")
        self.bundles: dict[str, Node] = {}
        self.client: OfflineClient = offline_client(self.answer)

    async def prepare(self) -> None:
        for peer in [*self.alice, self.our_phone]:
            self.bundles[str(peer.jid)] = await peer.bundle_node()

    def answer(self, request: Node) -> Node:
        xmlns = request.attrs.get("xmlns")
        if xmlns == "usync":
            return usync_answer(request, {ALICE: [0, 1], "15550001111@s.whatsapp.net": [0, 2]})
        if xmlns == "encrypt":
            wanted = request.require_child("key").get_children("user")
            users = [self.bundles[u.attrs["jid"]] for u in wanted]
            return Node("iq", {"type": "result"}, [Node("list", {}, users)])
        return Node("iq", {"type": "result"})


@pytest.fixture
async def world() -> World:
    w = World()
    await w.prepare()
    return w


async def test_a_dm_goes_to_every_device_and_a_device_sent_copy_to_ours(world: World) -> None:
    client = world.client
    sent = await client.sender.send_message(ALICE, {"text": "hello"})
    (stanza,) = client.link.of("message")
    assert stanza.attrs == {"id": sent.key.id, "type": "text", "to": ALICE}
    to = {
        n.attrs["jid"]: n.require_child("enc")
        for n in stanza.require_child("participants").get_children("to")
    }
    # every device but the sending one (15550001111:2), each with a new session
    assert set(to) == {ALICE, "15550002222:1@s.whatsapp.net", "15550001111@s.whatsapp.net"}
    assert all(enc.attrs["type"] == "pkmsg" for enc in to.values())
    assert stanza.get_child("device-identity") is not None  # with any pkmsg
    me = "15550001111:2@s.whatsapp.net"
    for peer in world.alice:
        got = await peer.open(me, to[str(peer.jid)])
        assert got.conversation == "hello"
    own = await world.our_phone.open(me, to["15550001111@s.whatsapp.net"])
    assert own.deviceSentMessage.destinationJID == ALICE
    assert own.deviceSentMessage.message.conversation == "hello"


async def test_a_message_is_decrypted_emitted_and_confirmed(world: World) -> None:
    client = world.client
    upserts: list[MessagesUpsert] = []
    client.core.ev.on("messages.upsert", upserts.append)
    bundle = await client.our_bundle()
    enc = await world.alice[0].seal_for(
        bundle, "15550001111:2@s.whatsapp.net", e2e_pb2.Message(conversation="hi bot")
    )
    node = Node(
        "message",
        {"from": ALICE, "id": "M1", "t": "1700000000", "notify": "Alice", "type": "text"},
        [enc],
    )
    await client.receiver.on_message(node)
    await client.core.ev.drain()
    (upsert,) = upserts
    (msg,) = upsert.messages
    assert msg.text == "hi bot" and msg.push_name == "Alice" and upsert.type == "notify"
    assert msg.key.remote_jid == ALICE and not msg.key.from_me and msg.key.id == "M1"
    await client.receiver.settle_pending()
    (receipt,) = client.link.of("receipt")
    # not marked online yet: the delivery receipt is "inactive" (whatsmeow)
    assert receipt.attrs == {"id": "M1", "to": ALICE, "type": "inactive"}


async def test_a_message_that_does_not_decrypt_is_asked_for_again(world: World) -> None:
    client = world.client
    upserts: list[MessagesUpsert] = []
    client.core.ev.on("messages.upsert", upserts.append)
    node = Node(
        "message",
        {"from": ALICE, "id": "M2", "t": "5"},
        [Node("enc", {"v": "2", "type": "msg"}, b"\x33not a signal message")],
    )
    await client.receiver.on_message(node)
    (retry,) = client.link.of("receipt")
    assert retry.attrs == {"id": "M2", "to": ALICE, "type": "retry"}
    assert retry.require_child("retry").attrs["count"] == "1"
    (ack,) = client.link.of("ack")
    assert ack.attrs == {"class": "message", "id": "M2", "to": ALICE}
    await client.core.ev.drain()
    assert upserts[0].messages[0].stub_type == "CIPHERTEXT"
    # the second time around, the retry offers a fresh prekey and our identity
    await client.receiver.on_message(node)
    second = client.link.of("receipt")[-1]
    assert second.require_child("retry").attrs["count"] == "2"
    bundle = parse_bundle(second, 2)
    assert bundle.identity_key == client.core.auth.creds.signed_identity_key.public


async def test_garbage_is_nacked_and_receipts_become_events(world: World) -> None:
    client = world.client
    await client.receiver.on_message(Node("message", {"id": "X"}))
    assert client.link.of("ack")[-1].attrs["error"] == "487"
    receipts: list[list[MessageReceipt]] = []
    client.core.ev.on("message-receipt.update", receipts.append)
    await client.receiver.on_receipt(
        Node(
            "receipt",
            {"from": "15550002222:1@s.whatsapp.net", "id": "S1", "type": "read", "t": "9"},
            [Node("list", {}, [Node("item", {"id": "S2"})])],
        )
    )
    await client.core.ev.drain()
    (batch,) = receipts
    assert [(r.key.id, r.type, r.key.remote_jid) for r in batch] == [
        ("S1", "read", ALICE),
        ("S2", "read", ALICE),
    ]
    assert client.link.of("ack")[-1].attrs == {
        "class": "receipt",
        "id": "S1",
        "to": "15550002222:1@s.whatsapp.net",
        "type": "read",
    }


async def test_a_retry_receipt_is_answered_to_that_device_only(world: World) -> None:
    client = world.client
    sent = await client.sender.send_message(ALICE, {"text": "again?"})
    client.link.sent.clear()
    companion = world.alice[1]
    # the companion lost its session: it asks again, offering a fresh bundle
    bundle = await companion.bundle_node()
    retry = Node(
        "receipt",
        {"from": str(companion.jid), "id": sent.key.id, "type": "retry"},
        [
            Node("retry", {"id": sent.key.id, "count": "2", "t": "77", "v": "1"}),
            *bundle.get_children(),
        ],
    )
    await companion.repo.delete_session("15550001111:2@s.whatsapp.net")
    await client.receiver.on_receipt(retry)
    (resend,) = client.link.of("message")
    assert resend.attrs == {
        "to": str(companion.jid),
        "type": "text",
        "id": sent.key.id,
        "t": "77",
        "device_fanout": "false",
    }
    enc = resend.require_child("enc")
    assert enc.attrs["count"] == "2" and enc.attrs["type"] == "pkmsg"
    got = await companion.open("15550001111:2@s.whatsapp.net", enc)
    assert got.conversation == "again?"
    assert JID.parse(resend.attrs["to"]).device == 1


async def test_a_session_under_the_phone_number_moves_to_the_lid(world: World) -> None:
    """whatsmeow MigratePNToLID: once a contact's lid is known, the session made under the
    phone number serves the lid address; no retry, no second session."""
    client = world.client
    alice = world.alice[0]
    me = "15550001111:2@s.whatsapp.net"
    upserts: list[MessagesUpsert] = []
    client.core.ev.on("messages.upsert", upserts.append)
    first = await alice.seal_for(await client.our_bundle(), me, e2e_pb2.Message(conversation="one"))
    await client.receiver.on_message(
        Node("message", {"from": ALICE, "id": "L1", "t": "1"}, [first])
    )
    assert await client.core.signal.has_session(ALICE)  # kept under the phone number
    kind, data = await alice.repo.encrypt(
        me, pad(e2e_pb2.Message(conversation="two").SerializeToString())
    )
    assert kind == "pkmsg"  # (she has had no answer yet: still a prekey message, same session)
    await client.receiver.on_message(
        Node(
            "message",
            {"from": ALICE, "id": "L2", "t": "2", "sender_lid": "777@lid"},
            [Node("enc", {"v": "2", "type": kind}, data)],
        )
    )
    await client.core.ev.drain()
    assert [m.text for u in upserts for m in u.messages] == ["one", "two"]
    assert [n for n in client.link.of("receipt") if n.attrs.get("type") == "retry"] == []
    assert await client.core.signal.has_session("777@lid")
    assert not await client.core.signal.has_session(ALICE)
    # and a reply goes out on that same session (a msg, not a new pkmsg)
    client.link.sent.clear()
    await client.sender.send_message(ALICE, {"text": "three"})
    (stanza,) = client.link.of("message")
    to = {
        n.attrs["jid"]: n.require_child("enc")
        for n in stanza.require_child("participants").get_children("to")
    }
    assert to[ALICE].attrs["type"] == "msg"
    assert (await alice.open(me, to[ALICE])).conversation == "three"


async def test_the_users_logger_gets_what_the_components_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mine = logging.getLogger("my.bot")
    client = offline_client(World().answer, logger=mine)
    caplog.set_level(logging.WARNING)
    await client.receiver.on_message(Node("message", {"id": "X", "from": "1:x@s.whatsapp.net"}))
    assert [r.name for r in caplog.records] == ["my.bot.receive"]
    assert "unparseable <message>" in caplog.records[0].getMessage()
