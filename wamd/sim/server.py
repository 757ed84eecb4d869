"""``SimServer``: a local WhatsApp multi-device server on 127.0.0.1.

It speaks the real protocol (Noise over a websocket at ``/ws/chat``, binary nodes) with
its own certificate authority, so any client that trusts ``root_public_key`` can connect.
Each stanza it sends follows what the public clients read (whatsmeow, Baileys); the
source of each shape is named next to it. ``docs/sim.md`` is the guide.

This module accepts connections (the handshake, the version floor) and hands each to
pairing or login; the rest lives in one module per concern:

- ``state.py``: accounts, devices, groups, the clock, the seeded generator, the work in
  flight; ``allocate_companion`` (the companion limit);
- ``account.py``: ``SimPhone``, the account a test scripts; ``phone.py``: its Signal
  endpoint;
- ``pairing.py``: QR and pairing-code linking; ``login.py``: login, the offline backlog,
  a logged-in device's stanzas, logout and the 14-day expiry;
- ``iq.py``: the xmlns -> handler table; ``services.py``: usync, bundles, account
  queries; ``groups.py``: groups;
- ``router.py``: messages, receipts, acks, presence, notifications, outboxes;
- ``limits.py``: the flood limit; ``activity.py``: ``settle()``; ``rand.py``: ``rng=``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Callable, Mapping, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve

from wamd.binary import JID, Node
from wamd.crypto import KeyPair, SignedKeyPair
from wamd.errors import ConnectionClosed, DecodeError, HandshakeError, ProtocolError, SimError
from wamd.noise import CertificateAuthority
from wamd.noise.payload import parse_client_payload
from wamd.pairing import make_device_identity, verify_pair_success
from wamd.sim import rand
from wamd.sim.account import SimPhone
from wamd.sim.activity import Activity
from wamd.sim.faults import Faults
from wamd.sim.groups import Groups, SimGroup
from wamd.sim.iq import IqTable
from wamd.sim.limits import STANZA_BURST, STANZA_RATE
from wamd.sim.login import EXPIRY_INTERVAL, Logins
from wamd.sim.media import DEFAULT_MEDIA_TTL, SimMediaHost
from wamd.sim.pairing import FIRST_REF_SECONDS, NEXT_REF_SECONDS, Pairing, _Pending
from wamd.sim.phone import SimMessage, SimReceipt
from wamd.sim.router import Router
from wamd.sim.state import (
    DEFAULT_HISTORY,
    MAX_COMPANIONS,
    PRIMARY_OFFLINE_LIMIT,
    HistorySyncPolicy,
    ProvisionedCompanion,
    SimDevice,
    SimState,
)
from wamd.sim.tap import StanzaTap
from wamd.transport import NodeConnection, accept_server

__all__ = [
    "MAX_COMPANIONS",
    "PRIMARY_OFFLINE_LIMIT",
    "HistorySyncPolicy",
    "ProvisionedCompanion",
    "SimDevice",
    "SimError",
    "SimGroup",
    "SimMessage",
    "SimPhone",
    "SimReceipt",
    "SimServer",
]

log = logging.getLogger(__name__)

FIRST_STANZA_DELAY = 0.01  # a round trip's worth of wait before the first stanza (see _handle)
SETUP = "connection setup"


class _Once:
    """A callable that runs ``action`` on its first call only."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


