"""The asyncio side of the wire: websockets, the Noise handshake, nodes, queries, keepalive.

Shared by the client (``wamd.client``) and the local server (``wamd.sim``):

- ``connect_client(url, ...)`` opens a websocket, runs the initiator handshake and returns
  a ``NodeConnection``;
- ``accept_server(websocket, ...)`` runs the responder handshake on an accepted websocket
  and returns the connection plus the client's payload bytes;
- ``NodeConnection`` sends and receives binary nodes, matches ``iq`` answers (and ``ack``
  nodes, which carry the id of what they acknowledge) to ``query()`` calls, hands every
  other node to a handler, and runs the ``w:p`` keepalive ping when asked to.

A connection ends exactly once, with a ``ConnectionClosed`` carrying a status code; the
reason is kept in ``close_reason`` and waiters are woken with it. Bad frames from the peer
close the connection with a logged reason; they never escape as stray exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed as WsConnectionClosed
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.protocol import State

from wamd.binary import Node, decode_node, encode_node
from wamd.binary.jid import DEFAULT_USER_SERVER
from wamd.crypto import KeyPair
from wamd.defaults import WA_ORIGIN, WA_URL
from wamd.errors import (
    ConnectionClosed,
    DecodeError,
    DisconnectReason,
    HandshakeError,
    ProtocolError,
    RequestError,
    RequestTimeout,
    request_error,
)
from wamd.noise import (
    MAX_FRAME_SIZE,
    ClientHandshake,
    FrameDecoder,
    FrameEncoder,
    ServerHandshake,
    TransportCipher,
    connection_header,
)

__all__ = [
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_TIMEOUT",
    "NodeConnection",
    "accept_server",
    "connect_client",
]

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL = (20.0, 30.0)  # seconds between pings, drawn at random (whatsmeow)
KEEPALIVE_TIMEOUT = 10.0  # seconds to wait for the ping's answer (whatsmeow)
DEFAULT_QUERY_TIMEOUT = 60.0
HANDSHAKE_TIMEOUT = 20.0  # whatsmeow waits 20 s for the server hello
# frames queued on the websocket before they are written without waiting for the end of
# the event loop's turn
_COALESCE_FRAMES = 32

WebSocket = ClientConnection | ServerConnection
NodeHandler = Callable[[Node], Awaitable[None] | None]


def _write_chunks(transport: asyncio.WriteTransport, chunks: list[bytes]) -> None:
    """Write websockets' outgoing chunks the way it does: an empty one ends the stream."""
    for chunk in chunks:
        if chunk:
            transport.write(chunk)
        elif transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()
            return


class _FrameReader:
    """Frames out of websocket messages, for both roles."""

    def __init__(self, ws: WebSocket, decoder: FrameDecoder) -> None:
        self.ws = ws
        self.decoder = decoder
        self.queue: list[bytes] = []

    async def next(self) -> bytes:
        while not self.queue:
            message = await self.ws.recv()
            if isinstance(message, str):
                raise ProtocolError("received a text websocket message; the protocol is binary")
            self.queue.extend(self.decoder.feed(message))
        return self.queue.pop(0)


