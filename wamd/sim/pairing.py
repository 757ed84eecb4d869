"""Pairing on the sim: linking a new companion by QR code or by phone-number code.

- Registration (whatsmeow ``pair.go`` handlePairDevice): an unpaired client gets
  ``<iq type="set" xmlns="md"><pair-device><ref/>x6</pair-device></iq>``; the first ref
  lives 60 s and each next one 20 s (whatsmeow ``qrchan.go``), after which the
  connection is closed.
- A phone scans one of the refs (``SimPhone.scan_qr``) or takes the companion's pairing
  code (``SimPhone.link_with_code``, whatsmeow ``pair-code.go``: ``companion_hello``,
  the ``primary_hello`` notification, ``companion_finish``). A mistyped code cannot be
  seen until ``companion_finish``: the pairing code only wraps the two ephemeral keys
  (AES-CTR, no check), so the phone finds out when the companion's key bundle does not
  authenticate (AES-GCM). The sim then answers ``companion_finish`` with an iq error
  (400 bad-request) and the phone (``link_with_code``) raises; the request stays pending,
  so the code can be typed again or the companion can send a new ``companion_hello``
  (a new code, as whatsmeow's ``PairPhone`` called again). What the real server answers
  there is not known: whatsmeow only logs the error of that iq and Baileys ignores it.
- Then ``<iq type="set" xmlns="md" t><pair-success>`` with a genuine ADV identity signed
  by the account key, ``<platform>``, ``<device jid lid>`` and, for business accounts,
  ``<biz name>``; the companion's ``pair-device-sign`` is checked; ``stream:error 515``
  restarts the stream so that the client logs in as the new device, and everyone is told
  of the new device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wamd.binary import Node
from wamd.errors import PairingError, RequestError, SimError
from wamd.messaging import stanzas
from wamd.noise.payload import ParsedClientPayload
from wamd.pairing import (
    make_device_identity,
    parse_qr_string,
    primary_finish_code_pairing,
    primary_start_code_pairing,
    verify_device_signature,
)
from wamd.sim import rand
from wamd.sim.limits import FloodLimit, drop
from wamd.sim.state import SERVER, Allocation, SimDevice, SimState
from wamd.transport import NodeConnection

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router

__all__ = ["FIRST_REF_SECONDS", "NEXT_REF_SECONDS", "QR_REF_COUNT", "Pairing"]

log = logging.getLogger(__name__)

QR_REF_COUNT = 6  # refs in one pair-device (whatsmeow qrchan.go expects 6)
FIRST_REF_SECONDS = 60.0  # the first ref lives 60 s, the others 20 s (whatsmeow qrchan.go)
NEXT_REF_SECONDS = 20.0

IqServer = Callable[[NodeConnection, Node, "SimDevice | None"], Awaitable[None]]


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


class Pairing:
    """Unpaired connections, and the phone side of linking them."""

    def __init__(
        self,
        state: SimState,
        router: Router,
        serve_iq: IqServer,
        *,
        qr_ref_seconds: tuple[float, float],
        stanza_limit: tuple[float, float],
    ) -> None:
        self.state = state
        self.router = router
        self.serve_iq = serve_iq  # the usual iq answers (keepalive, passive...)
        self.qr_ref_seconds = qr_ref_seconds
        self.stanza_limit = stanza_limit
        self.pending_by_ref: dict[str, _Pending] = {}
        self.code_pending: dict[int, _Pending] = {}

    async def close_all(self) -> None:
        for pending in list(self.pending_by_ref.values()):
            await pending.connection.close()

    async def scan(self, phone: SimPhone, qr: str) -> SimDevice:
        """``phone`` scans the QR string a companion shows (URL or bare form)."""
        data = parse_qr_string(qr)
        pending = self.pending_by_ref.get(data.ref)
        if pending is None:
            raise SimError("this QR code is not (or no longer) valid")
        if pending.connection.close_reason is not None:
            raise SimError("the companion is no longer connected")
        return await self.pair(phone, pending, data.identity_public, data.adv_secret)

    async def enter_code(self, phone: SimPhone, code: str) -> SimDevice:
        """``phone`` takes the pairing code of the companion waiting for its number."""
        pending = next(
            (p for p in self.code_pending.values() if p.code_phone == phone.number), None
        )
        if pending is None:
            raise SimError(f"no companion is waiting for a pairing code for {phone.number}")
        return await self._pair_with_code(phone, pending, code)

    async def registration(
        self, conn: NodeConnection, payload: ParsedClientPayload, setup: Callable[[], None]
    ) -> None:
        """An unpaired client: six QR refs, then wait for a scan (or a pairing code)."""
        refs = [f"2@{rand.ref(self.state.rng, 18)}" for _ in range(QR_REF_COUNT)]
        pending = _Pending(conn, payload, refs)
        for ref in refs:
            self.pending_by_ref[ref] = pending
        bucket = FloodLimit(*self.stanza_limit)

        async def serve(node: Node) -> None:
            if not bucket.take():
                log.warning("disconnecting an unpaired client: flooding")
                await drop(conn, "flooding")
                return
            with self.state.activity.busy("a stanza from an unpaired client"):
                await self._serve(pending, node)

        conn.start(serve)
        try:
            # whatsmeow pair.go handlePairDevice: <iq from=s.whatsapp.net><pair-device><ref>..
            iq = Node(
                "iq",
                {
                    "from": SERVER,
                    "type": "set",
                    "id": rand.stanza_id(self.state.rng),
                    "xmlns": "md",
                },
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
                self.pending_by_ref.pop(ref, None)
            self.code_pending.pop(id(pending), None)

    async def _serve(self, pending: _Pending, node: Node) -> None:
        """iqs of an unpaired client: the pairing-code stages, else the usual answers."""
        reg = node.get_child("link_code_companion_reg") if node.tag == "iq" else None
        if reg is None:
            await self.serve_iq(pending.connection, node, None)
            return
        conn = pending.connection
        stage = reg.attrs.get("stage")
        if stage == "companion_hello":
            # whatsmeow pair-code.go PairPhone: jid, wrapped ephemeral (80 bytes), noise key
            wrapped = reg.get_child("link_code_pairing_wrapped_companion_ephemeral_pub")
            auth_key = reg.get_child("companion_server_auth_key_pub")
            jid = reg.jid_attr("jid")
            raw = wrapped.content_bytes() if wrapped is not None else None
            if jid is None or raw is None or len(raw) != 80 or auth_key is None:
                await conn.send(stanzas.iq_error(node, 400, "bad-request", as_server=True))
                return
            if jid.user not in self.state.phones:
                await conn.send(stanzas.iq_error(node, 404, "item-not-found", as_server=True))
                return
            pending.code_phone = jid.user
            pending.code_ref = rand.ref(self.state.rng, 24).encode()
            pending.wrapped_companion_ephemeral = raw
            self.code_pending[id(pending)] = pending
            ref_node = Node("link_code_pairing_ref", {}, pending.code_ref)
            answer = [Node("link_code_companion_reg", {}, [ref_node])]
            await conn.send(stanzas.iq_result(node, answer, as_server=True))
        elif (
            stage == "companion_finish"
            and pending.code_finish is not None
            and not pending.code_finish.done()
        ):
            pending.code_finish.set_result(node)
        else:
            await conn.send(stanzas.iq_error(node, 400, "bad-request", as_server=True))

    async def _pair_with_code(self, phone: SimPhone, pending: _Pending, code: str) -> SimDevice:
        conn = pending.connection
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
            "id": rand.stanza_id(self.state.rng),
            "t": str(self.state.now()),
        }
        await conn.send(Node("notification", attrs, [hello]))
        finish = await asyncio.wait_for(pending.code_finish, 30)
        reg = finish.require_child("link_code_companion_reg")
        bundle = reg.get_child("link_code_pairing_wrapped_key_bundle")
        wrapped_bundle = (bundle.content_bytes() if bundle is not None else None) or b""
        try:
            identity, adv_secret = primary_finish_code_pairing(
                ephemeral, companion_public, wrapped_bundle, phone.account_key
            )
        except PairingError as exc:
            # a mistyped code: the phone cannot open the bundle. The companion's request
            # stays pending (the phone may type the code again, the companion may ask
            # for a new one); the companion hears of it by the error answer
            await conn.send(stanzas.iq_error(finish, 400, "bad-request", as_server=True))
            raise SimError(f"pairing code rejected: {exc}") from None
        # the device number is taken only now: a mistyped code does not use one up
        allocation = self.state.allocate_companion(phone)
        await conn.send(stanzas.iq_result(finish, as_server=True))
        return await self.pair(phone, pending, identity, adv_secret, allocation)

    async def pair(
        self,
        phone: SimPhone,
        pending: _Pending,
        identity: bytes,
        adv_secret: bytes,
        allocation: Allocation | None = None,
    ) -> SimDevice:
        """pair-success with a genuine ADV identity, the pair-device-sign checked, 515."""
        payload = pending.payload
        if payload.identity_public != identity:
            raise SimError("the QR code's identity key does not match the connected device")
        conn = pending.connection
        if allocation is None:
            allocation = self.state.allocate_companion(phone)
        key_index = allocation.key_index
        container = make_device_identity(
            phone.account_key,
            identity,
            adv_secret,
            raw_id=int(phone.number) & 0xFFFFFFFF,
            key_index=key_index,
            timestamp=self.state.now(),
        )
        jid, lid = allocation.jid, allocation.lid
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
                "id": rand.stanza_id(self.state.rng),
                "t": str(self.state.now()),
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
        props = payload.device_props
        if props is not None:
            kind = props.PlatformType.Name(props.platformType) if props.platformType else ""
            device.platform = " / ".join(p for p in (props.os, kind) if p)
        self.state.register_companion(device)
        pending.done.set()
        # the server restarts the stream so that the client logs in as the new device
        await conn.send(Node("stream:error", {"code": "515"}))
        await conn.close()
        await self.router.notify_devices(phone, "add", device)
        return device
