"""Number lookup, push names and the server's ping, against a real wamd.sim."""

from __future__ import annotations

import pytest

from tests.client.conftest import Inbox, record_sends
from tests.client.fakes import offline_client
from tests.client.stores import every_store, fresh_state, link  # noqa: F401 (fixture)
from wamd.binary import Node
from wamd.client.usync import LOOKUP_BATCH, normalise_number
from wamd.errors import InvalidPhoneNumber, NoPushName
from wamd.messaging.types import Contact, LidMappingUpdate
from wamd.sim import SimServer
from wamd.testing import settle


async def test_on_whatsapp_finds_numbers_and_stores_their_lids(
    sim: SimServer,
    every_store: str,  # noqa: F811
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sim.add_phone("15550003333", "Corner Shop", business=True)
    sock = await link(sim, bot_phone)
    sent = record_sends(sock)
    found = await sock.on_whatsapp("+1 555-000-2222", "15550009999", "+15550003333", "15550002222")
    assert [r.query for r in found] == ["+1 555-000-2222", "15550009999", "+15550003333"]
    have, missing, business = found
    assert have.exists and have.jid == str(alice.jid) and have.lid == str(alice.lid)
    assert not have.is_business and have.verified_name is None
    assert not missing.exists and missing.jid == "15550009999@s.whatsapp.net"
    assert missing.lid is None
    assert business.exists and business.is_business and business.verified_name == "Corner Shop"
    # whatsmeow's query: one usync, interactive, <contact>+N@c.us</contact> per number
    (query,) = [n for n in sent.of("iq") if n.attrs.get("xmlns") == "usync"]
    usync = query.require_child("usync")
    assert usync.attrs["context"] == "interactive" and usync.attrs["mode"] == "query"
    protocols = [c.tag for c in usync.require_child("query").get_children()]
    assert protocols == ["contact", "business", "disappearing_mode", "username"]
    contacts = [
        u.require_child("contact").content_bytes()
        for u in usync.require_child("list").get_children("user")
    ]
    assert contacts == [b"+15550002222@c.us", b"+15550009999@c.us", b"+15550003333@c.us"]
    # the lid was stored as a mapping, on this store
    assert await sock.phone_number_jid(str(alice.lid)) == str(alice.jid)
    stored = await sock.devices.lids.pn_for(alice.lid_user)
    assert stored == alice.number
    await sock.end()


async def test_a_mapping_new_to_the_store_raises_lid_mapping_update_once(
    sim: SimServer,
    every_store: str,  # noqa: F811
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550004444", "Bob")
    sock = await link(sim, bot_phone)
    learnt: list[LidMappingUpdate] = []
    own = str(bot_phone.jid)  # our own mapping is learnt at login (then once, too)
    sock.ev.on("lid-mapping.update", lambda u: u.pn == own or learnt.append(u))
    await sock.on_whatsapp(alice.number)
    assert learnt == [LidMappingUpdate(pn=str(alice.jid), lid=str(alice.lid))]
    await sock.on_whatsapp(alice.number, bob.number)  # alice's is known: only bob's is new
    assert learnt[1:] == [LidMappingUpdate(pn=str(bob.jid), lid=str(bob.lid))]
    # a message from a new contact names its lid too (participant_pn / sender_pn)
    carol = sim.add_phone("15550005555", "Carol")
    inbox = Inbox(sock)
    mid = await carol.send_text(bot_phone.jid, "hi")
    await inbox.wait(lambda m: m.key.id == mid)
    await settle(sim)
    assert LidMappingUpdate(pn=str(carol.jid), lid=str(carol.lid)) in learnt
    assert len(learnt) == len(set(learnt))  # never the same mapping twice
    await sock.end()
    # the next run on the same auth state: what the store holds is not new
    again = await link(sim, bot_phone, sock.auth)
    relearnt: list[LidMappingUpdate] = []
    again.ev.on("lid-mapping.update", lambda u: u.pn == own or relearnt.append(u))
    await again.on_whatsapp(alice.number, bob.number)
    await settle(sim, again)
    assert relearnt == []
    await again.end()


@pytest.mark.parametrize(
    "bad", ["", "abc", "+1", "1234", "+1234567890123456", "١٢٣٤٥٦٧٨", "12@g.us", "+-"]
)
def test_a_bad_number_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match="not a phone number") as caught:
        normalise_number(bad)
    assert repr(bad) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_numbers_are_normalised() -> None:
    assert normalise_number(" +44 (20) 7946-0958 ") == "442079460958"
    assert normalise_number("15551234567@s.whatsapp.net") == "15551234567"


async def test_on_whatsapp_refuses_a_bad_number_before_asking(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, bot_phone)
    sent = record_sends(sock)
    with pytest.raises(InvalidPhoneNumber, match="'12ab'"):
        await sock.on_whatsapp("15550002222", "12ab")
    assert sent.of("iq") == []  # nothing half-asked
    await sock.end()


async def test_many_numbers_go_in_batches() -> None:
    asked: list[int] = []

    def answer(request: Node) -> Node:
        users = request.require_child("usync").require_child("list").get_children("user")
        asked.append(len(users))
        listed = [
            Node(
                "user",
                {
                    "jid": f"{u.require_child('contact').content_bytes()[1:-5].decode()}@s.whatsapp.net"
                },
                [Node("contact", {"type": "out"}, u.require_child("contact").content_bytes())],
            )
            for u in users
        ]
        return Node("iq", {"type": "result"}, [Node("usync", {}, [Node("list", {}, listed)])])

    client = offline_client(answer)
    from wamd.client.usync import UserLookup

    numbers = [str(15550000000 + i) for i in range(LOOKUP_BATCH + 3)]
    found = await UserLookup(client.core, client.devices).on_whatsapp(numbers)
    assert asked == [LOOKUP_BATCH, 3]
    assert [r.query for r in found] == numbers and not any(r.exists for r in found)


async def test_a_lookup_answer_for_numbers_not_asked_is_ignored() -> None:
    def answer(request: Node) -> Node:
        stranger = Node(
            "user",
            {"jid": "100000000000001@lid", "pn_jid": "19990000000@s.whatsapp.net"},
            [Node("contact", {"type": "in"}, b"+19990000000@c.us")],
        )
        return Node("iq", {"type": "result"}, [Node("usync", {}, [Node("list", {}, [stranger])])])

    client = offline_client(answer)
    from wamd.client.usync import UserLookup

    (result,) = await UserLookup(client.core, client.devices).on_whatsapp(["15550002222"])
    assert not result.exists
    assert await client.devices.lids.lid_for("19990000000") is None  # a stranger's mapping


# ---------------------------------------------------------------------- push names


async def test_presence_carries_the_push_name_option(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    from wamd.testing import link as kit_link

    sock = await kit_link(sim, bot_phone, await fresh_state(), push_name="Support Desk")
    assert sock.user is not None and sock.user.name == "Support Desk"
    assert sock.marked_online
    sent = record_sends(sock)
    await sock.send_presence_update("unavailable")
    await sock.set_push_name("Help @ Desk")
    (off, on) = sent.of("presence")
    assert off.attrs == {"type": "unavailable", "name": "Support Desk"}
    assert on.attrs == {"type": "available", "name": "Help  Desk"}  # '@' taken out (Baileys)
    with pytest.raises(ValueError, match="empty"):
        await sock.set_push_name("  ")
    with pytest.raises(ValueError, match="at most 25"):
        await sock.set_push_name("x" * 26)
    await sock.end()


async def test_without_a_name_presence_is_refused_with_a_typed_error() -> None:
    client = offline_client(lambda request: Node("iq", {"type": "result"}))
    me = client.core.auth.creds.me
    assert me is not None
    client.core.auth.creds.me = type(me)(me.id, me.lid, None)
    for state in ("available", "unavailable"):
        with pytest.raises(NoPushName, match="push_name"):
            await client.sender.send_presence_update(state)
    assert client.link.of("presence") == [] and not client.core.marked_online
    await client.sender.send_presence_update("composing", "15550002222@s.whatsapp.net")
    assert [n.tag for n in client.link.sent] == ["chatstate"]  # chat states need no name


async def test_our_name_is_learnt_from_our_phone_and_contacts_names_raise_updates(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot Account")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    await settle(sim, sock)  # the phone's app-state key share carries notify="Bot Account"
    assert sock.user is not None and sock.user.name == "Bot Account"  # as Baileys learns it
    updates: list[list[Contact]] = []
    sock.ev.on("contacts.update", updates.append)
    inbox = Inbox(sock)
    for text in ("one", "two"):
        await alice.send_text(bot_phone.jid, text)
    await inbox.wait(lambda m: m.text == "two")
    alice.name = "Alice B."
    await alice.send_text(bot_phone.jid, "three")
    await inbox.wait(lambda m: m.text == "three")
    await settle(sim, sock)
    assert updates == [
        [Contact(id=str(alice.jid), notify="Alice")],
        [Contact(id=str(alice.jid), notify="Alice B.")],
    ]  # once per name, not once per message
    await sock.end()


# ---------------------------------------------------------------------- ping


@pytest.mark.parametrize("children", [[], [Node("ping")], [Node("ping"), Node("x")]])
async def test_the_servers_ping_is_answered_whatever_it_holds(
    sim: SimServer, children: list[Node]
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, bot_phone)
    await settle(sim, sock)  # the login's own queries sent (the app-state sync...)
    sent = record_sends(sock)
    attempt = sock.core.attempt
    assert attempt is not None
    ping = Node(
        "iq",
        {"from": "s.whatsapp.net", "id": "ping-1", "type": "get", "xmlns": "urn:xmpp:ping"},
        children or None,
    )
    await sock._dispatch(attempt, ping)
    (answer,) = sent.of("iq")
    assert answer.attrs["type"] == "result" and answer.attrs["id"] == "ping-1"
    await sock.end()
