"""An account's profile on the sim: picture, about text, business profile, blocklist,
privacy settings and the default disappearing-messages timer.

Requests as whatsmeow (``user.go``, ``group.go`` SetGroupPhoto, ``privacysettings.go``) and
Baileys (``chats.ts``) send them:

- ``<iq xmlns="w:profile:picture" type="get" target=JID><picture query="url"
  type="image|preview"/>`` → ``<picture id url direct_path type/>`` (the URL is the sim's
  media host, which serves the JPEG there: ``wamd.sim.media.sign_picture_url``); no picture: ``404``
  (whatsmeow ErrProfilePictureNotSet), hidden by the owner's ``profile`` privacy: ``401``;
  ``type="set" [target=JID]`` with ``<picture type="image">JPEG</picture>`` → ``<picture
  id/>`` (not a JPEG: ``406``, whatsmeow ErrInvalidImageFormat), without it: removed. A
  group's picture is its admins' to change when the group is locked;
- ``<iq xmlns="status" type="set"><status>TEXT</status>`` (Baileys updateProfileStatus;
  whatsmeow now uses a GraphQL mutation the sim does not serve): the about text, which
  usync's ``status`` protocol reports;
- ``<iq xmlns="w:biz" type="get"><business_profile v="244"><profile jid/>`` → the
  business's ``<profile jid><address/><description/><email/><website/><categories>
  <category id/></categories></profile>``, or no ``<profile>`` for a personal account;
- ``<iq xmlns="blocklist" type="get"/>`` → ``<list dhash><item jid/>..``; ``type="set"``
  ``<item action="block|unblock" jid=LID [pn_jid=PN]/>`` → the new list; the account's
  other devices get ``<notification type="account_sync"><blocklist><item jid action/>``
  (Baileys emits blocklist.update from it);
- ``<iq xmlns="privacy" type="get"><privacy/>`` → ``<privacy><category name value/>..``;
  ``type="set"`` ``<privacy><category name value/></privacy>``: unknown names or values
  ``400``;
- ``<iq xmlns="disappearing_mode" type="set"><disappearing_mode duration=N/>``: the
  default timer, which usync's ``disappearing_mode`` protocol reports.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, InvalidJID
from wamd.messaging import stanzas
from wamd.sim.media import sign_picture_url
from wamd.sim.state import SERVER

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = ["DEFAULT_PRIVACY", "PRIVACY_VALUES", "Profiles"]

JPEG_MAGIC = b"\xff\xd8\xff"  # what a JPEG file starts with
MAX_PICTURE = 1 << 20  # bytes of a profile picture the sim accepts
# every account's privacy settings, as a fresh WhatsApp account has them (whatsmeow types)
DEFAULT_PRIVACY = {
    "groupadd": "all",
    "last": "all",
    "status": "contacts",
    "profile": "all",
    "readreceipts": "all",
    "online": "all",
    "calladd": "all",
    "messages": "all",
}
# the values each category takes (whatsmeow types.PrivacySetting, Baileys WAPrivacy*Value)
PRIVACY_VALUES = {
    "groupadd": {"all", "contacts", "contact_blacklist", "none"},
    "last": {"all", "contacts", "contact_blacklist", "none"},
    "status": {"all", "contacts", "contact_blacklist", "none"},
    "profile": {"all", "contacts", "contact_blacklist", "none"},
    "readreceipts": {"all", "none"},
    "online": {"all", "match_last_seen"},
    "calladd": {"all", "known"},
    "messages": {"all", "contacts"},
}


def _error(request: Node, code: int, text: str) -> Node:
    return stanzas.iq_error(request, code, text, as_server=True)


def _result(request: Node, children: list[Node] | None = None) -> Node:
    return stanzas.iq_result(request, children, as_server=True)


class Profiles:
    def __init__(self, state: SimState, router: Router) -> None:
        self.state = state
        self.router = router

    # ------------------------------------------------------------------ pictures

    def _picture_node(self, owner: str, picture: tuple[str, bytes], kind: str) -> Node:
        picture_id, data = picture
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        url, path = sign_picture_url(self.state, owner, picture_id, kind)  # served there
        return Node(
            "picture",
            {"id": picture_id, "type": kind, "url": url, "direct_path": path, "hash": digest},
        )

    async def picture(self, device: SimDevice, node: Node) -> Node:
        target_text = node.attrs.get("target")
        try:
            target = JID.parse(target_text).to_non_ad() if target_text else device.phone.jid
        except InvalidJID:
            return _error(node, 400, "bad-request")
        kind = node.attrs.get("type")
        if kind == "get":
            asked = node.get_child("picture")
            if asked is None:
                return _error(node, 400, "bad-request")
            size = "preview" if asked.attrs.get("type") == "preview" else "image"
            if target.server == GROUP_SERVER:
                group = self.state.groups.get(target.user)
                if group is None:
                    return _error(node, 404, "item-not-found")
                picture = group.picture
            else:
                owner = self.state.account_of(target)
                if owner is None or device.phone.number in owner.blocked:
                    # who blocked us looks as if they had no picture (nothing tells of a block)
                    return _error(node, 404, "item-not-found")
                if owner.privacy.get("profile") == "none" and owner is not device.phone:
                    return _error(node, 401, "not-authorized")
                picture = owner.picture
            if picture is None:
                return _error(node, 404, "item-not-found")
            return _result(node, [self._picture_node(target.user, picture, size)])
        if kind != "set":
            return _error(node, 400, "bad-request")
        given = node.get_child("picture")
        data = given.content_bytes() if given is not None else None
        if given is not None and (
            not data or not data.startswith(JPEG_MAGIC) or len(data) > MAX_PICTURE
        ):
            return _error(node, 406, "not-acceptable")
        new = (str(self.state.now()) + str(self.state.rng.getrandbits(16)), data) if data else None
        if target.server == GROUP_SERVER:
            group = self.state.groups.get(target.user)
            if group is None:
                return _error(node, 404, "item-not-found")
            role = group.participants.get(device.phone.number, "absent")
            if role == "absent":
                return _error(node, 403, "forbidden")
            if group.locked and not role:
                return _error(node, 401, "not-authorized")
            group.picture = new
        else:
            if self.state.account_of(target) is not device.phone:
                return _error(node, 401, "not-authorized")  # only one's own picture
            device.phone.picture = new
        return _result(node, [Node("picture", {"id": new[0]})] if new else None)

    # ------------------------------------------------------------------ about, business

    async def status(self, device: SimDevice, node: Node) -> Node | None:
        status = node.get_child("status")
        if node.attrs.get("type") != "set" or status is None:
            return None
        raw = status.content_bytes() or b""
        text = raw.decode("utf-8", "replace")
        if len(text) > 139:  # WhatsApp's about text limit
            return _error(node, 406, "not-acceptable")
        device.phone.status, device.phone.status_time = text, self.state.now()
        return _result(node)

    async def business(self, device: SimDevice, node: Node) -> Node | None:
        asked = node.get_child("business_profile")
        if node.attrs.get("type") != "get" or asked is None:
            return None
        profiles = []
        for profile in asked.get_children("profile"):
            try:
                owner = self.state.account_of(JID.parse(profile.attrs.get("jid", "")))
            except InvalidJID:
                return _error(node, 400, "bad-request")
            if owner is None or not owner.business:
                continue
            info = owner.business_profile
            children = [
                Node("address", {}, info.get("address", "").encode()),
                Node("description", {}, info.get("description", "").encode()),
                Node("email", {}, info.get("email", "").encode()),
                Node("website", {}, info.get("website", "").encode()),
                Node(
                    "categories",
                    {},
                    [Node("category", {"id": "1"}, info.get("category", "").encode())],
                ),
            ]
            profiles.append(Node("profile", {"jid": str(owner.jid), "tag": "1"}, children))
        return _result(node, [Node("business_profile", {"v": "244"}, profiles)])

    # ------------------------------------------------------------------ blocklist

    def _list(self, phone: SimPhone) -> Node:
        items = [Node("item", {"jid": lid}) for lid in phone.blocked.values()]
        digest = hashlib.sha256(",".join(sorted(phone.blocked)).encode()).hexdigest()[:16]
        return Node("list", {"dhash": digest}, items)

    async def blocklist(self, device: SimDevice, node: Node) -> Node | None:
        phone = device.phone
        if node.attrs.get("type") == "get":
            return _result(node, [self._list(phone)])
        item = node.get_child("item")
        if node.attrs.get("type") != "set" or item is None:
            return None
        action = item.attrs.get("action")
        try:
            jid = JID.parse(item.attrs.get("jid", "")).to_non_ad()
        except InvalidJID:
            return _error(node, 400, "bad-request")
        other = self.state.account_of(jid)
        if action not in ("block", "unblock") or other is None or other is phone:
            return (
                _error(node, 400, "bad-request")
                if other is not None
                else _error(node, 404, "item-not-found")
            )
        if action == "block":
            phone.blocked[other.number] = str(other.lid)
        else:
            phone.blocked.pop(other.number, None)
        change = Node("item", {"jid": str(other.lid), "action": action})
        note = self.state.notification(
            f"{phone.number}@{SERVER}", "account_sync", [Node("blocklist", {}, [change])]
        )
        for mine in phone.devices():
            if mine is not device:
                await self.router.deliver(mine, note)
        return _result(node, [self._list(phone)])

    # ------------------------------------------------------------------ privacy

    async def privacy(self, device: SimDevice, node: Node) -> Node | None:
        asked = node.get_child("privacy")
        if asked is None:
            return None
        phone = device.phone
        if node.attrs.get("type") == "get":
            categories = [
                Node("category", {"name": name, "value": value})
                for name, value in phone.privacy.items()
            ]
            return _result(node, [Node("privacy", {}, categories)])
        if node.attrs.get("type") != "set":
            return None
        changes = asked.get_children("category")
        for category in changes:
            name, value = category.attrs.get("name", ""), category.attrs.get("value", "")
            if value not in PRIVACY_VALUES.get(name, ()):
                return _error(node, 400, "bad-request")
        if not changes:
            return _error(node, 400, "bad-request")
        for category in changes:
            phone.privacy[category.attrs["name"]] = category.attrs["value"]
        return _result(node)

    async def disappearing(self, device: SimDevice, node: Node) -> Node | None:
        mode = node.get_child("disappearing_mode")
        if node.attrs.get("type") != "set" or mode is None:
            return None
        raw = mode.attrs.get("duration", "")
        if not raw.isdigit():
            return _error(node, 400, "bad-request")
        device.phone.disappearing = int(raw)
        return _result(node)
