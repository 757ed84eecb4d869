"""Login on the sim: ``success``, the offline backlog, a logged-in device's stanzas, logout.

- A linked device logs in (whatsmeow ``connectionevents.go``): ``<success t lid ...>``,
  every unacknowledged stanza again (``offline="1"``), then ``<ib><offline count=N/>``.
  Unknown, unlinked or expired devices get ``<failure reason="401">``; a second
  connection of one device replaces the first (``<stream:error><conflict
  type="replaced"/>``).
- After a device's first login its phone sends the app-state key share and the history.
- Its stanzas go, in order, through the flood limit (``limits.py``) to the iq table
  (``iq.py``) or the router; one the sim fails on is answered ``500`` for an iq.
- Logout: a device removed by its phone, or all companions of a phone offline past 14
  days, get ``<stream:error code="401"><conflict type="device_removed"/>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from websockets.protocol import State

from wamd.binary import Node
from wamd.errors import ConnectionClosed, DisconnectReason
from wamd.messaging import stanzas
from wamd.noise.payload import ParsedClientPayload
from wamd.sim.limits import FloodLimit, drop
from wamd.sim.state import SERVER, HistorySyncPolicy, SimDevice, SimState
from wamd.transport import NodeConnection

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router

__all__ = ["EXPIRY_INTERVAL", "Logins"]

log = logging.getLogger(__name__)

EXPIRY_INTERVAL = 60.0  # real seconds between sweeps for companions past the 14 days

IqServer = Callable[[NodeConnection, Node, "SimDevice | None"], Awaitable[None]]


class Logins:
    """Logged-in connections, and logging devices out."""

    def __init__(
        self,
        state: SimState,
        router: Router,
        serve_iq: IqServer,
        *,
        stanza_limit: tuple[float, float],
        history_sync: HistorySyncPolicy | None,
        app_state_keys: bool,
    ) -> None:
        self.state = state
        self.router = router
        self.serve_iq = serve_iq
        self.stanza_limit = stanza_limit
        self.history_sync = history_sync
        self.app_state_keys = app_state_keys
        self.replaced = 0  # connections pushed off by a newer one of the same device (440)

    async def close_all(self) -> None:
        for phone in self.state.phones.values():
            for device in phone.companions.values():
                if device.connection is not None:
                    await device.connection.close()

    async def _replay(self, device: SimDevice, conn: NodeConnection) -> None:
        """Send the outbox as the offline backlog, then what arrived while it was sent.

        A stanza routed to the device during the replay waits in the outbox (``deliver``
        holds it back while ``device.replaying`` is this connection): sent at once, a new
        message would overtake the older ones of its chat still in the backlog, which the
        real service never does.
        """
        backlog = list(device.outbox.items())
        sent = {key for key, _ in backlog}
        for _, node in backlog:
            await conn.send(Node(node.tag, node.attrs | {"offline": "1"}, node.content))
        # whatsmeow handleIB: <ib><offline count=N/></ib> ends the offline backlog
        await conn.send(
            Node("ib", {"from": SERVER}, [Node("offline", {"count": str(len(backlog))})])
        )
        while fresh := [(k, n) for k, n in device.outbox.items() if k not in sent]:
            for key, node in fresh:  # live now, faults and all, as deliver would have
                if conn.closed:
                    return  # the rest waits in the outbox for the next login
                sent.add(key)
                await self.state.faults.send(device, conn, node)

    async def login(
        self, conn: NodeConnection, payload: ParsedClientPayload, setup: Callable[[], None]
    ) -> None:
        """A linked device logs in: success, its backlog, then its stanzas until it leaves."""
        refused = self.state.faults.refuse_login()
        if refused is not None:
            # whatsmeow connectionevents.go: <failure reason="503"> = service unavailable
            await conn.send(Node("failure", {"reason": str(refused), "location": "sim"}))
            await conn.close()
            return
        phone = self.state.phones.get(payload.username or "")
        device = phone.companions.get(payload.device or 0) if phone else None
        expired = phone is not None and phone.expired()
        if phone is None or device is None or device.unlinked or expired:
            if device is not None and expired and not device.unlinked:
                device.unlinked = True
                await self.router.notify_devices(device.phone, "remove", device)
            # whatsmeow connectionevents.go: <failure reason="401"> = logged out
            await conn.send(Node("failure", {"reason": "401", "location": "sim"}))
            await conn.close()
            return
        previous = device.connection
        # a connection whose client closed it already (its websocket is no longer open,
        # though its reader has not caught up yet) is not pushed off: the client is gone
        if previous is not None and not previous.closed and previous.ws.state is State.OPEN:
            self.replaced += 1
            # whatsmeow connectionevents.go: <conflict type="replaced"/> -> StreamReplaced
            with contextlib.suppress(ConnectionClosed):
                await previous.send(
                    Node("stream:error", {}, [Node("conflict", {"type": "replaced"})])
                )
            await previous.close()
        device.connection = conn
        device.replaying = conn  # until the backlog is out: see _replay
        device.last_seen = self.state.clock()
        try:
            # whatsmeow handleConnectSuccess reads t and lid; Baileys reads the same node
            await conn.send(
                Node(
                    "success",
                    {
                        "t": str(self.state.now()),
                        "props": "1",
                        "abprops": "1",
                        "location": "sim",
                        "creation": str(self.state.now()),
                        "lid": str(device.lid),
                    },
                )
            )
            await self._replay(device, conn)
        finally:
            # no await since _replay last found the outbox caught up: nothing can slip in
            if device.replaying is conn:
                device.replaying = None
        bucket = FloodLimit(*self.stanza_limit)

        async def serve(node: Node) -> None:
            if not bucket.take():
                log.warning(
                    "disconnecting %s: more than %g stanzas per second (burst %g): flooding",
                    device.jid,
                    *self.stanza_limit,
                )
                await drop(conn, "flooding")
                return
            with self.state.activity.busy(f"a stanza from {device.jid}"):
                if phone.expired():
                    await self.expire_companions()
                    return
                if self.state.faults.lose_inbound(device, node):
                    return  # lost on the way in (a fault)
                await self._serve(conn, node, device)

        conn.start(serve)
        first_login = not device.logged_in
        device.logged_in = True
        if first_login and phone.online:
            self.state.spawn(self._welcome(phone, device), f"welcome for {device.jid}")
        setup()
        closed = await conn.wait_closed()
        if closed.reason == DisconnectReason.BAD_SESSION and str(closed) not in (
            "flooding",
            "dropped by a fault",
        ):
            log.warning("disconnected %s: %s", device.jid, closed)
        if device.connection is conn:
            device.connection = None
            device.last_seen = self.state.clock()

    async def _welcome(self, phone: SimPhone, device: SimDevice) -> None:
        """What the phone sends a companion after its first login: keys, then history."""
        if self.app_state_keys:
            await phone.endpoint.send_app_state_keys(device)
        policy = self.history_sync
        if policy is not None:
            await phone.endpoint.send_history(
                device, days=policy.days, max_messages=policy.messages, blob=policy.blob
            )

    async def _serve(self, conn: NodeConnection, node: Node, device: SimDevice) -> None:
        try:
            if node.tag == "iq":
                await self.serve_iq(conn, node, device)
            else:
                await self.router.handle(device, node)
        except ConnectionClosed:
            raise
        except Exception:
            # a stanza the sim cannot handle must not leave the client waiting forever
            log.exception("sim failed on <%s> from %s", node.tag, device.jid)
            if (
                node.tag == "iq"
                and node.attrs.get("id")
                and node.attrs.get("type") in ("get", "set")
            ):
                error = stanzas.iq_error(node, 500, "internal-server-error", as_server=True)
                await conn.send(error)

    async def remove_device(self, device: SimDevice) -> None:
        """Unlink a companion: everyone is told, and a connected one is logged out.

        whatsmeow connectionevents.go: ``<stream:error code="401"><conflict
        type="device_removed"/>`` is the server logging a connected device out (LoggedOut,
        the session is deleted); ``<failure reason="401">`` is the same at login.
        """
        if device.unlinked:
            return
        device.unlinked = True
        await self.router.notify_devices(device.phone, "remove", device)
        conn = device.connection
        if conn is not None and not conn.closed:
            with contextlib.suppress(ConnectionClosed):
                await conn.send(
                    Node(
                        "stream:error",
                        {"code": "401"},
                        [Node("conflict", {"type": "device_removed"})],
                    )
                )
            await conn.close()

    async def expire_companions(self) -> int:
        """Log out every companion whose phone has been offline past 14 days.

        The real service ends those links; neither reference has a distinct code for it,
        so it is the device removal a connected client knows (``stream:error 401
        device_removed``, see ``remove_device``), and ``failure 401`` at a later login.
        Runs when the clock offset moves, on every stanza from such a companion, and every
        ``expiry_interval`` seconds of real time (an injected clock is not watched).
        Returns how many were logged out.
        """
        removed = 0
        for phone in list(self.state.phones.values()):
            if not phone.expired():
                continue
            for device in list(phone.companions.values()):
                if not device.unlinked:
                    await self.remove_device(device)
                    removed += 1
        return removed

    async def sweep(self, interval: float) -> None:
        """Every ``interval`` seconds of real time, log out what has expired."""
        while True:
            await asyncio.sleep(interval)
            if any(
                p.expired() and any(not d.unlinked for d in p.companions.values())
                for p in self.state.phones.values()
            ):
                self.state.spawn(self.expire_companions(), "expiry sweep")

    def clock_moved(self) -> None:
        """The clock offset moved: a companion may have expired."""
        with contextlib.suppress(RuntimeError):  # no running loop: the next sweep does it
            asyncio.get_running_loop()
            self.state.spawn(self.expire_companions(), "expiry sweep")
