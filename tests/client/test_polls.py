"""Polls, locations and contact cards against a real wamd.sim: what goes on the wire, the
message secret kept on every store, votes both ways, and what is refused."""

from __future__ import annotations

import logging

import pytest

from tests.client.conftest import Inbox, record_sends
from tests.client.stores import every_store, fresh_state, link  # noqa: F401 (fixture)
from wamd.errors import ContentError
from wamd.messaging.polls import PollSecret, encrypt_vote, poll_creation
from wamd.messaging.types import ContactCard, Location, MessageUpdate
from wamd.proto import common_pb2, e2e_pb2
from wamd.sim import SimServer
from wamd.testing import settle, wait_received

VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nTEL;type=CELL;waid=15550009999:+1 555 000 9999\nEND:VCARD"


def votes_of(inbox: Inbox) -> list[MessageUpdate]:
    return [a.item for a in inbox.arrivals if getattr(a.item, "status", None) == "poll_vote"]


async def test_a_poll_we_send_is_counted_from_the_votes(
    sim: SimServer,
    every_store: str,  # noqa: F811
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    updates = Inbox(bot, "messages.update")
    sent = record_sends(bot)
    poll = await bot.send_message(
        alice.jid, {"poll": {"name": "Lunch?", "options": ["pizza", "salad"], "selectable": 1}}
    )
    (stanza,) = sent.of("message")
    assert stanza.attrs["type"] == "poll"
    # <meta> after the participants; a privacy token (tctoken/cstoken) may follow it, as
    # whatsmeow's sendDM appends the token after prepareMessageNode added the meta
    tags = [c.tag for c in stanza.get_children()]
    assert tags.index("meta") > tags.index("participants")
    assert set(tags[tags.index("meta") + 1 :]) <= {"tctoken", "cstoken"}
    assert stanza.require_child("meta").attrs == {"polltype": "creation"}
    creation = poll.message
    assert creation is not None and creation.pollCreationMessage.selectableOptionsCount == 1
    assert len(creation.messageContextInfo.messageSecret) == 32
    # the secret is kept on the store, for the votes
    stored = await bot.sender.polls.secrets.get(poll.key.id)
    assert stored is not None and stored.options == ("pizza", "salad")
    assert stored.secret == creation.messageContextInfo.messageSecret
    assert stored.secret.hex() not in repr(stored)
    got = await wait_received(alice, lambda m: m.id == poll.key.id)
    await alice.vote(got, ["salad"])
    vote = await updates.wait_for(lambda u: u.status == "poll_vote", "messages.update")
    assert vote.key == poll.key
    assert vote.poll_vote is not None
    assert vote.poll_vote.voter == str(alice.jid)
    assert vote.poll_vote.selected_options == ("salad",)
    await alice.vote(got, [])  # taken back
    await updates.wait_for(
        lambda u: u.status == "poll_vote" and not u.poll_vote.selected_options, "messages.update"
    )
    await bot.end()


async def test_we_vote_on_a_poll_we_received(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    poll_id = await alice.send_poll(bot_phone.jid, "Meet when?", ["9", "10", "11"], 0)
    poll = await inbox.wait(lambda m: m.key.id == poll_id)
    assert poll.content is not None and poll.content.pollCreationMessage.name == "Meet when?"
    sent = record_sends(bot)
    mine = await bot.send_message(alice.jid, {"vote": {"poll": poll, "options": ["9", "11"]}})
    (stanza,) = sent.of("message")
    assert stanza.attrs["type"] == "poll"
    assert stanza.require_child("meta").attrs == {"polltype": "vote"}
    encs = [
        enc
        for to in stanza.require_child("participants").get_children("to")
        for enc in to.get_children("enc")
    ]
    assert encs and all(e.attrs.get("decrypt-fail") == "hide" for e in encs)
    arrived = await wait_received(alice, lambda m: m.id == mine.key.id)
    assert alice.read_vote(arrived) == ("9", "11")
    with pytest.raises(ContentError, match="not options of this poll: '12'"):
        await bot.send_message(alice.jid, {"vote": {"poll": poll, "options": ["12"]}})
    unknown = {"remote_jid": str(alice.jid), "id": "3EB0NOTAPOLL", "from_me": False}
    with pytest.raises(ContentError, match="3EB0NOTAPOLL is not known"):
        await bot.send_message(alice.jid, {"vote": {"poll": unknown, "options": ["9"]}})
    await bot.end()


async def test_group_votes_name_their_voters(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550003333", "Bob")
    bot = await link(sim, bot_phone)
    updates = Inbox(bot, "messages.update")
    group = await bot.group_create("Team", [str(alice.jid), str(bob.jid)])
    poll = await bot.send_message(
        group.id, {"poll": {"name": "Ship it?", "options": ["yes", "no"]}}
    )
    for phone, choice in ((alice, "yes"), (bob, "no")):
        got = await wait_received(phone, lambda m: m.id == poll.key.id)
        await phone.vote(got, [choice])
    await updates.wait_for(
        lambda u: u.status == "poll_vote" and u.poll_vote.voter == str(bob.jid),
        "messages.update",
    )
    await updates.wait_for(
        lambda u: u.status == "poll_vote" and u.poll_vote.voter == str(alice.jid),
        "messages.update",
    )
    tally = {v.poll_vote.voter: v.poll_vote.selected_options for v in votes_of(updates)}
    assert tally == {str(alice.jid): ("yes",), str(bob.jid): ("no",)}
    assert all(v.key == poll.key for v in votes_of(updates))
    await bot.end()


async def test_a_forged_vote_is_dropped_without_key_material_in_the_log(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    updates = Inbox(bot, "messages.update")
    inbox = Inbox(bot)
    poll = await bot.send_message(alice.jid, {"poll": {"name": "Q", "options": ["a", "b"]}})
    secret = poll.message.messageContextInfo.messageSecret if poll.message else b""
    wrong = PollSecret(poll.key.id, str(alice.jid), str(bot_phone.jid), ("a", "b"), b"\x01" * 32)
    forged = e2e_pb2.Message(
        pollUpdateMessage=e2e_pb2.PollUpdateMessage(
            pollCreationMessageKey=common_pb2.MessageKey(
                remoteJID=str(bot_phone.jid), fromMe=False, ID=poll.key.id
            ),
            vote=encrypt_vote(wrong, str(alice.jid), ["a"]),
        )
    )
    with caplog.at_level(logging.INFO):
        mid = await alice.send_message(bot_phone.jid, forged)
        await inbox.wait(lambda m: m.key.id == mid)  # the message itself still arrives
        await settle(sim, bot)
    assert votes_of(updates) == []
    assert "does not decrypt" in caplog.text
    assert secret.hex() not in caplog.text and wrong.secret.hex() not in caplog.text
    assert "secret" not in repr(wrong)
    await bot.end()


@pytest.mark.parametrize(
    ("poll", "error"),
    [
        ({"options": ["a", "b"]}, "needs a name"),
        ({"name": "Q", "options": ["a"]}, "2 to 12 options"),
        ({"name": "Q", "options": ["a", "a"]}, "distinct"),
        ({"name": "Q", "options": "ab"}, "list of option names"),
        ({"name": "Q", "options": ["a", "b"], "selectable": 3}, "selectable must be 0"),
        ({"name": "Q", "options": [str(i) for i in range(13)]}, "2 to 12 options"),
    ],
)
def test_a_bad_poll_is_refused_saying_why(poll: dict[str, object], error: str) -> None:
    from wamd.client.content import build_message

    with pytest.raises(ContentError, match=error):
        build_message({"poll": poll})  # type: ignore[typeddict-item]


def test_poll_creation_is_whatsmeows_version_one() -> None:
    message = poll_creation("Q", ["a", "b"], 1)
    assert message.HasField("pollCreationMessage")
    assert not message.HasField("pollCreationMessageV3")  # Baileys' single-choice form


# ---------------------------------------------------------------------- locations, cards


async def test_locations_and_contact_cards_have_the_references_stanza_types(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    sent = record_sends(bot)
    place = {"degrees_latitude": 52.3731, "degrees_longitude": 4.8922, "name": "Dam Square"}
    where = await bot.send_message(alice.jid, {"location": place})
    one = await bot.send_message(alice.jid, {"contacts": [VCARD]})
    two = await bot.send_message(
        alice.jid, {"contacts": [VCARD, {"vcard": VCARD, "display_name": "Jane"}]}
    )
    kinds = {}
    for stanza in sent.of("message"):
        encs = [
            e
            for to in stanza.require_child("participants").get_children("to")
            for e in to.get_children("enc")
        ]
        kinds[stanza.attrs["id"]] = (stanza.attrs["type"], {e.attrs.get("mediatype") for e in encs})
    assert kinds[where.key.id] == ("text", {None})  # a location is text in both references
    assert kinds[one.key.id] == ("media", {"vcard"})
    assert kinds[two.key.id] == ("media", {"contact_array"})
    got = await wait_received(alice, lambda m: m.id == where.key.id)
    assert got.message.locationMessage.name == "Dam Square"
    assert abs(got.message.locationMessage.degreesLatitude - 52.3731) < 1e-9
    card = await wait_received(alice, lambda m: m.id == one.key.id)
    assert card.message.contactMessage.displayName == "Jane Doe"  # from the vCard's FN
    cards = await wait_received(alice, lambda m: m.id == two.key.id)
    assert [c.displayName for c in cards.message.contactsArrayMessage.contacts] == [
        "Jane Doe",
        "Jane",
    ]
    await bot.end()


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ({"location": {"degrees_latitude": 1}}, "needs 'degrees_longitude'"),
        ({"location": {"degrees_latitude": 91, "degrees_longitude": 0}}, "no such place"),
        ({"location": {"degrees_latitude": "x", "degrees_longitude": 0}}, "are numbers"),
        ({"contacts": []}, "at least one"),
        ({"contacts": ["not a card"]}, "must be a vCard"),
        ({"contacts": [5]}, "vCard string"),
    ],
)
def test_bad_locations_and_cards_are_refused(content: dict[str, object], error: str) -> None:
    from wamd.client.content import build_message

    with pytest.raises(ContentError, match=error):
        build_message(content)


async def test_locations_and_cards_from_a_phone_arrive_typed(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    location = e2e_pb2.Message(
        locationMessage=e2e_pb2.LocationMessage(degreesLatitude=1.5, degreesLongitude=2.5)
    )
    card = e2e_pb2.Message(contactMessage=e2e_pb2.ContactMessage(displayName="J", vcard=VCARD))
    first = await alice.send_message(bot_phone.jid, location)
    second = await alice.send_message(bot_phone.jid, card)
    got = await inbox.wait(lambda m: m.key.id == first)
    assert got.location == Location(1.5, 2.5) and got.contacts == ()
    got = await inbox.wait(lambda m: m.key.id == second)
    assert got.contacts == (ContactCard("J", VCARD),) and got.location is None
    await bot.end()


def test_the_vote_key_is_hkdf_over_id_creator_voter_and_use_case() -> None:
    """Checked against an HKDF written independently (``cryptography``'s), in the order
    whatsmeow generateMsgSecretKey concatenates: id, creator, voter, "Poll Vote"."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from wamd.messaging.polls import decrypt_vote, option_hash

    secret = bytes(range(32))
    creator, voter = "15550001111@s.whatsapp.net", "100000000000007@lid"
    info = b"3EB0ABCDEF" + creator.encode() + voter.encode() + b"Poll Vote"
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    plaintext = e2e_pb2.PollVoteMessage(selectedOptions=[option_hash("b")]).SerializeToString()
    iv = b"\x07" * 12
    sealed = AESGCM(key).encrypt(iv, plaintext, b"3EB0ABCDEF\x00" + voter.encode())
    poll = PollSecret("3EB0ABCDEF", "chat", creator, ("a", "b"), secret)
    vote = e2e_pb2.PollEncValue(encPayload=sealed, encIV=iv)
    assert decrypt_vote(poll, [voter], vote) == ("b",)
    assert encrypt_vote(poll, voter, ["b"], iv=iv) == vote
