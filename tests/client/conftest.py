"""Shared fixtures: a sim on 127.0.0.1 and a paired socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from wamd.binary import Node
from wamd.client import WASocket, make_wa_socket
from wamd.events import MessagesUpsert
from wamd.messaging.types import WAMessage
from wamd.sim import SimPhone, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds


def new_state() -> AuthState:
    return AuthState(init_auth_creds(), MemoryKeyStore())


def socket_for(sim: SimServer, state: AuthState, **options: Any) -> WASocket:
    return make_wa_socket(state, url=sim.url, server_root_key=sim.root_public_key, **options)


async def link(sim: SimServer, phone: SimPhone, state: AuthState | None = None) -> WASocket:
    """A socket paired by QR as a companion of ``phone`` and logged in."""
    sock = socket_for(sim, state or new_state())
    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=10)
    await phone.scan_qr(update.qr)
    await sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=20)
    return sock


class Inbox:
    """Every message a socket emits in ``messages.upsert``, with a way to wait for more."""

    def __init__(self, sock: WASocket) -> None:
        self.sock = sock
        self.messages: list[WAMessage] = []
        self.kinds: list[str] = []
        sock.ev.on("messages.upsert", self._on)

    def _on(self, update: MessagesUpsert) -> None:
        for message in update.messages:
            self.messages.append(message)
            self.kinds.append(update.type)

    async def wait(
        self, predicate: Callable[[WAMessage], bool] = lambda m: True, timeout: float = 10
    ) -> WAMessage:
        for message in self.messages:
            if predicate(message):
                return message
        update = await self.sock.ev.wait_for(
            "messages.upsert",
            lambda u: any(predicate(m) for m in u.messages),
            timeout=timeout,
        )
        return next(m for m in update.messages if predicate(m))


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


def spy(obj: Any, name: str) -> list[Node]:
    """Keep the node each later call of the async method ``obj.name(node)`` is given."""
    seen: list[Node] = []
    real = getattr(obj, name)

    async def wrapper(node: Node, *args: Any, **kwargs: Any) -> Any:
        seen.append(node)
        return await real(node, *args, **kwargs)

    setattr(obj, name, wrapper)
    return seen


def record_sends(sock: WASocket) -> list[Node]:
    """Every node the socket sends from now on (on its current connection), in order."""
    assert sock.conn is not None
    return spy(sock.conn, "send")
