"""Baileys (TypeScript, unmodified, from npm) against wamd.sim, and talking to wamd.

What this shows: the sim is a server an independent client links to and works with
(Noise with dictionary v2, QR pairing and its ADV signatures, the 515 restart, login,
prekeys, usync, app-state and history hand-off, messages, receipts, groups), and wamd's
client speaks the same Signal and stanza forms as Baileys' libsignal, both ways.

The tests give Baileys one send at a time: two of its sends to one chat at once (an echo
still going out while the next command comes in) can encrypt from the same session state,
and the second reuses a message counter — its receivers, wamd and the sim's phones alike,
then drop it as a duplicate, as whatsmeow does. wamd serialises the Signal state per
device, so its own sends cannot race that way.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.client.conftest import Inbox
from tests.interop.conftest import BaileysBot, baileys_and_wamd
from wamd.sim import SimServer

ACCOUNT = "15550001111"  # the account Baileys is linked to


async def test_baileys_links_to_a_sim_phone_and_echoes_a_contact(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    phone = sim.add_phone(ACCOUNT, "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await BaileysBot.start(baileys, sim, tmp_path / "auth")
    try:
        assert await bot.pair(phone) == f"{ACCOUNT}:1@s.whatsapp.net"
        assert phone.companions[1].identity  # the sim took Baileys' pair-device-sign
        mid = await alice.send_text(phone.jid, "hello baileys")
        got = await bot.expect("GOT")
        assert got[1:3] == [str(alice.jid), mid] and json.loads(got[3]) == "hello baileys"
        echo = await alice.next_message(timeout=15)
        while echo.text is None or not echo.text.startswith("echo"):
            echo = await alice.next_message(timeout=15)
        assert echo.text == "echo: hello baileys"
        assert echo.message.extendedTextMessage.contextInfo.stanzaID == mid  # quoted
        await alice.wait_receipt(mid)  # Baileys' delivery receipt reached Alice
        await bot.expect("ECHOED")
        sent = await bot.send(str(alice.jid), "from baileys")
        got_sent = await alice.next_message(timeout=15)
        while got_sent.id != sent:
            got_sent = await alice.next_message(timeout=15)
        assert got_sent.text == "from baileys"
        # the account's phone has Baileys' messages as its own (device-sent copies)
        assert any(m.id == sent and m.from_me for m in phone.received)
    finally:
        await bot.stop()


async def test_wamd_and_baileys_exchange_messages_both_ways(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock = pair.bot, pair.sock
        baileys_phone, wamd_phone = pair.baileys_phone, pair.wamd_phone
        inbox = Inbox(sock)
        sent = await sock.send_message(baileys_phone.jid, {"text": "hello from wamd"})
        got = await bot.expect("GOT")  # Baileys decrypted wamd's pkmsg
        assert got[1:3] == [str(wamd_phone.jid), sent.key.id]
        assert json.loads(got[3]) == "hello from wamd"
        echo = await inbox.wait(lambda m: m.text == "echo: hello from wamd", timeout=15)
        assert echo.key.remote_jid == str(baileys_phone.jid) and not echo.key.from_me
        assert echo.sender is not None and echo.sender.startswith(f"{ACCOUNT}:1@")
        # and a few more, so that both ratchets turn
        # (one at a time: Baileys' own sends to one chat race each other, see the module)
        await bot.expect("ECHOED")
        for n in range(3):
            await sock.send_message(baileys_phone.jid, {"text": f"again {n}"})
            await inbox.wait(lambda m, n=n: m.text == f"echo: again {n}", timeout=15)
            await bot.expect("ECHOED")
        started = await bot.send(str(wamd_phone.jid), "baileys starts")
        first = await inbox.wait(lambda m: m.key.id == started, timeout=15)
        assert first.text == "baileys starts"


async def test_a_group_with_wamd_and_baileys_uses_sender_keys_both_ways(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    alice = sim.add_phone("15550002222", "Alice")
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock = pair.bot, pair.sock
        baileys_phone, wamd_phone = pair.baileys_phone, pair.wamd_phone
        inbox = Inbox(sock)
        group = await alice.create_group("Interop", [baileys_phone.jid, wamd_phone.jid])
        gid = f"{group.id}@g.us"
        sent = await sock.send_message(gid, {"text": "hello group"})
        got = await bot.expect("GOT")  # Baileys took wamd's sender key and the skmsg
        assert got[1:3] == [gid, sent.key.id] and json.loads(got[3]) == "hello group"
        echo = await inbox.wait(lambda m: m.text == "echo: hello group", timeout=15)
        assert echo.key.remote_jid == gid  # and wamd took Baileys' sender key
        assert echo.key.participant == str(baileys_phone.jid)
        await sim.settle()  # Alice's phone may still be on its copy of the echo
        seen_by_alice = {m.text for m in alice.received if str(m.chat) == gid}
        assert {"hello group", "echo: hello group"} <= seen_by_alice


async def test_baileys_links_by_pairing_code(baileys: Path, sim: SimServer, tmp_path: Path) -> None:
    phone = sim.add_phone(ACCOUNT, "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await BaileysBot.start(baileys, sim, tmp_path / "auth", pair_phone=ACCOUNT)
    try:
        assert await bot.pair_by_code(phone) == f"{ACCOUNT}:1@s.whatsapp.net"
        mid = await alice.send_text(phone.jid, "linked by code")
        got = await bot.expect("GOT")
        assert got[2] == mid and json.loads(got[3]) == "linked by code"
    finally:
        await bot.stop()


async def test_reactions_edits_and_deletes_from_baileys_reach_wamd(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock = pair.bot, pair.sock
        baileys_phone, wamd_phone = pair.baileys_phone, pair.wamd_phone
        inbox = Inbox(sock)
        reactions: list[object] = []
        updates: list[object] = []
        sock.ev.on("messages.reaction", reactions.append)
        sock.ev.on("messages.update", lambda us: updates.extend(us))
        ours = await sock.send_message(baileys_phone.jid, {"text": "react to me"})
        await bot.expect("GOT")
        await bot.expect("ECHOED")  # Baileys is done with its echo before the next command
        await inbox.wait(lambda m: m.text == "echo: react to me", timeout=15)
        chat = str(wamd_phone.jid)
        await bot.command("REACT", chat, ours.key.id, "👍")
        await inbox.wait(lambda m: m.content is not None and m.content.HasField("reactionMessage"))
        (reaction,) = reactions
        assert reaction.text == "👍"  # type: ignore[attr-defined]
        assert reaction.key == ours.key  # type: ignore[attr-defined]  # as wamd knows its message
        theirs = await bot.send(chat, "typo")
        typo = await inbox.wait(lambda m: m.key.id == theirs)
        await bot.command("EDIT", chat, theirs, "fixed")
        await inbox.wait(lambda m: m.edit == "1", timeout=15)
        edited = [u for u in updates if getattr(u, "status", None) == "edited"]
        assert edited and edited[0].key == typo.key  # type: ignore[attr-defined]
        new = edited[0].message  # type: ignore[attr-defined]
        assert (new.conversation or new.extendedTextMessage.text) == "fixed"
        await bot.command("DELETE", chat, theirs)
        await inbox.wait(lambda m: m.edit == "7", timeout=15)
        revoked = [u for u in updates if getattr(u, "status", None) == "revoked"]
        assert revoked and revoked[0].key == typo.key  # type: ignore[attr-defined]


async def test_a_group_baileys_creates_works_for_wamd_until_it_removes_wamd(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    async with baileys_and_wamd(baileys, sim, tmp_path / "auth") as pair:
        bot, sock, wamd_phone = pair.bot, pair.sock, pair.wamd_phone
        inbox = Inbox(sock)
        created = asyncio.ensure_future(sock.ev.wait_for("groups.upsert", timeout=15))
        gid, members = (
            await bot.command("CREATE", "Made-by-Baileys", str(wamd_phone.jid), answer="GROUP")
        ).split(" ")
        assert gid.endswith("@g.us") and members == "2"
        (metadata,) = await created
        assert metadata.id == gid and metadata.subject == "Made-by-Baileys"
        assert str(wamd_phone.jid) in {p.id for p in metadata.participants}
        sent = await sock.send_message(gid, {"text": "hi creator"})
        got = await bot.expect("GOT")
        assert got[1:3] == [gid, sent.key.id]
        await inbox.wait(lambda m: m.text == "echo: hi creator", timeout=15)
        await bot.expect("ECHOED")
        removed = asyncio.ensure_future(
            sock.ev.wait_for(
                "group-participants.update", lambda u: u.action == "remove", timeout=15
            )
        )
        assert await bot.command("REMOVE", gid, str(wamd_phone.jid), answer="UPDATED") == "200"
        update = await removed
        assert update.id == gid and update.participants == (str(wamd_phone.jid),)
        assert update.author == str(pair.baileys_phone.jid)
