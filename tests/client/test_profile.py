"""Profile, privacy and blocklist against a real wamd.sim, with what the server refuses."""

from __future__ import annotations

import pytest

from tests.client.conftest import record_sends
from tests.client.stores import fresh_state
from wamd.errors import (
    Forbidden,
    MediaDownloadError,
    MediaUnavailable,
    NotAcceptable,
    NotAuthorized,
)
from wamd.messaging.types import BlocklistUpdate
from wamd.sim import SimServer
from wamd.testing import Inbox, link, settle

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60 + b"\xff\xd9"


async def test_pictures_about_and_business_profiles(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    shop = sim.add_phone("15550003333", "Corner Shop", business=True)
    bot = await link(sim, bot_phone, await fresh_state())
    me = str(bot_phone.jid)
    assert await bot.profile_picture_url(me) is None  # none set yet
    sent = record_sends(bot)
    picture_id = await bot.update_profile_picture(me, JPEG)
    (set_picture,) = sent.of("iq")
    assert "target" not in set_picture.attrs  # our own: no target (Baileys)
    url = await bot.profile_picture_url(me, "image")
    assert url is not None and picture_id in url and url.startswith("https://")
    with pytest.raises(ValueError, match="JPEG"):
        await bot.update_profile_picture(me, b"GIF89a")
    await bot.remove_profile_picture(me)
    assert await bot.profile_picture_url(me) is None
    # someone else's picture: theirs to set, and hidden when they say so
    with pytest.raises(NotAuthorized, match="picture of"):
        await bot.update_profile_picture(str(alice.jid), JPEG)
    alice.picture = ("1700000000", JPEG)
    assert await bot.profile_picture_url(str(alice.jid)) is not None
    alice.privacy["profile"] = "none"
    with pytest.raises(NotAuthorized):
        await bot.profile_picture_url(str(alice.jid))
    # a group's picture, for its members
    group = await bot.group_create("Desk", [str(alice.jid)])
    await bot.update_profile_picture(group.id, JPEG)
    assert await bot.profile_picture_url(group.id) is not None
    # the about text, as usync's status protocol reports it
    await bot.update_profile_status("Open 9-5, Mon-Fri")
    (mine, hers) = await bot.fetch_status(me, str(alice.jid))
    assert mine.status == "Open 9-5, Mon-Fri" and hers.status == alice.status
    with pytest.raises(ValueError, match="139"):
        await bot.update_profile_status("x" * 140)
    # business profiles
    profile = await bot.get_business_profile(str(shop.jid))
    assert profile is not None and profile.wid == str(shop.jid)
    assert profile.description == "Corner Shop on the sim" and profile.category
    assert await bot.get_business_profile(str(alice.jid)) is None
    await bot.end()


async def test_a_picture_of_a_group_we_are_not_in_is_refused(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    carol = sim.add_phone("15550003333", "Carol")
    group = await alice.create_group("Private", [carol.jid])
    bot = await link(sim, bot_phone, await fresh_state())
    with pytest.raises(Forbidden):
        await bot.update_profile_picture(str(group.jid), JPEG)
    await bot.end()


async def test_blocklist_and_its_updates_on_our_other_device(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    other = await link(sim, bot_phone, await fresh_state())  # a second companion
    updates = Inbox(other, "blocklist.update")
    assert await bot.fetch_blocklist() == []
    sent = record_sends(bot)
    assert await bot.update_block_status(str(alice.jid), "block") == [str(alice.lid)]
    (item,) = [n.require_child("item") for n in sent.of("iq") if n.attrs["xmlns"] == "blocklist"]
    # whatsmeow: the lid, with the number when blocking
    assert item.attrs == {"action": "block", "jid": str(alice.lid), "pn_jid": str(alice.jid)}
    got: BlocklistUpdate = await updates.next("blocklist.update")
    assert got == BlocklistUpdate((str(alice.lid),), "add")
    assert await other.fetch_blocklist() == [str(alice.lid)]
    assert await bot.update_block_status(str(alice.lid), "unblock") == []
    assert (await updates.next("blocklist.update")).type == "remove"
    with pytest.raises(ValueError, match="block' or 'unblock"):
        await bot.update_block_status(str(alice.jid), "mute")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a user"):
        await bot.update_block_status("120363000000000001@g.us", "block")
    await settle(sim, bot, other)
    await bot.end()
    await other.end()


async def test_privacy_settings_and_the_default_timer(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    bot = await link(sim, bot_phone, await fresh_state())
    settings = await bot.fetch_privacy_settings()
    assert settings["last"] == "all" and settings["readreceipts"] == "all"
    await bot.update_privacy_setting("last", "contacts")
    await bot.update_privacy_setting("readreceipts", "none")
    settings = await bot.fetch_privacy_settings()
    assert settings["last"] == "contacts" and settings["readreceipts"] == "none"
    with pytest.raises(ValueError, match="no privacy setting 'lastseen'"):
        await bot.update_privacy_setting("lastseen", "all")
    with pytest.raises(ValueError, match="'online' is one of all, match_last_seen"):
        await bot.update_privacy_setting("online", "none")
    await bot.update_default_disappearing_mode(604800)
    assert bot_phone.disappearing == 604800
    (me,) = await bot.on_whatsapp(bot_phone.number)
    assert me.exists
    with pytest.raises(ValueError, match="seconds"):
        await bot.update_default_disappearing_mode(-5)
    await bot.end()


async def test_the_sim_refuses_bad_privacy_values_itself(sim: SimServer) -> None:
    from wamd.binary import Node
    from wamd.messaging import stanzas

    bot_phone = sim.add_phone("15550001111", "Bot")
    bot = await link(sim, bot_phone, await fresh_state())
    bad = Node("privacy", {}, [Node("category", {"name": "online", "value": "nobody"})])
    from wamd.errors import RequestError

    with pytest.raises(RequestError) as caught:
        await bot.query(stanzas.iq("set", "privacy", [bad]))
    assert caught.value.code == 400
    picture = Node("picture", {"type": "image"}, b"not a jpeg")
    with pytest.raises(NotAcceptable):
        await bot.query(stanzas.iq("set", "w:profile:picture", [picture]))
    await bot.end()


async def test_a_blocked_contact_is_not_delivered_and_not_told(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550003333", "Bob")
    group = await alice.create_group("Both", [bot_phone.jid, bob.jid])
    bot = await link(sim, bot_phone, await fresh_state())
    inbox = Inbox(bot)
    await bot.update_block_status(str(alice.jid), "block")
    # Alice writes: the server takes it (a plain ack) and gives it to nobody
    mid = await alice.send_text(bot_phone.jid, "are you there?")
    await settle(sim, bot)
    assert inbox.untaken() == []
    assert [r for r in alice.endpoint.receipts if r.id == mid] == []  # one tick, for ever
    # in a group she is heard as before: blocking is about the 1:1 chat
    in_group = await alice.send_text(group.jid, "hello group")
    await inbox.wait_for(lambda m: m.key.id == in_group)
    # unblocked, her next message arrives (the one sent meanwhile never does)
    await bot.update_block_status(str(alice.jid), "unblock")
    later = await alice.send_text(bot_phone.jid, "and now?")
    got = await inbox.wait_for(lambda m: m.key.id == later)
    assert got.key.id != mid
    # Bob blocks the bot: its send succeeds as usual, and Bob gets nothing
    bob.picture = ("1700000000", JPEG)
    assert await bot.profile_picture_url(str(bob.jid)) is not None
    bob.blocked[bot_phone.number] = str(bot_phone.lid)
    assert await bot.profile_picture_url(str(bob.jid)) is None  # as if he had none
    presences = Inbox(bot, "presence.update")
    await bot.presence_subscribe(str(bob.jid))
    await bob.set_presence(True)
    await settle(sim, bot)
    assert presences.items("presence.update") == []  # he shows the bot no presence
    before = len(bob.received)
    receipts = Inbox(bot, "message-receipt.update")
    sent = await bot.send_message(bob.jid, {"text": "a message to someone who blocked us"})
    await settle(sim, bot)
    assert len(bob.received) == before
    from_bob = [
        r
        for r in receipts.items("message-receipt.update")
        if r.key.id == sent.key.id and r.user_jid.split("@")[0] in (bob.number, bob.lid_user)
    ]
    assert from_bob == []  # our own phone confirms its copy (type="sender"); Bob never does
    # to Alice, who blocked nobody, the receipts come as ever
    fine = await bot.send_message(alice.jid, {"text": "hello again"})
    await receipts.wait_for(
        lambda r: r.key.id == fine.key.id and r.type != "sender", "message-receipt.update"
    )
    await bot.end()


async def test_picture_urls_are_served_by_the_media_host_and_fetched(sim: SimServer) -> None:
    import aiohttp

    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    me = str(bot_phone.jid)
    assert await bot.download_profile_picture(me) is None  # none set
    mine = JPEG + b"mine"
    await bot.update_profile_picture(me, mine)
    assert await bot.download_profile_picture(me, "image") == mine
    alice.picture = ("1700000000", JPEG + b"alice")
    assert await bot.download_profile_picture(str(alice.jid)) == JPEG + b"alice"
    assert await bot.download_profile_picture(str(alice.lid)) == JPEG + b"alice"  # by lid
    group = await bot.group_create("Desk", [str(alice.jid)])
    await bot.update_profile_picture(group.id, JPEG + b"desk")
    assert await bot.download_profile_picture(group.id) == JPEG + b"desk"
    # the URL is signed and expires, as WhatsApp's picture CDN's are
    url = await bot.profile_picture_url(str(alice.jid), "image")
    assert url is not None and f"{sim.media.hostname}/v/t61.24694-24/" in url
    forged = url.replace("_1700000000_", "_1700000001_")
    with pytest.raises(MediaUnavailable) as caught:
        await bot.media.http.fetch_bytes(forged, 1 << 20)
    assert caught.value.status == 403
    alice.picture = ("1800000000", JPEG + b"new")  # replaced: the old URL is gone
    with pytest.raises(MediaUnavailable) as caught:
        await bot.media.http.fetch_bytes(url, 1 << 20)
    assert caught.value.status == 404
    fresh = await bot.profile_picture_url(str(alice.jid), "image")
    assert fresh is not None
    sim.clock_offset = 15 * 86400  # two weeks on: the URL's oe has passed
    with pytest.raises(MediaUnavailable) as caught:
        await bot.media.http.fetch_bytes(fresh, 1 << 20)
    assert caught.value.status == 403
    # a URL elsewhere, or too big a body, is refused typed
    with pytest.raises(MediaDownloadError, match="not a media URL"):
        await bot.media.http.fetch_bytes("ftp://127.0.0.1/x.jpg", 10)
    with pytest.raises(MediaDownloadError, match="over 4 bytes"):
        await bot.media.http.fetch_bytes(await bot.profile_picture_url(me) or "", 4)
    # the real thing checks TLS: a client that does not trust the sim's CA is refused
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await plain.get(await bot.profile_picture_url(me) or "")
    await bot.end()