class SimServer:
    """``async with SimServer() as sim: phone = sim.add_phone("15550001111")``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
        min_version: tuple[int, int, int] | None = None,
        qr_ref_seconds: tuple[float, float] = (FIRST_REF_SECONDS, NEXT_REF_SECONDS),
        handshake_timeout: float = 20.0,
        stanza_limit: tuple[float, float] = (STANZA_RATE, STANZA_BURST),
        history_sync: HistorySyncPolicy | None = DEFAULT_HISTORY,
        first_stanza_delay: float = FIRST_STANZA_DELAY,
        app_state_keys: bool = True,
        media_tls: bool = True,
        media_ttl: float = DEFAULT_MEDIA_TTL,
        media_limits: Mapping[str, int] | None = None,
        require_tctoken: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        # every random choice the sim makes comes from here (wamd/sim/rand.py)
        self.seed: int | None = None if rng is not None else rand.new_seed()
        log.debug("sim seed: %s", self.seed)
        self.host = host
        self.port = port
        self.min_version = min_version
        self.handshake_timeout = handshake_timeout
        self.first_stanza_delay = first_stanza_delay  # seconds between handshake and first stanza
        self.expiry_interval = EXPIRY_INTERVAL  # real seconds between sweeps for expiry
        self.state = SimState(
            clock=clock, rng=rng if rng is not None else random.Random(self.seed), host=host
        )
        # companions are treated as restricted accounts: a 1:1 message without the
        # recipient's privacy token is refused with <ack error="463"> (services.py)
        self.state.require_tctoken = require_tctoken
        self.ca = CertificateAuthority(rand.keypair(self.state.rng))
        self.static = rand.keypair(self.state.rng)
        self.certificate = self.ca.issue(self.static.public)
        self.router = Router(self.state)
        self.group_service = Groups(self.state, self.router)
        self.logins = Logins(
            self.state,
            self.router,
            self._serve_iq,
            stanza_limit=stanza_limit,
            history_sync=history_sync,  # None: phones send no history to new companions
            app_state_keys=app_state_keys,  # phones share their app-state key
        )
        self.iq = IqTable(self.state, self.router, self.group_service, self.logins)
        self.pairing = Pairing(
            self.state,
            self.router,
            self._serve_iq,
            qr_ref_seconds=qr_ref_seconds,
            stanza_limit=stanza_limit,
        )
        self.state.on_clock_moved(self.logins.clock_moved)
        # the media host (wamd/sim/media.py): HTTPS from its own CA unless media_tls=False
        self.media = SimMediaHost(
            self.state, host=host, tls=media_tls, ttl=media_ttl, limits=media_limits
        )
        # every node on every client connection, for listeners (the console's stanza log)
        self.tap = StanzaTap(self.state)
        self._server: Server | None = None

    async def _serve_iq(self, conn: NodeConnection, node: Node, device: SimDevice | None) -> None:
        await self.iq.serve(conn, node, device)

    # ------------------------------------------------------------------ state

    @property
    def rng(self) -> random.Random:
        return self.state.rng

    @property
    def activity(self) -> Activity:
        return self.state.activity

    @property
    def faults(self) -> Faults:
        """The fault injector (``faults.py``): drop, delay, duplicate, reorder, disconnect."""
        return self.state.faults

    @property
    def phones(self) -> dict[str, SimPhone]:
        return self.state.phones

    @property
    def groups(self) -> dict[str, SimGroup]:
        return self.state.groups

    @property
    def media_auth(self) -> str:
        return self.state.media_auth

    @property
    def media_ca_pem(self) -> bytes | None:
        """The PEM of the CA behind the media host's certificate (``None``: plain HTTP)."""
        return self.media.tls.ca_pem if self.media.tls is not None else None

    def media_ssl_context(self) -> ssl.SSLContext | None:
        """An SSL context that trusts the media host (``None`` when it speaks plain HTTP):
        ``make_wa_socket(..., media_ssl=sim.media_ssl_context())``."""
        return self.media.tls.client_context() if self.media.tls is not None else None

    def clock(self) -> float:
        """The sim's notion of now: the injected clock plus ``clock_offset``."""
        return self.state.clock()

    @property
    def clock_offset(self) -> float:
        """Seconds added to the injected clock; moving it sweeps for expired companions."""
        return self.state.clock_offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self.state.clock_offset = value

    def account_of(self, jid: JID) -> SimPhone | None:
        """The account a phone-number or lid JID belongs to."""
        return self.state.account_of(jid)

    def device_of(self, jid: JID) -> SimDevice | None:
        return self.state.device_of(jid)

    def session_jid(self, jid: JID) -> JID:
        """A device's encryption identity in its LID form (as current clients key sessions)."""
        return self.state.session_jid(jid)

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/chat"

    @property
    def root_public_key(self) -> bytes:
        return self.ca.root_public_key

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.media.start()
        self.state.media_hosts = [self.media.hostname]
        self._server = await serve(
            self._handle, self.host, self.port, max_size=1 << 24, compression=None
        )
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        # not counted by settle(): it only sleeps until it finds something to do
        self.state.spawn(self.logins.sweep(self.expiry_interval), "expiry sweeps", track=False)
        log.info("sim listening on %s", self.url)

    async def stop(self) -> None:
        await self.logins.close_all()
        await self.pairing.close_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.state.cancel_tasks()
        for phone in self.state.phones.values():
            await phone.endpoint.media.close()
        await self.media.stop()

    async def settle(self, timeout: float | None = 30.0, *, acked: bool = False) -> None:
        """Return once the sim has nothing in flight (see ``wamd/sim/activity.py``).

        Nothing in flight: no stanza from a client being handled, no connection being set
        up, every phone's queue worked through and every task the sim spawned finished;
        so every stanza the sim meant to send is written to its socket. With
        ``acked=True`` it also waits until every connected companion has acknowledged
        everything delivered to it (its outbox is empty), i.e. the client has handled
        it too. ``TimeoutError`` after ``timeout`` seconds names what is still running.

        ``await sim.settle(); assert inbox.empty()`` is how a test checks that nothing
        more arrives, without sleeping.
        """
        also = self.state.unacknowledged if acked else None
        await self.state.activity.settle(timeout, also=also)

    # ------------------------------------------------------------------ accounts

    def add_phone(
        self, number: str, name: str | None = None, *, business: bool = False
    ) -> SimPhone:
        """A new account with its primary phone; ``name`` is its push name.

        A ``business`` account's name is its business name too, and pair-success carries
        it (``<biz name>``), as the real server does for WhatsApp Business accounts.
        """
        if not number.isdigit():
            raise ValueError("a phone number is digits only, in international form")
        if number in self.state.phones:
            raise ValueError(f"{number} already has an account on this sim")
        phone = SimPhone(self, number, name or number, business=business)
        self.state.add_phone(phone)
        return phone

    def provision_companion(
        self,
        phone: SimPhone,
        identity: KeyPair,
        *,
        registration_id: int,
        signed_prekey: SignedKeyPair,
        prekeys: Sequence[tuple[int, bytes]] = (),
        respect_limit: bool = False,
    ) -> ProvisionedCompanion:
        """Register a device as if it had just been paired, without the QR dance.

        For load tests and fixtures that need many logged-in companions; the pairing
        path (``scan_qr``, ``link_with_code``) stays the way real clients link. The
        account signs a genuine ADV identity for ``identity`` and the device signature
        is made with its private key, so what comes back is exactly what a client
        stores after ``pair-success``: log in with ``login_payload(phone.number,
        device.jid.device)``. The companion limit is not enforced unless asked
        (a load test wants more than four devices per account).
        """
        allocation = self.state.allocate_companion(phone, respect_limit=respect_limit)
        adv_secret = self.state.rng.randbytes(32)
        container = make_device_identity(
            phone.account_key,
            identity.public,
            adv_secret,
            raw_id=int(phone.number) & 0xFFFFFFFF,
            key_index=allocation.key_index,
            timestamp=self.state.now(),
        )
        signed = verify_pair_success(container, adv_secret, identity)
        device = SimDevice(
            phone,
            jid=allocation.jid,
            lid=allocation.lid,
            identity=identity.public,
            registration_id=registration_id,
            signed_prekey_id=signed_prekey.key_id,
            signed_prekey=signed_prekey.key_pair.public,
            signed_prekey_signature=signed_prekey.signature,
            key_index=signed.key_index,
            prekeys=dict(prekeys),
        )
        self.state.register_companion(device)
        return ProvisionedCompanion(device, signed.account, phone.account_key.public, adv_secret)

    async def expire_companions(self) -> int:
        """Log out every companion whose phone has been offline past 14 days (``login.py``)."""
        return await self.logins.expire_companions()

    # ------------------------------------------------------------------ pairing (tests)

    @property
    def _pending_by_ref(self) -> dict[str, _Pending]:
        return self.pairing.pending_by_ref

    async def _pair(
        self, phone: SimPhone, pending: _Pending, identity: bytes, adv_secret: bytes
    ) -> SimDevice:
        """Answer a pending registration as ``phone`` with the given QR secrets (a test
        forging a scan uses this)."""
        return await self.pairing.pair(phone, pending, identity, adv_secret)

    # ------------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        # counted as work in flight until the connection is set up (see settle())
        self.state.activity.enter(SETUP)
        setup = _Once(lambda: self.state.activity.leave(SETUP))
        try:
            await self._handle_connection(ws, setup)
        finally:
            setup()

    async def _handle_connection(self, ws: ServerConnection, setup: _Once) -> None:
        if ws.request is not None and ws.request.path.split("?")[0] != "/ws/chat":
            await ws.close(1008, "unknown endpoint")
            return
        try:
            conn, payload_bytes = await accept_server(
                ws,
                static=self.static,
                certificate=self.certificate,
                handshake_timeout=self.handshake_timeout,
            )
            payload = parse_client_payload(payload_bytes)
            self.tap.attach(conn)
        except (HandshakeError, DecodeError, ProtocolError, ConnectionClosed) as exc:
            log.info("dropping client during handshake: %s", exc)
            await ws.close()
            return
        try:
            # A client finishes its side of the handshake only once its last handshake
            # frame is written (Baileys: noise.finishInit after the send resolves); a
            # stanza that comes before that is read as a handshake frame and lost. The
            # real server is a network round trip away; the sim waits as long.
            await asyncio.sleep(self.first_stanza_delay)
            if self.min_version is not None and payload.version < self.min_version:
                # whatsmeow connectionevents.go handleConnectFailure: reason 405 = client outdated
                await conn.send(Node("failure", {"reason": "405", "location": "sim"}))
                await conn.close()
                return
            if payload.is_registration:
                await self.pairing.registration(conn, payload, setup)
            else:
                await self.logins.login(conn, payload, setup)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed")
            await conn.close()
