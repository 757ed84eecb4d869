"""The client against a real wamd.sim over 127.0.0.1: pairing, login, disconnect reasons."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from wamd.client import WASocket, make_wa_socket
from wamd.errors import DisconnectReason
from wamd.events import ConnectionUpdate
from wamd.sim import SimError, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


def new_state() -> AuthState:
    return AuthState(init_auth_creds(), MemoryKeyStore())


class Recorder:
    """Collects connection.update events in order."""

    def __init__(self, sock: WASocket) -> None:
        self.updates: list[ConnectionUpdate] = []
        sock.ev.on("connection.update", self.updates.append)

    @property
    def states(self) -> list[str]:
        return [u.connection for u in self.updates if u.connection]

    def closes(self) -> list[int]:
        return [u.last_disconnect.status_code for u in self.updates if u.last_disconnect]


def socket_for(sim: SimServer, state: AuthState, **options: object) -> WASocket:
    return make_wa_socket(state, url=sim.url, server_root_key=sim.root_public_key, **options)  # type: ignore[arg-type]


async def pair(
    sim: SimServer, phone_number: str = "15550001111"
) -> tuple[WASocket, Recorder, AuthState]:
    phone = sim.phones.get(phone_number) or sim.add_phone(phone_number, "Alice")
    state = new_state()
    sock = socket_for(sim, state)
    rec = Recorder(sock)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    await phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    return sock, rec, state


async def test_qr_pairing_then_515_restart_and_login(sim: SimServer) -> None:
    saved: list[dict[str, object]] = []
    phone = sim.add_phone("15550001111", "Alice")
    state = new_state()
    printed: list[str] = []
    sock = socket_for(sim, state, print_qr_in_terminal=True, qr_output=printed.append)
    sock.ev.on("creds.update", saved.append)
    rec = Recorder(sock)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    assert update.qr.startswith("https://wa.me/settings/linked_devices#2@")
    assert (printed and "█" in printed[0]) or "▀" in printed[0] or "▄" in printed[0]
    device = await phone.scan_qr(update.qr)
    opened = await sock.ev.wait_for(
        "connection.update", lambda u: u.connection == "open", timeout=20
    )
    assert opened.is_new_login is True
    assert rec.states == ["connecting", "close", "connecting", "open"]
    assert rec.closes() == [DisconnectReason.RESTART_REQUIRED]
    assert (
        state.creds.me is not None
        and state.creds.me.id == str(device.jid) == "15550001111:1@s.whatsapp.net"
    )
    assert state.creds.me.lid == str(device.lid) and state.creds.account is not None
    assert any("me" in change for change in saved)
    assert len(device.prekeys) == 812 and device.identity == state.creds.signed_identity_key.public
    await sock.end()
    assert rec.states[-1] == "close"


async def test_login_again_with_the_same_keys(sim: SimServer) -> None:
    sock, _, state = await pair(sim)
    await sock.end()
    again = socket_for(sim, state)
    rec = Recorder(again)
    await again.connect()
    await again.ev.wait_for(
        "connection.update", lambda u: u.received_pending_notifications, timeout=10
    )
    assert rec.states == ["connecting", "open"]
    opened = next(u for u in rec.updates if u.connection == "open")
    assert opened.is_new_login is False
    # the backlog marker comes after "open", as in Baileys
    assert rec.updates.index(opened) < next(
        i for i, u in enumerate(rec.updates) if u.received_pending_notifications
    )
    await again.end()


async def test_second_connection_replaces_the_first(sim: SimServer) -> None:
    first, _, state = await pair(sim)
    second = socket_for(sim, state)
    await second.connect()
    await second.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=10)
    last = await first.wait_closed()
    assert last is not None and last.status_code == DisconnectReason.CONNECTION_REPLACED
    await second.end()


async def test_unlink_logs_out_and_login_is_refused(sim: SimServer) -> None:
    sock, _, state = await pair(sim)
    phone = sim.phones["15550001111"]
    await phone.unlink(state.creds.me.id)  # type: ignore[union-attr]
    last = await sock.wait_closed()
    assert last is not None and last.status_code == DisconnectReason.LOGGED_OUT
    again = socket_for(sim, state)
    await again.connect()
    last = await again.wait_closed()
    assert last is not None and last.status_code == DisconnectReason.LOGGED_OUT


async def test_companion_expires_after_14_days_of_primary_offline() -> None:
    now = [1_700_000_000.0]
    async with SimServer(clock=lambda: now[0]) as sim:
        sock, _, state = await pair(sim)
        await sock.end()
        sim.phones["15550001111"].go_offline()
        now[0] += 13 * 86400
        ok = socket_for(sim, state)
        await ok.connect()
        await ok.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=10)
        await ok.end()
        now[0] += 2 * 86400
        expired = socket_for(sim, state)
        await expired.connect()
        last = await expired.wait_closed()
        assert last is not None and last.status_code == DisconnectReason.LOGGED_OUT


async def test_fifth_companion_is_refused(sim: SimServer) -> None:
    socks = [(await pair(sim))[0] for _ in range(4)]
    state = new_state()
    sock = socket_for(sim, state)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    with pytest.raises(SimError, match="4 linked devices"):
        await sim.phones["15550001111"].scan_qr(update.qr)
    assert state.creds.me is None
    for s in [*socks, sock]:
        await s.end()


async def test_qr_timeout_closes_with_408() -> None:
    async with SimServer(qr_ref_seconds=(0.3, 0.1)) as sim:
        sock = socket_for(sim, new_state(), qr_timeout=(0.2, 0.05))
        rec = Recorder(sock)
        await sock.connect()
        last = await asyncio.wait_for(sock.wait_closed(), 10)
        assert last is not None and last.status_code == DisconnectReason.TIMED_OUT
        assert len([u for u in rec.updates if u.qr]) == 6


async def test_forged_pair_success_is_refused_and_nothing_stored(sim: SimServer) -> None:
    phone = sim.add_phone("15550002222")
    state = new_state()
    sock = socket_for(sim, state)
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    from wamd.pairing import parse_qr_string

    qr = parse_qr_string(update.qr)
    pending = sim._pending_by_ref[qr.ref]
    with pytest.raises(SimError, match="hmac-mismatch"):
        await sim._pair(
            phone, pending, qr.identity_public, b"\x00" * 32
        )  # a forger without the ADV secret
    last = await sock.wait_closed()
    assert last is not None and last.status_code == DisconnectReason.BAD_SESSION
    assert state.creds.me is None and state.creds.account is None and not phone.companions


async def test_outdated_client_gets_405_with_advice() -> None:
    async with SimServer(min_version=(2, 3000, 2_000_000_000)) as sim:
        sock = socket_for(sim, new_state())
        await sock.connect()
        last = await sock.wait_closed()
        assert last is not None and last.status_code == DisconnectReason.CLIENT_OUTDATED
        assert "version" in str(last.error)


async def test_wrong_root_key_is_refused() -> None:
    async with SimServer() as sim:
        sock = make_wa_socket(
            new_state(), url=sim.url
        )  # trusts WhatsApp's real root, not the sim's
        await sock.connect()
        last = await sock.wait_closed()
        assert last is not None and last.status_code == DisconnectReason.BAD_SESSION


async def test_supervisor_reconnects_with_the_same_keys_and_stops_on_logout(sim: SimServer) -> None:
    from wamd import run_forever

    sock, _, state = await pair(sim)
    await sock.end()
    sockets: list[WASocket] = []
    opened = asyncio.Event()

    def make() -> WASocket:
        s = socket_for(sim, state)
        s.ev.on("connection.update", lambda u: opened.set() if u.connection == "open" else None)
        sockets.append(s)
        return s

    reconnects: list[tuple[int, float]] = []
    runner = asyncio.ensure_future(
        run_forever(
            make,
            initial_delay=0.01,
            max_delay=0.05,
            on_reconnect=lambda last, delay: reconnects.append((last.status_code, delay)),
        )
    )
    await asyncio.wait_for(opened.wait(), 10)
    opened.clear()
    device = sim.phones["15550001111"].companions[1]
    assert device.connection is not None
    await device.connection.close()  # the link drops
    await asyncio.wait_for(opened.wait(), 10)  # ... and comes back
    assert len(sockets) == 2 and state.creds.me is not None
    assert (
        sim.phones["15550001111"].companions[1].identity == state.creds.signed_identity_key.public
    )
    await sim.phones["15550001111"].unlink(device)
    last = await asyncio.wait_for(runner, 10)
    assert last is not None and last.status_code == DisconnectReason.LOGGED_OUT
    assert len(sockets) == 2  # no reconnect after a logout
    assert len(reconnects) == 1 and 0.01 <= reconnects[0][1] <= 0.05 * 1.3
    assert reconnects[0][0] != DisconnectReason.LOGGED_OUT


async def test_logout_removes_the_device(sim: SimServer) -> None:
    sock, rec, state = await pair(sim)
    await sock.logout()
    assert state.creds.me is None and rec.closes()[-1] == DisconnectReason.LOGGED_OUT
    device = sim.phones["15550001111"].companions[1]
    assert device.unlinked


async def test_pairing_code_links_the_device(sim: SimServer) -> None:
    phone = sim.add_phone("15550003333", "Carol")
    state = new_state()
    sock = socket_for(sim, state)
    rec = Recorder(sock)
    await sock.connect()
    code = await sock.request_pairing_code("+1 555-000-3333")
    assert len(code) == 8 and state.creds.pairing_code == code
    device = await phone.link_with_code(code[:4] + "-" + code[4:])
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    assert state.creds.me is not None and state.creds.me.id == str(device.jid)
    assert rec.closes() == [DisconnectReason.RESTART_REQUIRED]
    await sock.end()


async def test_wrong_pairing_code_links_nothing(sim: SimServer) -> None:
    phone = sim.add_phone("15550004444")
    state = new_state()
    sock = socket_for(sim, state)
    await sock.connect()
    code = await sock.request_pairing_code("15550004444")
    wrong = ("2" if code[0] != "2" else "3") + code[1:]
    rejected = asyncio.ensure_future(
        sock.ev.wait_for("connection.update", lambda u: u.pairing_code_rejected is not None)
    )
    with pytest.raises(SimError, match="pairing code rejected"):
        await phone.link_with_code(wrong)
    assert state.creds.me is None and not phone.companions
    update = await asyncio.wait_for(rejected, 20)  # the companion hears of it at once
    assert "pairing code rejected" in str(update.pairing_code_rejected)
    assert sock.core.attempt is not None and not sock.core.attempt.ended  # still waiting
    await sock.end()


@pytest.mark.parametrize("then", ["same code again", "a new code"])
async def test_after_a_rejected_code_the_right_one_still_links(sim: SimServer, then: str) -> None:
    phone = sim.add_phone("15550004444")
    state = new_state()
    sock = socket_for(sim, state)
    await sock.connect()
    code = await sock.request_pairing_code("15550004444")
    wrong = ("2" if code[0] != "2" else "3") + code[1:]
    with pytest.raises(SimError, match="pairing code rejected"):
        await phone.link_with_code(wrong)
    await sock.ev.wait_for(
        "connection.update", lambda u: u.pairing_code_rejected is not None, timeout=20
    )
    if then == "a new code":
        fresh = await sock.request_pairing_code("15550004444")
        with pytest.raises(SimError):  # the old code is gone with the new request
            await phone.link_with_code(code)
        code = fresh
    device = await phone.link_with_code(code)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    assert state.creds.me is not None and state.creds.me.id == str(device.jid)
    assert device.jid.device == 1  # a rejected code used up no device number
    await sock.end()


async def test_pairing_code_input_validation(sim: SimServer) -> None:
    sock = socket_for(sim, new_state())
    with pytest.raises(ValueError, match="too short"):
        await sock.request_pairing_code("12345")
    with pytest.raises(ValueError, match="international"):
        await sock.request_pairing_code("0555123456")


async def test_each_close_carries_its_own_error_not_the_pairing_restart(sim: SimServer) -> None:
    sock, rec, _ = await pair(sim)
    device = sim.phones["15550001111"].companions[1]
    assert device.connection is not None
    await device.connection.close()  # the link drops after the 515 restart
    last = await sock.wait_closed()
    assert last is not None and last.status_code != DisconnectReason.RESTART_REQUIRED
    assert "515" not in str(last.error)
    assert rec.closes() == [DisconnectReason.RESTART_REQUIRED, last.status_code]
