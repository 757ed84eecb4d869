"""The client core: what every feature component of a socket is built on.

``ClientCore`` owns the account's auth state, the event emitter, the Signal repository,
the presence flag, and the *current connection attempt* (``Attempt``): its connection,
its background tasks, its per-chat workers and the reason it closes for. Components
(devices → groups → send → receive, pairing, prekeys) are handed the core and the
components below them, never the socket, so that each can be driven in a test by a core
on a fake link (``tests/client/fakes.py``).

Everything an attempt starts (a post-login setup, a QR rotation, a receipt waiting for
handlers, the stanzas queued per chat) belongs to that attempt and is cancelled when it
ends, before the next one starts: nothing of a closed connection runs next to the new
one or after ``end()`` has returned (issue 14, issue 22). Messages whose handling was cut
short were never confirmed to the server, which delivers them again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from wamd.binary import JID, Node
from wamd.client.ordered import KeyedWorkers
from wamd.errors import ConnectionClosed, DisconnectReason, WamdError
from wamd.events import EventEmitter
from wamd.messaging.stanzas import OwnIds
from wamd.signal import SignalRepository
from wamd.store.auth import AuthState

if TYPE_CHECKING:
    from wamd.client.socket import SocketOptions

__all__ = ["Attempt", "ClientCore", "Link", "NotLoggedIn"]


class NotLoggedIn(WamdError):
    """An operation needs a paired, logged-in device."""


class Link(Protocol):
    """What the core needs of a connection (``wamd.transport.NodeConnection`` has it)."""

    @property
    def closed(self) -> bool: ...

    async def send(self, node: Node) -> None: ...

    async def query(self, node: Node, timeout: float) -> Node: ...

    async def request(self, node: Node, timeout: float) -> Node: ...

    def new_id(self) -> str: ...

    async def close(self, reason: DisconnectReason | int, message: str) -> None: ...


@dataclass(eq=False)
class Attempt:
    """One connection: from connecting to closed, with everything it started."""

    number: int
    registering: bool  # connected without a paired device: only pairing may happen
    conn: Link | None = None
    reason: DisconnectReason | int | None = None  # why it closes, once decided
    error: BaseException | None = None  # what the final close event carries
    new_login: bool = False  # paired on this socket: the next open is a new login
    logged_in: bool = False  # its <success> came (a second one is ignored)
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    workers: KeyedWorkers = field(default_factory=KeyedWorkers)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    ended: bool = False

    def decide_close(self, reason: DisconnectReason | int, error: BaseException | None) -> None:
        """Record why this connection closes; the first reason decided is kept."""
        if self.reason is None:
            self.reason = reason
            self.error = error

    async def finish(self) -> None:
        """Cancel what this attempt still runs and wait until all of it has stopped."""
        self.ended = True
        current = asyncio.current_task()
        tasks = [t for t in self.tasks | self.workers.tasks() if t is not current]
        self.workers.cancel()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.tasks.clear()


class ClientCore:
    def __init__(self, auth: AuthState, options: SocketOptions, log: logging.Logger) -> None:
        self.auth = auth
        self.options = options
        self.log = log
        self.ev = EventEmitter(logger=self.logger_for("wamd.events"))
        self.signal = SignalRepository(
            auth.keys,
            auth.creds.signed_identity_key,
            auth.creds.registration_id,
            auth.creds.signed_pre_key,
        )
        self.attempt: Attempt | None = None
        self.marked_online = False  # delivery receipts are "inactive" until we are online
        self._own_cache: tuple[str, str | None, OwnIds] | None = None

    def logger_for(self, module: str) -> logging.Logger:
        """The logger a component of ``module`` logs through: a child of the user's
        ``logger=`` when one was given (``<logger>.receive``...), else the module's own."""
        user = self.options.logger
        if user is None:
            return logging.getLogger(module)
        return user.getChild(module.rsplit(".", 1)[-1])

    # ------------------------------------------------------------------ who we are

    def own_ids(self) -> OwnIds | None:
        """Our device's phone-number and lid JIDs, once paired."""
        me = self.auth.creds.me
        if me is None:
            return None
        cached = self._own_cache
        if cached is not None and cached[0] == me.id and cached[1] == me.lid:
            return cached[2]  # every received stanza asks: parsed once per (id, lid)
        own = OwnIds(JID.parse(me.id), JID.parse(me.lid) if me.lid else None)
        self._own_cache = (me.id, me.lid, own)
        return own

    def require_own(self) -> OwnIds:
        own = self.own_ids()
        if own is None:
            raise NotLoggedIn("not logged in: pair the device first")
        return own

    def change_creds(self, changes: Mapping[str, Any]) -> asyncio.Future[Any]:
        """Apply ``changes`` to the creds and emit ``creds.update``; the future is done
        once every handler (``save_creds`` among them) has run on it."""
        update = dict(changes)
        self.auth.creds.update(update)
        return self.ev.emit_tracked("creds.update", update)

    # ------------------------------------------------------------------ the connection

    @property
    def conn(self) -> Link | None:
        return self.attempt.conn if self.attempt is not None else None

    def live_conn(self) -> Link:
        """The open connection; ``ConnectionClosed`` when there is none."""
        conn = self.conn
        if conn is None or conn.closed:
            raise ConnectionClosed(DisconnectReason.CONNECTION_CLOSED, "not connected")
        return conn

    async def query(self, node: Node, timeout: float | None = None) -> Node:
        """Send an iq and wait for its result (``RequestError`` for an error answer)."""
        return await self.live_conn().query(node, timeout or self.options.default_query_timeout)

    async def send_node(self, node: Node) -> None:
        """Send a stanza; ``ConnectionClosed`` when not connected."""
        await self.live_conn().send(node)

    async def send_quietly(self, node: Node) -> None:
        """Send an answer (ack, receipt) if still connected; a closed link drops it,
        as the server will deliver the stanza it answers again."""
        conn = self.conn
        if conn is None or conn.closed:
            return
        try:
            await conn.send(node)
        except ConnectionClosed:
            self.log.debug("connection closed before <%s> could be sent", node.tag)

    def new_sid(self) -> str:
        conn = self.conn
        return conn.new_id() if conn is not None else os.urandom(6).hex()

    def spawn(self, coro: Awaitable[Any], attempt: Attempt | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` as part of the current attempt (cancelled when it ends)."""
        owner = attempt or self.attempt
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        if owner is None or owner.ended:
            task.cancel()  # nothing to run it under: the connection is already gone
            return task
        owner.tasks.add(task)
        task.add_done_callback(owner.tasks.discard)
        task.add_done_callback(self._log_failure)
        return task

    def _log_failure(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error("background work failed", exc_info=task.exception())
