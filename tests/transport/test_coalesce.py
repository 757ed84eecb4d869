"""Frames sent in one turn of the event loop share one socket write, in order; a full
socket buffer makes senders wait; a close delivers what was queued before it."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from tests.transport.test_connection import next_node, open_client, server
from wamd.binary import Node
from wamd.errors import ConnectionClosed, DisconnectReason
from wamd.transport import NodeConnection
from wamd.transport import connection as transport_module


def collecting_server(seen: asyncio.Queue[Node]) -> Any:
    async def logic(conn: NodeConnection, payload: bytes) -> None:
        conn.start(seen.put_nowait)
        await conn.wait_closed()

    return logic


def count_writes(conn: NodeConnection, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the socket writes the client's transport is asked for."""
    transport = conn.ws.transport
    real = transport.write
    sizes: list[int] = []

    def write(data: Any) -> None:
        sizes.append(len(data))
        real(data)

    monkeypatch.setattr(transport, "write", write)
    return sizes


async def received(seen: asyncio.Queue[Node], count: int) -> list[str]:
    nodes = [await next_node(seen, lambda n: n.tag == "n") for _ in range(count)]
    return [n.attrs["i"] for n in nodes]


async def test_frames_of_one_turn_share_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(collecting_server(seen)) as (url, ca):
        conn = await open_client(url, ca)
        writes = count_writes(conn, monkeypatch)
        for i in range(10):
            await conn.send(Node("n", {"i": str(i)}))
        assert writes == []  # queued in order, written at the end of the turn
        assert await received(seen, 10) == [str(i) for i in range(10)]
        assert len(writes) == 1
        await conn.send(Node("n", {"i": "later"}))  # a later turn: its own write
        assert await received(seen, 1) == ["later"]
        assert len(writes) == 2
        await conn.close()


async def test_a_long_turn_writes_every_few_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(collecting_server(seen)) as (url, ca):
        conn = await open_client(url, ca)
        writes = count_writes(conn, monkeypatch)
        count = 100
        for i in range(count):
            await conn.send(Node("n", {"i": str(i)}))
        # the queue is bounded: a turn that keeps sending does not hold its frames back
        assert len(writes) == count // transport_module._COALESCE_FRAMES
        assert await received(seen, count) == [str(i) for i in range(count)]
        assert len(writes) == math.ceil(count / transport_module._COALESCE_FRAMES)
        await conn.close()


async def test_a_close_delivers_the_queued_frames_first() -> None:
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(collecting_server(seen)) as (url, ca):
        conn = await open_client(url, ca)
        for i in range(5):
            await conn.send(Node("n", {"i": str(i)}))
        await conn.close()  # in the same turn as the sends
        assert await received(seen, 5) == [str(i) for i in range(5)]
        with pytest.raises(ConnectionClosed):
            await conn.send(Node("n", {"i": "late"}))


async def test_a_full_socket_makes_senders_wait() -> None:
    """A peer that stops reading: the sends block on the socket's flow control instead
    of queueing without bound in this process."""
    stalled, done = asyncio.Event(), asyncio.Event()

    async def not_reading(conn: NodeConnection, payload: bytes) -> None:
        conn.ws.transport.pause_reading()
        stalled.set()
        await done.wait()
        done.set()
        conn.ws.transport.abort()
        await conn.close()

    async with server(not_reading) as (url, ca):
        conn = await open_client(url, ca)
        try:
            await asyncio.wait_for(stalled.wait(), 5)
            chunk = bytes(256 * 1024)
            blocked_after = None
            for i in range(400):  # 100 MB: far more than the kernel's socket buffers hold
                try:
                    await asyncio.wait_for(conn.send(Node("n", {"i": str(i)}, chunk)), 1.0)
                except TimeoutError:
                    blocked_after = i
                    break
            assert blocked_after is not None, "400 sends of 256 KB never waited"
            assert conn.ws.transport.get_write_buffer_size() < 64 * len(chunk)
        finally:
            done.set()
            conn.ws.transport.abort()
            await conn.close()


async def test_a_refused_write_ends_the_connection_as_lost(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A transport that raises on write (as after a half-close): the connection ends
    with CONNECTION_LOST, later sends raise ConnectionClosed, the loop logs no stray
    exception from the flush callback."""
    seen: asyncio.Queue[Node] = asyncio.Queue()
    async with server(collecting_server(seen)) as (url, ca):
        conn = await open_client(url, ca)

        def refuse(data: Any) -> None:
            raise RuntimeError("Cannot call write() after write_eof()")

        monkeypatch.setattr(conn.ws.transport, "write", refuse)
        loop_errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        await conn.send(Node("n", {"i": "0"}))  # queued; the flush fails at the turn's end
        reason = await asyncio.wait_for(conn.wait_closed(), 5)
        assert reason.status_code == DisconnectReason.CONNECTION_LOST
        assert "write failed" in str(reason)
        with pytest.raises(ConnectionClosed):
            await conn.send(Node("n", {"i": "1"}))
        assert loop_errors == []
