"""Group administration against a real wamd.sim: every call, its events, and the server's
checks (admin rights, membership, invite codes, stale descriptions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.client.conftest import link
from wamd.errors import (
    Conflict,
    Forbidden,
    Gone,
    ItemNotFound,
    NotAcceptable,
    NotAuthorized,
    SendError,
)
from wamd.events import EventName
from wamd.messaging.types import (
    GroupJoinRequest,
    GroupParticipantsUpdate,
    GroupUpdate,
    HistoryChat,
)
from wamd.sim import SimServer
from wamd.sim.groups import SimGroup
from wamd.testing import Inbox, settle, wait_received


async def next_of(inbox: Inbox, event: EventName, predicate: Callable[[Any], bool]) -> Any:
    return await inbox.wait_for(predicate, event)


async def test_description_settings_and_timer_reach_the_members_as_groups_update(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    carol = sim.add_phone("15550003333", "Carol")
    bot = await link(sim, bot_phone)
    alice_web = await link(sim, alice)
    seen = Inbox(
        alice_web, "groups.update", "chats.upsert", "groups.upsert", "group-participants.update"
    )
    meta = await bot.group_create("Desk", [str(alice.jid), str(carol.jid)])
    gid = meta.id
    chat: HistoryChat = await next_of(seen, "chats.upsert", lambda c: c.id == gid)
    assert chat.name == "Desk" and chat.last_message_timestamp == meta.creation
    await next_of(seen, "groups.upsert", lambda g: g.id == gid)

    def update(**fields: Any) -> Callable[[GroupUpdate], bool]:
        return lambda u: u.id == gid and all(getattr(u, k) == v for k, v in fields.items())

    await bot.group_update_description(gid, "Open 9-5")
    got = await next_of(seen, "groups.update", update(desc="Open 9-5"))
    assert got.author == str(bot_phone.jid)
    await bot.group_update_description(gid, "Open 8-6")  # prev is the current id: accepted
    await next_of(seen, "groups.update", update(desc="Open 8-6"))
    assert (await alice_web.group_metadata(gid)).desc == "Open 8-6"
    await bot.group_setting_update(gid, "announcement")
    await next_of(seen, "groups.update", update(announce=True))
    await bot.group_member_add_mode(gid, "all_member_add")
    await next_of(seen, "groups.update", update(member_add_mode=True))
    await bot.group_join_approval_mode(gid, "on")
    await next_of(seen, "groups.update", update(join_approval_mode=True))
    await bot.group_toggle_ephemeral(gid, 86400)
    await next_of(seen, "groups.update", update(ephemeral_duration=86400))
    # a member who is not an admin: the description is theirs to edit until it is locked
    await alice_web.group_update_description(gid, "Open 24/7")
    await next_of(seen, "groups.update", update(desc="Open 24/7"))
    with pytest.raises(NotAuthorized, match=f"announcement of {gid}"):
        await alice_web.group_setting_update(gid, "not_announcement")
    await bot.group_setting_update(gid, "locked")
    await next_of(seen, "groups.update", update(restrict=True))
    with pytest.raises(NotAuthorized, match="description"):
        await alice_web.group_update_description(gid, "mine now")
    with pytest.raises(NotAuthorized, match="invite code"):
        await alice_web.group_invite_code(gid)
    info = await alice_web.group_metadata(gid)
    assert (info.desc, info.announce, info.restrict) == ("Open 24/7", True, True)
    assert (info.member_add_mode, info.join_approval_mode) == (True, True)
    assert info.ephemeral_duration == 86400 and info.size == 3
    await bot.group_update_description(gid, None)
    await next_of(seen, "groups.update", update(desc=""))
    assert (await bot.group_metadata(gid)).desc is None
    await bot.group_toggle_ephemeral(gid, 0)
    await next_of(seen, "groups.update", update(ephemeral_duration=0))
    with pytest.raises(ValueError, match="seconds"):
        await bot.group_toggle_ephemeral(gid, -1)
    with pytest.raises(ItemNotFound, match=r"120363000000000001@g\.us"):
        await bot.group_setting_update("120363000000000001@g.us", "locked")
    with pytest.raises(ValueError, match="not a group"):
        await bot.group_leave(str(alice.jid))
    # leaving: the others hear it as a removal by the one who left
    await bot.group_leave(gid)
    left = await next_of(seen, "group-participants.update", lambda u: u.action == "remove")
    assert left == GroupParticipantsUpdate(gid, str(bot_phone.jid), (str(bot_phone.jid),), "remove")
    with pytest.raises(Forbidden):
        await bot.group_metadata(gid)  # no longer a member
    await bot.end()
    await alice_web.end()


async def test_a_stale_description_is_refused(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone)
    meta = await bot.group_create("Desk", [str(alice.jid)])
    await bot.group_update_description(meta.id, "first")
    sim.groups[meta.id.split("@")[0]].description_id = "CHANGED-ELSEWHERE"
    # the metadata the bot reads first is fresh, so the next change still goes through
    await bot.group_update_description(meta.id, "second")
    assert (await bot.group_metadata(meta.id)).desc == "second"
    from wamd.binary import Node
    from wamd.messaging import stanzas

    stale = Node("description", {"id": "NEW", "prev": "OLD"}, [Node("body", {}, b"x")])
    with pytest.raises(Conflict):
        await bot.query(stanzas.iq("set", "w:g2", [stale], to=meta.id))
    await bot.end()


async def test_invite_links_join_requests_and_every_group(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    carol = sim.add_phone("15550003333", "Carol")
    dave = sim.add_phone("15550004444", "Dave")
    erin = sim.add_phone("15550005555", "Erin")
    bot = await link(sim, bot_phone)
    events = Inbox(bot, "group-participants.update", "group.join-request", "groups.update")
    meta = await bot.group_create("Shop", [str(carol.jid)])
    gid = meta.id
    code = await bot.group_invite_code(gid)
    assert code == await bot.group_invite_code(gid) and len(code) == 22
    # Alice, not a member, looks at the link and joins with it
    alice_web = await link(sim, alice)
    info = await alice_web.group_get_invite_info("https://chat.whatsapp.com/" + code)
    assert info.id == gid and info.subject == "Shop"
    assert await alice_web.group_accept_invite(code) == gid
    joined: GroupParticipantsUpdate = await next_of(
        events, "group-participants.update", lambda u: u.action == "add"
    )
    assert joined.participants == (str(alice.jid),) and joined.author == str(alice.jid)
    with pytest.raises(Conflict, match="invite"):
        await alice_web.group_accept_invite(code)  # already in
    with pytest.raises(NotAcceptable):
        await alice_web.group_accept_invite("A" * 22)  # never existed
    with pytest.raises(ValueError, match="not a group invite"):
        await alice_web.group_accept_invite("no spaces allowed")
    # revoking: the old code is gone, members hear the new one
    new_code = await bot.group_revoke_invite(gid)
    assert new_code != code
    await next_of(events, "groups.update", lambda u: u.invite_code == new_code)
    with pytest.raises(Gone):
        await alice_web.group_get_invite_info(code)
    # with approval on, a link files a request that an admin approves or rejects
    await bot.group_join_approval_mode(gid, "on")
    await dave.join_by_invite(new_code)
    await erin.join_by_invite(new_code)
    asked: GroupJoinRequest = await next_of(
        events, "group.join-request", lambda r: r.participant == str(erin.jid)
    )
    assert asked.action == "created" and asked.method == "invite_link"
    pending = await bot.group_request_participants_list(gid)
    assert [r["jid"] for r in pending] == [str(dave.jid), str(erin.jid)]
    assert (await bot.group_request_participants_update(gid, [str(dave.jid)], "approve")) == [
        (str(dave.jid), 0)
    ]
    added = await next_of(
        events, "group-participants.update", lambda u: str(dave.jid) in u.participants
    )
    assert added.action == "add" and added.author == str(bot_phone.jid)
    await bot.group_request_participants_update(gid, [str(erin.jid)], "reject")
    rejected = await next_of(
        events,
        "group.join-request",
        lambda r: r.participant == str(erin.jid) and r.action != "created",
    )
    assert rejected.action == "rejected"
    assert await bot.group_request_participants_list(gid) == []
    unknown = await bot.group_request_participants_update(gid, [str(erin.jid)], "approve")
    assert unknown == [(str(erin.jid), 404)]
    with pytest.raises(NotAuthorized, match="join requests"):
        await alice_web.group_request_participants_list(gid)
    # every group we are in
    other = await bot.group_create("Back office", [str(carol.jid)])
    groups = await bot.group_fetch_all_participating()
    assert set(groups) == {gid, other.id}
    assert {p.id for p in groups[gid].participants} == {
        str(bot_phone.jid),
        str(carol.jid),
        str(alice.jid),
        str(dave.jid),
    }
    assert set(await alice_web.group_fetch_all_participating()) == {gid}
    await settle(sim, bot, alice_web)
    await bot.end()
    await alice_web.end()


async def test_a_scripted_join_of_a_group_without_a_link_is_refused(sim: SimServer) -> None:
    from wamd.errors import SimError

    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550003333", "Bob")
    group: SimGroup = await alice.create_group("Quiet", [bob.jid])
    assert group.invite_code == ""
    with pytest.raises(SimError, match="406"):
        await bob.join_by_invite("B" * 22)


async def test_in_an_announcement_group_only_admins_post(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    carol = sim.add_phone("15550003333", "Carol")
    group = await alice.create_group("News", [bot_phone.jid, carol.jid])
    bot = await link(sim, bot_phone)
    inbox = Inbox(bot)
    admin_web = await link(sim, alice)
    await admin_web.group_setting_update(str(group.jid), "announcement")
    await settle(sim, bot, admin_web)
    mid = await alice.send_text(group.jid, "opening hours change on Monday")
    news = await inbox.wait_for(lambda m: m.key.id == mid)  # an admin posts
    before = len(carol.received)
    with pytest.raises(SendError, match="only admins send messages") as refused:
        await bot.send_message(str(group.jid), {"text": "me too"})
    assert refused.value.code == "403"
    # a member may still react and vote there
    reaction = await bot.send_message(str(group.jid), {"react": {"key": news.key, "text": "👍"}})
    got = await wait_received(carol, lambda m: m.id == reaction.key.id)
    assert got.message.HasField("reactionMessage")
    await settle(sim, bot)
    assert [m.id for m in carol.received[before:]] == [reaction.key.id]  # the post never came
    # promoted, the bot posts; the setting back off, everyone does
    await admin_web.group_participants_update(str(group.jid), [str(bot_phone.jid)], "promote")
    posted = await bot.send_message(str(group.jid), {"text": "now I may"})
    await wait_received(carol, lambda m: m.id == posted.key.id)
    await admin_web.group_participants_update(str(group.jid), [str(bot_phone.jid)], "demote")
    await admin_web.group_setting_update(str(group.jid), "not_announcement")
    again = await bot.send_message(str(group.jid), {"text": "open to all again"})
    await wait_received(carol, lambda m: m.id == again.key.id)
    await bot.end()
    await admin_web.end()
