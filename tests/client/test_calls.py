"""Calls against a real wamd.sim: an offer arrives as a ``call`` event, ``reject_call``
declines it with whatsmeow's stanza, and ``reject_calls=True`` does it for every call."""

from __future__ import annotations

import pytest

from tests.client.conftest import record_sends
from tests.client.stores import fresh_state
from wamd.errors import ConnectionClosed
from wamd.messaging.types import CallEvent
from wamd.sim import SimServer
from wamd.testing import Inbox, link, settle, wait_received


async def test_a_call_is_reported_and_rejected(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    calls = Inbox(bot, "call")
    call = await alice.call(bot_phone.jid, video=True)
    offer: CallEvent = await calls.next("call")
    assert offer.call_id == call.id and offer.status == "offer" and offer.is_video
    assert offer.creator == str(alice.jid)
    sent = record_sends(bot)
    await bot.reject_call(offer)
    (stanza,) = sent.of("call")
    assert stanza.attrs["from"] == str(bot_phone.jid) and stanza.attrs["to"] == str(alice.jid)
    (reject,) = stanza.get_children()
    assert reject.tag == "reject"
    assert reject.attrs == {"call-id": call.id, "call-creator": str(alice.jid), "count": "0"}
    await settle(sim, bot)
    assert call.status == "rejected"
    assert call.rejected_by == [str(bot_phone.companions[1].jid)]
    await bot.end()


async def test_reject_call_refuses_what_is_not_a_call(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    bot = await link(sim, bot_phone, await fresh_state())
    with pytest.raises(ValueError, match="call id"):
        await bot.reject_call("", "15550002222@s.whatsapp.net")
    with pytest.raises(ValueError, match="caller's jid"):
        await bot.reject_call("CALL1")
    with pytest.raises(ValueError, match="not a caller jid"):
        await bot.reject_call("CALL1", "not@a@jid")
    with pytest.raises(ValueError, match="CallEvent or a call id"):
        await bot.reject_call(42)  # type: ignore[arg-type]
    await bot.end()
    with pytest.raises(ConnectionClosed):
        await bot.reject_call("CALL1", "15550002222@s.whatsapp.net")


async def test_reject_calls_declines_every_call_and_says_why(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    text = "We cannot take calls here: please write to us."
    bot = await link(
        sim, bot_phone, await fresh_state(), reject_calls=True, call_reject_message=text
    )
    call = await alice.call(bot_phone)
    answer = await wait_received(alice, lambda m: m.text == text)
    assert answer.sender.user == bot_phone.number
    await settle(sim, bot)
    assert call.status == "rejected"
    # the caller hangs up on a call that is over: nothing more is rejected or sent
    before = len(alice.received)
    await alice.hang_up(call)
    await settle(sim, bot)
    assert alice.received[before:] == []
    await bot.end()


async def test_without_the_option_calls_only_ring(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    calls = Inbox(bot, "call")
    sent = record_sends(bot)
    call = await alice.call(bot_phone)
    await calls.next("call")
    await alice.hang_up(call)
    ended: CallEvent = await calls.next("call")
    assert ended.status == "terminate" and ended.call_id == call.id
    await settle(sim, bot)
    assert sent.of("call") == [] and call.status == "ended"
    await bot.end()
