"""``SimServer``: a local WhatsApp multi-device server on 127.0.0.1.

It speaks the real protocol (Noise over a websocket at ``/ws/chat``, binary nodes) with
its own certificate authority, so any client that trusts ``root_public_key`` can connect.
Each stanza it sends follows what the public clients read (whatsmeow, Baileys); the
source of each shape is named next to it.

Implemented here: registration and QR pairing (``pair-device`` refs, ``pair-success``
with a genuine ADV identity, ``pair-device-sign`` check, ``stream:error 515``), login
(``success``; ``failure 401`` for unknown/unlinked/expired devices; ``failure 405`` for
clients older than ``min_version``; ``stream:error conflict replaced`` for a second
connection of the same device), unlinking (``stream:error 401 device_removed``), the
companion limit, prekey upload, count, rotation and digest, keepalive pings, passive
mode, an error answer for every other iq (clients stall on unanswered queries), a flood
limit per connection, bounded history sync after a first login (on unless
``history_sync=None``), and
``provision_companion`` for load tests. Messaging lives in ``router.py``, usync, bundles
and groups in ``services.py``, the phones in ``phone.py``; ``docs/sim.md`` is the guide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER
from wamd.crypto import DJB_TYPE, KeyPair, SignedKeyPair, verify
from wamd.errors import (
    ConnectionClosed,
    DecodeError,
    DisconnectReason,
    HandshakeError,
    PairingError,
    ProtocolError,
    RequestError,
    SimError,
)
from wamd.messaging.core import participant_hash
from wamd.noise import CertificateAuthority
from wamd.noise.payload import ParsedClientPayload, parse_client_payload
from wamd.pairing import (
    make_device_identity,
    parse_qr_string,
    primary_finish_code_pairing,
    primary_start_code_pairing,
    verify_device_signature,
    verify_pair_success,
)
from wamd.proto import e2e_pb2
from wamd.sim import rand
from wamd.sim.activity import Activity
from wamd.sim.phone import PhoneEndpoint, SimMessage, SimReceipt, reaction_message, text_message
from wamd.sim.router import Router
from wamd.sim.services import (
    SimGroup,
    answer_account,
    answer_group,
    answer_keys,
    answer_media_conn,
    answer_privacy_tokens,
    answer_usync,
    group_node,
    new_group_id,
)
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

MAX_COMPANIONS = 4  # one primary phone plus at most four linked devices
PRIMARY_OFFLINE_LIMIT = 14 * 24 * 3600  # companions are logged out after 14 days without the phone
QR_REF_COUNT = 6  # refs in one pair-device (whatsmeow qrchan.go expects 6)
FIRST_REF_SECONDS = 60.0  # the first ref lives 60 s, the others 20 s (whatsmeow qrchan.go)
NEXT_REF_SECONDS = 20.0
SERVER = DEFAULT_USER_SERVER
LOW_PREKEYS = 5  # fewer one-time prekeys than this left: the device is told to upload
FIRST_STANZA_DELAY = 0.01  # a round trip's worth of wait before the first stanza (see _handle)
# Flood limit per connection: a token bucket of STANZA_BURST stanzas refilled at
# STANZA_RATE per second of real (monotonic) time, not the sim's scriptable clock: a test
# that freezes or jumps the clock must not starve or flood-exempt a client. A client
# beyond it is disconnected (and the reason logged).
# WhatsApp's own limits are not public; these are far above what a well-behaved client
# sends (the load test stays below a tenth of them per connection).
STANZA_RATE = 500.0
STANZA_BURST = 2000.0


class _Bucket:
    """A token bucket refilled on ``clock`` (the sim passes ``time.monotonic``)."""

    def __init__(self, clock: Callable[[], float], rate: float, burst: float) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


SETUP = "connection setup"
EXPIRY_INTERVAL = 60.0  # real seconds between sweeps for companions past the 14 days


class _Once:
    """A callable that runs ``action`` on its first call only."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


@dataclass(eq=False)
class SimDevice:
    """A device of an account as the server knows it (the phone is device 0)."""

    phone: SimPhone
    jid: JID
    lid: JID
    identity: bytes
    registration_id: int
    signed_prekey_id: int
    signed_prekey: bytes
    signed_prekey_signature: bytes
    key_index: int
    prekeys: dict[int, bytes] = field(default_factory=dict)
    connection: NodeConnection | None = None
    unlinked: bool = False
    # everything delivered and not yet acknowledged, redelivered after each login
    outbox: OrderedDict[tuple[str, ...], Node] = field(default_factory=OrderedDict)
    endpoint: Callable[[Node], None] | None = None  # the phone itself, for device 0
    logged_in: bool = False  # has logged in at least once (history sync follows the first)
    low_prekeys_told: bool = False  # an encrypt notification went out since the last upload


@dataclass(frozen=True)
class HistorySyncPolicy:
    """What the phone sends a companion after its first login: recent history only."""

    days: float = 7.0  # messages older than this are not sent
    messages: int = 100  # at most this many of the newest messages


@dataclass(frozen=True)
class ProvisionedCompanion:
    """What ``SimServer.provision_companion`` hands back: a client's creds after pairing."""

    device: SimDevice
    account: bytes  # ADVSignedDeviceIdentity incl. the device signature (creds "account")
    account_signature_key: bytes  # the primary's identity key
    adv_secret: bytes

    def __repr__(self) -> str:  # the ADV secret is a credential
        return f"ProvisionedCompanion({self.device.jid})"


