"""Group administration on the sim: leave, description, settings, invite links, join
requests, the list of one's groups, the disappearing-messages timer.

The requests are whatsmeow's (``group.go``) and Baileys' (``groups.ts``), which agree:

- to ``g.us``: ``<leave><group id=GROUP/>..</leave>``; ``<invite code=C/>`` (``get``: the
  group's info, ``set``: join it); ``<participating><participants/><description/>
  </participating>`` → ``<groups><group ..>..</groups>``;
- to the group: ``<description id=NEW [prev=OLD] [delete="true"]><body>..</body>``;
  ``<announcement/>``, ``<not_announcement/>``, ``<locked/>``, ``<unlocked/>``;
  ``<member_add_mode>admin_add|all_member_add</member_add_mode>``;
  ``<membership_approval_mode><group_join state="on|off"/>``; ``<ephemeral expiration=N/>``
  or ``<not_ephemeral/>``; ``<invite/>`` (``get``: the code, ``set``: a new one);
  ``<membership_approval_requests/>`` → ``<membership_approval_request jid request_time>``;
  ``<membership_requests_action><approve|reject><participant jid/>..``.

Members see each change as ``<notification type="w:gp2" from=GROUP participant=ACTOR t>``
whose child is the request's (whatsmeow parseGroupChange; ``invite code``,
``created_membership_requests`` / ``revoked_membership_requests`` for join requests, which go
to the admins and the asker). Who may do what, as WhatsApp's group settings say: the
settings, invite links, join requests and removals are for admins (``401``); the subject,
description and timer too when the group is ``locked``, else for every member; adding
members for every member under ``all_member_add``. A stale ``prev`` description id is
``409``. An invite code that never existed is ``406``, a revoked one ``410`` (whatsmeow
maps these to ErrInviteLinkInvalid and ErrInviteLinkRevoked); joining twice is ``409``.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, InvalidJID
from wamd.messaging import stanzas
from wamd.sim.state import SERVER

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.groups import Groups, SimGroup
    from wamd.sim.state import SimDevice

__all__ = ["ADD_MODES", "INVITE_CODE_LENGTH", "SERVER_ACTIONS", "GroupAdmin"]

INVITE_CODE_LENGTH = 22  # characters of a chat.whatsapp.com invite code
ADD_MODES = ("admin_add", "all_member_add")  # <member_add_mode> values
SERVER_ACTIONS = frozenset({"leave", "invite", "participating"})  # requests sent to g.us
_CODE_ALPHABET = string.ascii_letters + string.digits
_INFO_TAGS = frozenset({"description", "ephemeral", "not_ephemeral"})  # locked: admins only
_ADMIN_TAGS = frozenset(
    {
        "announcement",
        "not_announcement",
        "locked",
        "unlocked",
        "member_add_mode",
        "membership_approval_mode",
        "invite",
        "membership_approval_requests",
        "membership_requests_action",
    }
)


def _error(request: Node, code: int, text: str) -> Node:
    return stanzas.iq_error(request, code, text, as_server=True)


def _result(request: Node, children: list[Node] | None = None) -> Node:
    return stanzas.iq_result(request, children, as_server=True)


def _text(node: Node) -> str:
    raw = node.content
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


class GroupAdmin:
    """The administration half of the sim's ``w:g2`` answers (``Groups.answer`` asks)."""

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.state = groups.state

    # ------------------------------------------------------------------ to g.us

    async def answer_server(self, device: SimDevice, node: Node, action: Node) -> Node:
        kind = node.attrs.get("type")
        if action.tag == "leave" and kind == "set":
            return await self._leave(device.phone, node, action)
        if action.tag == "invite" and action.attrs.get("code"):
            return await self._by_code(device.phone, node, action.attrs["code"], kind == "set")
        if action.tag == "participating" and kind == "get":
            mine = [
                self.groups.node_of(g)
                for g in self.state.groups.values()
                if device.phone.number in g.participants
            ]
            return _result(node, [Node("groups", {}, mine)])
        return _error(node, 400, "bad-request")

    async def _leave(self, phone: SimPhone, node: Node, action: Node) -> Node:
        results = []
        for child in action.get_children("group"):
            group_id = child.attrs.get("id", "")
            try:
                jid = JID.parse(group_id if "@" in group_id else f"{group_id}@{GROUP_SERVER}")
            except InvalidJID:
                return _error(node, 400, "bad-request")
            group = self.state.groups.get(jid.user) if jid.server == GROUP_SERVER else None
            if group is None or phone.number not in group.participants:
                error = "404" if group is None else "403"
                results.append(Node("group", {"id": str(jid), "error": error}))
                continue
            await self.groups.change_participants(group, phone, "remove", [phone.number])
            results.append(Node("group", {"id": str(jid)}))
        if not results:
            return _error(node, 400, "bad-request")
        return _result(node, [Node("leave", {}, results)])

    async def _by_code(self, phone: SimPhone, node: Node, code: str, join: bool) -> Node:
        code = code.removeprefix("https://chat.whatsapp.com/")
        group = next((g for g in self.state.groups.values() if g.invite_code == code), None)
        if group is None:
            revoked = any(code in g.revoked_codes for g in self.state.groups.values())
            return _error(node, 410, "gone") if revoked else _error(node, 406, "not-acceptable")
        if not join:
            return _result(node, [self.groups.node_of(group)])
        if phone.number in group.participants:
            return _error(node, 409, "conflict")
        if group.approval:
            if phone.number not in group.requests:
                group.requests[phone.number] = (self.state.now(), "invite_link")
                child = Node(
                    "created_membership_requests",
                    {"request_method": "invite_link"},
                    [self.groups.participant_node(phone.number)],
                )
                await self._notify_admins(group, phone, child)
            return _result(node, [Node("membership_approval_request", {"jid": str(group.jid)})])
        await self._join(group, phone, phone, "invite")
        return _result(node, [Node("group", {"jid": str(group.jid)})])

    async def _join(self, group: SimGroup, who: SimPhone, actor: SimPhone, reason: str) -> None:
        group.participants[who.number] = None
        group.requests.pop(who.number, None)
        child = Node("add", {"reason": reason}, [self.groups.participant_node(who.number)])
        await self.groups.notify(group, actor, child)
        for phone in self.state.phones.values():
            if phone.number in group.participants:
                await phone.endpoint.rotate_sender_key(group.jid)

    async def _notify_admins(
        self, group: SimGroup, actor: SimPhone, child: Node, *also: str
    ) -> None:
        stanza = self.state.notification(
            str(group.jid), "w:gp2", [child], participant=str(actor.jid)
        )
        admins = [n for n, role in group.participants.items() if role]
        for number in dict.fromkeys([*admins, *also]):
            phone = self.state.phones.get(number)
            if phone is None:
                continue
            for device in phone.devices():
                await self.groups.router.deliver(device, stanza)

    # ------------------------------------------------------------------ to the group

    def handles(self, action: Node) -> bool:
        return action.tag in _ADMIN_TAGS or action.tag in _INFO_TAGS

    async def answer_group(
        self, device: SimDevice, node: Node, group: SimGroup, action: Node
    ) -> Node:
        phone = device.phone
        kind = node.attrs.get("type")
        is_admin = bool(group.participants.get(phone.number))
        tag = action.tag
        if tag in _ADMIN_TAGS and not is_admin:
            return _error(node, 401, "not-authorized")
        if tag in _INFO_TAGS and group.locked and not is_admin:
            return _error(node, 401, "not-authorized")
        if tag == "invite":
            if kind == "set" or not group.invite_code:
                if group.invite_code and kind == "set":
                    group.revoked_codes.add(group.invite_code)
                group.invite_code = self._new_code()
                if kind == "set":
                    await self.groups.notify(
                        group, phone, Node("invite", {"code": group.invite_code})
                    )
            return _result(node, [Node("invite", {"code": group.invite_code})])
        if tag == "membership_approval_requests" and kind == "get":
            listed = [
                Node(
                    "membership_approval_request", {"jid": f"{n}@{SERVER}", "request_time": str(t)}
                )
                for n, (t, _) in group.requests.items()
            ]
            return _result(node, [Node("membership_approval_requests", {}, listed)])
        if kind != "set":
            return _error(node, 400, "bad-request")
        if tag == "membership_requests_action":
            return await self._requests_action(node, group, phone, action)
        if tag == "description":
            return await self._description(node, group, phone, action)
        if tag in ("announcement", "not_announcement", "locked", "unlocked"):
            value = tag in ("announcement", "locked")
            attr = "announce" if "announcement" in tag else "locked"
            if getattr(group, attr) != value:
                setattr(group, attr, value)
                attrs = {"v_id": str(self.state.now())} if attr == "announce" else {}
                await self.groups.notify(group, phone, Node(tag, attrs))
            return _result(node)
        if tag == "member_add_mode":
            mode = _text(action)
            if mode not in ADD_MODES:
                return _error(node, 400, "bad-request")
            if group.member_add_mode != mode:
                group.member_add_mode = mode
                await self.groups.notify(group, phone, Node(tag, {}, mode.encode()))
            return _result(node)
        if tag == "membership_approval_mode":
            join = action.get_child("group_join")
            state = join.attrs.get("state") if join is not None else None
            if state not in ("on", "off"):
                return _error(node, 400, "bad-request")
            if group.approval != (state == "on"):
                group.approval = state == "on"
                child = Node(tag, {}, [Node("group_join", {"state": state})])
                await self.groups.notify(group, phone, child)
            return _result(node)
        if tag in ("ephemeral", "not_ephemeral"):
            raw = action.attrs.get("expiration", "0") if tag == "ephemeral" else "0"
            if not raw.isdigit():
                return _error(node, 400, "bad-request")
            group.ephemeral = int(raw)
            child = (
                Node("ephemeral", {"expiration": raw}) if group.ephemeral else Node("not_ephemeral")
            )
            await self.groups.notify(group, phone, child)
            return _result(node)
        return _error(node, 400, "bad-request")

    async def _description(
        self, node: Node, group: SimGroup, phone: SimPhone, action: Node
    ) -> Node:
        prev = action.attrs.get("prev")
        if (prev or "") != group.description_id:
            return _error(node, 409, "conflict")  # changed since the writer looked
        new_id = action.attrs.get("id") or self._new_code()
        if action.attrs.get("delete") == "true":
            group.description, group.description_id = "", ""
            child = Node("description", {"id": new_id}, [Node("delete")])
        else:
            body = action.get_child("body")
            text = _text(body) if body is not None else ""
            if not text:
                return _error(node, 400, "bad-request")
            group.description, group.description_id = text, new_id
            child = Node("description", {"id": new_id}, [Node("body", {}, text.encode())])
        group.description_owner, group.description_time = phone.number, self.state.now()
        await self.groups.notify(group, phone, child)
        return _result(node)

    async def _requests_action(
        self, node: Node, group: SimGroup, admin: SimPhone, action: Node
    ) -> Node:
        children = action.get_children()
        if len(children) != 1 or children[0].tag not in ("approve", "reject"):
            return _error(node, 400, "bad-request")
        verb = children[0]
        listed = []
        for child in verb.get_children("participant"):
            try:
                jid = JID.parse(child.attrs.get("jid", ""))
            except InvalidJID:
                return _error(node, 400, "bad-request")
            phone = self.state.account_of(jid)
            number = phone.number if phone is not None else jid.user
            if phone is None or number not in group.requests:
                listed.append(Node("participant", {"jid": str(jid), "error": "404"}))
                continue
            if verb.tag == "approve":
                await self._join(group, phone, admin, "approval")
            else:
                group.requests.pop(number, None)
                revoked = Node(
                    "revoked_membership_requests", {}, [self.groups.participant_node(number)]
                )
                await self._notify_admins(group, admin, revoked, number)
            listed.append(Node("participant", {"jid": str(jid)}))
        return _result(node, [Node("membership_requests_action", {}, [Node(verb.tag, {}, listed)])])

    def _new_code(self) -> str:
        rng = self.state.rng
        return "".join(rng.choice(_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))

    # ------------------------------------------------------------------ scripted

    async def join_by_code(self, phone: SimPhone, code: str) -> Node:
        """``phone`` opens an invite link (a test's scripted user): the server's answer."""
        return await self._by_code(phone, Node("iq", {"id": "scripted"}), code, True)
