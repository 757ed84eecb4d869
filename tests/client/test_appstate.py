"""App-state sync end to end: a real sim on 127.0.0.1, its phone's real patches, each store.

The phone saves contacts and archives, mutes, pins and labels chats → the bot's events;
the bot archives and marks read → the phone and a second companion see it; a tampered
patch → only that collection is fetched again; a stale write → 409, applied, retried.
"""

from __future__ import annotations

import logging

import pytest

from tests.client.stores import every_store, link
from wamd.appstate import COLLECTIONS
from wamd.errors import AppStateKeyMissing
from wamd.messaging.types import (
    ChatUpdate,
    Contact,
    Label,
    LabelAssociation,
    LabelAssociationUpdate,
    MessagesDelete,
)
from wamd.sim import SimServer
from wamd.store.views import AppStateVersions
from wamd.testing import Inbox, settle

pytestmark = pytest.mark.usefixtures(every_store.__name__)

EVENTS = (
    "chats.update",
    "chats.delete",
    "contacts.upsert",
    "contacts.update",
    "labels.edit",
    "labels.association",
    "messages.delete",
    "creds.update",
)


async def test_what_the_phone_changes_reaches_the_bot(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    # saved before the bot links: it comes with the first full sync
    await bot_phone.save_contact(alice.jid, "Alice Liddell")
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot, *EVENTS)
    contact = await inbox.wait_for(lambda c: c.id == str(alice.jid), "contacts.upsert")
    assert contact == Contact(str(alice.jid), name="Alice Liddell")
    await settle(sim, bot)

    chat = str(alice.jid)
    await bot_phone.archive_chat(alice.jid)
    await bot_phone.mute_chat(alice.jid, 1_900_000_000_000)
    await bot_phone.pin_chat(alice.jid)
    await bot_phone.mark_chat_read(alice.jid, read=False)
    await bot_phone.create_label("5", "Open", 3)
    await bot_phone.label_chat(alice.jid, "5")
    await bot_phone.clear_chat(alice.jid)
    await bot_phone.set_push_name("Support")

    def update(**fields: object) -> object:
        return lambda u: (
            isinstance(u, ChatUpdate) and all(getattr(u, k) == v for k, v in fields.items())
        )

    await inbox.wait_for(update(id=chat, archived=True), "chats.update")
    await inbox.wait_for(update(id=chat, mute_end_time=1_900_000_000_000), "chats.update")
    # (a first fetch of a collection is a snapshot: only the newest pin state, pinned)
    await inbox.wait_for(lambda u: bool(u.pinned), "chats.update")  # ...then it was pinned
    await inbox.wait_for(update(id=chat, unread_count=-1), "chats.update")
    label = await inbox.wait_for(lambda e: True, "labels.edit")
    assert label == Label("5", "Open", 3, False)
    association = await inbox.wait_for(lambda e: True, "labels.association")
    assert association == LabelAssociationUpdate(LabelAssociation("chat", chat, "5"), "add")
    cleared = await inbox.wait_for(lambda e: True, "messages.delete")
    assert cleared == MessagesDelete(jid=chat, all=True)
    await inbox.wait_for(lambda c: "me" in c and c["me"].name == "Support", "creds.update")
    assert bot.auth.creds.me is not None and bot.auth.creds.me.name == "Support"

    # stored: each collection at the phone's version, with its MAC map
    await settle(sim, bot)
    versions = AppStateVersions(bot.auth.keys)
    for name in COLLECTIONS:
        stored = await versions.get(name)
        served = bot_phone.app_state.collections[name]
        assert (stored.version, stored.hash) == (served.version, served.state.hash)
        assert dict(stored.macs) == dict(served.state.macs)

    # a push name on an incoming message: contacts.update with notify, once per name
    await alice.send_text(bot_phone.jid, "hi")
    seen = await inbox.wait_for(lambda c: c.notify is not None, "contacts.update")
    assert seen == Contact(str(alice.jid), notify="Alice")
    await alice.send_text(bot_phone.jid, "again")
    await settle(sim, bot)
    assert [c for c in inbox.items("contacts.update") if c.notify] == [seen]
    await bot.end()


