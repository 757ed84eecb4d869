"""The sim driven with raw nodes through wamd.transport (no high-level client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from wamd.binary import Node
from wamd.crypto import generate_keypair
from wamd.errors import RequestError
from wamd.noise.payload import login_payload, registration_payload
from wamd.sim import SimServer
from wamd.store import init_auth_creds
from wamd.transport import NodeConnection, connect_client


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


async def open_raw(sim: SimServer, payload: bytes, version: int = 3) -> NodeConnection:
    return await connect_client(
        sim.url,
        noise_key=generate_keypair(),
        client_payload=payload,
        trusted_root=sim.root_public_key,
        dict_version=version,
        origin="http://127.0.0.1",
    )


def registration() -> bytes:
    creds = init_auth_creds()
    spk = creds.signed_pre_key
    return registration_payload(
        creds.registration_id,
        creds.signed_identity_key.public,
        spk.key_id,
        spk.key_pair.public,
        spk.signature,
    )


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
    from websockets.asyncio.client import connect

    async with connect(sim.url) as ws:
        await ws.send(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(Exception):  # noqa: B017 - the server just drops the connection
            await asyncio.wait_for(ws.recv(), 5)
    conn = await open_raw(sim, registration())  # others are still served
    assert (await conn.receive()).get_child("pair-device") is not None
    await conn.close()


async def test_wrong_endpoint_is_refused(sim: SimServer) -> None:
    from websockets.asyncio.client import connect

    async with connect(sim.url.replace("/ws/chat", "/other")) as ws:
        with pytest.raises(Exception):  # noqa: B017
            await asyncio.wait_for(ws.recv(), 5)
