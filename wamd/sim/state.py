"""What the sim knows: accounts, their devices and groups; its clock, randomness and work.

``SimState`` is the one object the sim's parts share (the phones, the router, pairing,
login, the iq handlers, the services): the directory of accounts and devices, the
scriptable clock, the seeded generator (``rand.py``), the count of work in flight
(``activity.py``) and the tasks the sim spawns. New companions get their device number
and key index from ``allocate_companion``, where the companion limit is checked, once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER
from wamd.errors import SimError
from wamd.sim import rand
from wamd.sim.activity import Activity
from wamd.sim.faults import Faults
from wamd.transport import NodeConnection

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.groups import SimGroup

__all__ = [
    "DEFAULT_HISTORY",
    "MAX_COMPANIONS",
    "PRIMARY_OFFLINE_LIMIT",
    "SERVER",
    "Allocation",
    "HistorySyncPolicy",
    "ProvisionedCompanion",
    "SimDevice",
    "SimState",
]

log = logging.getLogger(__name__)

MAX_COMPANIONS = 4  # one primary phone plus at most four linked devices
PRIMARY_OFFLINE_LIMIT = 14 * 24 * 3600  # companions are logged out after 14 days without the phone
SERVER = DEFAULT_USER_SERVER


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
    platform: str = ""  # what the companion said it is when it registered ("Mac OS / CHROME")
    last_seen: float = 0.0  # the sim's clock when its connection last opened or closed
    # the connection still being given its backlog: new stanzas wait in the outbox behind
    # it, so a chat's messages never overtake the ones queued before them
    replaying: NodeConnection | None = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.closed


@dataclass(frozen=True)
class HistorySyncPolicy:
    """What the phone sends a companion after its first login: recent history only."""

    days: float = 7.0  # messages older than this are not sent
    messages: int = 100  # at most this many of the newest messages
    blob: bool = False  # upload the chunk to the media host (True) or send it inline


DEFAULT_HISTORY = HistorySyncPolicy()


@dataclass(frozen=True)
class ProvisionedCompanion:
    """What ``SimServer.provision_companion`` hands back: a client's creds after pairing."""

    device: SimDevice
    account: bytes  # ADVSignedDeviceIdentity incl. the device signature (creds "account")
    account_signature_key: bytes  # the primary's identity key
    adv_secret: bytes

    def __repr__(self) -> str:  # the ADV secret is a credential
        return f"ProvisionedCompanion({self.device.jid})"


@dataclass(frozen=True)
class Allocation:
    """A device number and key index taken for a companion being linked."""

    phone: SimPhone
    device_id: int
    key_index: int

    @property
    def jid(self) -> JID:
        return JID(self.phone.number, DEFAULT_USER_SERVER, self.device_id)

    @property
    def lid(self) -> JID:
        return JID(self.phone.lid_user, HIDDEN_USER_SERVER, self.device_id)


