"""Messaging through a real wamd.sim over 127.0.0.1: 1:1, own devices, groups, receipts."""

from __future__ import annotations

import asyncio

import pytest

from tests.client.conftest import Inbox, record_sends, socket_for, spy
from tests.client.stores import every_store, fresh_state, link
from wamd.binary import Node
from wamd.client.content import ContentError
from wamd.errors import NoSession, WamdError
from wamd.messaging.types import HistorySet, MessageKey, MessageReaction
from wamd.proto import common_pb2, e2e_pb2
from wamd.sim import SimServer
from wamd.testing import settle

# every test here runs on each auth store: bugs have hidden behind the memory one
pytestmark = pytest.mark.usefixtures(every_store.__name__)


async def test_text_both_ways_with_a_phone(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    mid = await alice.send_text(bot_phone.jid, "hello bot")
    got = await inbox.wait(lambda m: m.key.id == mid)
    assert got.text == "hello bot"
    assert got.key.remote_jid == "15550002222@s.whatsapp.net" and not got.key.from_me
    assert got.push_name == "Alice"
    delivered = asyncio.ensure_future(
        sock.ev.wait_for(
            "message-receipt.update",
            lambda rs: any(r.type == "delivery" for r in rs),
            timeout=10,
        )
    )
    sent = await sock.send_message(got.key.remote_jid, {"text": "hello Alice"}, quoted=got)
    received = await alice.next_message()
    assert received.text == "hello Alice" and received.id == sent.key.id
    ctx = received.message.extendedTextMessage.contextInfo
    assert ctx.stanzaID == mid
    receipts = await delivered
    assert receipts[0].key.id == sent.key.id
    assert receipts[0].user_jid == "15550002222@s.whatsapp.net"
    # the account's phone got a device-sent copy of what the bot said
    own = next(m for m in bot_phone.received if m.id == sent.key.id)
    assert own.from_me and own.text == "hello Alice"
    await sock.end()


async def test_contact_with_two_companions_sees_everything_on_every_device(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    alice_web = await link(sim, alice)
    alice_desk = await link(sim, alice)
    bot_inbox, web_inbox, desk_inbox = Inbox(bot), Inbox(alice_web), Inbox(alice_desk)

    # from Alice's companion to the bot; Alice's other companion sees it as her own
    sent = await alice_web.send_message(bot_phone.jid, {"text": "from the web"})
    got = await bot_inbox.wait(lambda m: m.key.id == sent.key.id)
    assert got.text == "from the web" and got.sender == "15550002222:1@s.whatsapp.net"
    mirror = await desk_inbox.wait(lambda m: m.key.id == sent.key.id)
    assert mirror.key.from_me and mirror.key.remote_jid == "15550001111@s.whatsapp.net"
    assert mirror.text == "from the web"
    on_phone = next(m for m in alice.received if m.id == sent.key.id)
    assert on_phone.from_me

    # from the bot to Alice: her phone and both companions get it
    reply = await bot.send_message("15550002222@s.whatsapp.net", {"text": "to all of you"})
    for inbox in (web_inbox, desk_inbox):
        echoed = await inbox.wait(lambda m: m.key.id == reply.key.id)
        assert echoed.text == "to all of you" and not echoed.key.from_me
    phone_copy = await alice.next_message()
    while phone_copy.id != reply.key.id:
        phone_copy = await alice.next_message()
    assert phone_copy.text == "to all of you"
    for s in (bot, alice_web, alice_desk):
        await s.end()


async def test_reply_reaction_edit_and_revoke_round_trip(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    reactions: list[object] = []
    updates: list[object] = []
    bot.ev.on("messages.reaction", reactions.append)
    bot.ev.on("messages.update", lambda us: updates.extend(us))

    first = await alice.send_text(bot_phone.jid, "question")
    question = await inbox.wait(lambda m: m.key.id == first)
    answer = await bot.send_message(question.key.remote_jid, {"text": "answr"}, quoted=question)
    got = await alice.next_message()
    assert got.message.extendedTextMessage.contextInfo.stanzaID == first

    # the phone reacts to the bot's answer; the bot sees a reaction event
    await alice.react(got, "👍")
    await inbox.wait(lambda m: m.content is not None and m.content.HasField("reactionMessage"))
    assert reactions and reactions[-1].text == "👍"  # type: ignore[attr-defined]
    # keyed as we know the message: our answer in Alice's chat, from us
    assert reactions[-1].key == answer.key  # type: ignore[attr-defined]
    assert reactions[-1].key == MessageKey(question.key.remote_jid, True, answer.key.id)  # type: ignore[attr-defined]

    # the bot reacts, edits and revokes; the phone sees each
    await bot.send_message(question.key.remote_jid, {"react": {"key": question.key, "text": "❤"}})
    reaction = await alice.next_message()
    assert reaction.message.reactionMessage.text == "❤"
    assert reaction.message.reactionMessage.key.ID == first
    await bot.send_message(question.key.remote_jid, {"text": "answer", "edit": answer.key})
    edit = await alice.next_message()
    proto = edit.message.editedMessage.message.protocolMessage
    assert proto.key.ID == answer.key.id and proto.editedMessage.conversation == "answer"
    await bot.send_message(question.key.remote_jid, {"delete": answer.key})
    revoke = await alice.next_message()
    assert revoke.message.protocolMessage.key.ID == answer.key.id
    assert revoke.message.protocolMessage.type == 0  # REVOKE

    # and the other way: the phone edits and revokes its own message (keyed as her phone
    # sees it: the chat is the bot's number, the message hers)
    key = common_pb2.MessageKey(remoteJID=str(bot_phone.jid), fromMe=True, ID=first)
    await alice.send_message(
        bot_phone.jid,
        e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                key=key,
                type=e2e_pb2.ProtocolMessage.MESSAGE_EDIT,
                editedMessage=e2e_pb2.Message(conversation="the question"),
            )
        ),
    )
    await inbox.wait(lambda m: m.content is not None and m.content.HasField("protocolMessage"))
    edited = [u for u in updates if getattr(u, "status", None) == "edited"]
    assert edited and edited[0].key == question.key  # type: ignore[attr-defined]
    await alice.send_message(
        bot_phone.jid,
        e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(key=key, type=e2e_pb2.ProtocolMessage.REVOKE)
        ),
    )
    await inbox.wait(
        lambda m: (
            m.content is not None
            and m.content.HasField("protocolMessage")
            and m.content.protocolMessage.type == e2e_pb2.ProtocolMessage.REVOKE
        )
    )
    revoked = [u for u in updates if getattr(u, "status", None) == "revoked"]
    assert revoked and revoked[0].key == question.key  # type: ignore[attr-defined]
    await bot.end()


