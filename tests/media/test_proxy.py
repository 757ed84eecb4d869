"""``proxy=``: the chat websocket and every media request go through one HTTP proxy.

The proxy is written here: an HTTP ``CONNECT`` tunnel on 127.0.0.1 that records each
tunnel it opened and the bytes it carried each way. The test then checks that the
socket's login, an upload and a download all went through it (the sim sees the proxy's
port, not the client's), and that a proxy that refuses makes each path fail typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.client.conftest import Inbox
from wamd.errors import ConnectionClosed, MediaUploadError
from wamd.sim import SimServer
from wamd.testing import link, settle, socket_for, wait_received


@dataclass
class Tunnel:
    target: str  # host:port asked for in CONNECT
    up: int = 0  # bytes client -> target
    down: int = 0  # bytes target -> client


@dataclass
class ConnectProxy:
    refuse: bool = False  # answer 403 to every CONNECT
    tunnels: list[Tunnel] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # each request line
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def carried(self, hostport: str) -> tuple[int, int]:
        ups = sum(t.up for t in self.tunnels if t.target == hostport)
        downs = sum(t.down for t in self.tunnels if t.target == hostport)
        return ups, downs

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        self.requests.append(line)
        method, target, _ = [*line.split(" "), "", ""][:3]
        if method != "CONNECT" or self.refuse:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        host, _, port = target.rpartition(":")
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        tunnel = Tunnel(target)
        self.tunnels.append(tunnel)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await src.read(65536):
                    if up:
                        tunnel.up += len(data)
                    else:
                        tunnel.down += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


@contextlib.asynccontextmanager
async def connect_proxy(refuse: bool = False) -> AsyncIterator[ConnectProxy]:
    proxy = ConnectProxy(refuse=refuse)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)


def hostport(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


async def test_the_websocket_and_media_go_through_the_proxy(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    async with connect_proxy() as proxy:
        sock = await link(sim, bot_phone, proxy=proxy.url)
        inbox = Inbox(sock)
        document = b"%PDF-1.4\n" + os.urandom(40_000)
        mid = await alice.send_document(bot_phone.jid, document, "in.pdf")
        got = await inbox.wait(lambda m: m.key.id == mid)
        assert await sock.download_media(got) == document
        reply = os.urandom(30_000)
        sent = await sock.send_message(alice.jid, {"document": reply, "file_name": "out.bin"})
        await wait_received(alice, lambda m: m.id == sent.key.id)
        await settle(sim, sock)
        assert alice.endpoint.media.received_media[sent.key.id] == reply
        await sock.end()
    chat, media = hostport(sim.url), sim.media.hostname
    assert {t.target for t in proxy.tunnels} == {chat, media}  # nothing else, nothing direct
    chat_up, chat_down = proxy.carried(chat)
    assert chat_up > 0 and chat_down > 0  # the Noise handshake and the stanzas
    media_up, media_down = proxy.carried(media)
    assert media_up > len(reply)  # the upload (TLS inside the tunnel: a bit more than it)
    assert media_down > len(document)  # the download


async def test_a_refusing_proxy_fails_the_socket_and_the_media_typed(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    async with connect_proxy() as good, connect_proxy(refuse=True) as bad:
        sock = await link(sim, bot_phone, proxy=good.url)
        sock.media.http.proxy = bad.url  # the media path alone now meets a refusing proxy
        with pytest.raises(MediaUploadError, match=r"uploading to .* failed"):
            await sock.send_message(bot_phone.jid, {"document": b"x" * 100})
        assert bad.requests and all(r.startswith("CONNECT ") for r in bad.requests)
        await sock.end()
        refused = socket_for(sim, sock.auth, proxy=bad.url)
        closed = asyncio.ensure_future(
            refused.ev.wait_for("connection.update", lambda u: u.connection == "close", 30)
        )
        await refused.connect()
        update = await closed
        await refused.end()
    assert update.last_disconnect is not None
    error = update.last_disconnect.error
    assert isinstance(error, ConnectionClosed) and "cannot connect" in str(error)
    assert any(r.startswith(f"CONNECT {hostport(sim.url)} ") for r in bad.requests)