async def test_the_bot_archives_and_marks_read_and_the_others_see_it(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    other = await link(sim, bot_phone)  # a second companion of the same account
    await settle(sim, bot, other)
    seen = Inbox(other, "chats.update")
    own = Inbox(bot, "chats.update")

    await bot.chat_modify(str(alice.jid), archive=True)
    await bot.chat_modify(str(alice.jid), read=True)
    archived = bot_phone.chat_setting(("archive", str(alice.jid)))
    assert archived is not None and archived.archiveChatAction.archived
    read = bot_phone.chat_setting(("markChatAsRead", str(alice.jid)))
    assert read is not None and read.markChatAsReadAction.read
    await seen.wait_for(lambda u: u.archived is True, "chats.update")
    await seen.wait_for(lambda u: u.unread_count == 0, "chats.update")
    # the writer gets its own change back from the server, verified, as whatsmeow does
    await own.wait_for(lambda u: u.archived is True, "chats.update")
    assert bot_phone.app_state.collections["regular_low"].version == 2
    await bot.end()
    await other.end()


async def test_a_tampered_patch_resyncs_that_collection_only(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    await settle(sim, bot)
    inbox = Inbox(bot, "chats.update")
    bot_phone.app_state.snapshots = False  # patch answers only: tamper() corrupts those
    bot_phone.app_state.tamper("regular_low")  # the next answer for it has a bad value MAC
    with caplog.at_level(logging.WARNING, logger="wamd.client.appstate"):
        await bot_phone.archive_chat(alice.jid)
        await bot_phone.mute_chat(alice.jid, -1)
        await inbox.wait_for(lambda u: u.mute_end_time == -1, "chats.update")
        await inbox.wait_for(lambda u: u.archived is True, "chats.update")
        await settle(sim, bot)
    assert any("value MAC does not verify" in r.getMessage() for r in caplog.records)
    assert any("again from a snapshot" in r.getMessage() for r in caplog.records)
    # each change emitted once, and both collections at the server's version
    assert [u.archived for u in inbox.items("chats.update") if u.archived is not None] == [True]
    versions = AppStateVersions(bot.auth.keys)
    assert (await versions.get("regular_low")).version == 1
    assert (await versions.get("regular_high")).version == 1
    assert bot.appstate.failed == {}
    await bot.end()


async def test_a_stale_write_gets_409_applies_the_newer_patches_and_retries(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    await settle(sim, bot)
    inbox = Inbox(bot, "chats.update")
    sim.faults.drop(tags=["notification"], count=1)  # the bot misses the server_sync
    await bot_phone.archive_chat(alice.jid)
    await sim.settle()  # (not acked: the lost notification stays in the outbox)
    await bot.idle()
    assert (await AppStateVersions(bot.auth.keys).get("regular_low")).version == 0
    await bot.chat_modify(str(alice.jid), pin=True)  # written at v0: 409, then at v1
    await inbox.wait_for(lambda u: u.archived is True, "chats.update")  # from the 409 answer
    pinned = bot_phone.chat_setting(("pin_v1", str(alice.jid)))
    assert pinned is not None and pinned.pinAction.pinned
    assert bot_phone.app_state.collections["regular_low"].version == 2
    assert (await AppStateVersions(bot.auth.keys).get("regular_low")).version == 2
    await bot.end()


async def test_without_a_key_nothing_is_fetched_and_writes_say_why() -> None:
    from wamd.testing import sim_server

    async with sim_server(app_state_keys=False) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        bot = await link(sim, bot_phone)
        await settle(sim, bot)
        with pytest.raises(AppStateKeyMissing):
            await bot.chat_modify("15550002222@s.whatsapp.net", archive=True)
        with pytest.raises(ValueError, match="exactly one change"):
            await bot.chat_modify("15550002222@s.whatsapp.net", archive=True, pin=True)
        await bot.end()
