"""Polls, locations and contact cards between Baileys (unmodified, from npm) and wamd.

Votes both ways: Baileys votes on wamd's poll and wamd's ``messages.update`` names the
option; wamd votes on Baileys' poll and Baileys decrypts it (its ``decryptPollVote`` in
``processMessage``, counted with ``getAggregateVotesInPollMessage``). Baileys has no API to
cast a vote, so its bot encrypts one as the inverse of its own ``decryptPollVote``, with
its exported primitives, and sends it with ``relayMessage``. Locations and contact cards
go both ways too, and arrive typed.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.conftest import Inbox
from tests.interop.conftest import baileys_and_wamd
from wamd.messaging.types import ContactCard, Location, MessageUpdate
from wamd.sim import SimServer

VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Doe\nTEL;type=CELL;waid=15550009999:+1 555 000 9999\nEND:VCARD"


def rest(line: list[str]) -> str:
    return " ".join(line[2:])


async def test_poll_votes_go_both_ways(baileys: Path, sim: SimServer, tmp_path: Path) -> None:
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock, baileys_phone, wamd_phone = (
            pair.bot,
            pair.sock,
            pair.baileys_phone,
            pair.wamd_phone,
        )
        updates = Inbox(sock, "messages.update")
        # wamd's poll, Baileys' vote
        poll = await sock.send_message(
            baileys_phone.jid,
            {"poll": {"name": "Lunch?", "options": ["pizza", "salad", "soup"], "selectable": 1}},
        )
        got = await bot.expect("POLLGOT")
        assert got[1] == poll.key.id
        assert json.loads(rest(got)) == {
            "name": "Lunch?",
            "values": ["pizza", "salad", "soup"],
            "selectable": 1,
        }
        vote_id = await bot.command("VOTE", str(wamd_phone.jid), poll.key.id, '["salad"]')

        def is_vote(update: MessageUpdate) -> bool:
            return update.status == "poll_vote"

        vote = await updates.wait_for(is_vote, "messages.update")
        assert vote.key == poll.key and vote.poll_vote is not None
        assert vote.poll_vote.selected_options == ("salad",)
        assert vote.poll_vote.voter.split("@")[0] in (baileys_phone.number, baileys_phone.lid_user)
        assert vote_id
        # Baileys' poll, wamd's vote
        inbox = Inbox(sock)
        their_poll = await bot.command(
            "POLL",
            str(wamd_phone.jid),
            json.dumps({"name": "When?", "values": ["9", "10", "11"], "selectableCount": 0}),
        )
        received = await inbox.wait(lambda m: m.key.id == their_poll, timeout=20)
        assert received.content is not None
        await sock.send_message(
            baileys_phone.jid, {"vote": {"poll": received, "options": ["9", "11"]}}
        )
        line = await bot.expect("VOTES")
        assert line[1] == their_poll
        tally = {entry["name"]: entry["voters"] for entry in json.loads(rest(line))}
        assert set(tally) == {"9", "10", "11"}
        assert tally["10"] == [] and len(tally["9"]) == 1 and tally["9"] == tally["11"]
        assert tally["9"][0].split("@")[0] in (wamd_phone.number, wamd_phone.lid_user)


async def test_locations_and_contact_cards_go_both_ways(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock, baileys_phone, wamd_phone = (
            pair.bot,
            pair.sock,
            pair.baileys_phone,
            pair.wamd_phone,
        )
        inbox = Inbox(sock)
        jid = str(wamd_phone.jid)
        where = {"degreesLatitude": 52.3731, "degreesLongitude": 4.8922, "name": "Dam Square"}
        sent = await bot.command("LOCATION", jid, json.dumps(where))
        got = await inbox.wait(lambda m: m.key.id == sent, timeout=20)
        assert got.location == Location(52.3731, 4.8922, "Dam Square")
        assert got.contacts == () and got.media is None
        # one card is Baileys' contactMessage: that card's own displayName, if any
        one = {"displayName": "Jane", "contacts": [{"displayName": "Jane D", "vcard": VCARD}]}
        sent = await bot.command("CONTACTS", jid, json.dumps(one))
        got = await inbox.wait(lambda m: m.key.id == sent, timeout=20)
        assert got.contacts == (ContactCard("Jane D", VCARD),) and got.location is None
        two = {"displayName": "Two", "contacts": [{"vcard": VCARD}, {"vcard": VCARD}]}
        sent = await bot.command("CONTACTS", jid, json.dumps(two))
        got = await inbox.wait(lambda m: m.key.id == sent, timeout=20)
        assert [c.vcard for c in got.contacts] == [VCARD, VCARD]
        # and the other way: wamd's location and cards, as Baileys reads them
        place = {"degrees_latitude": -33.8568, "degrees_longitude": 151.2153, "name": "Opera"}
        mine = await sock.send_message(baileys_phone.jid, {"location": place})
        line = await bot.expect("LOCATIONGOT")
        assert line[1] == mine.key.id
        assert json.loads(rest(line)) == {"lat": -33.8568, "lon": 151.2153, "name": "Opera"}
        mine = await sock.send_message(baileys_phone.jid, {"contacts": [VCARD, VCARD]})
        line = await bot.expect("CONTACTSGOT")
        assert line[1] == mine.key.id
        cards = json.loads(rest(line))
        assert [c["vcard"] for c in cards] == [VCARD, VCARD]
        assert cards[0]["displayName"] == "Jane Doe"
