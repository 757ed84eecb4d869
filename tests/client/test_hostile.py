"""What a hostile or broken server gets: a typed close, nothing bad stored, no escape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.client.conftest import link, record_sends, socket_for
from tests.client.fakes import FakeLink
from wamd.binary import Node
from wamd.client import make_wa_socket, run_forever
from wamd.client.core import Attempt, ClientCore
from wamd.client.pairing import checked_device_ids
from wamd.client.prekeys import MAX_UPLOADS_PER_WINDOW, UPLOAD_WINDOW, PreKeyUpkeep
from wamd.client.socket import SocketOptions
from wamd.errors import ConnectionClosed, DisconnectReason, PairingError
from wamd.events import ConnectionUpdate
from wamd.sim import SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.creds import Me
from wamd.testing import settle

BOUND = 5.0


def fresh() -> AuthState:
    return AuthState(init_auth_creds(), MemoryKeyStore())


@pytest.fixture
async def text_frame_server() -> AsyncIterator[str]:
    """A websocket server that answers the Noise hello with a text frame."""

    async def handler(ws: websockets.ServerConnection) -> None:
        await ws.recv()
        await ws.send("this is not a binary frame")
        await asyncio.sleep(1)

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/chat"


async def test_a_text_frame_in_the_handshake_closes_with_a_typed_reason(
    text_frame_server: str,
) -> None:
    sock = make_wa_socket(fresh(), url=text_frame_server)
    updates: list[ConnectionUpdate] = []
    sock.ev.on("connection.update", updates.append)
    await sock.connect()
    last = await asyncio.wait_for(sock.wait_closed(), BOUND)
    assert last is not None and last.status_code == DisconnectReason.BAD_SESSION
    assert isinstance(last.error, ConnectionClosed)
    assert [u.connection for u in updates] == ["connecting", "close"]


async def test_the_supervisor_survives_a_protocol_error_and_tries_again(
    text_frame_server: str,
) -> None:
    made: list[object] = []
    delays: list[float] = []
    stop = asyncio.Event()

    def make() -> object:
        made.append(None)
        if len(made) == 3:
            stop.set()
        return make_wa_socket(fresh(), url=text_frame_server)

    await asyncio.wait_for(
        run_forever(
            make,  # type: ignore[arg-type]
            initial_delay=0.01,
            stop=stop,
            on_reconnect=lambda last, delay: delays.append(delay),
        ),
        BOUND * 2,
    )
    assert len(made) == 3 and len(delays) >= 2


# ---------------------------------------------------------------------- server identifiers


@pytest.mark.parametrize(
    ("jid", "lid", "why"),
    [
        ("not a jid@@", None, "malformed"),
        ("15550001111@s.whatsapp.net", None, "not a companion"),  # device 0 is the phone
        ("15550001111:3@g.us", None, "not a companion"),
        ("bob:3@s.whatsapp.net", None, "not a companion"),
        ("15550001111:3@s.whatsapp.net", "15550001111@s.whatsapp.net", "as the lid"),
        ("15550001111:3@s.whatsapp.net", "1:x@lid", "malformed"),
    ],
)
def test_pair_success_identifiers_are_checked(jid: str, lid: str | None, why: str) -> None:
    with pytest.raises(PairingError, match=why):
        checked_device_ids(jid, lid)


def test_good_pair_success_identifiers_pass() -> None:
    assert checked_device_ids("15550001111:3@s.whatsapp.net", "90001:3@lid") == (
        "15550001111:3@s.whatsapp.net",
        "90001:3@lid",
    )


async def test_a_pair_success_naming_a_bad_device_is_refused_and_nothing_stored(
    sim: SimServer,
) -> None:
    state = fresh()
    sock = socket_for(sim, state)
    await sock.connect()
    await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=BOUND)
    attempt = sock.core.attempt
    assert attempt is not None
    sent = record_sends(sock)
    forged = Node(
        "iq",
        {"from": "s.whatsapp.net", "type": "set", "id": "PS1", "xmlns": "md"},
        [
            Node(
                "pair-success",
                {},
                [Node("device-identity", {}, b"anything"), Node("device", {"jid": "oops"})],
            )
        ],
    )
    await sock._dispatch(attempt, forged)
    last = await asyncio.wait_for(sock.wait_closed(), BOUND)
    assert last is not None and last.status_code == DisconnectReason.BAD_SESSION
    assert isinstance(last.error, PairingError)
    (answer,) = [n for n in sent if n.tag == "iq"]
    assert answer.attrs["type"] == "error" and answer.attrs["id"] == "PS1"
    assert state.creds.me is None and state.creds.account is None


async def test_a_success_lid_that_is_not_a_lid_is_not_stored(sim: SimServer) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, phone)
    me = sock.auth.creds.me
    assert me is not None and me.lid is not None
    for bad in ("15550009999@s.whatsapp.net", "1:x@lid", "@lid"):
        sock._take_success_lid(Node("success", {"lid": bad}))
        assert sock.auth.creds.me == me
    sock._take_success_lid(Node("success", {"lid": "90002:1@lid"}))  # a real change is taken
    assert sock.auth.creds.me.lid == "90002:1@lid"
    # a second <success> on the connection starts nothing
    attempt = sock.core.attempt
    assert attempt is not None
    await settle(sim, sock)  # the first login's work (the app-state sync after the key share)
    sent = record_sends(sock)
    await sock._dispatch(attempt, Node("success", {"t": "2"}))
    await sim.settle()
    # no second post-login setup: no prekey count, no passive iq (receipts may go out)
    assert [n for n in sent if n.tag == "iq"] == []
    assert not [t for t in attempt.tasks if t.get_coro().__name__ == "_after_login"]  # type: ignore[union-attr]
    await sock.end()


@pytest.mark.parametrize("code", ["abc", "", "5l5"])
async def test_a_stream_error_with_a_malformed_code_still_closes(sim: SimServer, code: str) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, phone)
    attempt = sock.core.attempt
    assert attempt is not None
    await sock._dispatch(attempt, Node("stream:error", {"code": code} if code else {}))
    last = await asyncio.wait_for(sock.wait_closed(), BOUND)
    assert last is not None and last.status_code == DisconnectReason.BAD_SESSION
    assert isinstance(last.error, ConnectionClosed)


async def test_a_failure_with_a_malformed_reason_closes_with_a_typed_reason(
    sim: SimServer,
) -> None:
    phone = sim.add_phone("15550001111", "Bot")
    sock = await link(sim, phone)
    attempt = sock.core.attempt
    assert attempt is not None
    await sock._dispatch(attempt, Node("failure", {"reason": "x"}))
    last = await asyncio.wait_for(sock.wait_closed(), BOUND)
    assert last is not None and last.status_code == DisconnectReason.BAD_SESSION
    assert "'x'" in str(last.error)


# ---------------------------------------------------------------------- prekeys


async def test_a_server_that_always_wants_prekeys_gets_a_bounded_number() -> None:
    uploads: list[int] = []

    def answer(node: Node) -> Node:
        if node.attrs.get("type") == "set":
            uploads.append(len(node.require_child("list").get_children("key")))
        return Node("iq", {"type": "result"}, [Node("count", {"value": "0"})])

    auth = fresh()
    auth.creds.me = Me("15550001111:2@s.whatsapp.net")
    core = ClientCore(auth, SocketOptions(), __import__("logging").getLogger("test"))
    core.attempt = Attempt(1, registering=False, conn=FakeLink(answer))
    now = [1000.0]
    upkeep = PreKeyUpkeep(core, clock=lambda: now[0])
    for _ in range(10):
        await upkeep.upkeep()
    assert len(uploads) == MAX_UPLOADS_PER_WINDOW
    assert uploads[0] == 812 and set(uploads[1:]) == {50}
    now[0] += UPLOAD_WINDOW + 1  # a new window: it may ask again
    assert await upkeep.upkeep() == 50
    held = await auth.keys.get("pre-key", [str(i) for i in range(1, 1100)])
    assert len(held) == 812 + 50 * MAX_UPLOADS_PER_WINDOW  # nothing generated beyond that
