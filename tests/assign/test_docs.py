"""The program in docs/assign.md runs as it is written there (its server swapped for a sim)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from wamd.client import WASocket
from wamd.events import ConnectionUpdate
from wamd.testing import sim_server, socket_for, wait_received

DOC = Path(__file__).resolve().parents[2] / "docs" / "assign.md"


def program() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)
    assert blocks, "docs/assign.md has no python block"
    return str(blocks[0])


async def test_the_documented_desk_bot_answers_once(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "docs_assign_example"}  # not __main__
    exec(compile(program(), str(DOC), "exec"), namespace)
    async with sim_server() as sim:
        bot = sim.add_phone("15550001111", "Shop")
        alice = sim.add_phone("15550002222", "Alice")
        made: list[WASocket] = []
        scans: list[asyncio.Future[Any]] = []
        opened = asyncio.Event()

        def make_wa_socket(state: Any, **options: Any) -> WASocket:
            assert options == {"print_qr_in_terminal": True}  # as the page calls it
            sock = socket_for(sim, state)  # the one change: the sim instead of WhatsApp

            def scan(update: ConnectionUpdate) -> None:
                if update.qr is not None and len(made) == 1:
                    scans.append(asyncio.ensure_future(bot.scan_qr(update.qr)))

            sock.ev.on("connection.update", scan)
            sock.ev.on(
                "connection.update", lambda u: opened.set() if u.connection == "open" else None
            )
            made.append(sock)
            return sock

        namespace["make_wa_socket"] = make_wa_socket
        here = Path.cwd()
        os.chdir(tmp_path)  # the program's files: bot-1.sqlite, desk.sqlite
        try:
            running = asyncio.ensure_future(namespace["main"]())
            await asyncio.wait_for(opened.wait(), 20)
            sent = await alice.send_text(bot.jid, "hello desk")
            reply = await wait_received(
                alice, lambda m: m.text is not None and m.text.startswith("You said")
            )
            assert reply.text == "You said: hello desk"
            assert reply.message.extendedTextMessage.contextInfo.stanzaID == sent  # quoting
            await made[0].end()
            await asyncio.wait_for(running, 10)
        finally:
            os.chdir(here)
    assert (tmp_path / "desk.sqlite").exists() and (tmp_path / "bot-1.sqlite").exists()
