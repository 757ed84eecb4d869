"""``Desk`` on real ``WASocket``s against a local ``wamd.sim`` (in one process).

Two bot companions of one account answer customers once per message; the account's
phone (a human) writing to a customer silences both bots in that chat until handed back.
The two-process, 500-message version of this runs the same Desk code in
``test_processes.py`` with scripted sockets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wamd.assign import Desk, SQLiteAssignments
from wamd.client import WASocket, make_wa_socket
from wamd.events import MessagesUpsert
from wamd.sim import SimPhone, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


async def link(sim: SimServer, phone: SimPhone) -> WASocket:
    state = AuthState(init_auth_creds(), MemoryKeyStore())
    sock = make_wa_socket(state, url=sim.url, server_root_key=sim.root_public_key)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    await phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    return sock


def replies_to(phone: SimPhone) -> list[str]:
    """The ids of the messages the bots answered on ``phone`` (quoted ids, in order)."""
    out = []
    for m in phone.received:
        if m.message.HasField("extendedTextMessage"):
            quoted = m.message.extendedTextMessage.contextInfo.stanzaID
            if quoted:
                out.append(quoted)
    return out


async def until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check() if callable(check) else check
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def _free(backend: SQLiteAssignments, chat: str) -> bool:
    return await backend.holder(chat) is None


async def test_two_bot_companions_reply_once_and_yield_to_the_phone(
    sim: SimServer, tmp_path: Path
) -> None:
    account = sim.add_phone("15550001111", "Shop")
    customers = [sim.add_phone(f"155500020{i:02d}", f"Customer {i}") for i in range(3)]
    socks = [await link(sim, account) for _ in range(2)]
    backends = [SQLiteAssignments(tmp_path / "desk.sqlite") for _ in socks]
    owner = {str(account.jid): "owner", f"{account.number}:0@s.whatsapp.net": "owner"}
    desks = []
    for sock, backend in zip(socks, backends, strict=True):
        desk = Desk(sock, backend, admins=owner, takeover_ttl=120)
        desks.append(desk)

        async def on_messages(upsert: MessagesUpsert, desk: Desk = desk) -> None:
            for msg in upsert.messages:
                await desk.reply(msg, {"text": f"re: {msg.text}"})

        sock.ev.on("messages.upsert", desk.once(on_messages))
    try:
        asked: dict[str, list[str]] = {c.number: [] for c in customers}
        for round in range(4):
            for c in customers:
                asked[c.number].append(await c.send_text(account.jid, f"q{round}"))
        for c in customers:
            await until(lambda c=c: len(replies_to(c)) >= 4)
        await asyncio.sleep(0.5)  # room for a second reply, were there one
        for c in customers:
            assert sorted(replies_to(c)) == sorted(asked[c.number])

        # a human answers customer 0 from the phone: both bots go quiet in that chat
        taken = customers[0]
        chat = str(taken.jid)
        await account.send_text(taken.jid, "Hi, the owner here")
        await until(lambda: backends[1].holder(chat))
        held = await backends[0].holder(chat)
        assert held is not None and held.handler == "owner"
        late = await taken.send_text(account.jid, "great, thanks")
        other = await customers[1].send_text(account.jid, "and me?")
        await until(lambda: other in replies_to(customers[1]))
        await asyncio.sleep(0.5)
        assert late not in replies_to(taken)
        assert await backends[0].holder(str(customers[1].jid)) is None

        # handed back: the bots answer again
        assert await desks[1].hand_back(chat)
        again = await taken.send_text(account.jid, "one more question")
        await until(lambda: again in replies_to(taken))
        await asyncio.sleep(0.3)
        assert replies_to(taken).count(again) == 1

        # a short takeover runs out by itself: then the bots answer again
        for desk in desks:
            desk.takeover_ttl = 2.0
        await account.send_text(taken.jid, "owner again, briefly")
        await until(lambda: backends[0].holder(chat))
        await until(lambda: _free(backends[1], chat))
        after = await taken.send_text(account.jid, "hello after the break")
        await until(lambda: after in replies_to(taken))
    finally:
        for sock in socks:
            await sock.end()
        for backend in backends:
            await backend.close()
