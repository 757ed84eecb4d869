"""Group administration (``w:g2``): leave, description, settings, invite links, join
requests, every group we are in, the disappearing-messages timer; and the ``w:gp2``
notifications that tell members about each change.

Requests as whatsmeow ``group.go`` and Baileys ``groups.ts`` send them (they agree):

==================================  =======================================================
``leave``                           ``set`` to ``g.us``: ``<leave><group id=GROUP/></leave>``
``update_description``              ``<description id=NEW prev=OLD><body>..</body>`` (or
                                    ``delete="true"``); ``prev`` is the current id, asked first
``setting_update``                  ``<announcement/>``, ``<not_announcement/>``,
                                    ``<locked/>``, ``<unlocked/>``
``member_add_mode``                 ``<member_add_mode>admin_add|all_member_add</..>``
``join_approval_mode``              ``<membership_approval_mode><group_join state="on|off"/>``
``toggle_ephemeral``                ``<ephemeral expiration=N/>`` or ``<not_ephemeral/>``
``invite_code``, ``revoke_invite``  ``get`` / ``set`` ``<invite/>`` → ``<invite code>``
``accept_invite``                   ``set`` to ``g.us``: ``<invite code>`` → ``<group jid>``, or
                                    ``<membership_approval_request jid>`` when approval is on
``get_invite_info``                 ``get`` to ``g.us``: ``<invite code>`` → ``<group ..>``
``request_participants_list``       ``<membership_approval_requests/>``
``request_participants_update``     ``<membership_requests_action><approve|reject>..``
``fetch_all_participating``         ``get`` to ``g.us``: ``<participating><participants/>
                                    <description/></participating>`` → ``<groups>``
==================================  =======================================================

An error answer becomes the ``RequestError`` subclass of its code with a message saying
what was asked (``NotAuthorized``: not an admin; ``Forbidden``: not a member;
``ItemNotFound``: no such group; ``NotAcceptable`` / ``Gone``: an invalid / revoked invite
code, as whatsmeow's ErrInviteLinkInvalid / ErrInviteLinkRevoked; ``Conflict``: already a
member, or the description changed meanwhile).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, InvalidJID
from wamd.errors import ProtocolError, RequestError, explain_request_error
from wamd.messaging import stanzas
from wamd.messaging.types import (
    GroupJoinRequest,
    GroupMetadata,
    GroupParticipantsUpdate,
    GroupUpdate,
    HistoryChat,
)

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.groups import GroupDirectory

__all__ = ["INVITE_LINK_PREFIX", "GroupAdmin", "JoinRequest"]

INVITE_LINK_PREFIX = "https://chat.whatsapp.com/"  # whatsmeow InviteLinkPrefix
SETTINGS = ("announcement", "not_announcement", "locked", "unlocked")
_CODE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

JoinRequest = dict[str, Any]  # {"jid": user JID, "request_time": seconds}


def _group(value: JID | str) -> JID:
    try:
        jid = value if isinstance(value, JID) else JID.parse(value)
    except InvalidJID as exc:
        raise ValueError(f"not a group jid: {exc}") from None
    if jid.server != GROUP_SERVER or not jid.user:
        raise ValueError(f"{jid} is not a group (a group jid ends in @g.us)")
    return jid.to_non_ad()


def _user(value: str) -> str:
    try:
        return str(JID.parse(value).to_non_ad())
    except InvalidJID as exc:
        raise ValueError(f"not a valid participant jid: {exc}") from None


def invite_code_of(code_or_link: str) -> str:
    """The code of an invite link (``https://chat.whatsapp.com/CODE`` or ``CODE``)."""
    code = code_or_link.strip().removeprefix(INVITE_LINK_PREFIX).strip("/")
    if not code or not set(code) <= _CODE_CHARS:
        raise ValueError(f"{code_or_link!r} is not a group invite code or link")
    return code


def _text(node: Node | None) -> str:
    raw = node.content if node is not None else None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


class GroupAdmin:
    def __init__(self, core: ClientCore, groups: GroupDirectory) -> None:
        self.core = core
        self.groups = groups

    async def _iq(self, to: str, kind: str, child: Node, what: str) -> Node:
        try:
            return await self.core.query(stanzas.iq(kind, "w:g2", [child], to=to))
        except RequestError as exc:
            raise explain_request_error(exc, what) from None

    async def _set(self, group: JID | str, child: Node, what: str) -> Node:
        jid = _group(group)
        answer = await self._iq(str(jid), "set", child, f"{what} of {jid}")
        self.groups.forget(jid)
        return answer

    # ------------------------------------------------------------------ membership

    async def leave(self, group: JID | str) -> None:
        jid = _group(group)
        child = Node("leave", {}, [Node("group", {"id": str(jid)})])
        answer = await self._iq(GROUP_SERVER, "set", child, f"leaving {jid}")
        listed = answer.get_child("leave")
        for node in listed.get_children("group") if listed is not None else []:
            error = node.attrs.get("error")
            if error and error.isdigit():
                raise explain_request_error(RequestError(int(error)), f"leaving {jid}")
        self.groups.forget(jid)

    async def fetch_all_participating(self) -> dict[str, GroupMetadata]:
        """Every group this account is in, by JID (the cache takes each one)."""
        child = Node("participating", {}, [Node("participants"), Node("description")])
        answer = await self._iq(GROUP_SERVER, "get", child, "listing our groups")
        listed = answer.get_child("groups")
        if listed is None:
            raise ProtocolError("participating answered without <groups>")
        out: dict[str, GroupMetadata] = {}
        for node in listed.get_children("group"):
            metadata = self.groups.parse_metadata(node)
            self.groups.remember(metadata)
            out[metadata.id] = metadata
        return out

    # ------------------------------------------------------------------ info and settings

    async def update_description(self, group: JID | str, description: str | None) -> None:
        """Set the description (``None`` or ``""`` removes it)."""
        jid = _group(group)
        self.groups.forget(jid)
        prev = (await self.groups.metadata(jid)).desc_id
        attrs = {"id": os.urandom(8).hex().upper()}
        if prev:
            attrs["prev"] = prev
        body = None
        if description:
            body = [Node("body", {}, description.encode())]
        else:
            attrs["delete"] = "true"
        await self._set(jid, Node("description", attrs, body), "changing the description")

    async def setting_update(
        self,
        group: JID | str,
        setting: Literal["announcement", "not_announcement", "locked", "unlocked"],
    ) -> None:
        """``announcement``: only admins send; ``locked``: only admins edit the info."""
        if setting not in SETTINGS:
            raise ValueError(f"setting must be one of {', '.join(SETTINGS)}")
        await self._set(group, Node(setting), f"setting {setting}")

    async def member_add_mode(
        self, group: JID | str, mode: Literal["admin_add", "all_member_add"]
    ) -> None:
        if mode not in ("admin_add", "all_member_add"):
            raise ValueError("mode is 'admin_add' or 'all_member_add'")
        child = Node("member_add_mode", {}, mode.encode())
        await self._set(group, child, f"setting the member add mode {mode}")

    async def join_approval_mode(self, group: JID | str, mode: Literal["on", "off"]) -> None:
        if mode not in ("on", "off"):
            raise ValueError("mode is 'on' or 'off'")
        child = Node("membership_approval_mode", {}, [Node("group_join", {"state": mode})])
        await self._set(group, child, f"turning join approval {mode}")

    async def toggle_ephemeral(self, group: JID | str, seconds: int) -> None:
        """The disappearing-messages timer (0 turns it off)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError("the timer is a number of seconds (0 turns it off)")
        child = (
            Node("ephemeral", {"expiration": str(seconds)}) if seconds else Node("not_ephemeral")
        )
        await self._set(group, child, "setting the disappearing-messages timer")

    # ------------------------------------------------------------------ invites

    async def invite_code(self, group: JID | str) -> str:
        jid = _group(group)
        answer = await self._iq(str(jid), "get", Node("invite"), f"the invite code of {jid}")
        return self._code(answer)

    async def revoke_invite(self, group: JID | str) -> str:
        """Revoke the invite link; returns the new code."""
        answer = await self._set(group, Node("invite"), "revoking the invite link")
        return self._code(answer)

    @staticmethod
    def _code(answer: Node) -> str:
        invite = answer.get_child("invite")
        code = invite.attrs.get("code") if invite is not None else None
        if not code:
            raise ProtocolError("invite answered without a code")
        return code

    async def accept_invite(self, code: str) -> str:
        """Join by invite code (or link); returns the group JID. When the group approves
        joins, this files a join request instead and returns the group JID too."""
        checked = invite_code_of(code)
        answer = await self._iq(
            GROUP_SERVER, "set", Node("invite", {"code": checked}), "joining by invite code"
        )
        pending = answer.get_child("membership_approval_request")
        node = pending if pending is not None else answer.get_child("group")
        jid = node.attrs.get("jid") if node is not None else None
        if not jid:
            raise ProtocolError("invite join answered without the group")
        return jid

    async def get_invite_info(self, code: str) -> GroupMetadata:
        checked = invite_code_of(code)
        answer = await self._iq(
            GROUP_SERVER, "get", Node("invite", {"code": checked}), "the group of invite code"
        )
        node = answer.get_child("group")
        if node is None:
            raise ProtocolError("invite info answered without <group>")
        return self.groups.parse_metadata(node)

    # ------------------------------------------------------------------ join requests

    async def request_participants_list(self, group: JID | str) -> list[JoinRequest]:
        jid = _group(group)
        answer = await self._iq(
            str(jid), "get", Node("membership_approval_requests"), f"the join requests of {jid}"
        )
        listed = answer.get_child("membership_approval_requests")
        out: list[JoinRequest] = []
        for node in listed.get_children("membership_approval_request") if listed else []:
            if node.attrs.get("jid"):
                out.append(
                    {"jid": node.attrs["jid"], "request_time": node.attr_int("request_time", 0)}
                )
        return out

    async def request_participants_update(
        self, group: JID | str, participants: Sequence[str], action: Literal["approve", "reject"]
    ) -> list[tuple[str, int]]:
        """Approve or reject join requests; per participant its result (0 = done)."""
        if action not in ("approve", "reject"):
            raise ValueError("action is 'approve' or 'reject'")
        members = [Node("participant", {"jid": _user(p)}) for p in participants]
        child = Node("membership_requests_action", {}, [Node(action, {}, members)])
        answer = await self._set(group, child, f"{action} join requests")
        done = answer.get_child("membership_requests_action")
        listed = done.get_child(action) if done is not None else None
        out = []
        for node in listed.get_children("participant") if listed is not None else []:
            error = node.attrs.get("error", "")
            out.append((node.attrs.get("jid", ""), int(error) if error.isdigit() else 0))
        return out

    # ------------------------------------------------------------------ notifications

    async def on_notification(self, node: Node) -> None:
        """A ``w:gp2`` notification: the events it stands for (whatsmeow parseGroupChange,
        Baileys handleGroupNotification)."""
        group = node.jid_attr("from")
        actor = node.jid_attr("participant")
        if group is None:
            return
        gid = str(group.to_non_ad())
        author = str(actor.to_non_ad()) if actor is not None else None
        ev = self.core.ev
        for child in node.get_children():
            tag = child.tag
            if tag in ("add", "remove", "promote", "demote"):
                members = tuple(
                    p.attrs["jid"] for p in child.get_children("participant") if "jid" in p.attrs
                )
                action: Any = tag
                self.groups.forget(group)
                if tag in ("add", "remove"):
                    # new or departed members: the next send distributes a fresh key
                    await self.groups.members_changed(group, removed=tag == "remove")
                ev.emit(
                    "group-participants.update",
                    GroupParticipantsUpdate(gid, author, members, action),
                )
            elif tag == "create":
                info = child.get_child("group")
                if info is not None:
                    metadata = self.groups.parse_metadata(info)
                    self.groups.remember(metadata)
                    # Baileys: the new group is a chat too
                    chat = HistoryChat(
                        metadata.id, metadata.subject, last_message_timestamp=metadata.creation
                    )
                    ev.emit("chats.upsert", [chat])
                    ev.emit("groups.upsert", [metadata])
            elif tag in ("created_membership_requests", "revoked_membership_requests"):
                self._join_request(gid, author, child)
            else:
                change = _change(child)
                if change is not None:
                    self.groups.forget(group)
                    ev.emit("groups.update", [GroupUpdate(gid, author, **change)])

    def _join_request(self, gid: str, author: str | None, child: Node) -> None:
        participant = child.get_child("participant")
        who = participant.attrs.get("jid") if participant is not None else None
        who = who or author
        if who is None:
            return
        if child.tag == "created_membership_requests":
            action: Literal["created", "revoked", "rejected"] = "created"
        else:  # Baileys: the asker took it back (revoked), or an admin turned it down
            action = "revoked" if who == author else "rejected"
        self.core.ev.emit(
            "group.join-request",
            GroupJoinRequest(gid, author, who, action, child.attrs.get("request_method")),
        )


def _change(child: Node) -> Mapping[str, Any] | None:
    """The ``GroupUpdate`` fields a ``w:gp2`` child changes, or ``None`` if it is not one."""
    tag = child.tag
    if tag == "subject":
        return {"subject": child.attrs.get("subject")}
    if tag == "description":
        body = child.get_child("body")
        deleted = child.get_child("delete") is not None or body is None
        return {"desc": "" if deleted else _text(body), "desc_id": child.attrs.get("id")}
    if tag in ("announcement", "not_announcement"):
        return {"announce": tag == "announcement"}
    if tag in ("locked", "unlocked"):
        return {"restrict": tag == "locked"}
    if tag == "member_add_mode":
        return {"member_add_mode": _text(child) == "all_member_add"}
    if tag == "membership_approval_mode":
        join = child.get_child("group_join")
        return {"join_approval_mode": join is not None and join.attrs.get("state") == "on"}
    if tag in ("ephemeral", "not_ephemeral"):
        raw = child.attrs.get("expiration", "0") if tag == "ephemeral" else "0"
        return {"ephemeral_duration": int(raw) if raw.isdigit() else 0}
    if tag == "invite":
        return {"invite_code": child.attrs.get("code")}
    return None
