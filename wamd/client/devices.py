"""Who has which devices, and which lid stands for which phone number.

- Device lists come from a usync query (whatsmeow ``user.go`` GetUserDevices):
  ``<iq xmlns="usync" type="get" to="s.whatsapp.net"><usync sid mode="query" last="true"
  index="0" context="message"><query><devices version="2"/><lid/></query><list><user
  jid=USER/>..</list></usync></iq>``; each answered ``<user jid>`` has
  ``<devices><device-list><device id=N/>..</device-list></devices>`` and, with the
  ``lid`` protocol, ``<lid val=L@lid/>``. Lists are cached per user until a
  ``devices`` notification (or ``invalidate``) says they changed.
- Phone-number ↔ lid mappings are stored in the key store under ``lid-mapping`` in
  Baileys' layout: ``PN_USER -> LID_USER`` and ``LID_USER_reverse -> PN_USER``. Sessions
  and sender keys are keyed by the lid form when it is known (whatsmeow
  ``encryptMessageForDevices``: "encryption identity"), which is what current clients do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ProtocolError
from wamd.signal.address import signal_address
from wamd.store.views import LidMap

if TYPE_CHECKING:
    from wamd.store.types import SignalKeyStore

__all__ = ["DEVICE_CACHE_SECONDS", "DeviceDirectory"]

log = logging.getLogger(__name__)
MOVED_MEMORY = 10_000  # devices remembered as checked for pn-keyed state

DEVICE_CACHE_SECONDS = 3600.0  # re-ask after an hour even without a notification
USYNC_BATCH = 500  # users per usync query

Query = Callable[[Node], Awaitable[Node]]


class DeviceDirectory:
    def __init__(
        self,
        keys: SignalKeyStore,
        query: Query,
        new_sid: Callable[[], str],
        log: logging.Logger | None = None,
    ) -> None:
        self.log = log or logging.getLogger(__name__)
        self.keys = keys
        self._query = query
        self._new_sid = new_sid
        self._devices: dict[JID, tuple[float, list[JID]]] = {}
        self._lid_of: dict[str, str] = {}  # pn user -> lid user
        self._pn_of: dict[str, str] = {}  # lid user -> pn user
        self.lids = LidMap(keys)
        self._moved: dict[JID, None] = {}  # devices whose pn-keyed Signal state was moved
        # told of each mapping that is new to the store (the socket emits lid-mapping.update)
        self.on_learn: Callable[[JID, JID], None] | None = None

    # ------------------------------------------------------------------ lid mappings

    async def learn(self, pn: JID, lid: JID) -> None:
        """Remember that the phone number ``pn`` and ``lid`` are one account."""
        if pn.server != DEFAULT_USER_SERVER or lid.server != HIDDEN_USER_SERVER:
            return
        if self._lid_of.get(pn.user) == lid.user:
            return
        known = await self.lids.lid_for(pn.user) == lid.user  # learnt in an earlier run
        self._lid_of[pn.user] = lid.user
        self._pn_of[lid.user] = pn.user
        if known:
            return
        await self.lids.learn(pn.user, lid.user)
        if self.on_learn is not None:
            self.on_learn(pn.to_non_ad(), lid.to_non_ad())

    async def lid_for(self, pn: JID) -> JID | None:
        """The lid form of a phone-number JID (same device), when known."""
        if pn.server != DEFAULT_USER_SERVER:
            return None
        user = await self._mapped(pn.user, self._lid_of, self._pn_of, self.lids.lid_for)
        return JID(user, HIDDEN_USER_SERVER, pn.device) if user is not None else None

    async def pn_for(self, lid: JID) -> JID | None:
        """The phone-number form of a lid JID (same device), when known."""
        if lid.server != HIDDEN_USER_SERVER:
            return None
        user = await self._mapped(lid.user, self._pn_of, self._lid_of, self.lids.pn_for)
        return JID(user, DEFAULT_USER_SERVER, lid.device) if user is not None else None

    async def _mapped(
        self,
        user: str,
        forward: dict[str, str],
        backward: dict[str, str],
        load: Callable[[str], Awaitable[str | None]],
    ) -> str | None:
        """``user`` looked up in ``forward`` (filled from the store, both ways, on a miss)."""
        other = forward.get(user)
        if other is None:
            stored = await load(user)
            if stored is None:
                return None
            other = forward[user] = stored
            backward[stored] = user
        return other

    async def encryption_jids(self, devices: Iterable[JID]) -> dict[JID, JID]:
        """Each device's encryption identity (``encryption_jid``)."""
        return {device: await self.encryption_jid(device) for device in devices}

    async def encryption_jid(self, device: JID) -> JID:
        """A device's encryption identity: its lid form when known, else the device.

        A session or identity key kept under the phone-number address (made before the
        mapping was known) moves to the lid address first, as whatsmeow's
        ``MigratePNToLID`` does, so the next message under the lid neither fails with
        "no session" nor starts a second session that the peer would answer with a Bad
        MAC. Checked once per device and process.
        """
        pn: JID | None
        lid: JID | None
        if device.server == DEFAULT_USER_SERVER:
            pn, lid = device, await self.lid_for(device)
        elif device.server == HIDDEN_USER_SERVER:
            pn, lid = await self.pn_for(device), device
        else:
            return device
        if lid is None:
            return device
        if pn is not None and pn not in self._moved:
            await self._move_to_lid(pn, lid)
            self._moved[pn] = None
            while len(self._moved) > MOVED_MEMORY:
                del self._moved[next(iter(self._moved))]
        return lid

    async def _move_to_lid(self, pn: JID, lid: JID) -> None:
        old, new = signal_address(pn), signal_address(lid)
        async with self.keys.transaction():
            for kind in ("session", "identity-key"):
                held = await self.keys.get(kind, [old, new])
                if old in held and new not in held:
                    await self.keys.set({kind: {new: held[old], old: None}})
                    self.log.debug("moved the %s of %s to its lid", kind, pn)

    # ------------------------------------------------------------------ device lists

    def invalidate(self, user: JID) -> None:
        """Forget a user's cached device list (a ``devices`` notification arrived)."""
        user = user.to_non_ad()
        self._devices.pop(user, None)
        other = self._lid_of.get(user.user) or self._pn_of.get(user.user)
        if other is not None:
            server = (
                HIDDEN_USER_SERVER if user.server == DEFAULT_USER_SERVER else DEFAULT_USER_SERVER
            )
            self._devices.pop(JID(other, server), None)

    async def get_devices(self, users: Sequence[JID]) -> list[JID]:
        """Every device of ``users`` (primary first), from the cache or one usync query."""
        now = time.monotonic()
        wanted = list(dict.fromkeys(u.to_non_ad() for u in users))
        missing = [
            u
            for u in wanted
            if u not in self._devices or now - self._devices[u][0] > DEVICE_CACHE_SECONDS
        ]
        for start in range(0, len(missing), USYNC_BATCH):
            await self._sync(missing[start : start + USYNC_BATCH], now)
        out: list[JID] = []
        for user in wanted:
            out.extend(self._devices.get(user, (now, []))[1])
        return out

    async def _sync(self, users: Sequence[JID], now: float) -> None:
        request = Node(
            "iq",
            {"to": DEFAULT_USER_SERVER, "type": "get", "xmlns": "usync"},
            [
                Node(
                    "usync",
                    {
                        "sid": self._new_sid(),
                        "mode": "query",
                        "last": "true",
                        "index": "0",
                        "context": "message",
                    },
                    [
                        Node("query", {}, [Node("devices", {"version": "2"}), Node("lid")]),
                        Node("list", {}, [Node("user", {"jid": str(u)}) for u in users]),
                    ],
                )
            ],
        )
        answer = await self._query(request)
        usync = answer.get_child("usync")
        listed = usync.get_child("list") if usync is not None else None
        if listed is None:
            raise ProtocolError("usync answer without <usync><list>")
        for user in listed.get_children("user"):
            try:
                jid = JID.parse(user.attrs.get("jid", "")).to_non_ad()
            except InvalidJID:
                self.log.warning("usync answer names a malformed user jid")
                continue
            lid_node = user.get_child("lid")
            if lid_node is not None and lid_node.attrs.get("val"):
                try:
                    await self.learn(jid, JID.parse(lid_node.attrs["val"]))
                except InvalidJID:
                    self.log.warning("usync answer has a malformed lid for %s", jid)
            self._devices[jid] = (now, parse_device_list(jid, user.get_child("devices")))


def parse_device_list(user: JID, devices: Node | None) -> list[JID]:
    """``<devices><device-list><device id=N/>..`` as device JIDs of ``user``."""
    listed = devices.get_child("device-list") if devices is not None else None
    if listed is None:
        return []
    out = []
    for device in listed.get_children("device"):
        try:
            device_id = device.attr_int("id", None)
        except ProtocolError:
            continue
        if device_id is None or not 0 <= device_id < 1 << 16:
            continue
        out.append(user.with_device(device_id))
    return out
