"""The sim driven with raw nodes through wamd.transport (no high-level client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

from wamd.binary import Node
from wamd.errors import RequestError
from wamd.noise.payload import login_payload
from wamd.sim import SimServer
from wamd.store import init_auth_creds
from wamd.testing import WAIT, open_raw, sim_server
from wamd.testing import registration as registration_for


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with sim_server() as server:
        yield server


def registration() -> bytes:
    return registration_for(init_auth_creds())


@pytest.mark.parametrize("version", [2, 3])
async def test_registration_gets_six_refs_and_iqs_are_answered(
    sim: SimServer, version: int
) -> None:
    conn = await open_raw(sim, registration(), version)
    first = await conn.receive()
    assert (
        first.tag == "iq"
        and first.attrs["from"] == "s.whatsapp.net"
        and first.attrs["type"] == "set"
    )
    refs = first.require_child("pair-device").get_children("ref")
    assert len(refs) == 6 and all((r.content_bytes() or b"").startswith(b"2@") for r in refs)
    conn.start()
    await conn.send(Node("iq", {"to": "s.whatsapp.net", "type": "result", "id": first.attrs["id"]}))
    ping = await conn.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]), timeout=5)
    assert ping.attrs["type"] == "result"
    with pytest.raises(RequestError) as err:
        await conn.query(Node("iq", {"type": "get", "xmlns": "nonsense"}), timeout=5)
    assert err.value.code == 501
    await conn.close()


async def test_unknown_device_login_fails_401(sim: SimServer) -> None:
    sim.add_phone("15550009999")
    conn = await open_raw(sim, login_payload("15550009999", 7))
    failure = await asyncio.wait_for(conn.receive(), 5)
    assert failure.tag == "failure" and failure.attrs["reason"] == "401"


async def test_outdated_version_fails_405() -> None:
    async with SimServer(min_version=(9, 0, 0)) as sim:
        conn = await open_raw(sim, registration())
        failure = await asyncio.wait_for(conn.receive(), 5)
        assert failure.tag == "failure" and failure.attrs["reason"] == "405"


async def test_garbage_handshake_does_not_take_the_server_down(sim: SimServer) -> None:
    async with connect(sim.url) as ws:
        await ws.send(b"GET / HTTP/1.1\r\n\r\n")  # not a Noise hello
        # the sim closes the websocket itself, cleanly (a timeout would be TimeoutError)
        with pytest.raises(ConnectionClosedOK) as closed:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    conn = await open_raw(sim, registration())  # others are still served
    assert (await conn.receive()).get_child("pair-device") is not None
    await conn.close()


async def test_wrong_endpoint_is_refused(sim: SimServer) -> None:
    async with connect(sim.url.replace("/ws/chat", "/other")) as ws:
        with pytest.raises(ConnectionClosedError) as refused:
            await asyncio.wait_for(ws.recv(), WAIT)
    # closed by the sim with 1008 (policy violation), before any handshake
    assert refused.value.rcvd is not None
    assert (refused.value.rcvd.code, refused.value.rcvd.reason) == (1008, "unknown endpoint")