async def test_group_of_four_phones_with_sender_keys_both_ways(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    members = [sim.add_phone(f"1555000{n}000", f"Member {n}") for n in range(2, 5)]
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    group = await members[0].create_group("Support", [bot_phone.jid, *(m.jid for m in members[1:])])
    gid = f"{group.id}@g.us"

    first = await members[1].send_text(gid, "hi group")
    got = await inbox.wait(lambda m: m.key.id == first)
    assert got.key.remote_jid == gid and got.key.participant == str(members[1].jid)
    assert got.text == "hi group"

    sent = await bot.send_message(gid, {"text": "hello members"})
    for member in members:
        msg = await member.next_message()
        while msg.id != sent.key.id:
            msg = await member.next_message()
        assert msg.text == "hello members" and str(msg.chat) == gid
    # a second message needs no new distribution: every member decrypts the skmsg alone
    sent_nodes = record_sends(bot)
    again = await bot.send_message(gid, {"text": "second"})
    (second_stanza,) = [n for n in sent_nodes if n.tag == "message"]
    assert second_stanza.get_child("participants") is None
    assert second_stanza.require_child("enc").attrs["type"] == "skmsg"
    assert second_stanza.attrs["phash"].startswith("2:")
    for member in members:
        msg = await member.next_message()
        while msg.id != again.key.id:
            msg = await member.next_message()
        assert msg.text == "second"

    # reactions in the group, written as a member's phone keys them (group, participant):
    # to the bot's message, then to another member's; the bot sees both under its own keys
    reactions: list[MessageReaction] = []
    bot.ev.on("messages.reaction", reactions.append)
    for target, author in (
        (again.key.id, "15550001111:1@s.whatsapp.net"),
        (first, str(members[1].jid)),
    ):
        await members[0].send_message(
            gid,
            e2e_pb2.Message(
                reactionMessage=e2e_pb2.ReactionMessage(
                    key=common_pb2.MessageKey(
                        remoteJID=gid, fromMe=False, ID=target, participant=author
                    ),
                    text="👍",
                    senderTimestampMS=1,
                )
            ),
        )
        if not any(r.key.id == target for r in reactions):  # it may be here already
            await bot.ev.wait_for(
                "messages.reaction", lambda r, t=target: r.key.id == t, timeout=10
            )
    assert [r.key for r in reactions] == [again.key, got.key]
    assert reactions[0].key == MessageKey(gid, True, again.key.id)
    assert reactions[1].reaction_key.participant == str(members[0].jid)

    # membership change: a removed member cannot read on, the rest can
    removed = members[2]
    removal = asyncio.ensure_future(
        bot.ev.wait_for("group-participants.update", lambda u: u.action == "remove", timeout=10)
    )  # waiting before the removal: its event may come before remove_from_group returns
    await members[0].remove_from_group(group, [removed.jid])
    await removal
    before = len(removed.received)
    sent_nodes.clear()
    after = await bot.send_message(gid, {"text": "after the change"})
    # re-keyed: a new sender key goes to every remaining member device, pairwise
    (rekeyed,) = [n for n in sent_nodes if n.tag == "message"]
    to = {n.attrs["jid"] for n in rekeyed.require_child("participants").get_children("to")}
    assert {str(m.jid) for m in members[:2]} <= to and str(removed.jid) not in to
    for member in members[:2]:
        msg = await member.next_message()
        while msg.id != after.key.id:
            msg = await member.next_message()
        assert msg.text == "after the change"
    await settle(sim, bot)  # all the sim was to deliver is delivered
    assert all(m.id != after.key.id for m in removed.received[before:])
    await bot.end()


async def test_read_receipts_chatstates_and_presence(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    alice_web = await link(sim, alice)
    inbox = Inbox(bot)
    mid = await alice.send_text(bot_phone.jid, "please read me")
    msg = await inbox.wait(lambda m: m.key.id == mid)
    await bot.read_messages([msg.key])
    receipt = await alice.wait_receipt(mid, "read")
    assert receipt.sender.user == "15550001111"

    # the phone reads the bot's reply: the bot sees "read" for it
    statuses: list[object] = []
    bot.ev.on("messages.update", lambda us: statuses.extend(us))
    sent = await bot.send_message(alice.jid, {"text": "did you see this?"})
    got = await alice.next_message()
    while got.id != sent.key.id:
        got = await alice.next_message()
    await alice.read(got)
    await bot.ev.wait_for(
        "messages.update", lambda us: any(u.status == "read" for u in us), timeout=10
    )
    assert any(u.key.id == sent.key.id and u.status == "read" for u in statuses)  # type: ignore[attr-defined]

    # typing indicators reach Alice's companion; presence subscriptions answer
    await bot.send_presence_update("composing", str(alice.jid))
    typing = await alice_web.ev.wait_for(
        "presence.update", lambda p: "composing" in p.presences.values(), timeout=10
    )
    assert typing.id.startswith("15550001111")
    await alice_web.presence_subscribe(str(bot_phone.jid))
    presence = await alice_web.ev.wait_for(
        "presence.update", lambda p: p.id == str(bot_phone.jid), timeout=10
    )
    assert presence.presences[str(bot_phone.jid)] in ("available", "unavailable")
    with pytest.raises(ValueError, match="presence must be one of"):
        await bot.send_presence_update("dancing")
    with pytest.raises(ValueError, match="give the chat's jid"):
        await bot.send_presence_update("composing")
    await bot.end()
    await alice_web.end()


async def test_bad_content_and_targets_are_refused_with_clear_errors(sim: SimServer) -> None:

    bot_phone = sim.add_phone("15550001111", "Bot")
    sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    with pytest.raises(ContentError, match="unknown content keys: txt"):
        await bot.send_message("15550002222@s.whatsapp.net", {"txt": "typo"})
    with pytest.raises(ContentError, match="nothing to send"):
        await bot.send_message("15550002222@s.whatsapp.net", {})
    with pytest.raises(ContentError, match="a message key needs 'id'"):
        await bot.send_message(
            "15550002222@s.whatsapp.net", {"delete": {"remote_jid": "x@s.whatsapp.net"}}
        )
    with pytest.raises(WamdError, match="only users and groups"):
        await bot.send_message("status@broadcast", {"text": "no"})
    # nobody has this number: there is no device to encrypt for
    with pytest.raises(NoSession, match=r"any device of 19990000000@s\.whatsapp\.net"):
        await bot.send_message("19990000000@s.whatsapp.net", {"text": "anyone?"})
    await bot.end()


async def test_malformed_stanzas_are_nacked_and_the_socket_goes_on(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    calls: list[object] = []
    bot.ev.on("call", lambda cs: calls.extend(cs))
    await bot.idle()
    sent = record_sends(bot)
    bad = [
        Node("message", {"id": "A1", "from": "not a jid@@"}, [Node("enc", {"type": "msg"}, b"x")]),
        Node("message", {"id": "A2", "from": "123@g.us"}, [Node("enc", {"type": "skmsg"}, b"x")]),
        Node(
            "message",
            {"id": "A3", "from": "15550002222@s.whatsapp.net", "t": "1"},
            [Node("enc", {"type": "msg", "v": "2"}, b"\x33garbage")],
        ),
        Node("message", {"id": "A4", "from": "15550002222@s.whatsapp.net", "t": "1"}),
        Node("receipt", {"from": "15550002222@s.whatsapp.net"}),
        Node("notification", {"id": "N1", "from": "15550002222@s.whatsapp.net", "type": "devices"}),
        Node(
            "call",
            {"id": "C1", "from": "15550002222@s.whatsapp.net", "t": "5"},
            [Node("offer", {"call-id": "CALL1", "call-creator": "15550002222@s.whatsapp.net"})],
        ),
    ]
    attempt = bot.core.attempt
    assert attempt is not None
    for node in bad:
        await bot._dispatch(attempt, node)
    await bot.idle()
    acks = {n.attrs.get("id"): n.attrs.get("error") for n in sent if n.tag == "ack"}
    assert acks["A1"] == "487" and acks["A2"] == "487"  # unparseable source
    assert acks["A4"] == "488"  # nothing to decrypt in it
    assert "A3" in acks  # undecryptable: acked after the retry receipt
    retries = [n for n in sent if n.tag == "receipt" and n.attrs.get("type") == "retry"]
    assert [n.attrs["id"] for n in retries] == ["A3"]
    assert acks["N1"] is None and acks["C1"] is None
    assert calls and calls[0].call_id == "CALL1" and calls[0].status == "offer"  # type: ignore[attr-defined]
    stubs = [m for m in inbox.messages if m.stub_type == "CIPHERTEXT"]
    assert [m.key.id for m in stubs] == ["A3"]
    # the socket still works
    mid = await alice.send_text(bot_phone.jid, "still there?")
    assert (await inbox.wait(lambda m: m.key.id == mid)).text == "still there?"
    await bot.end()


async def test_history_sync_arrives_as_messaging_history_set_not_as_chat_messages() -> None:
    from wamd.sim import HistorySyncPolicy

    async with SimServer(history_sync=HistorySyncPolicy(days=7, messages=50)) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        await alice.send_text(bot_phone.jid, "before the bot was linked")
        bot = socket_for(sim, await fresh_state())
        inbox = Inbox(bot)  # from the start: the history comes right after the first login
        handled = spy(bot.receiver, "on_message")
        sent = spy(bot.receiver, "_send")
        histories: list[HistorySet] = []
        bot.ev.on("messaging-history.set", histories.append)
        await bot.connect()
        update = await bot.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
        await bot_phone.scan_qr(update.qr)
        await bot.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
        # after the first login the phone sends two peer messages: its app-state key,
        # then the history
        await settle(sim, bot)  # the welcome is delivered and handled
        peer = [n for n in handled if n.attrs.get("category") == "peer"]
        assert len(peer) == 2, "the sim sent no app-state key and history"
        # the history is answered as whatsmeow does: <receipt type="hist_sync" to=OWN_USER>
        receipts = [n for n in sent if n.tag == "receipt" and n.attrs.get("type") == "hist_sync"]
        assert [n.attrs for n in receipts] == [
            {"id": peer[1].attrs["id"], "type": "hist_sync", "to": str(bot_phone.jid)}
        ]
        # and each peer message is confirmed as one (whatsmeow, Baileys: type="peer_msg")
        peer_ids = {n.attrs["id"] for n in peer}
        confirmations = [
            n.attrs.get("type")
            for n in sent
            if n.tag == "receipt"
            and n.attrs["id"] in peer_ids
            and n.attrs.get("type") != "hist_sync"
        ]
        assert confirmations == ["peer_msg", "peer_msg"]
        mid = await alice.send_text(bot_phone.jid, "live")
        await inbox.wait(lambda m: m.key.id == mid)
        assert [m.text for m in inbox.messages] == ["live"]
        # the history: Alice's chat, her message from before the link, her name, her lid
        (history,) = histories
        assert history.sync_type == "INITIAL_BOOTSTRAP" and history.is_latest
        assert [c.id for c in history.chats] == [str(alice.jid)]
        (old,) = history.messages
        assert old.text == "before the bot was linked" and not old.key.from_me
        assert old.key.remote_jid == str(alice.jid)
        assert history.contacts[str(alice.jid)] == "Alice"
        assert history.lid_mappings[str(alice.jid)] == str(alice.lid)
        assert await bot.phone_number_jid(str(alice.lid)) == str(alice.jid)  # learnt
        await bot.end()


async def test_a_contact_linking_a_new_device_gets_the_next_message_there(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    await bot.send_message(alice.jid, {"text": "one"})  # caches Alice's devices: her phone
    alice_web = await link(sim, alice)  # ... then she links a companion
    inbox = Inbox(alice_web)
    await settle(sim, bot, alice_web)  # the devices notification has reached the bot
    sent = await bot.send_message(alice.jid, {"text": "two"})
    got = await inbox.wait(lambda m: m.key.id == sent.key.id)
    assert got.text == "two"
    await bot.end()
    await alice_web.end()


async def test_the_server_warning_of_few_prekeys_makes_the_socket_upload_more(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    contacts = [sim.add_phone(f"1555000{n}000", f"C{n}") for n in range(2, 5)]
    bot = await link(sim, bot_phone)
    await settle(sim, bot)  # the first login's work (key share, app-state sync) is done
    device = bot_phone.companions[1]
    for key_id in sorted(device.prekeys)[5:]:  # the server has five left
        del device.prekeys[key_id]
    inbox = Inbox(bot)
    changes: list[dict[str, object]] = []
    bot.ev.on("creds.update", changes.append)
    uploaded = asyncio.ensure_future(
        bot.ev.wait_for("creds.update", lambda c: "first_unuploaded_pre_key_id" in c, timeout=10)
    )
    for contact in contacts:  # each first message uses one up: 2 left, and a warning
        mid = await contact.send_text(bot_phone.jid, "hello")
        await inbox.wait(lambda m, mid=mid: m.key.id == mid)
    await uploaded
    assert len(device.prekeys) == 2 + 50  # the socket uploaded a refill of 50
    assert bot.auth.creds.next_pre_key_id == bot.auth.creds.first_unuploaded_pre_key_id
    # the advanced counter went to save_creds before the keys went to the server
    # (the push name the phone's messages carry may be learnt in between: not a key change)
    key_changes = [list(c) for c in changes if "me" not in c]
    assert key_changes[-2:] == [["next_pre_key_id"], ["first_unuploaded_pre_key_id"]]
    await bot.end()


async def test_a_lid_addressed_chat_maps_to_the_phone_number(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    mid = await alice.send_text(bot_phone.lid, "from my lid")  # a lid-addressed chat
    got = await inbox.wait(lambda m: m.key.id == mid)
    assert got.key.remote_jid == str(alice.lid) and got.text == "from my lid"
    assert await bot.phone_number_jid(got.key.remote_jid) == str(alice.jid)
    assert await bot.phone_number_jid(str(alice.jid)) == str(alice.jid)  # already a number
    assert await bot.phone_number_jid("999@lid") == "999@lid"  # unknown: unchanged
    assert await bot.phone_number_jid("not a jid@@") == "not a jid@@"
    # the reply goes back under the lid, and arrives
    reply = await bot.send_message(got.key.remote_jid, {"text": "hi lid"})
    received = await alice.next_message()
    while received.id != reply.key.id:
        received = await alice.next_message()
    assert received.text == "hi lid"
    await bot.end()
