"""Profile and privacy: pictures, the about text, business profiles, the blocklist, privacy
settings and the default disappearing-messages timer.

Requests (whatsmeow ``user.go``, ``group.go``, ``privacysettings.go``; Baileys ``chats.ts``):

==============================  ============================================================
``profile_picture_url``         ``get`` ``w:profile:picture`` ``target=JID``: ``<picture
                                query="url" type="image|preview"/>`` (404: none set → ``None``)
``update_profile_picture``      ``set`` ``w:profile:picture`` [``target``] ``<picture
                                type="image">JPEG</picture>`` → its id (406: not a JPEG)
``remove_profile_picture``      the same ``set`` without ``<picture>``
``fetch_status``                usync ``<status/>`` (the about text and when it was set)
``update_profile_status``       ``set`` ``status``: ``<status>TEXT</status>`` (Baileys; whatsmeow
                                now sends a GraphQL mutation)
``get_business_profile``        ``get`` ``w:biz``: ``<business_profile v="244"><profile jid/>``
``fetch_blocklist``             ``get`` ``blocklist`` → ``<list><item jid/>..``
``update_block_status``         ``set`` ``blocklist``: ``<item action jid=LID [pn_jid=PN]/>``
                                (whatsmeow: the LID, with the number when blocking)
``fetch_privacy_settings``      ``get`` ``privacy``: ``<privacy/>`` → ``<category name value/>``
``update_privacy_setting``      ``set`` ``privacy``: ``<privacy><category name value/>``
``update_default_disappearing``  ``set`` ``disappearing_mode``: ``<disappearing_mode duration/>``
==============================  ============================================================

``<notification type="account_sync">`` with ``<blocklist><item jid action/>`` (a change made
on another device) becomes ``blocklist.update`` (Baileys ``messages-recv.ts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ItemNotFound, ProtocolError, RequestError, explain_request_error
from wamd.messaging import stanzas
from wamd.messaging.types import BlocklistUpdate

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.devices import DeviceDirectory

__all__ = ["PRIVACY_SETTINGS", "BusinessProfile", "Profile", "StatusInfo"]

JPEG_MAGIC = b"\xff\xd8\xff"
MAX_STATUS = 139  # characters of WhatsApp's about text
# each privacy category and the values it takes (whatsmeow types.PrivacySetting*)
PRIVACY_SETTINGS: Mapping[str, frozenset[str]] = {
    "groupadd": frozenset({"all", "contacts", "contact_blacklist", "none"}),
    "last": frozenset({"all", "contacts", "contact_blacklist", "none"}),
    "status": frozenset({"all", "contacts", "contact_blacklist", "none"}),
    "profile": frozenset({"all", "contacts", "contact_blacklist", "none"}),
    "readreceipts": frozenset({"all", "none"}),
    "online": frozenset({"all", "match_last_seen"}),
    "calladd": frozenset({"all", "known"}),
    "messages": frozenset({"all", "contacts"}),
}


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """A user's about text (``status``) and when it was set (``set_at``, seconds)."""

    id: str
    status: str | None
    set_at: int | None


@dataclass(frozen=True, slots=True)
class BusinessProfile:
    """A business account's profile (Baileys ``WABusinessProfile``)."""

    wid: str
    description: str = ""
    category: str | None = None
    email: str | None = None
    website: tuple[str, ...] = ()
    address: str | None = None


def _jid(value: str) -> JID:
    try:
        return JID.parse(value).to_non_ad()
    except InvalidJID as exc:
        raise ValueError(f"not a valid jid: {exc}") from None


def _text(node: Node | None) -> str | None:
    if node is None:
        return None
    raw = node.content
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else None