@dataclass
class _Pending:
    """An unpaired client waiting for a phone to scan one of its refs."""

    connection: NodeConnection
    payload: ParsedClientPayload
    refs: list[str]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # phone-number pairing (link_code_companion_reg), when the companion asked for a code
    code_phone: str | None = None
    code_ref: bytes = b""
    wrapped_companion_ephemeral: bytes = b""
    code_finish: asyncio.Future[Node] | None = None


class SimPhone:
    """A registered account's primary phone, scriptable from tests."""

    def __init__(self, server: SimServer, number: str, name: str) -> None:
        self.server = server
        self.number = number
        self.name = name
        self.lid_user = str(100_000_000_000_000 + server.rng.getrandbits(40))
        self.account_key: KeyPair = rand.keypair(server.rng)  # the account's identity (ADV)
        self.companions: dict[int, SimDevice] = {}
        self._next_device = 1
        self._key_index = 0
        self.last_online = server.clock()
        self.online = True
        self.business = False  # a WhatsApp Business account (add_phone(business=True))
        self.status = "Hey there! I am using WhatsApp."
        self.status_time = int(server.clock())
        self.primary = SimDevice(
            self,
            JID(number, DEFAULT_USER_SERVER),
            JID(self.lid_user, HIDDEN_USER_SERVER),
            identity=b"",
            registration_id=0,
            signed_prekey_id=0,
            signed_prekey=b"",
            signed_prekey_signature=b"",
            key_index=0,
        )
        self.endpoint = PhoneEndpoint(server, self, self.primary)
        self.primary.endpoint = self.endpoint.deliver

    def devices(self) -> list[SimDevice]:
        """The primary and every linked companion, as usync lists them."""
        return [self.primary] + [d for d in self.companions.values() if not d.unlinked]

    # ------------------------------------------------------------------ messaging

    @property
    def received(self) -> list[SimMessage]:
        return self.endpoint.received

    @property
    def receipts(self) -> list[SimReceipt]:
        return self.endpoint.receipts

    async def next_message(self, timeout: float = 10.0) -> SimMessage:
        """The next message this phone receives (``TimeoutError`` when none comes)."""
        return await self.endpoint.next_message(timeout)

    async def wait_receipt(
        self, message_id: str, kind: str = "", timeout: float = 10.0
    ) -> SimReceipt:
        return await self.endpoint.wait_receipt(message_id, kind, timeout)

    async def send_text(
        self,
        to: JID | str,
        text: str,
        *,
        reply_to: SimMessage | None = None,
        mentions: Sequence[str] = (),
    ) -> str:
        """Send a text (a reply when ``reply_to`` is given); returns its message id."""
        target = JID.parse(to) if isinstance(to, str) else to
        return await self.endpoint.send(
            target, text_message(text, quoted=reply_to, mentions=mentions)
        )

    async def send_message(self, to: JID | str, message: e2e_pb2.Message) -> str:
        target = JID.parse(to) if isinstance(to, str) else to
        return await self.endpoint.send(target, message)

    async def react(self, target: SimMessage, emoji: str) -> str:
        """React to a message this phone received."""
        now_ms = int(self.server.clock() * 1000)
        return await self.endpoint.send(target.chat, reaction_message(target.key, emoji, now_ms))

    async def read(self, message: SimMessage) -> None:
        """Send a read receipt for a received message (blue ticks)."""
        attrs = {"id": message.id, "to": str(message.chat), "type": "read"}
        if message.chat.server == "g.us":
            attrs["participant"] = str(message.sender)
        else:
            attrs["to"] = str(message.sender)
        await self.server.router.handle(self.primary, Node("receipt", attrs))

    async def set_presence(self, available: bool) -> None:
        kind = "available" if available else "unavailable"
        await self.server.router.handle(self.primary, Node("presence", {"type": kind}))

    async def send_chatstate(self, to: JID | str, state: str = "composing") -> None:
        await self.server.router.handle(
            self.primary, Node("chatstate", {"to": str(to)}, [Node(state)])
        )

    async def create_group(self, subject: str, members: Sequence[JID | str]) -> SimGroup:
        """Create a group with this phone as its super admin."""
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        return await self.server.create_group(self, subject, numbers)

    async def add_to_group(self, group: SimGroup, members: Sequence[JID | str]) -> None:
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        await self.server.change_participants(group, self, "add", numbers)

    async def remove_from_group(self, group: SimGroup, members: Sequence[JID | str]) -> None:
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        await self.server.change_participants(group, self, "remove", numbers)

    @property
    def jid(self) -> JID:
        return JID(self.number, DEFAULT_USER_SERVER)

    @property
    def lid(self) -> JID:
        return JID(self.lid_user, HIDDEN_USER_SERVER)

    def go_offline(self) -> None:
        self.last_online = self.server.clock()
        self.online = False

    def go_online(self) -> None:
        self.online = True
        self.last_online = self.server.clock()

    def primary_offline_for(self) -> float:
        return 0.0 if self.online else self.server.clock() - self.last_online

    async def scan_qr(self, qr: str) -> SimDevice:
        """Link the companion showing ``qr`` (URL or bare form) to this account."""
        data = parse_qr_string(qr)
        pending = self.server._pending_by_ref.get(data.ref)
        if pending is None:
            raise SimError("this QR code is not (or no longer) valid")
        active = [d for d in self.companions.values() if not d.unlinked]
        if len(active) >= MAX_COMPANIONS:
            raise SimError(f"this account already has {MAX_COMPANIONS} linked devices")
        if pending.connection.close_reason is not None:
            raise SimError("the companion is no longer connected")
        return await self.server._pair(self, pending, data.identity_public, data.adv_secret)

    async def link_with_code(self, code: str) -> SimDevice:
        """Type the companion's pairing code on this phone (Settings > Linked devices)."""
        pending = next(
            (p for p in self.server._code_pending.values() if p.code_phone == self.number), None
        )
        if pending is None:
            raise SimError(f"no companion is waiting for a pairing code for {self.number}")
        return await self.server._pair_with_code(self, pending, code)

    async def unlink(self, device: SimDevice | JID | str) -> None:
        """Remove a companion, as "Log out" in the phone's linked-devices list."""
        target = (
            device
            if isinstance(device, SimDevice)
            else self.companions.get(
                (JID.parse(device) if isinstance(device, str) else device).device
            )
        )
        if target is None:
            raise SimError(f"{device} is not linked to {self.number}")
        await self.server.remove_device(target)

    def expired(self) -> bool:
        """Whether the phone has been offline past ``PRIMARY_OFFLINE_LIMIT``."""
        return self.primary_offline_for() > PRIMARY_OFFLINE_LIMIT


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
        history_sync: HistorySyncPolicy | None = HistorySyncPolicy(),
        first_stanza_delay: float = FIRST_STANZA_DELAY,
        app_state_keys: bool = True,
        rng: random.Random | None = None,
    ) -> None:
        # every random choice the sim makes comes from here (wamd/sim/rand.py)
        self.seed: int | None = None if rng is not None else rand.new_seed()
        self.rng = rng if rng is not None else random.Random(self.seed)
        self.activity = Activity()
        log.debug("sim seed: %s", self.seed)
        self.host = host
        self.port = port
        self._base_clock = clock
        self._clock_offset = 0.0  # seconds added to the clock (the control interface sets it)
        self.expiry_interval = EXPIRY_INTERVAL  # real seconds between sweeps for expiry
        self.min_version = min_version
        self.qr_ref_seconds = qr_ref_seconds
        self.handshake_timeout = handshake_timeout
        self.stanza_limit = stanza_limit  # (stanzas per second, burst) per connection
        self.first_stanza_delay = first_stanza_delay  # seconds between handshake and first stanza
        self.app_state_keys = app_state_keys  # phones share their app-state key with companions
        self.history_sync = history_sync  # None: phones send no history to new companions
        # (real phones always do: on by default, bounded to recent days and messages)
        self.ca = CertificateAuthority(rand.keypair(self.rng))
        self.static = rand.keypair(self.rng)
        self.certificate = self.ca.issue(self.static.public)
        self.phones: dict[str, SimPhone] = {}
        self._pending_by_ref: dict[str, _Pending] = {}
        self._code_pending: dict[int, _Pending] = {}
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.router = Router(self)
        self.groups: dict[str, SimGroup] = {}
        self.media_auth = rand.ref(self.rng, 24)  # the upload token media_conn hands out
        self._by_lid: dict[str, SimPhone] = {}

    # ------------------------------------------------------------------ lifecycle

    def clock(self) -> float:
        """The sim's notion of now: the injected clock plus ``clock_offset``."""
        return self._base_clock() + self._clock_offset

    @property
    def clock_offset(self) -> float:
        """Seconds added to the injected clock; moving it sweeps for expired companions."""
        return self._clock_offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self._clock_offset = value
        with contextlib.suppress(RuntimeError):  # no running loop: the next sweep does it
            asyncio.get_running_loop()
            self._spawn(self.expire_companions(), "expiry sweep")

    async def remove_device(self, device: SimDevice) -> None:
        """Unlink a companion: everyone is told, and a connected one is logged out.

        whatsmeow connectionevents.go: ``<stream:error code="401"><conflict
        type="device_removed"/>`` is the server logging a connected device out (LoggedOut,
        the session is deleted); ``<failure reason="401">`` is the same at login.
        """
        if device.unlinked:
            return
        device.unlinked = True
        await self.notify_devices(device.phone, "remove", device)
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
        for phone in list(self.phones.values()):
            if not phone.expired():
                continue
            for device in list(phone.companions.values()):
                if not device.unlinked:
                    await self.remove_device(device)
                    removed += 1
        return removed

    async def _sweep_expiry(self) -> None:
        while True:
            await asyncio.sleep(self.expiry_interval)
            if any(
                p.expired() and any(not d.unlinked for d in p.companions.values())
                for p in self.phones.values()
            ):
                self._spawn(self.expire_companions(), "expiry sweep")

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
        self._server = await serve(
            self._handle, self.host, self.port, max_size=1 << 24, compression=None
        )
        self.port = self._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        # not counted by settle(): it only sleeps until it finds something to do
        sweeper = asyncio.get_running_loop().create_task(self._sweep_expiry())
        self._tasks.add(sweeper)
        sweeper.add_done_callback(self._tasks.discard)
        log.info("sim listening on %s", self.url)

    async def stop(self) -> None:
        for phone in self.phones.values():
            for device in phone.companions.values():
                if device.connection is not None:
                    await device.connection.close()
        for pending in list(self._pending_by_ref.values()):
            await pending.connection.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, object], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("sim: %s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.activity.track(task, what)

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
        await self.activity.settle(timeout, also=self._unacknowledged if acked else None)

    def _unacknowledged(self) -> str:
        waiting = [
            f"{len(d.outbox)} unacknowledged stanzas to {d.jid}"
            for phone in self.phones.values()
            for d in phone.companions.values()
            if d.outbox and d.connection is not None and not d.connection.closed
        ]
        return ", ".join(waiting)

    def add_phone(
        self, number: str, name: str | None = None, *, business: bool = False
    ) -> SimPhone:
        """A new account with its primary phone; ``name`` is its push name.

        A ``business`` account's name is its business name too, and pair-success carries
        it (``<biz name>``), as the real server does for WhatsApp Business accounts.
        """
        if not number.isdigit():
            raise ValueError("a phone number is digits only, in international form")
        if number in self.phones:
            raise ValueError(f"{number} already has an account on this sim")
        phone = SimPhone(self, number, name or number)
        phone.business = business
        self.phones[number] = phone
        self._by_lid[phone.lid_user] = phone
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
        active = [d for d in phone.companions.values() if not d.unlinked]
        if respect_limit and len(active) >= MAX_COMPANIONS:
            raise SimError(f"this account already has {MAX_COMPANIONS} linked devices")
        device_id = phone._next_device
        phone._next_device += 1
        phone._key_index += 1
        adv_secret = self.rng.randbytes(32)
        container = make_device_identity(
            phone.account_key,
            identity.public,
            adv_secret,
            raw_id=int(phone.number) & 0xFFFFFFFF,
            key_index=phone._key_index,
            timestamp=int(self.clock()),
        )
        signed = verify_pair_success(container, adv_secret, identity)
        device = SimDevice(
            phone,
            jid=JID(phone.number, DEFAULT_USER_SERVER, device_id),
            lid=JID(phone.lid_user, HIDDEN_USER_SERVER, device_id),
            identity=identity.public,
            registration_id=registration_id,
            signed_prekey_id=signed_prekey.key_id,
            signed_prekey=signed_prekey.key_pair.public,
            signed_prekey_signature=signed_prekey.signature,
            key_index=signed.key_index,
            prekeys=dict(prekeys),
        )
        phone.companions[device_id] = device
        return ProvisionedCompanion(device, signed.account, phone.account_key.public, adv_secret)

    # ------------------------------------------------------------------ directory

    def account_of(self, jid: JID) -> SimPhone | None:
        """The account a phone-number or lid JID belongs to."""
        if jid.server == HIDDEN_USER_SERVER:
            return self._by_lid.get(jid.user)
        if jid.server == DEFAULT_USER_SERVER:
            return self.phones.get(jid.user)
        return None

    def device_of(self, jid: JID) -> SimDevice | None:
        phone = self.account_of(jid)
        if phone is None:
            return None
        if jid.device == 0:
            return phone.primary
        device = phone.companions.get(jid.device)
        return None if device is None or device.unlinked else device

    def session_jid(self, jid: JID) -> JID:
        """The encryption identity of a device: its lid form (as current clients key sessions)."""
        phone = self.account_of(jid)
        if phone is None:
            return jid
        return JID(phone.lid_user, HIDDEN_USER_SERVER, jid.device)

    def _notification(self, sender: str, kind: str, children: list[Node], **extra: str) -> Node:
        """``<notification from type id t [..]>``: what every server notification carries."""
        attrs = {
            "from": sender,
            "type": kind,
            "id": rand.stanza_id(self.rng),
            "t": str(int(self.clock())),
        }
        return Node("notification", attrs | extra, children)

    # ------------------------------------------------------------------ prekeys

    def prekey_taken(self, device: SimDevice) -> None:
        """A one-time prekey was handed out: warn a companion that is running low.

        whatsmeow notification.go handleEncryptNotification: ``<notification
        type="encrypt" from="s.whatsapp.net"><count value=N/></notification>`` makes the
        client upload more when N is below its minimum (5 in both references). Sent once
        until the device uploads again.
        """
        if device.endpoint is not None or device.low_prekeys_told:
            return
        if len(device.prekeys) >= LOW_PREKEYS:
            return
        device.low_prekeys_told = True
        stanza = self._notification(
            SERVER, "encrypt", [Node("count", {"value": str(len(device.prekeys))})]
        )
        self._spawn(self.router.deliver(device, stanza), f"prekey warning for {device.jid}")

    # ------------------------------------------------------------------ device lists

    async def notify_devices(self, phone: SimPhone, action: str, changed: SimDevice) -> None:
        """Tell everyone that ``phone``'s device list changed (a companion linked or left).

        whatsmeow notification.go handleDeviceNotification reads ``<notification
        type="devices" from=USER><add|remove device_hash=H><device jid lid/></add>``,
        where ``H`` is the participant hash of the user's new device list; clients drop
        their cached list (or patch it when the hash matches). Sent to every device of
        every other account and to the account's own other devices.
        """
        device_node = Node("device", {"jid": str(changed.jid), "lid": str(changed.lid)})
        device_hash = participant_hash([d.jid for d in phone.devices()])
        stanza = self._notification(
            str(phone.jid),
            "devices",
            [Node(action, {"device_hash": device_hash}, [device_node])],
        )
        for other in self.phones.values():
            for target in other.devices():
                if target is not changed:
                    await self.router.deliver(target, stanza)

    # ------------------------------------------------------------------ groups

    async def _notify_group(
        self, group: SimGroup, actor: SimPhone, child: Node, extra: Sequence[str] = ()
    ) -> None:
        """<notification type="w:gp2"> to every device of the members (and ``extra``)."""
        numbers = list(dict.fromkeys([*group.participants, *extra]))
        stanza = self._notification(str(group.jid), "w:gp2", [child], participant=str(actor.jid))
        for number in numbers:
            phone = self.phones.get(number)
            if phone is None:
                continue
            for device in phone.devices():
                await self.router.deliver(device, stanza)

    def _participant_node(self, number: str, attrs: dict[str, str] | None = None) -> Node:
        phone = self.phones.get(number)
        lid = {"lid": str(phone.lid)} if phone is not None else {}
        return Node("participant", {"jid": f"{number}@{SERVER}"} | lid | (attrs or {}))

    async def create_group(
        self, creator: SimPhone, subject: str, members: Sequence[str]
    ) -> SimGroup:
        now = int(self.clock())
        group = SimGroup(new_group_id(self.rng), subject, creator.number, now)
        group.participants[creator.number] = "superadmin"
        for number in members:
            if number in self.phones and number != creator.number:
                group.participants[number] = None
        group.subject_owner, group.subject_time = creator.number, now
        self.groups[group.id] = group
        await self._notify_group(group, creator, Node("create", {}, [group_node(self, group)]))
        return group

    async def set_group_subject(self, group: SimGroup, actor: SimPhone, subject: str) -> None:
        group.subject = subject
        group.subject_owner, group.subject_time = actor.number, int(self.clock())
        attrs = {"subject": subject, "s_o": str(actor.jid), "s_t": str(group.subject_time)}
        await self._notify_group(group, actor, Node("subject", attrs))

    async def change_participants(
        self, group: SimGroup, actor: SimPhone, action: str, members: Sequence[str]
    ) -> list[tuple[str, int]]:
        """Apply add/remove/promote/demote; per member the error code (0 = done)."""
        done: list[str] = []
        results: list[tuple[str, int]] = []
        for number in members:
            present = number in group.participants
            if action == "add":
                error = 0 if number in self.phones and not present else (409 if present else 404)
                if not error:
                    group.participants[number] = None
            elif action == "remove":
                error = 0 if present else 404
                if not error:
                    del group.participants[number]
            else:
                error = 0 if present else 404
                if not error:
                    group.participants[number] = "admin" if action == "promote" else None
            results.append((number, error))
            if not error:
                done.append(number)
        if done:
            # whatsmeow group.go parseParticipantList reads jid and, for pn ones, lid
            child = Node(action, {}, [self._participant_node(n) for n in done])
            await self._notify_group(group, actor, child, extra=done if action == "remove" else ())
            if action in ("add", "remove"):
                for phone in self.phones.values():
                    if phone.number in group.participants:
                        await phone.endpoint.rotate_sender_key(group.jid)
        return results

    # ------------------------------------------------------------------ connections

    async def _handle(self, ws: ServerConnection) -> None:
        # counted as work in flight until the connection is set up (see settle())
        self.activity.enter(SETUP)
        setup = _Once(lambda: self.activity.leave(SETUP))
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
                await self._registration(conn, payload, setup)
            else:
                await self._login(conn, payload, setup)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("connection handler failed")
            await conn.close()

    # ------------------------------------------------------------------ pairing

    async def _registration(
        self, conn: NodeConnection, payload: ParsedClientPayload, setup: _Once
    ) -> None:
        refs = [f"2@{rand.ref(self.rng, 18)}" for _ in range(QR_REF_COUNT)]
        pending = _Pending(conn, payload, refs)
        for ref in refs:
            self._pending_by_ref[ref] = pending
        bucket = _Bucket(time.monotonic, *self.stanza_limit)

        async def serve(node: Node) -> None:
            if not bucket.take():
                log.warning("disconnecting an unpaired client: flooding")
                await _drop(conn, "flooding")
                return
            with self.activity.busy("a stanza from an unpaired client"):
                await self._serve_registration(pending, node)

        conn.start(serve)
        try:
            # whatsmeow pair.go handlePairDevice: <iq from=s.whatsapp.net><pair-device><ref>..
            iq = Node(
                "iq",
                {"from": SERVER, "type": "set", "id": rand.stanza_id(self.rng), "xmlns": "md"},
                [Node("pair-device", {}, [Node("ref", {}, ref.encode()) for ref in refs])],
            )
            try:
                await conn.request(iq, timeout=30)
            finally:
                setup()
            first, rest = self.qr_ref_seconds
            lifetime = first + rest * (len(refs) - 1)
            # wait for a scan, the refs' lifetime, or the client going away
            paired = asyncio.ensure_future(pending.done.wait())
            gone = asyncio.ensure_future(conn.wait_closed())
            await asyncio.wait(
                {paired, gone}, timeout=lifetime, return_when=asyncio.FIRST_COMPLETED
            )
            paired.cancel()
            gone.cancel()
            if not pending.done.is_set() and not conn.closed:
                log.info("pairing attempt timed out: no ref was scanned")
                await conn.close()
            await conn.wait_closed()
        finally:
            for ref in refs:
                self._pending_by_ref.pop(ref, None)
            self._code_pending.pop(id(pending), None)

    async def _serve_registration(self, pending: _Pending, node: Node) -> None:
        """iqs of an unpaired client: the pairing-code stages, else the usual answers."""
        reg = node.get_child("link_code_companion_reg") if node.tag == "iq" else None
        if reg is None:
            await self._serve_iq(pending.connection, node, None)
            return
        conn = pending.connection
        iq_id = node.attrs.get("id", "")
        stage = reg.attrs.get("stage")
        if stage == "companion_hello":
            # whatsmeow pair-code.go PairPhone: jid, wrapped ephemeral (80 bytes), noise key
            wrapped = reg.get_child("link_code_pairing_wrapped_companion_ephemeral_pub")
            auth_key = reg.get_child("companion_server_auth_key_pub")
            jid = reg.jid_attr("jid")
            raw = wrapped.content_bytes() if wrapped is not None else None
            if jid is None or raw is None or len(raw) != 80 or auth_key is None:
                await conn.send(_iq_error(iq_id, 400, "bad-request"))
                return
            if jid.user not in self.phones:
                await conn.send(_iq_error(iq_id, 404, "item-not-found"))
                return
            pending.code_phone = jid.user
            pending.code_ref = rand.ref(self.rng, 24).encode()
            pending.wrapped_companion_ephemeral = raw
            self._code_pending[id(pending)] = pending
            ref_node = Node("link_code_pairing_ref", {}, pending.code_ref)
            await conn.send(
                Node(
                    "iq",
                    {"from": SERVER, "type": "result", "id": iq_id},
                    [Node("link_code_companion_reg", {}, [ref_node])],
                )
            )
        elif (
            stage == "companion_finish"
            and pending.code_finish is not None
            and not pending.code_finish.done()
        ):
            pending.code_finish.set_result(node)
        else:
            await conn.send(_iq_error(iq_id, 400, "bad-request"))

    async def _pair_with_code(self, phone: SimPhone, pending: _Pending, code: str) -> SimDevice:
        conn = pending.connection
        active = [d for d in phone.companions.values() if not d.unlinked]
        if len(active) >= MAX_COMPANIONS:
            raise SimError(f"this account already has {MAX_COMPANIONS} linked devices")
        try:
            ephemeral, companion_public, wrapped_primary = primary_start_code_pairing(
                code, pending.wrapped_companion_ephemeral
            )
        except PairingError as exc:
            raise SimError(f"pairing code rejected: {exc}") from None
        pending.code_finish = asyncio.get_running_loop().create_future()
        # whatsmeow pair-code.go handleCodePairNotification reads these three children
        hello = Node(
            "link_code_companion_reg",
            {"stage": "primary_hello"},
            [
                Node("link_code_pairing_ref", {}, pending.code_ref),
                Node("link_code_pairing_wrapped_primary_ephemeral_pub", {}, wrapped_primary),
                Node("primary_identity_pub", {}, phone.account_key.public),
            ],
        )
        attrs = {
            "from": SERVER,
            "type": "link_code_companion_reg",
            "id": rand.stanza_id(self.rng),
            "t": str(int(self.clock())),
        }
        await conn.send(Node("notification", attrs, [hello]))
        finish = await asyncio.wait_for(pending.code_finish, 30)
        iq_id = finish.attrs.get("id", "")
        reg = finish.require_child("link_code_companion_reg")
        bundle = reg.get_child("link_code_pairing_wrapped_key_bundle")
        wrapped_bundle = (bundle.content_bytes() if bundle is not None else None) or b""
        try:
            identity, adv_secret = primary_finish_code_pairing(
                ephemeral, companion_public, wrapped_bundle, phone.account_key
            )
        except PairingError as exc:
            await conn.send(_iq_error(iq_id, 400, "bad-request"))
            raise SimError(f"pairing failed: {exc}") from None
        await conn.send(Node("iq", {"from": SERVER, "type": "result", "id": iq_id}))
        return await self._pair(phone, pending, identity, adv_secret)

    async def _pair(
        self, phone: SimPhone, pending: _Pending, identity: bytes, adv_secret: bytes
    ) -> SimDevice:
        payload = pending.payload
        if payload.identity_public != identity:
            raise SimError("the QR code's identity key does not match the connected device")
        conn = pending.connection
        active = [d for d in phone.companions.values() if not d.unlinked]
        if len(active) >= MAX_COMPANIONS:
            raise SimError(f"this account already has {MAX_COMPANIONS} linked devices")
        device_id = phone._next_device
        phone._next_device += 1  # taken now: two pairings at once get different numbers
        phone._key_index += 1
        key_index = phone._key_index
        container = make_device_identity(
            phone.account_key,
            identity,
            adv_secret,
            raw_id=int(phone.number) & 0xFFFFFFFF,
            key_index=key_index,
            timestamp=int(self.clock()),
        )
        jid = JID(phone.number, DEFAULT_USER_SERVER, device_id)
        lid = JID(phone.lid_user, HIDDEN_USER_SERVER, device_id)
        # whatsmeow pair.go handlePairSuccess reads t, device-identity, platform,
        # device(jid, lid) and biz (Baileys configureSuccessfulPairing the same); the
        # real server sends it as a request, <iq type="set" xmlns="md">, like pair-device
        # (whatsmeow and Baileys match any iq from the server; stricter clients do not)
        success = Node(
            "iq",
            {
                "from": SERVER,
                "type": "set",
                "xmlns": "md",
                "id": rand.stanza_id(self.rng),
                "t": str(int(self.clock())),
            },
            [
                Node(
                    "pair-success",
                    {},
                    [
                        Node("device-identity", {"key-index": str(key_index)}, container),
                        Node("platform", {"name": "smba" if phone.business else "android"}),
                        Node("device", {"jid": str(jid), "lid": str(lid)}),
                        # only business accounts: whatsmeow keeps it as BusinessName,
                        # Baileys as creds.me.name (its push name until app state says)
                        *([Node("biz", {"name": phone.name})] if phone.business else []),
                    ],
                )
            ],
        )
        try:
            answer = await conn.query(success, timeout=30)
        except RequestError as exc:
            pending.done.set()
            await conn.close()
            raise SimError(f"the companion refused the pairing: {exc.code} {exc.text}") from None
        sign = answer.get_child("pair-device-sign")
        reply_identity = sign.get_child("device-identity") if sign is not None else None
        raw = reply_identity.content_bytes() if reply_identity is not None else None
        try:
            if raw is None:
                raise PairingError("pair-device-sign without a device identity")
            details = verify_device_signature(raw, identity, phone.account_key.public)
        except PairingError as exc:
            pending.done.set()
            await conn.close()
            raise SimError(f"pairing failed: {exc}") from None
        device = SimDevice(
            phone,
            jid=jid,
            lid=lid,
            identity=identity,
            registration_id=payload.registration_id or 0,
            signed_prekey_id=payload.signed_prekey_id or 0,
            signed_prekey=payload.signed_prekey_public or b"",
            signed_prekey_signature=payload.signed_prekey_signature or b"",
            key_index=details.keyIndex,
        )
        phone.companions[device_id] = device
        pending.done.set()
        # the server restarts the stream so that the client logs in as the new device
        await conn.send(Node("stream:error", {"code": "515"}))
        await conn.close()
        await self.notify_devices(phone, "add", device)
        return device

    # ------------------------------------------------------------------ login

    async def _login(
        self, conn: NodeConnection, payload: ParsedClientPayload, setup: _Once
    ) -> None:
        phone = self.phones.get(payload.username or "")
        device = phone.companions.get(payload.device or 0) if phone else None
        expired = phone is not None and phone.expired()
        if phone is None or device is None or device.unlinked or expired:
            if device is not None and expired and not device.unlinked:
                device.unlinked = True
                await self.notify_devices(device.phone, "remove", device)
            # whatsmeow connectionevents.go: <failure reason="401"> = logged out
            await conn.send(Node("failure", {"reason": "401", "location": "sim"}))
            await conn.close()
            return
        previous = device.connection
        if previous is not None and not previous.closed:
            # whatsmeow connectionevents.go: <conflict type="replaced"/> -> StreamReplaced
            with contextlib.suppress(ConnectionClosed):
                await previous.send(
                    Node("stream:error", {}, [Node("conflict", {"type": "replaced"})])
                )
            await previous.close()
        device.connection = conn
        # whatsmeow handleConnectSuccess reads t and lid; Baileys reads the same node
        await conn.send(
            Node(
                "success",
                {
                    "t": str(int(self.clock())),
                    "props": "1",
                    "abprops": "1",
                    "location": "sim",
                    "creation": str(int(self.clock())),
                    "lid": str(device.lid),
                },
            )
        )
        backlog = list(device.outbox.values())
        for node in backlog:
            await conn.send(Node(node.tag, node.attrs | {"offline": "1"}, node.content))
        # whatsmeow handleIB: <ib><offline count=N/></ib> ends the offline backlog
        await conn.send(
            Node("ib", {"from": SERVER}, [Node("offline", {"count": str(len(backlog))})])
        )
        bucket = _Bucket(time.monotonic, *self.stanza_limit)

        async def serve(node: Node) -> None:
            if not bucket.take():
                log.warning(
                    "disconnecting %s: more than %g stanzas per second (burst %g): flooding",
                    device.jid,
                    *self.stanza_limit,
                )
                await _drop(conn, "flooding")
                return
            with self.activity.busy(f"a stanza from {device.jid}"):
                if phone.expired():
                    await self.expire_companions()
                    return
                await self._serve_logged_in(conn, node, device)

        conn.start(serve)
        first_login = not device.logged_in
        device.logged_in = True
        if first_login and phone.online:
            self._spawn(self._welcome(phone, device), f"welcome for {device.jid}")
        setup()
        closed = await conn.wait_closed()
        if closed.reason == DisconnectReason.BAD_SESSION and str(closed) != "flooding":
            log.warning("disconnected %s: %s", device.jid, closed)
        if device.connection is conn:
            device.connection = None

    async def _welcome(self, phone: SimPhone, device: SimDevice) -> None:
        """What the phone sends a companion after its first login: keys, then history."""
        if self.app_state_keys:
            await phone.endpoint.send_app_state_keys(device)
        policy = self.history_sync
        if policy is not None:
            await phone.endpoint.send_history(
                device, days=policy.days, max_messages=policy.messages
            )

    # ------------------------------------------------------------------ iq

    async def _serve_logged_in(self, conn: NodeConnection, node: Node, device: SimDevice) -> None:
        try:
            if node.tag == "iq":
                await self._serve_iq(conn, node, device)
            else:
                await self.router.handle(device, node)
        except ConnectionClosed:
            raise
        except Exception:
            # a stanza the sim cannot handle must not leave the client waiting forever
            log.exception("sim failed on <%s> from %s", node.tag, device.jid)
            iq_id = node.attrs.get("id")
            if node.tag == "iq" and iq_id and node.attrs.get("type") in ("get", "set"):
                await conn.send(_iq_error(iq_id, 500, "internal-server-error"))

    async def _serve_iq(self, conn: NodeConnection, node: Node, device: SimDevice | None) -> None:
        if node.tag != "iq" or node.attrs.get("type") not in ("get", "set"):
            return
        iq_id = node.attrs.get("id")
        if not iq_id:
            return
        xmlns = node.attrs.get("xmlns")
        result = Node("iq", {"from": SERVER, "type": "result", "id": iq_id})
        if xmlns == "w:p":
            await conn.send(result)
        elif xmlns == "passive":
            await conn.send(result)
        elif xmlns == "encrypt" and device is not None and node.get_child("key") is not None:
            await conn.send(await answer_keys(self, node))
        elif xmlns == "encrypt" and device is not None:
            await self._serve_keys(conn, node, device, result)
        elif xmlns == "usync" and device is not None:
            await conn.send(answer_usync(self, node))
        elif xmlns == "w:g2" and device is not None:
            await conn.send(await answer_group(self, device, node))
        elif device is not None and (answer := answer_account(node)) is not None:
            await conn.send(answer)
        elif xmlns == "w:m" and device is not None and (answer := answer_media_conn(self, node)):
            await conn.send(answer)
        elif (
            xmlns == "privacy"
            and device is not None
            and (answer := await answer_privacy_tokens(self, device, node)) is not None
        ):
            await conn.send(answer)
        elif (
            xmlns == "md"
            and device is not None
            and node.get_child("remove-companion-device") is not None
        ):
            await conn.send(result)
            device.unlinked = True
            await conn.close()
            await self.notify_devices(device.phone, "remove", device)
        else:
            await conn.send(
                Node(
                    "iq",
                    {"from": SERVER, "type": "error", "id": iq_id},
                    [Node("error", {"code": "501", "text": "feature-not-implemented"})],
                )
            )

    async def _serve_keys(
        self, conn: NodeConnection, node: Node, device: SimDevice, result: Node
    ) -> None:
        """``xmlns="encrypt"``: prekey count, upload, signed prekey rotation.

        whatsmeow prekeys.go uploads ``registration type identity list skey`` and reads
        ``<count value=N/>``; Baileys rotates the signed prekey alone with
        ``<rotate><skey/></rotate>``. A bare ``<skey>`` child is taken as a rotation too.
        The new signed prekey must be signed by the device's identity (whoever fetches a
        bundle checks that signature, so the server refusing a bad one loses nothing).
        """
        iq_id = result.attrs["id"]
        kind = node.attrs.get("type")
        if kind == "get" and node.get_child("count") is not None:
            result.content = [Node("count", {"value": str(len(device.prekeys))})]
            await conn.send(result)
            return
        if kind == "get" and node.get_child("digest") is not None:
            await conn.send(self._digest(device, result))
            return
        rotate = node.get_child("rotate")
        listed = node.get_child("list")
        skey = (rotate or node).get_child("skey")
        if kind != "set" or (listed is None and skey is None):
            await conn.send(_iq_error(iq_id, 501, "feature-not-implemented"))
            return
        try:
            identity = node.get_child("identity")
            if identity is not None and identity.content_bytes() != device.identity:
                raise ProtocolError("the identity is not this device's")
            keys: dict[int, bytes] = {}
            for key in listed.get_children("key") if listed is not None else []:
                key_id, value = _key_fields(key)
                keys[key_id] = value
            if listed is not None and not keys and skey is None:
                raise ProtocolError("an upload without keys")
            signed: tuple[int, bytes, bytes] | None = None
            if skey is not None:
                key_id, value = _key_fields(skey)
                signature = skey.require_child("signature").content_bytes() or b""
                if not verify(device.identity, b"\x05" + value, signature):
                    raise ProtocolError("the signed prekey's signature does not verify")
                signed = key_id, value, signature
        except ProtocolError as exc:
            await conn.send(_iq_error(iq_id, 400, "bad-request"))
            log.info("refused a key upload from %s: %s", device.jid, exc)
            return
        device.prekeys.update(keys)
        if keys:
            device.low_prekeys_told = False
        if signed is not None:
            device.signed_prekey_id, device.signed_prekey, device.signed_prekey_signature = signed
        await conn.send(result)

    @staticmethod
    def _digest(device: SimDevice, result: Node) -> Node:
        """A key-bundle digest: what the server holds for the device.

        Neither reference documents the real answer's children (Baileys digestKeyBundle
        only checks that ``<digest>`` is there; whatsmeow does not ask), so this lists the
        registration, identity, signed prekey id and one-time prekey ids, and no hash.
        """
        ids = [Node("id", {}, key_id.to_bytes(3, "big")) for key_id in sorted(device.prekeys)]
        result.content = [
            Node(
                "digest",
                {},
                [
                    Node("registration", {}, device.registration_id.to_bytes(4, "big")),
                    Node("type", {}, bytes((DJB_TYPE,))),
                    Node("identity", {}, device.identity),
                    Node(
                        "skey",
                        {},
                        [Node("id", {}, device.signed_prekey_id.to_bytes(3, "big"))],
                    ),
                    Node("list", {}, ids),
                ],
            )
        ]
        return result


def _key_fields(key: Node) -> tuple[int, bytes]:
    """``<id>`` (3 bytes) and ``<value>`` (32 bytes) of a ``<key>``/``<skey>``."""
    raw_id = key.require_child("id").content_bytes() or b""
    value = key.require_child("value").content_bytes() or b""
    if len(raw_id) != 3:
        raise ProtocolError(f"<{key.tag}> id must be 3 bytes")
    if len(value) != 32:
        raise ProtocolError(f"<{key.tag}> value must be 32 bytes")
    return int.from_bytes(raw_id, "big"), value


async def _drop(conn: NodeConnection, why: str) -> None:
    """Hang up on a misbehaving client at once.

    A graceful websocket close would wait for the peer's closing frame behind every
    frame it has already pushed at us (the flood itself), for the close timeout.
    """
    transport = getattr(conn.ws, "transport", None)
    if transport is not None:
        transport.abort()
    await conn.close(DisconnectReason.BAD_SESSION, why)


def _iq_error(iq_id: str, code: int, text: str) -> Node:
    return Node(
        "iq",
        {"from": SERVER, "type": "error", "id": iq_id},
        [Node("error", {"code": str(code), "text": text})],
    )