class NodeConnection:
    """An established, encrypted node stream (either role)."""

    def __init__(
        self,
        ws: WebSocket,
        cipher: TransportCipher,
        encoder: FrameEncoder,
        reader: _FrameReader,
        *,
        dict_version: int = 3,
        is_client: bool = True,
    ) -> None:
        self.ws = ws
        self.dict_version = dict_version
        self.is_client = is_client
        self._cipher = cipher
        self._encoder = encoder
        self._reader = reader
        self._send_lock = asyncio.Lock()
        self._queued = 0  # frames handed to the websocket and not yet written
        self._flush_handle: asyncio.Handle | None = None
        # above this many buffered bytes the transport pauses websockets' writers (its
        # high-water mark): a send then waits for the drain with them
        self._write_limit = ws.transport.get_write_buffer_limits()[1]
        self._waiters: dict[str, asyncio.Future[Node]] = {}
        self._id_prefix = f"{os.urandom(1)[0]}.{os.urandom(1)[0]}-"
        self._id_counter = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handler: NodeHandler | None = None
        self._closed: asyncio.Future[ConnectionClosed] = asyncio.get_running_loop().create_future()
        self.close_reason: ConnectionClosed | None = None

    # ------------------------------------------------------------------ sending

    async def send(self, node: Node) -> None:
        """Encrypt and send one node.

        The frame is handed to the websocket at once, in order, and the bytes of the
        frames sent in one turn of the event loop go to the socket in one write (at the
        end of the turn, or once ``_COALESCE_FRAMES`` are waiting). While the socket's
        buffer is above its high-water mark, or another send waits for it to drain, a
        send waits its turn through websockets' own flow control instead.
        """
        if self.close_reason is not None:
            raise self.close_reason
        payload = encode_node(node, dict_version=self.dict_version)
        ws = self.ws
        if (
            not self._send_lock.locked()
            and ws.protocol.state is State.OPEN
            and ws.transport.get_write_buffer_size() <= self._write_limit
        ):
            # nothing awaited from the encryption to the queueing: the cipher's counter
            # and the frame order go together without the lock
            ws.protocol.send_binary(self._encoder.encode(self._cipher.encrypt(payload)))
            self._queued += 1
            if self._queued >= _COALESCE_FRAMES:
                self._flush()
            elif self._flush_handle is None:
                self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
        else:
            async with self._send_lock:  # the cipher's counter and the frame order, together
                frame = self._encoder.encode(self._cipher.encrypt(payload))
                try:
                    await ws.send(frame)
                except WsConnectionClosed as exc:
                    await self._finish(
                        DisconnectReason.CONNECTION_LOST, "connection lost while sending"
                    )
                    raise self.close_reason or ConnectionClosed(
                        DisconnectReason.CONNECTION_LOST
                    ) from exc
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sent %s", node.pretty())

    def _flush(self) -> None:
        """Write the frames queued on the websocket in one go (websockets' own writes,
        a ping's answer or a close, drain the same queue, in the same order)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._queued = 0
        ws = self.ws
        chunks = ws.protocol.data_to_send()
        transport = ws.transport
        if not chunks or transport.is_closing():
            return
        try:
            if all(chunks):  # (the join of one chunk is that chunk: no copy)
                transport.write(b"".join(chunks))
            else:  # an end of stream among them (never queued by send(), kept in place)
                _write_chunks(transport, chunks)
        except Exception as exc:  # a transport that refuses bytes: the link is gone
            log.warning("closing connection: the socket refused a write: %s", exc)
            transport.abort()
            self._spawn(self._finish(DisconnectReason.CONNECTION_LOST, f"write failed: {exc}"))

    def new_id(self) -> str:
        """A fresh request id, shaped like WhatsApp clients' (``<a>.<b>-<n>``)."""
        self._id_counter += 1
        return f"{self._id_prefix}{self._id_counter}"

    async def query(self, node: Node, timeout: float | None = DEFAULT_QUERY_TIMEOUT) -> Node:
        """Send an ``iq`` (given a fresh id if it has none) and return its ``result``.

        An ``error`` answer raises ``RequestError`` with its code; no answer in time
        raises ``RequestTimeout``; the connection ending raises ``ConnectionClosed``.
        """
        if node.tag == "iq" and "to" not in node.attrs and self.is_client:
            node.attrs["to"] = DEFAULT_USER_SERVER
        request_id = node.attrs.get("id") or self.new_id()
        node.attrs["id"] = request_id
        answer = await self.request(node, timeout)
        if answer.tag == "iq" and answer.attrs.get("type") == "error":
            error = answer.get_child("error")
            code = error.attr_int("code", 0) if error is not None else 0
            text = (error.attrs.get("text", "") if error is not None else "") or ""
            raise request_error(code or 0, text)  # its subclass for 401, 404 ...
        return answer

    async def request(self, node: Node, timeout: float | None = DEFAULT_QUERY_TIMEOUT) -> Node:
        """Send ``node`` (which has an ``id``) and return the ``iq``/``ack`` answering it."""
        request_id = node.attrs["id"]
        if request_id in self._waiters:
            raise ValueError(f"a request with id {request_id!r} is already waiting")
        future: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        try:
            await self.send(node)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"no answer to <{node.tag}> {request_id} in {timeout} s") from None
        finally:
            self._waiters.pop(request_id, None)

    # ------------------------------------------------------------------ receiving

    async def receive(self) -> Node:
        """The next node from the peer (only for use before ``start()``)."""
        try:
            frame = await self._reader.next()
        except WsConnectionClosed as exc:
            raise await self._finish_from_ws(exc) from None
        except (DecodeError, ProtocolError) as exc:
            await self._finish(DisconnectReason.BAD_SESSION, f"bad frame: {exc}")
            raise
        try:
            node = decode_node(self._cipher.decrypt(frame), dict_version=self.dict_version)
        except (DecodeError, ProtocolError) as exc:
            log.warning("closing connection: %s", exc)
            await self._finish(DisconnectReason.BAD_SESSION, f"bad frame: {exc}")
            raise
        if log.isEnabledFor(logging.DEBUG):
            log.debug("received %s", node.pretty())
        return node

    def start(self, handler: NodeHandler | None = None) -> None:
        """Run the read loop in a task: answers go to ``query()``, the rest to ``handler``."""
        self._handler = handler
        self._spawn(self._read_loop())

    def start_keepalive(
        self,
        interval: tuple[float, float] | float = KEEPALIVE_INTERVAL,
        timeout: float = KEEPALIVE_TIMEOUT,
    ) -> None:
        """Ping the server (``w:p``) periodically; a missed answer closes as lost (408)."""
        self._spawn(self._keepalive(interval, timeout))

    async def _read_loop(self) -> None:
        try:
            while self.close_reason is None:
                node = await self.receive()
                node_id = node.attrs.get("id")
                if node_id is not None and node.tag in ("iq", "ack"):
                    future = self._waiters.get(node_id)
                    if future is not None and not future.done():
                        if node.tag == "iq" and node.attrs.get("type") not in ("result", "error"):
                            pass  # a request from the peer that reuses an id: not an answer
                        else:
                            future.set_result(node)
                            continue
                if self._handler is not None:
                    try:
                        result = self._handler(node)
                        if result is not None:
                            await result
                    except ConnectionClosed:
                        raise
                    except Exception:
                        log.exception("node handler failed on <%s>", node.tag)
        except ConnectionClosed:
            pass
        except (DecodeError, ProtocolError):
            pass  # already closed with the reason by receive()

    async def _keepalive(self, interval: tuple[float, float] | float, timeout: float) -> None:
        while self.close_reason is None:
            delay = random.uniform(*interval) if isinstance(interval, tuple) else interval
            await asyncio.sleep(delay)
            ping = Node(
                "iq", {"to": DEFAULT_USER_SERVER, "type": "get", "xmlns": "w:p"}, [Node("ping")]
            )
            try:
                await self.query(ping, timeout)
            except RequestTimeout:
                log.warning("keepalive: no answer in %.1f s, connection lost", timeout)
                await self._finish(DisconnectReason.CONNECTION_LOST, "keepalive timed out")
                return
            except RequestError:
                continue  # answered, even if with an error: the link is alive
            except ConnectionClosed:
                return

    # ------------------------------------------------------------------ closing

    async def wait_closed(self) -> ConnectionClosed:
        """Wait until the connection ends; returns why."""
        return await asyncio.shield(self._closed)

    @property
    def closed(self) -> bool:
        return self.close_reason is not None

    async def close(
        self, reason: DisconnectReason | int = DisconnectReason.CONNECTION_CLOSED, message: str = ""
    ) -> None:
        """Close our side cleanly; the reason is kept."""
        await self._finish(reason, message or "closed locally")

    async def _finish_from_ws(self, exc: WsConnectionClosed) -> ConnectionClosed:
        code = exc.rcvd.code if exc.rcvd is not None else None
        message = f"websocket closed ({code})" if code is not None else "websocket closed"
        await self._finish(DisconnectReason.CONNECTION_CLOSED, message)
        assert self.close_reason is not None
        return self.close_reason

    async def _finish(self, reason: DisconnectReason | int, message: str) -> None:
        if self.close_reason is not None:
            return
        closed = ConnectionClosed(reason, message)
        self.close_reason = closed
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(closed)
        self._waiters.clear()
        if not self._closed.done():
            self._closed.set_result(closed)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def connect_client(
    url: str = WA_URL,
    *,
    noise_key: KeyPair,
    client_payload: bytes,
    trusted_root: bytes,
    root_serial: int = 0,
    dict_version: int = 3,
    connect_timeout: float = HANDSHAKE_TIMEOUT,
    origin: str = WA_ORIGIN,
    clock: Callable[[], float] | None = None,
    proxy: str | None = None,
) -> NodeConnection:
    """Open a websocket to ``url`` and run the client handshake.

    Raises ``HandshakeError`` when the server fails the handshake or the certificate
    check, ``ConnectionClosed`` (408 timed out / 428 closed) when the link fails.
    ``proxy`` (``http://host:port``, ``socks5://...``) is handed to websockets; without it
    websockets uses the environment's proxy settings, as before.
    """
    extra: dict[str, Any] = {"proxy": proxy} if proxy else {}
    try:
        ws = await asyncio.wait_for(
            ws_connect(url, origin=origin, max_size=MAX_FRAME_SIZE + 64, compression=None, **extra),  # type: ignore[arg-type]
            connect_timeout,
        )
    except TimeoutError:
        raise ConnectionClosed(
            DisconnectReason.TIMED_OUT, f"connecting to {url} timed out"
        ) from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        raise ConnectionClosed(
            DisconnectReason.CONNECTION_CLOSED, f"cannot connect to {url}: {exc}"
        ) from None
    handshake = ClientHandshake(
        noise_key, trusted_root, root_serial=root_serial, dict_version=dict_version, clock=clock
    )
    encoder = FrameEncoder(connection_header(dict_version))
    reader = _FrameReader(ws, FrameDecoder())
    try:
        async with asyncio.timeout(connect_timeout):
            await ws.send(encoder.encode(handshake.hello()))
            handshake.read_server_hello(await reader.next())
            await ws.send(encoder.encode(handshake.finish(client_payload)))
    except TimeoutError:
        await ws.close()
        raise ConnectionClosed(DisconnectReason.TIMED_OUT, "handshake timed out") from None
    except WsConnectionClosed:
        raise ConnectionClosed(
            DisconnectReason.CONNECTION_CLOSED, "server closed the connection during the handshake"
        ) from None
    except (HandshakeError, ProtocolError):
        await ws.close()
        raise
    return NodeConnection(
        ws, handshake.transport(), encoder, reader, dict_version=dict_version, is_client=True
    )


