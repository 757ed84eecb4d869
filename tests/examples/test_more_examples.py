"""The other examples against a sim: pairing by code, the group bot, the support bot."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.proc import ROOT, Proc
from tests.client.conftest import link
from tests.examples.load import load_example
from wamd.assign import MemoryAssignments
from wamd.client import WASocket
from wamd.errors import SimError
from wamd.proto import e2e_pb2
from wamd.sim import SimPhone, SimServer
from wamd.sim.phone import SimMessage
from wamd.testing import settle


async def next_matching(
    phone: SimPhone, predicate: Callable[[SimMessage], bool], timeout: float = 10
) -> SimMessage:
    async with asyncio.timeout(timeout):
        while True:
            got = await phone.next_message(timeout=timeout)
            if predicate(got):
                return got


def reply_to(message_id: str) -> Callable[[SimMessage], bool]:
    return lambda m: m.message.extendedTextMessage.contextInfo.stanzaID == message_id


async def quiet(sim: SimServer, sock: WASocket, phone: SimPhone) -> int:
    """Once nothing is in flight: how many messages ``phone`` has (for ``nothing_more``)."""
    await settle(sim, sock)
    return len(phone.received)


async def nothing_more(sim: SimServer, sock: WASocket, phone: SimPhone, before: int) -> None:
    """``phone`` got nothing since it had ``before`` messages, with nothing in flight."""
    await settle(sim, sock)
    extra = [m.text for m in phone.received[before:]]
    assert not extra, extra


async def test_pair_with_code_example(tmp_path: Path) -> None:
    async with SimServer() as sim:
        phone = sim.add_phone("15550001111", "Bot")
        argv = (sys.executable, str(ROOT / "examples" / "pair_with_code.py"), "+15550001111")
        key = sim.root_public_key.hex()
        extra = ("--auth-dir", str(tmp_path / "auth"), "--sim-url", sim.url, "--sim-root-key", key)
        async with Proc(*argv, *extra) as run:
            code = (await run.expect("pairing code: ")).split(": ", 1)[1]
            assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code)
            with pytest.raises(SimError, match="pairing code rejected"):  # mistyped
                await phone.link_with_code(("2" if code[0] != "2" else "3") + code[1:])
            await run.expect("the phone rejected the code")
            code = (await run.expect("a new pairing code: ")).split(": ", 1)[1]
            await phone.link_with_code(code)
            await run.expect("paired as 15550001111:1@s.whatsapp.net")
            assert await run.wait() == 0, run.output
        async with Proc(*argv, *extra) as again:
            assert await again.wait() == 0
        assert "is already paired as 15550001111:1@s.whatsapp.net" in again.output


async def test_group_bot_commands_welcome_and_hello() -> None:
    group_bot = load_example("group_bot")
    async with SimServer() as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        bob = sim.add_phone("15550003333", "Bob")
        carol = sim.add_phone("15550004444", "Carol")
        sock = await link(sim, bot_phone)
        group_bot.setup(sock)
        in_group: Callable[[SimMessage], bool] = lambda m: m.chat == group.jid  # noqa: E731

        group = await alice.create_group("Book club", [bot_phone.jid, bob.jid])
        hello = await next_matching(alice, in_group)
        assert hello.text is not None and hello.text.startswith("Hello Book club!")

        ping = await alice.send_text(group.jid, "!ping")
        assert (await next_matching(alice, reply_to(ping))).text == "pong"

        ask = await alice.send_text(group.jid, "!members")
        members = await next_matching(alice, reply_to(ask))
        assert members.text is not None
        lines = members.text.splitlines()
        assert lines[0] == "Book club: 3 members"
        assert "@15550002222 (superadmin)" in lines and "@15550003333" in lines
        mentioned = set(members.message.extendedTextMessage.contextInfo.mentionedJID)
        assert "15550003333@s.whatsapp.net" in mentioned and len(mentioned) == 3

        await alice.add_to_group(group, [carol.jid])
        welcome = await next_matching(carol, in_group)
        assert welcome.text == "Welcome, @15550004444!"
        ctx = welcome.message.extendedTextMessage.contextInfo
        assert list(ctx.mentionedJID) == ["15550004444@s.whatsapp.net"]

        # the bot is no admin of a locked group (only admins edit its info): the sim
        # refuses the rename and the bot says so
        group.locked = True
        rename = await bob.send_text(group.jid, "!subject New name")
        refused = await next_matching(bob, reply_to(rename))
        assert refused.text is not None and refused.text.startswith("That did not work")

        # not commands, not groups: ignored
        before = await quiet(sim, sock, alice)
        await alice.send_text(group.jid, "just chatting")
        await alice.send_text(bot_phone.jid, "!ping")
        await nothing_more(sim, sock, alice, before)
        await sock.end()


async def test_support_bot_menu_assignment_takeover_and_hand_back() -> None:
    support_bot = load_example("support_bot")
    async with SimServer() as sim:
        bot_phone = sim.add_phone("15550001111", "Shop")
        alice = sim.add_phone("15550002222", "Alice")
        sock = await link(sim, bot_phone)
        assignments = MemoryAssignments()
        desk = support_bot.setup(sock, assignments, agents=["Dana", "Sam"])

        first = await alice.send_text(bot_phone.jid, "hello")
        menu = await next_matching(alice, reply_to(first))
        assert menu.text == support_bot.MENU
        hours = await alice.send_text(bot_phone.jid, "1")
        assert (await next_matching(alice, reply_to(hours))).text == support_bot.ANSWERS["1"]

        person = await alice.send_text(bot_phone.jid, "0")
        told = await next_matching(alice, reply_to(person))
        assert told.text in (
            "Dana will answer you here shortly.",
            "Sam will answer you here shortly.",
        )
        chat = "15550002222@s.whatsapp.net"
        held = await assignments.holder(chat)
        assert held is not None and held.handler in ("Dana", "Sam")
        before = await quiet(sim, sock, alice)
        await alice.send_text(bot_phone.jid, "are you there?")
        await nothing_more(sim, sock, alice, before)  # the agent holds the chat

        # the agent gives the chat back from the phone, in the account's own chat: Alice
        # sees nothing of it; the bot answers her again
        before = await quiet(sim, sock, alice)
        await bot_phone.send_text(bot_phone.jid, "#bot +15550002222")
        await settle(sim, sock)
        assert await assignments.holder(chat) is None
        await nothing_more(sim, sock, alice, before)  # no command, no delete, nothing
        hours = await alice.send_text(bot_phone.jid, "1")
        assert (await next_matching(alice, reply_to(hours))).text == support_bot.ANSWERS["1"]

        # "#bot" in her chat works too; it reached her, so the bot deletes it for everyone
        person = await alice.send_text(bot_phone.jid, "0")
        await next_matching(alice, reply_to(person))
        assert await assignments.holder(chat) is not None
        hand_back = await bot_phone.send_text(alice.jid, "#bot")
        await next_matching(alice, lambda m: m.text == "#bot")
        # ...and the bot deletes the command for everyone: gone from Alice's chat
        revoke = await next_matching(alice, lambda m: m.message.HasField("protocolMessage"))
        protocol = revoke.message.protocolMessage
        assert protocol.type == e2e_pb2.ProtocolMessage.REVOKE
        assert protocol.key.ID == hand_back and protocol.key.fromMe
        await sock.idle()
        assert await assignments.holder(chat) is None
        order = await alice.send_text(bot_phone.jid, "2")
        assert (await next_matching(alice, reply_to(order))).text == support_bot.ANSWERS["2"]

        # an agent simply writes from the phone: automatic takeover, the bot stays quiet
        await bot_phone.send_text(alice.jid, "Hi Alice, Dana here. How can I help?")
        await next_matching(alice, lambda m: m.text is not None and "Dana here" in m.text)
        await sock.idle()
        taken = await assignments.holder(chat)
        assert taken is not None and taken.handler != "bot"
        before = await quiet(sim, sock, alice)
        await alice.send_text(bot_phone.jid, "1")
        await nothing_more(sim, sock, alice, before)
        desk.close()
        await sock.end()