class Profile:
    def __init__(self, core: ClientCore, devices: DeviceDirectory) -> None:
        self.core = core
        self.devices = devices

    async def _iq(
        self, kind: str, xmlns: str, children: list[Node], what: str, **attrs: str
    ) -> Node:
        try:
            return await self.core.query(stanzas.iq(kind, xmlns, children, attrs=attrs))
        except RequestError as exc:
            raise explain_request_error(exc, what) from None

    def _target(self, jid: str) -> dict[str, str]:
        """The ``target`` attribute: none for our own account (Baileys), else the JID."""
        target = _jid(jid)
        own = self.core.require_own()
        if target.user in own.users and target.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
            return {}
        return {"target": str(target)}

    # ------------------------------------------------------------------ pictures

    async def profile_picture_url(
        self, jid: str, kind: Literal["preview", "image"] = "preview"
    ) -> str | None:
        """The URL of a user's or group's picture; ``None`` when there is none."""
        if kind not in ("preview", "image"):
            raise ValueError("kind is 'preview' or 'image'")
        target = _jid(jid)
        picture = Node("picture", {"query": "url", "type": kind})
        try:
            answer = await self._iq(
                "get",
                "w:profile:picture",
                [picture],
                f"the picture of {target}",
                target=str(target),
            )
        except ItemNotFound:
            return None
        found = answer.get_child("picture")
        if found is None:
            raise ProtocolError("profile picture answered without <picture>")
        if found.attrs.get("status") in ("204", "304"):
            return None
        return found.attrs.get("url")

    async def update_profile_picture(self, jid: str, jpeg: bytes) -> str:
        """Set our (or a group's) picture to ``jpeg``; returns the new picture id."""
        if not isinstance(jpeg, (bytes, bytearray)) or not bytes(jpeg).startswith(JPEG_MAGIC):
            raise ValueError("a profile picture is a JPEG image (its bytes)")
        child = Node("picture", {"type": "image"}, bytes(jpeg))
        answer = await self._iq(
            "set",
            "w:profile:picture",
            [child],
            f"setting the picture of {jid}",
            **self._target(jid),
        )
        found = answer.get_child("picture")
        picture_id = found.attrs.get("id") if found is not None else None
        if not picture_id:
            raise ProtocolError("picture set answered without its id")
        return picture_id

    async def remove_profile_picture(self, jid: str) -> None:
        await self._iq(
            "set", "w:profile:picture", [], f"removing the picture of {jid}", **self._target(jid)
        )

    # ------------------------------------------------------------------ about

    async def fetch_status(self, jids: list[str]) -> list[StatusInfo]:
        users = [_jid(j) for j in jids]
        if any(u.server not in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER) for u in users):
            raise ValueError("about texts are users' (not groups')")
        request = Node(
            "iq",
            {"to": DEFAULT_USER_SERVER, "type": "get", "xmlns": "usync"},
            [
                Node(
                    "usync",
                    {
                        "sid": self.core.new_sid(),
                        "mode": "query",
                        "last": "true",
                        "index": "0",
                        "context": "interactive",
                    },
                    [
                        Node("query", {}, [Node("status")]),
                        Node("list", {}, [Node("user", {"jid": str(u)}) for u in users]),
                    ],
                )
            ],
        )
        answer = await self.core.query(request)
        usync = answer.get_child("usync")
        listed = usync.get_child("list") if usync is not None else None
        if listed is None:
            raise ProtocolError("usync status answer without <usync><list>")
        out = []
        for user in listed.get_children("user"):
            status = user.get_child("status")
            set_at = status.attr_int("t", None) if status is not None else None
            out.append(StatusInfo(user.attrs.get("jid", ""), _text(status), set_at))
        return out

    async def update_profile_status(self, text: str) -> None:
        if not isinstance(text, str) or len(text) > MAX_STATUS:
            raise ValueError(f"the about text is a str of at most {MAX_STATUS} characters")
        await self._iq(
            "set", "status", [Node("status", {}, text.encode())], "setting the about text"
        )

    async def get_business_profile(self, jid: str) -> BusinessProfile | None:
        target = _jid(jid)
        asked = Node("business_profile", {"v": "244"}, [Node("profile", {"jid": str(target)})])
        answer = await self._iq("get", "w:biz", [asked], f"the business profile of {target}")
        holder = answer.get_child("business_profile")
        profile = holder.get_child("profile") if holder is not None else None
        if profile is None:
            return None
        categories = profile.get_child("categories")
        category = categories.get_child("category") if categories is not None else None
        website = _text(profile.get_child("website"))
        return BusinessProfile(
            wid=profile.attrs.get("jid", str(target)),
            description=_text(profile.get_child("description")) or "",
            category=_text(category),
            email=_text(profile.get_child("email")),
            website=(website,) if website else (),
            address=_text(profile.get_child("address")),
        )

    # ------------------------------------------------------------------ blocklist

    @staticmethod
    def _blocked(answer: Node) -> list[str]:
        listed = answer.get_child("list")
        if listed is None:
            raise ProtocolError("blocklist answered without <list>")
        return [i.attrs["jid"] for i in listed.get_children("item") if i.attrs.get("jid")]

    async def fetch_blocklist(self) -> list[str]:
        return self._blocked(await self._iq("get", "blocklist", [], "the blocklist"))

    async def update_block_status(self, jid: str, action: Literal["block", "unblock"]) -> list[str]:
        """Block or unblock a user; returns the blocklist after the change."""
        if action not in ("block", "unblock"):
            raise ValueError("action is 'block' or 'unblock'")
        user = _jid(jid)
        if user.server == DEFAULT_USER_SERVER:
            pn: JID | None = user
            lid = await self.devices.lid_for(user)
            if lid is None:  # whatsmeow asks the server (usync) for the lid first
                await self.devices.get_devices([user])
                lid = await self.devices.lid_for(user)
            if lid is None:
                raise ItemNotFound(404, "", f"no lid known for {user}: cannot {action} it")
        elif user.server == HIDDEN_USER_SERVER:
            lid, pn = user, await self.devices.pn_for(user)
        else:
            raise ValueError(f"{user} is not a user (only users are blocked)")
        attrs = {"action": action, "jid": str(lid.to_non_ad())}
        if action == "block" and pn is not None:
            attrs["pn_jid"] = str(pn.to_non_ad())
        answer = await self._iq("set", "blocklist", [Node("item", attrs)], f"{action}ing {user}")
        return self._blocked(answer)

    async def on_account_sync(self, node: Node) -> None:
        """``<notification type="account_sync">``: a blocklist change → ``blocklist.update``."""
        for child in node.get_children("blocklist"):
            for item in child.get_children("item"):
                jid, action = item.attrs.get("jid"), item.attrs.get("action")
                if not jid or action not in ("block", "unblock"):
                    continue
                kind: Literal["add", "remove"] = "add" if action == "block" else "remove"
                self.core.ev.emit("blocklist.update", BlocklistUpdate((jid,), kind))

    # ------------------------------------------------------------------ privacy

    async def fetch_privacy_settings(self) -> dict[str, str]:
        answer = await self._iq("get", "privacy", [Node("privacy")], "the privacy settings")
        privacy = answer.get_child("privacy")
        if privacy is None:
            raise ProtocolError("privacy settings answered without <privacy>")
        return {
            c.attrs["name"]: c.attrs.get("value", "")
            for c in privacy.get_children("category")
            if c.attrs.get("name")
        }

    async def update_privacy_setting(self, name: str, value: str) -> None:
        allowed = PRIVACY_SETTINGS.get(name)
        if allowed is None:
            raise ValueError(f"no privacy setting {name!r}: one of {', '.join(PRIVACY_SETTINGS)}")
        if value not in allowed:
            raise ValueError(f"{name!r} is one of {', '.join(sorted(allowed))}, not {value!r}")
        category = Node("category", {"name": name, "value": value})
        await self._iq(
            "set", "privacy", [Node("privacy", {}, [category])], f"setting privacy {name}={value}"
        )

    async def update_default_disappearing(self, seconds: int) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError("the timer is a number of seconds (0 turns it off)")
        mode = Node("disappearing_mode", {"duration": str(seconds)})
        await self._iq("set", "disappearing_mode", [mode], "setting the default timer")
