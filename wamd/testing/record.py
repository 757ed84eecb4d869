"""Recording what a socket sends, and spying on any async method that takes a node.

``sent = record_sends(sock)`` is a list that gets every node the socket's current
connection sends from then on (iqs, messages, receipts, acks, in send order), until
``sent.stop()``. ``sent.of("receipt", type="retry")`` picks some of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wamd.binary import Node
from wamd.errors import ConnectionClosed, DisconnectReason

if TYPE_CHECKING:
    from wamd.client import WASocket

__all__ = ["Recording", "record_sends", "spy"]


class Recording(list[Node]):
    """The nodes a spied method was given, in call order (a plain list, plus helpers)."""

    def __init__(self) -> None:
        super().__init__()
        self._restore: Any = None

    def of(self, tag: str, **attrs: str) -> list[Node]:
        """The recorded nodes with ``tag`` whose attributes include ``attrs``."""
        return [
            n for n in self if n.tag == tag and all(n.attrs.get(k) == v for k, v in attrs.items())
        ]

    def stop(self) -> None:
        """Stop recording and put the spied method back (what was recorded stays)."""
        if self._restore is not None:
            self._restore()
            self._restore = None


def spy(obj: Any, name: str) -> Recording:
    """Keep the node each later call of the async method ``obj.name(node, ...)`` is given.

    The method still runs; the call is recorded before it does (a send that then fails
    is recorded too).
    """
    seen = Recording()
    had_own = name in vars(obj)  # an attribute of the instance, not of its class
    real = getattr(obj, name)

    async def wrapper(node: Node, *args: Any, **kwargs: Any) -> Any:
        seen.append(node)
        return await real(node, *args, **kwargs)

    def restore() -> None:
        if getattr(obj, name) is not wrapper:
            return  # spied on again since: leave the newer wrapper in place
        if had_own:
            setattr(obj, name, real)
        else:
            delattr(obj, name)

    setattr(obj, name, wrapper)
    seen._restore = restore
    return seen


def record_sends(sock: WASocket) -> Recording:
    """Every node ``sock`` sends from now on, on its current connection, in order."""
    if sock.conn is None or sock.conn.closed:
        raise ConnectionClosed(
            DisconnectReason.CONNECTION_CLOSED, "the socket has no connection to record"
        )
    return spy(sock.conn, "send")
