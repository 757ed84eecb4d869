"""App state between Baileys and wamd as two companions of one account, through the sim.

Baileys (from npm, unmodified) archives a chat with its own app-state code (its
encodeSyncdPatch, MACs and LTHash): the sim checks the patch's MACs, stores it and tells
the other devices; wamd fetches, verifies and emits ``chats.update``. Then wamd archives
another chat and Baileys, told by ``server_sync``, fetches, verifies with its own code
and emits its ``chats.update``. Baileys downloads blobs only from WhatsApp's hosts, so
the sim serves patch histories instead of snapshot blobs here (``snapshots = False``).
"""

from __future__ import annotations

from pathlib import Path

from tests.client.conftest import link
from tests.interop.conftest import BaileysBot
from wamd.sim import SimServer
from wamd.testing import Inbox, settle


async def test_archive_both_ways_between_baileys_and_wamd(
    baileys: Path, sim: SimServer, tmp_path: Path
) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bob = sim.add_phone("15550003333", "Bob")
    phone.app_state.snapshots = False
    bot = await BaileysBot.start(baileys, sim, tmp_path / "auth")
    sock = None
    try:
        await bot.pair(phone)
        sock = await link(sim, phone)  # the second companion of the same account
        await settle(sim, sock)
        inbox = Inbox(sock, "chats.update")

        await bot.command("ARCHIVE", str(alice.jid), "true", answer="MODIFIED")
        update = await inbox.wait_for(lambda u: u.id == str(alice.jid), "chats.update")
        assert update.archived is True
        stored = phone.chat_setting(("archive", str(alice.jid)))
        assert stored is not None and stored.archiveChatAction.archived

        await sock.chat_modify(str(bob.jid), archive=True)
        while True:  # Baileys may also report its own earlier change: skip to Bob's
            line = await bot.expect("ARCHIVED")
            if line[1] == str(bob.jid):
                break
        assert line[2] == "true"
        assert phone.app_state.collections["regular_low"].version == 2
    finally:
        if sock is not None:
            await sock.end()
        await bot.stop()
