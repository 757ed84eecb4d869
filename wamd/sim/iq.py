"""The sim's iq table: one handler per ``xmlns``, everything else ``501``.

Every ``<iq type="get"|"set" id>`` a client sends gets an answer (clients stall on an
unanswered query): its handler's, else ``<error code="501"
text="feature-not-implemented"/>``. Keepalive (``w:p``) and ``passive`` are answered on
any connection, the rest only for a logged-in device:

==================== =================================================================
``w:p``, ``passive`` empty result (whatsmeow ``keepalive.go``; ``passive``/``active``)
``encrypt``          prekey bundles (``<key>``), count, upload, rotation, digest
``usync``            devices, lid, contact, status (``services.answer_usync``)
``w:g2``             groups (``groups.py``)
``w``, ``abt``       props, A/B props
``blocklist``        the account's block list, block and unblock (``profile.py``)
``privacy``          settings (get, set), trusted-contact tokens (set)
``w:profile:picture`` profile and group pictures (get, set, remove)
``status``           the about text (set); ``w:biz``: business profiles
``disappearing_mode`` the default disappearing-messages timer
``w:sync:app:state`` the account's collections: fetches and writes (``appstate.py``)
``w:m``              ``media_conn``
``md``               ``remove-companion-device``: the device logs itself out
==================== =================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from wamd.binary import Node
from wamd.crypto import DJB_TYPE, verify
from wamd.errors import ProtocolError
from wamd.messaging import stanzas
from wamd.sim.profile import Profiles
from wamd.sim.services import (
    answer_account,
    answer_keys,
    answer_media_conn,
    answer_privacy_tokens,
    answer_usync,
)
from wamd.transport import NodeConnection

if TYPE_CHECKING:
    from wamd.sim.groups import Groups
    from wamd.sim.login import Logins
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = ["IqTable"]

log = logging.getLogger(__name__)

# what a handler returns: the answer to send, None for "not implemented", or ANSWERED
# when it has sent its answer itself
Handler = Callable[[NodeConnection, Node, "SimDevice"], Awaitable["Node | None"]]
AnyHandler = Callable[[NodeConnection, Node, "SimDevice | None"], Awaitable["Node | None"]]
ANSWERED = Node("answered")


def _result(request: Node, children: list[Node] | None = None) -> Node:
    return stanzas.iq_result(request, children, as_server=True)


def _error(request: Node, code: int, text: str) -> Node:
    return stanzas.iq_error(request, code, text, as_server=True)


class IqTable:
    """``await table.serve(conn, node, device)`` answers one iq (``device`` is ``None``
    on a connection that has not logged in)."""

    def __init__(self, state: SimState, router: Router, groups: Groups, logins: Logins) -> None:
        self.state = state
        self.router = router
        self.groups = groups
        self.logins = logins
        self.profiles = Profiles(state, router)
        self.anonymous: dict[str, AnyHandler] = {"w:p": self._empty, "passive": self._empty}
        self.logged_in: dict[str, Handler] = {
            "encrypt": self._encrypt,
            "usync": self._usync,
            "w:g2": self._group,
            "w": self._account,
            "abt": self._account,
            "blocklist": self._blocklist,
            "privacy": self._privacy,
            "w:profile:picture": self._picture,
            "status": self._status,
            "w:biz": self._business,
            "disappearing_mode": self._disappearing,
            "w:sync:app:state": self._app_state,
            "w:m": self._media,
            "md": self._md,
        }

    async def serve(self, conn: NodeConnection, node: Node, device: SimDevice | None) -> None:
        if node.tag != "iq" or node.attrs.get("type") not in ("get", "set"):
            return
        if not node.attrs.get("id"):
            return
        xmlns = node.attrs.get("xmlns", "")
        handler = self.anonymous.get(xmlns)
        answer: Node | None = None
        if handler is not None:
            answer = await handler(conn, node, device)
        elif device is not None and (logged_in := self.logged_in.get(xmlns)) is not None:
            answer = await logged_in(conn, node, device)
        if answer is ANSWERED:
            return
        await conn.send(answer or _error(node, 501, "feature-not-implemented"))

    # ------------------------------------------------------------------ handlers

    async def _empty(
        self, conn: NodeConnection, node: Node, device: SimDevice | None
    ) -> Node | None:
        return _result(node)

    async def _usync(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return answer_usync(self.state, node)

    async def _group(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self.groups.answer(device, node)

    async def _account(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return answer_account(node)

    async def _app_state(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        sync = node.get_child("sync")
        if node.attrs.get("type") != "set" or sync is None:
            return None
        return _result(node, [await device.phone.app_state.answer(device, sync)])

    async def _privacy(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        answer = await self.profiles.privacy(device, node)
        if answer is None:
            answer = await answer_privacy_tokens(self.state, self.router, device, node)
        return answer

    # the account's profile (wamd/sim/profile.py)

    async def _blocklist(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self.profiles.blocklist(device, node)

    async def _picture(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self.profiles.picture(device, node)

    async def _status(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self.profiles.status(device, node)

    async def _business(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self.profiles.business(device, node)

    async def _disappearing(
        self, conn: NodeConnection, node: Node, device: SimDevice
    ) -> Node | None:
        return await self.profiles.disappearing(device, node)

    async def _media(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return answer_media_conn(self.state, node)

    async def _md(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        """``<remove-companion-device>``: the device unlinks itself (logs out)."""
        if node.get_child("remove-companion-device") is None:
            return None
        await conn.send(_result(node))
        device.unlinked = True
        await conn.close()
        await self.router.notify_devices(device.phone, "remove", device)
        return ANSWERED

    async def _encrypt(self, conn: NodeConnection, node: Node, device: SimDevice) -> Node | None:
        return await self._keys(node, device)

    async def _keys(self, node: Node, device: SimDevice) -> Node | None:
        """``xmlns="encrypt"``: prekey count, upload, signed prekey rotation.

        whatsmeow prekeys.go uploads ``registration type identity list skey`` and reads
        ``<count value=N/>``; Baileys rotates the signed prekey alone with
        ``<rotate><skey/></rotate>``. A bare ``<skey>`` child is taken as a rotation too.
        The new signed prekey must be signed by the device's identity (whoever fetches a
        bundle checks that signature, so the server refusing a bad one loses nothing).
        """
        if node.get_child("key") is not None:
            return await answer_keys(self.state, self.router, node)
        kind = node.attrs.get("type")
        if kind == "get" and node.get_child("count") is not None:
            return _result(node, [Node("count", {"value": str(len(device.prekeys))})])
        if kind == "get" and node.get_child("digest") is not None:
            return _result(node, [_digest(device)])
        rotate = node.get_child("rotate")
        listed = node.get_child("list")
        skey = (rotate or node).get_child("skey")
        if kind != "set" or (listed is None and skey is None):
            return None
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
            log.info("refused a key upload from %s: %s", device.jid, exc)
            return _error(node, 400, "bad-request")
        device.prekeys.update(keys)
        if keys:
            device.low_prekeys_told = False
        if signed is not None:
            device.signed_prekey_id, device.signed_prekey, device.signed_prekey_signature = signed
        return _result(node)


def _digest(device: SimDevice) -> Node:
    """A key-bundle digest: what the server holds for the device.

    Neither reference documents the real answer's children (Baileys digestKeyBundle
    only checks that ``<digest>`` is there; whatsmeow does not ask), so this lists the
    registration, identity, signed prekey id and one-time prekey ids, and no hash.
    """
    ids = [Node("id", {}, key_id.to_bytes(3, "big")) for key_id in sorted(device.prekeys)]
    return Node(
        "digest",
        {},
        [
            Node("registration", {}, device.registration_id.to_bytes(4, "big")),
            Node("type", {}, bytes((DJB_TYPE,))),
            Node("identity", {}, device.identity),
            Node("skey", {}, [Node("id", {}, device.signed_prekey_id.to_bytes(3, "big"))]),
            Node("list", {}, ids),
        ],
    )


def _key_fields(key: Node) -> tuple[int, bytes]:
    """``<id>`` (3 bytes) and ``<value>`` (32 bytes) of a ``<key>``/``<skey>``."""
    raw_id = key.require_child("id").content_bytes() or b""
    value = key.require_child("value").content_bytes() or b""
    if len(raw_id) != 3:
        raise ProtocolError(f"<{key.tag}> id must be 3 bytes")
    if len(value) != 32:
        raise ProtocolError(f"<{key.tag}> value must be 32 bytes")
    return int.from_bytes(raw_id, "big"), value