async def accept_server(
    ws: ServerConnection,
    *,
    static: KeyPair,
    certificate: bytes,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
    max_frame_size: int = MAX_FRAME_SIZE,
) -> tuple[NodeConnection, bytes]:
    """Run the responder handshake on an accepted websocket.

    Returns the connection (in the dictionary version the client announced) and the
    client's payload bytes, for the caller to validate. Raises ``HandshakeError`` /
    ``DecodeError`` for a misbehaving client, ``ConnectionClosed`` if it goes away.
    """
    decoder = FrameDecoder(expect_header=True, max_size=max_frame_size)
    reader = _FrameReader(ws, decoder)
    encoder = FrameEncoder(max_size=max_frame_size)
    try:
        async with asyncio.timeout(handshake_timeout):
            hello = await reader.next()
            version = decoder.dict_version
            if version not in (2, 3):
                raise HandshakeError(f"unsupported token dictionary version {version}")
            handshake = ServerHandshake(static, certificate, dict_version=version)
            await ws.send(encoder.encode(handshake.read_client_hello(hello)))
            payload = handshake.read_client_finish(await reader.next())
    except TimeoutError:
        raise ConnectionClosed(DisconnectReason.TIMED_OUT, "client handshake timed out") from None
    except WsConnectionClosed:
        raise ConnectionClosed(
            DisconnectReason.CONNECTION_CLOSED, "client went away during the handshake"
        ) from None
    connection = NodeConnection(
        ws, handshake.transport(), encoder, reader, dict_version=version, is_client=False
    )
    return connection, payload
