"""Messaging through a real wamd.sim over 127.0.0.1: 1:1, own devices, groups, receipts."""

from __future__ import annotations

import asyncio

from wamd.client import WASocket
from wamd.sim import SimServer

from tests.client.conftest import Inbox, link


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
