"""A raw companion: a bare Noise + binary-node connection to the sim, no ``WASocket``.

For tests that pin the sim's (or a server's) answers stanza by stanza.
``pair_companion`` links a fresh device the way a real client does (registration
payload, answer to ``pair-device``, the phone scans the QR string,
``pair-device-sign`` answering ``pair-success``, ``stream:error 515``);
``RawCompanion.login`` then connects with the login payload and collects ``success``,
the offline backlog and the ``<ib><offline/></ib>`` that ends it (the order of
whatsmeow's handleConnectSuccess and its offline-sync handling).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from wamd.binary import JID, Node
from wamd.client.pairing import registration_for
from wamd.crypto import KeyPair, generate_keypair
from wamd.errors import PairingError, ProtocolError
from wamd.noise.payload import login_payload
from wamd.pairing import make_qr_string, verify_pair_success
from wamd.signal import generate_prekeys
from wamd.signal.prekeys import upload_children
from wamd.sim import SimDevice, SimPhone, SimServer
from wamd.store import init_auth_creds
from wamd.store.creds import AuthenticationCreds
from wamd.testing.inbox import NothingArrived
from wamd.transport import NodeConnection, connect_client

__all__ = [
    "SERVER",
    "WAIT",
    "Login",
    "RawCompanion",
    "open_raw",
    "pair_companion",
    "registration",
]

SERVER = "s.whatsapp.net"
WAIT = 10.0  # generous upper bound for one stanza to arrive (never a speed assertion)


async def open_raw(
    sim: SimServer, payload: bytes, version: int = 3, noise: KeyPair | None = None
) -> NodeConnection:
    """A Noise connection to ``sim`` that has sent ``payload`` (registration or login)."""
    return await connect_client(
        sim.url,
        noise_key=noise or generate_keypair(),
        client_payload=payload,
        trusted_root=sim.root_public_key,
        dict_version=version,
        origin="http://127.0.0.1",
    )


def registration(creds: AuthenticationCreds) -> bytes:
    """The client payload of an unpaired device with ``creds`` (asks for QR refs)."""
    return registration_for(creds)


async def _receive(conn: NodeConnection, what: str) -> Node:
    try:
        return await asyncio.wait_for(conn.receive(), WAIT)
    except TimeoutError:
        raise NothingArrived(f"no {what} within {WAIT:g} s") from None


@dataclass
class Login:
    """What a login brought: ``success``, the offline backlog, the ``ib`` that ended it."""

    success: Node
    offline: list[Node]
    ib: Node


@dataclass
class RawCompanion:
    """A linked device spoken for by hand: every node in and out is the test's."""

    sim: SimServer
    phone: SimPhone
    creds: AuthenticationCreds
    device: SimDevice
    version: int = 3
    conn: NodeConnection | None = None
    inbox: asyncio.Queue[Node] = field(default_factory=asyncio.Queue)
    auto_ack: bool = False
    received: list[Node] = field(default_factory=list)  # every node since login, kept

    def __repr__(self) -> str:  # the creds hold private keys
        return f"RawCompanion({self.device.jid})"

    @property
    def jid(self) -> JID:
        return self.device.jid

    @property
    def lid(self) -> JID:
        return self.device.lid

    async def login(self) -> Login:
        """Connect as the linked device; returns success, the backlog and the ib."""
        self.inbox = asyncio.Queue()
        self.received = []
        conn = await open_raw(
            self.sim,
            login_payload(self.phone.number, self.device.jid.device),
            self.version,
            self.creds.noise_key,
        )
        self.conn = conn
        success = await _receive(conn, "answer to the login")
        if success.tag != "success":
            raise ProtocolError(f"login answered with <{success.tag}> {success.attrs}")
        offline: list[Node] = []
        while True:
            node = await _receive(conn, "<ib><offline/></ib> after the login")
            if node.tag == "ib" and node.get_child("offline") is not None:
                break
            offline.append(node)
        conn.start(self._on_node)
        return Login(success, offline, node)

    async def _on_node(self, node: Node) -> None:
        self.received.append(node)
        if self.auto_ack and node.tag in ("message", "receipt", "notification"):
            await self.ack(node)
        self.inbox.put_nowait(node)

    async def next(
        self,
        tag: str | None = None,
        where: Callable[[Node], bool] | None = None,
        timeout: float = WAIT,
    ) -> Node:
        """The next received node (with ``tag`` / matching ``where``); others are dropped
        from the queue (``received`` keeps them all).

        Raises ``NothingArrived`` when none comes within ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    node = await self.inbox.get()
                    if (tag is None or node.tag == tag) and (where is None or where(node)):
                        return node
        except TimeoutError:
            wanted = f"<{tag}>" if tag else "node"
            raise NothingArrived(
                f"no {wanted}{' matching' if where else ''} reached {self.jid} within {timeout:g} s"
            ) from None

    def pending(self) -> list[Node]:
        """The nodes received and not yet taken by ``next()`` (and takes them)."""
        nodes: list[Node] = []
        while not self.inbox.empty():
            nodes.append(self.inbox.get_nowait())
        return nodes

    def _live(self) -> NodeConnection:
        if self.conn is None:
            raise ProtocolError(f"{self.jid} is not logged in (call login())")
        return self.conn

    async def send(self, node: Node) -> None:
        await self._live().send(node)

    async def query(self, node: Node) -> Node:
        """Send an ``iq`` and return its result (``RequestError`` for an error answer)."""
        return await self._live().query(node, timeout=WAIT)

    async def send_message(self, node: Node) -> Node:
        """Send a ``message`` and return the server's ``ack`` for it."""
        return await self._live().request(node, timeout=WAIT)

    async def ack(self, node: Node) -> None:
        """Acknowledge a received stanza as whatsmeow's sendAck does."""
        attrs = {"class": node.tag, "id": node.attrs.get("id", ""), "to": node.attrs["from"]}
        if "participant" in node.attrs:
            attrs["participant"] = node.attrs["participant"]
        if "recipient" in node.attrs:
            attrs["recipient"] = node.attrs["recipient"]
        if node.tag != "message" and "type" in node.attrs:
            attrs["type"] = node.attrs["type"]
        await self.send(Node("ack", attrs))

    async def receipt(
        self, message: Node, kind: str = "", children: list[Node] | None = None
    ) -> Node:
        """Send a receipt for a received message; returns the server's receipt ack."""
        attrs = {"id": message.attrs["id"], "to": message.attrs["from"]}
        for name in ("participant", "recipient"):
            if name in message.attrs:
                attrs[name] = message.attrs[name]
        if kind:
            attrs["type"] = kind
        return await self._live().request(Node("receipt", attrs, children), timeout=WAIT)

    async def upload_prekeys(self, count: int, start: int = 1) -> list[tuple[int, KeyPair]]:
        """Upload ``count`` one-time prekeys from id ``start``; returns them."""
        keys = generate_prekeys(start, count)
        children = upload_children(
            self.creds.registration_id,
            self.creds.signed_identity_key.public,
            keys,
            self.creds.signed_pre_key,
        )
        await self.query(Node("iq", {"type": "set", "xmlns": "encrypt"}, children))
        return keys

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
            with contextlib.suppress(Exception):
                await self.conn.wait_closed()
        self.conn = None


