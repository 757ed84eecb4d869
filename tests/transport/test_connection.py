"""The asyncio transport over a real websocket on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.server import ServerConnection, serve

from wamd.binary import Node
from wamd.crypto import generate_keypair
from wamd.errors import (
    ConnectionClosed,
    DisconnectReason,
    HandshakeError,
    RequestError,
    RequestTimeout,
)
from wamd.noise import CertificateAuthority
from wamd.transport import NodeConnection, accept_server, connect_client

ServerLogic = Callable[[NodeConnection, bytes], Awaitable[None]]


@asynccontextmanager
async def server(
    logic: ServerLogic, ca: CertificateAuthority | None = None
) -> AsyncIterator[tuple[str, CertificateAuthority]]:
    authority = ca or CertificateAuthority.generate()
    static = generate_keypair()
    chain = authority.issue(static.public)

    async def handler(ws: ServerConnection) -> None:
        try:
            conn, payload = await accept_server(ws, static=static, certificate=chain)
        except (HandshakeError, ConnectionClosed):
            return
        await logic(conn, payload)

    async with serve(handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/chat", authority


def answering_server(
    seen: asyncio.Queue[Node] | None = None,
    closed: asyncio.Future[ConnectionClosed] | None = None,
) -> ServerLogic:
    """A tiny server: answers pings, echoes 'echo' iqs, errors on 'fail', ignores 'mute'.

    Every node it receives goes to ``seen``; why its connection ended, to ``closed``.
    """

    async def logic(conn: NodeConnection, payload: bytes) -> None:
        async def on_node(node: Node) -> None:
            if seen is not None:
                seen.put_nowait(node)
            kind = node.attrs.get("xmlns")
            if kind == "w:p" or kind == "echo":
                await conn.send(
                    Node(
                        "iq",
                        {"id": node.attrs["id"], "type": "result", "from": "s.whatsapp.net"},
                        node.content,
                    )
                )
            elif kind == "fail":
                await conn.send(
                    Node(
                        "iq",
                        {"id": node.attrs["id"], "type": "error"},
                        [Node("error", {"code": "404", "text": "item-not-found"})],
                    )
                )
            elif node.tag == "payload?":
                await conn.send(Node("payload", {}, payload))
            elif node.tag == "bye":
                await conn.close()

        conn.start(on_node)
        reason = await conn.wait_closed()
        if closed is not None and not closed.done():
            closed.set_result(reason)

    return logic


answering = answering_server()


async def next_node(seen: asyncio.Queue[Node], where: Callable[[Node], bool]) -> Node:
    """The next node the server received that matches ``where`` (others are skipped)."""
    async with asyncio.timeout(5):
        while True:
            node = await seen.get()
            if where(node):
                return node


async def open_client(url: str, ca: CertificateAuthority, version: int = 3) -> NodeConnection:
    return await connect_client(
        url,
        noise_key=generate_keypair(),
        client_payload=b"hello payload",
        trusted_root=ca.root_public_key,
        dict_version=version,
        origin="http://127.0.0.1",
    )


@pytest.mark.parametrize("version", [2, 3])
async def test_query_and_dispatch_over_loopback(version: int) -> None:
    async with server(answering) as (url, ca):
        conn = await open_client(url, ca, version)
        received: asyncio.Queue[Node] = asyncio.Queue()
        conn.start(received.put_nowait)
        answer = await conn.query(
            Node("iq", {"type": "get", "xmlns": "echo"}, [Node("hello")]), timeout=5
        )
        assert answer.attrs["type"] == "result" and answer.get_child("hello") is not None
        await conn.send(Node("payload?"))
        unsolicited = await asyncio.wait_for(received.get(), 5)
        assert unsolicited.tag == "payload" and unsolicited.content == b"hello payload"
        with pytest.raises(RequestError) as err:
            await conn.query(Node("iq", {"type": "get", "xmlns": "fail"}), timeout=5)
        assert err.value.code == 404 and err.value.text == "item-not-found"
        with pytest.raises(RequestTimeout):
            await conn.query(Node("iq", {"type": "get", "xmlns": "mute"}), timeout=0.2)
        await conn.close()
        assert (await conn.wait_closed()).status_code == DisconnectReason.CONNECTION_CLOSED
        with pytest.raises(ConnectionClosed):
            await conn.send(Node("late"))


async def test_server_close_is_seen_with_reason() -> None:
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(answering_server(seen)) as (url, ca):
        conn = await open_client(url, ca)
        conn.start()
        pending = asyncio.ensure_future(
            conn.query(Node("iq", {"type": "get", "xmlns": "mute"}), timeout=5)
        )
        await next_node(seen, lambda n: n.attrs.get("xmlns") == "mute")  # it is in flight
        await conn.send(Node("bye"))
        reason = await asyncio.wait_for(conn.wait_closed(), 5)
        assert reason.status_code == DisconnectReason.CONNECTION_CLOSED
        with pytest.raises(ConnectionClosed):
            await pending


def is_ping(node: Node) -> bool:
    return node.tag == "iq" and node.attrs.get("xmlns") == "w:p"


async def test_keepalive_answered_keeps_the_link() -> None:
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(answering_server(seen)) as (url, ca):
        conn = await open_client(url, ca)
        conn.start()
        conn.start_keepalive(interval=0.05, timeout=1)
        # whatsmeow keepalive.go: <iq to=s.whatsapp.net type=get xmlns=w:p><ping/></iq>
        pings = [await next_node(seen, is_ping) for _ in range(3)]
        for ping in pings:
            assert ping.attrs["to"] == "s.whatsapp.net" and ping.attrs["type"] == "get"
            assert [c.tag for c in ping.get_children()] == ["ping"]
        assert len({p.attrs["id"] for p in pings}) == 3
        # a ping goes out only once the one before was answered (or the link is lost):
        # the third one means the first two answers came back, and the link stayed up
        assert not conn.closed
        await conn.close()


async def test_keepalive_timeout_closes_as_lost() -> None:
    async def silent(conn: NodeConnection, payload: bytes) -> None:
        conn.start(lambda node: None)
        await conn.wait_closed()

    async with server(silent) as (url, ca):
        conn = await open_client(url, ca)
        conn.start()
        conn.start_keepalive(interval=0.05, timeout=0.1)
        reason = await asyncio.wait_for(conn.wait_closed(), 5)
        assert reason.status_code == DisconnectReason.CONNECTION_LOST


async def test_wrong_root_key_fails_the_handshake() -> None:
    async with server(answering) as (url, _):
        with pytest.raises(HandshakeError, match="trusted root"):
            await open_client(url, CertificateAuthority.generate())


async def test_server_drops_mid_handshake() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        await ws.close()

    async with serve(handler, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        with pytest.raises(ConnectionClosed):
            await open_client(f"ws://127.0.0.1:{port}/", CertificateAuthority.generate())


async def test_nothing_listening() -> None:
    with pytest.raises(ConnectionClosed, match="cannot connect"):
        await open_client("ws://127.0.0.1:9/", CertificateAuthority.generate())


async def test_garbage_frame_closes_only_that_connection() -> None:
    closed: asyncio.Future[ConnectionClosed] = asyncio.get_running_loop().create_future()
    async with server(answering_server(closed=closed)) as (url, ca):
        bad = await open_client(url, ca)
        good = await open_client(url, ca)
        good.start()
        await bad.ws.send(b"\x00\x00\x05hello")  # a frame that does not authenticate
        reason = await asyncio.wait_for(closed, 5)  # the first server side to end: bad's
        assert reason.status_code == DisconnectReason.BAD_SESSION
        # the other connection is still served: a round trip
        answer = await good.query(Node("iq", {"type": "get", "xmlns": "echo"}, [Node("hi")]), 5)
        assert answer.get_child("hi") is not None
        await good.close()
        await bad.close()