class SimState:
    """The sim's accounts, devices and groups, and what every part of it shares."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        host: str = "127.0.0.1",
    ) -> None:
        self.rng = rng
        self.host = host
        self.activity = Activity()
        self.phones: dict[str, SimPhone] = {}
        self.groups: dict[str, SimGroup] = {}
        self.media_auth = rand.ref(rng, 24)  # the upload token media_conn hands out
        self.media_hosts: list[str] = []  # host:port of the media host, once it listens
        self.media_scheme = "https"  # or "http": the media host without TLS
        self._by_lid: dict[str, SimPhone] = {}
        self._base_clock = clock
        self._clock_offset = 0.0
        self._clock_moved: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.faults = Faults(self)  # what the sim does wrong on purpose (faults.py)
        # privacy tokens (services.py): (issuer pn user, holder pn user) -> (token, t);
        # with require_tctoken, companions' 1:1 messages must carry the recipient's token
        self.tc_tokens: dict[tuple[str, str], tuple[bytes, int]] = {}
        self.require_tctoken = False

    # ------------------------------------------------------------------ time

    def clock(self) -> float:
        """The sim's notion of now: the injected clock plus ``clock_offset``."""
        return self._base_clock() + self._clock_offset

    def now(self) -> int:
        return int(self.clock())

    @property
    def clock_offset(self) -> float:
        return self._clock_offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self._clock_offset = value
        for listener in list(self._clock_moved):
            listener()

    def on_clock_moved(self, listener: Callable[[], None]) -> None:
        self._clock_moved.append(listener)

    # ------------------------------------------------------------------ work

    def spawn(self, work: Coroutine[Any, Any, object], what: str, *, track: bool = True) -> None:
        """Run ``work`` in a task of the sim's (logged if it fails, cancelled at stop).

        Counted as work in flight for ``settle()`` unless ``track=False`` (a task that
        only waits, such as a periodic sweep).
        """

        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("sim: %s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if track:
            self.activity.track(task, what)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ directory

    def add_phone(self, phone: SimPhone) -> None:
        if phone.number in self.phones:
            raise ValueError(f"{phone.number} already has an account on this sim")
        self.phones[phone.number] = phone
        self._by_lid[phone.lid_user] = phone

    def account_of(self, jid: JID) -> SimPhone | None:
        """The account a phone-number or lid JID belongs to."""
        if jid.server == HIDDEN_USER_SERVER:
            return self._by_lid.get(jid.user)
        if jid.server == DEFAULT_USER_SERVER:
            return self.phones.get(jid.user)
        return None

    def device_of(self, jid: JID) -> SimDevice | None:
        """A linked device (or the phone, device 0) by either of its JIDs."""
        phone = self.account_of(jid)
        if phone is None:
            return None
        if jid.device == 0:
            return phone.primary
        device = phone.companions.get(jid.device)
        return None if device is None or device.unlinked else device

    def session_jid(self, jid: JID) -> JID:
        """A device's encryption identity in its LID form (as current clients key sessions)."""
        phone = self.account_of(jid)
        if phone is None:
            return jid
        return JID(phone.lid_user, HIDDEN_USER_SERVER, jid.device)

    def all_devices(self) -> Iterator[SimDevice]:
        for phone in self.phones.values():
            yield from phone.devices()

    # ------------------------------------------------------------------ companions

    def allocate_companion(self, phone: SimPhone, *, respect_limit: bool = True) -> Allocation:
        """Take the next device number and key index for a companion of ``phone``.

        ``SimError`` when the account already has ``MAX_COMPANIONS`` linked devices (the
        one place the limit is checked; ``respect_limit=False`` is for load tests).
        Numbers are taken at once, so two pairings at the same time get different ones.
        """
        active = [d for d in phone.companions.values() if not d.unlinked]
        if respect_limit and len(active) >= MAX_COMPANIONS:
            raise SimError(f"this account already has {MAX_COMPANIONS} linked devices")
        device_id = phone.next_device
        phone.next_device += 1
        phone.key_index += 1
        return Allocation(phone, device_id, phone.key_index)

    def register_companion(self, device: SimDevice) -> None:
        device.phone.companions[device.jid.device] = device

    # ------------------------------------------------------------------ stanzas

    def notification(self, sender: str, kind: str, children: list[Node], **extra: str) -> Node:
        """``<notification from type id t [..]>``: what every server notification carries."""
        attrs = {"from": sender, "type": kind, "id": rand.stanza_id(self.rng), "t": str(self.now())}
        return Node("notification", attrs | extra, children)

    def unacknowledged(self) -> str:
        """What connected companions have not acknowledged yet ("" when nothing)."""
        waiting = [
            f"{len(d.outbox)} unacknowledged stanzas to {d.jid}"
            for phone in self.phones.values()
            for d in phone.companions.values()
            if d.outbox and d.connected
        ]
        return ", ".join(waiting)
