"""The socket's lifecycle: end() in every phase, cancellation, async with, shutdown order.

Every wait is bounded (``BOUND`` seconds) so that a socket that hangs fails the test
instead of the suite; the bound is far above what loopback needs and far below the
timeouts a hanging socket would wait out (20 s to connect, 60 s per QR ref).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.client.conftest import Inbox, link, record_sends, socket_for
from tests.client.stores import close_state
from wamd.binary import Node
from wamd.client import WASocket, make_wa_socket
from wamd.client.lifecycle import InvalidTransition, Lifecycle, Phase
from wamd.errors import DisconnectReason
from wamd.events import ConnectionUpdate, MessagesUpsert
from wamd.sim import SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.creds import Me
from wamd.store.sqlite import use_sqlite_auth_state

BOUND = 5.0


def fresh() -> AuthState:
    return AuthState(init_auth_creds(), MemoryKeyStore())


def closes(updates: list[ConnectionUpdate]) -> list[int]:
    return [u.last_disconnect.status_code for u in updates if u.last_disconnect]


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server on loopback that accepts and never answers (a handshake that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"ws://127.0.0.1:{port}/ws/chat"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


# ---------------------------------------------------------------------- the table


def test_the_phase_table_refuses_what_does_not_follow() -> None:
    lc = Lifecycle(logging.getLogger("test"))
    assert lc.phase is Phase.IDLE and not lc.running
    with pytest.raises(InvalidTransition, match="idle to open"):
        lc.enter(Phase.OPEN)
    for phase in (Phase.CONNECTING, Phase.LOGGING_IN, Phase.OPEN, Phase.CLOSING):
        lc.enter(phase)
        assert lc.running
    with pytest.raises(InvalidTransition, match="closing to open"):
        lc.enter(Phase.OPEN)
    lc.enter(Phase.CONNECTING)  # a 515 restart
    lc.enter(Phase.PAIRING)
    with pytest.raises(InvalidTransition):
        lc.enter(Phase.OPEN)  # pairing connections never open
    lc.enter(Phase.CLOSING)
    lc.enter(Phase.CLOSED)
    assert not lc.running


# ---------------------------------------------------------------------- end() in each phase


async def test_end_before_connect_does_nothing_and_closes() -> None:
    sock = make_wa_socket(fresh(), url="ws://127.0.0.1:9/ws")
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    await asyncio.wait_for(sock.end(), BOUND)
    assert sock.phase is Phase.CLOSED and updates == []


async def test_end_while_connecting_returns_at_once(silent_server: str) -> None:
    for state in (fresh(), None):  # unpaired, and paired (a fake me: never logs in here)
        auth = state or fresh()
        if state is None:
            auth.creds.update({"me": Me("15550001111:2@s.whatsapp.net", None, None)})
        sock = make_wa_socket(auth, url=silent_server, connect_timeout=60)
        updates: list[ConnectionUpdate] = []
        sock.ev.on("connection.update", updates.append)
        await sock.connect()
        await asyncio.sleep(0)  # the connection task is running
        assert sock.phase is Phase.CONNECTING
        await asyncio.wait_for(sock.end(), BOUND)
        assert sock.phase is Phase.CLOSED
        assert [u.connection for u in updates] == ["connecting", "close"]
        assert closes(updates) == [DisconnectReason.CONNECTION_CLOSED]


async def test_end_while_pairing_stops_the_qr_codes(sim: SimServer) -> None:
    sock = socket_for(sim, fresh(), qr_timeout=(60.0, 60.0))
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    await sock.connect()
    await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=BOUND)
    assert sock.phase is Phase.PAIRING
    await asyncio.wait_for(sock.end(), BOUND)
    assert sock.phase is Phase.CLOSED
    assert closes(updates) == [DisconnectReason.CONNECTION_CLOSED]
    qrs = len([u for u in updates if u.qr])
    await sim.settle()
    assert len([u for u in updates if u.qr]) == qrs == 1


async def test_end_while_logging_in_cancels_the_setup_and_never_opens(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    state = fresh()
    sock = await link(sim, phone, state)
    await sock.end()
    again = socket_for(sim, state)
    entered = asyncio.Event()
    cancelled: list[bool] = []

    async def stuck_upkeep() -> int:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return 0

    again.prekeys.upkeep = stuck_upkeep  # type: ignore[method-assign]
    updates: list[ConnectionUpdate] = []
    again.ev.on("connection.update", updates.append)
    await again.connect()
    await asyncio.wait_for(entered.wait(), BOUND)
    assert again.phase is Phase.LOGGING_IN
    await asyncio.wait_for(again.end(), BOUND)
    assert cancelled == [True] and again.phase is Phase.CLOSED
    assert "open" not in [u.connection for u in updates]
    assert closes(updates) == [DisconnectReason.CONNECTION_CLOSED]


async def test_end_when_open_and_again_after_the_close(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, phone)
    assert sock.phase is Phase.OPEN
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    await asyncio.wait_for(sock.end(), BOUND)
    await asyncio.wait_for(sock.end(), BOUND)  # a second end() is harmless
    assert sock.phase is Phase.CLOSED
    assert closes(updates) == [DisconnectReason.CONNECTION_CLOSED]


# ---------------------------------------------------------------------- cancellation, async with


async def test_cancelling_end_propagates_to_its_caller(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    state = fresh()
    await (await link(sim, phone, state)).end()
    sock = socket_for(sim, state)
    entered, stopping, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def stubborn_upkeep() -> int:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            stopping.set()
            await release.wait()  # slow to stop: end() is still waiting for it
            raise
        return 0

    sock.prekeys.upkeep = stubborn_upkeep  # type: ignore[method-assign]
    await sock.connect()
    await asyncio.wait_for(entered.wait(), BOUND)
    ending = asyncio.ensure_future(sock.end())
    await asyncio.wait_for(stopping.wait(), BOUND)  # end() has cancelled it
    for _ in range(200):  # turns of the loop (no clock) for an end() that would not wait
        await asyncio.sleep(0)
    assert not ending.done()
    ending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ending
    assert ending.cancelled()
    release.set()
    await asyncio.wait_for(sock.wait_closed(), BOUND)  # the shutdown itself went on
    assert sock.phase is Phase.CLOSED


async def test_async_with_whose_body_raises_at_once(sim: SimServer, silent_server: str) -> None:
    for url in (sim.url, silent_server):
        sock = make_wa_socket(fresh(), url=url, server_root_key=sim.root_public_key)
        with pytest.raises(RuntimeError, match="the body failed"):
            async with asyncio.timeout(BOUND):
                async with sock:
                    raise RuntimeError("the body failed")
        assert sock.phase is Phase.CLOSED


async def test_async_with_a_paired_socket_whose_body_raises(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    state = fresh()
    await (await link(sim, phone, state)).end()
    with pytest.raises(KeyError):
        async with asyncio.timeout(BOUND):
            async with socket_for(sim, state) as sock:
                await sock.ev.wait_for(
                    "connection.update", lambda u: u.connection == "open", timeout=BOUND
                )
                raise KeyError("boom")
    assert sock.phase is Phase.CLOSED


# ---------------------------------------------------------------------- what runs after the end


async def test_a_success_on_a_registration_connection_starts_nothing(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    sock = socket_for(sim, fresh())
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=BOUND)
    attempt = sock.core.attempt
    assert attempt is not None and attempt.registering
    sent = record_sends(sock)
    await sock._dispatch(attempt, Node("success", {"t": "1", "lid": "90001@lid"}))
    await asyncio.sleep(0)
    assert [t.get_coro().__name__ for t in attempt.tasks] == ["_show_qrs"]  # type: ignore[union-attr]
    assert sent == [] and sock.phase is Phase.PAIRING
    await phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=BOUND * 4)
    await sim.settle()
    assert [u.connection for u in updates].count("open") == 1
    assert sock.auth.creds.me is not None and sock.auth.creds.me.lid != "90001@lid"
    await sock.end()


async def test_the_store_can_be_closed_once_end_returns(
    sim: SimServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """end() while a handler still runs: nothing touches the store after it returns, and
    the unconfirmed message is still saved for its redelivery."""
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state, save_creds = await use_sqlite_auth_state(tmp_path / "auth.db")
    sock = await link(sim, phone, state)
    await save_creds()  # the paired creds, for the next start
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_handler(update: MessagesUpsert) -> None:
        started.set()
        await release.wait()

    sock.ev.on("messages.upsert", slow_handler)
    await alice.send_text(phone.jid, "are you there?")
    await asyncio.wait_for(started.wait(), BOUND)
    caplog.set_level(logging.WARNING, logger="wamd")
    await asyncio.wait_for(sock.end(), BOUND)
    await close_state(state)
    release.set()
    await sock.ev.drain()  # the released handler returns into a closed socket
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == []
    state, _ = await use_sqlite_auth_state(tmp_path / "auth.db")
    assert state.creds.me is not None
    try:
        sock = socket_for(sim, state)
        inbox = Inbox(sock)
        await sock.connect()
        got = await inbox.wait(lambda m: m.text == "are you there?", timeout=BOUND * 4)
        assert got.key.remote_jid == "15550002222@s.whatsapp.net"
        await sock.end()
    finally:
        await close_state(state)


async def test_a_closed_connections_work_does_not_run_next_to_the_next(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state = fresh()
    sock: WASocket = await link(sim, phone, state)
    first = sock.core.attempt
    assert first is not None
    gate = asyncio.Event()

    real = sock.receiver.on_message

    async def blocked(node: Node) -> None:
        await gate.wait()
        await real(node)

    sock.receiver.on_message = blocked  # type: ignore[method-assign]
    for n in range(3):
        await alice.send_text(phone.jid, f"queued {n}")
    async with asyncio.timeout(BOUND):
        while not first.workers.tasks():  # noqa: ASYNC110  (work is queued on this connection)
            await asyncio.sleep(0.01)
    await sock.end()
    assert first.ended and not first.workers.tasks() and not first.tasks
