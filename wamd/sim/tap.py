"""The stanza tap: every node the sim sends to or reads from a client connection, for
whoever listens (the console's stanza log, a test).

``SimServer`` hands each connection to ``StanzaTap.attach`` right after the handshake;
the tap wraps the connection's ``send`` and ``receive``. With nobody listening a node
costs one attribute check; with a listener each node becomes a ``TappedNode`` (decoded
with ``Node.pretty()``, which shows binary content only by its length, so ciphertext and
keys never reach the log) and is handed to every listener in order.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wamd.binary import Node

if TYPE_CHECKING:
    from wamd.sim.state import SimState
    from wamd.transport import NodeConnection

__all__ = ["StanzaTap", "TappedNode"]

log = logging.getLogger(__name__)

MAX_PRETTY = 8000  # characters of a node's decoded form kept in an entry

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class TappedNode:
    """One node on one connection: ``direction`` is ``"out"`` (sim to client) or ``"in"``."""

    seq: int
    time: float  # the sim's clock
    direction: Direction
    connection: int  # a number per connection, in order of arrival
    account: str  # the phone number of the device on it ("" before it is linked)
    device: str  # its device JID ("" while pairing)
    tag: str
    attrs: dict[str, str]
    pretty: str

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "time": self.time,
            "direction": self.direction,
            "connection": self.connection,
            "account": self.account,
            "device": self.device,
            "tag": self.tag,
            "attrs": self.attrs,
            "xml": self.pretty,
        }


Listener = Callable[[TappedNode], None]


class StanzaTap:
    """``tap.listen(fn)`` / ``tap.unlisten(fn)``; ``fn(TappedNode)`` runs on the loop."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.listeners: list[Listener] = []
        self._seq = itertools.count(1)
        self._numbers = itertools.count(1)
        self._connections: weakref.WeakKeyDictionary[NodeConnection, int] = (
            weakref.WeakKeyDictionary()
        )

    def listen(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def unlisten(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def attach(self, conn: NodeConnection) -> None:
        """Wrap ``conn``'s ``send`` and ``receive`` (once, right after the handshake)."""
        self._connections[conn] = next(self._numbers)
        send, receive = conn.send, conn.receive
        tap = self

        async def tapped_send(node: Node) -> None:
            await send(node)
            if tap.listeners:
                tap._record(conn, "out", node)

        async def tapped_receive() -> Node:
            node = await receive()
            if tap.listeners:
                tap._record(conn, "in", node)
            return node

        # instance attributes shadow the methods; NodeConnection's read loop calls
        # self.receive(), so it reads through the tap too
        setattr(conn, "send", tapped_send)  # noqa: B010
        setattr(conn, "receive", tapped_receive)  # noqa: B010

    def _record(self, conn: NodeConnection, direction: Direction, node: Node) -> None:
        account = device = ""
        for candidate in self.state.all_devices():
            if candidate.connection is conn:
                account, device = candidate.phone.number, str(candidate.jid)
                break
        entry = TappedNode(
            next(self._seq),
            self.state.clock(),
            direction,
            self._connections.get(conn, 0),
            account,
            device,
            node.tag,
            {k: str(v) for k, v in node.attrs.items()},
            node.pretty()[:MAX_PRETTY],
        )
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:
                log.exception("stanza tap listener failed")