async def pair_companion(
    sim: SimServer,
    phone: SimPhone,
    *,
    version: int = 3,
    login: bool = True,
    scanner: Callable[[str], Awaitable[object]] | None = None,
) -> RawCompanion:
    """Link a new raw device to ``phone`` through the QR flow (and log it in).

    ``scanner`` shows the QR string to the phone (``phone.scan_qr`` unless given).
    """
    creds = init_auth_creds()
    conn = await open_raw(sim, registration(creds), version, creds.noise_key)
    pair_device = await _receive(conn, "<pair-device> iq")
    refs = pair_device.require_child("pair-device").get_children("ref")
    await conn.send(Node("iq", {"to": SERVER, "type": "result", "id": pair_device.attrs["id"]}))
    qr = make_qr_string(
        refs[0].content_bytes() or b"",
        creds.noise_key.public,
        creds.signed_identity_key.public,
        creds.adv_secret_key,
    )
    scan = asyncio.ensure_future((scanner or phone.scan_qr)(qr))
    success = await _receive(conn, "<pair-success> iq after the scan")
    child = success.require_child("pair-success")
    identity = child.require_child("device-identity").content_bytes() or b""
    result = verify_pair_success(identity, creds.adv_secret_key, creds.signed_identity_key)
    sign = Node(
        "pair-device-sign",
        {},
        [Node("device-identity", {"key-index": str(result.key_index)}, result.reply_identity)],
    )
    await conn.send(Node("iq", {"to": SERVER, "type": "result", "id": success.attrs["id"]}, [sign]))
    restart = await _receive(conn, "stream:error 515 after pair-device-sign")
    if restart.tag != "stream:error" or restart.attrs.get("code") != "515":
        raise PairingError(f"expected a 515 restart after pairing, got <{restart.tag}>")
    await asyncio.wait_for(scan, WAIT)
    await conn.close()
    device = max(
        (d for d in phone.companions.values() if d.identity == creds.signed_identity_key.public),
        key=lambda d: d.jid.device,
    )
    companion = RawCompanion(sim, phone, creds, device, version)
    if login:
        await companion.login()
    return companion
