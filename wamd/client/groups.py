"""Group queries (namespace ``w:g2``, whatsmeow ``group.go``) and a metadata cache.

- create: ``<iq type="set" to="g.us"><create subject key=ID><participant jid/>..</create>``
- metadata: ``<iq type="get" to=GROUP><query request="interactive"/></iq>``
- members: ``<iq type="set" to=GROUP><add|remove|promote|demote><participant jid/>..``
- subject: ``<iq type="set" to=GROUP><subject>text</subject></iq>``

The answer's ``<group id creator subject s_t s_o creation>`` with ``<participant jid
[lid] [type=admin|superadmin]/>`` children becomes ``GroupMetadata``. Metadata is
cached (sending to a group needs the member list) until a ``w:gp2`` notification about
the group arrives.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, InvalidJID
from wamd.client.group_admin import GroupAdmin
from wamd.errors import ProtocolError, RequestError, WamdError, explain_request_error
from wamd.messaging import stanzas
from wamd.messaging.types import GroupMetadata, GroupParticipant

if TYPE_CHECKING:
    from wamd.client.core import ClientCore

__all__ = ["GroupDirectory"]

GROUP_ACTIONS = ("add", "remove", "promote", "demote")


def _text(node: Node) -> str:
    raw = node.content
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


def _group_jid(value: JID | str) -> JID:
    jid = value if isinstance(value, JID) else JID.parse(value)
    if jid.server != GROUP_SERVER:
        raise WamdError(f"{jid} is not a group")
    return jid


class GroupDirectory:
    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self._cache: dict[JID, GroupMetadata] = {}
        self.admin = GroupAdmin(core, self)  # administration and w:gp2 notifications

    async def members_changed(self, group: JID, *, removed: bool) -> None:
        """Members changed: the cached metadata goes, and when some left our sender key is
        replaced so that they cannot read on (new members simply lack it in the
        sender-key memory, and get it with the next send)."""
        self.forget(group)
        if removed:
            own = self.core.require_own()
            await self.core.signal.reset_group_key(str(group), own.lid or own.pn)

    def forget(self, group: JID) -> None:
        self._cache.pop(group.to_non_ad(), None)

    def remember(self, metadata: GroupMetadata) -> None:
        self._cache[JID.parse(metadata.id)] = metadata

    @staticmethod
    def parse_metadata(node: Node) -> GroupMetadata:
        """A ``<group>`` node as ``GroupMetadata`` (``ProtocolError`` when malformed)."""
        group_id = node.require_attr("id")
        jid = group_id if "@" in group_id else f"{group_id}@{GROUP_SERVER}"
        participants = []
        for child in node.get_children("participant"):
            member = child.require_attr("jid")
            role: Any = child.attrs.get("type")
            participants.append(
                GroupParticipant(
                    member,
                    role if role in ("admin", "superadmin") else None,
                    child.attrs.get("lid"),
                )
            )
        description = node.get_child("description")
        body = description.get_child("body") if description is not None else None
        ephemeral = node.get_child("ephemeral")
        add_mode = node.get_child("member_add_mode")
        return GroupMetadata(
            id=jid,
            subject=node.attrs.get("subject", ""),
            owner=node.attrs.get("creator"),
            creation=node.attr_int("creation", 0) or 0,
            participants=tuple(participants),
            subject_owner=node.attrs.get("s_o"),
            subject_time=node.attr_int("s_t", None),
            desc=_text(body) if body is not None else None,
            desc_id=description.attrs.get("id") if description is not None else None,
            desc_owner=description.attrs.get("participant") if description is not None else None,
            desc_time=description.attr_int("t", None) if description is not None else None,
            announce=node.get_child("announcement") is not None,
            restrict=node.get_child("locked") is not None,
            member_add_mode=add_mode is not None and _text(add_mode) == "all_member_add",
            join_approval_mode=node.get_child("membership_approval_mode") is not None,
            ephemeral_duration=(
                ephemeral.attr_int("expiration", 0) if ephemeral is not None else None
            ),
            size=node.attr_int("size", None),
        )

    async def _iq(self, to: str, kind: str, child: Node) -> Node:
        try:
            return await self.core.query(stanzas.iq(kind, "w:g2", [child], to=to))
        except RequestError as exc:
            what = "creating a group" if to == GROUP_SERVER else f"<{child.tag}> of {to}"
            raise explain_request_error(exc, what) from None

    async def metadata(self, group: JID | str) -> GroupMetadata:
        jid = _group_jid(group)
        cached = self._cache.get(jid)
        if cached is not None:
            return cached
        answer = await self._iq(str(jid), "get", Node("query", {"request": "interactive"}))
        node = answer.get_child("group")
        if node is None:
            raise ProtocolError("group query answered without <group>")
        metadata = self.parse_metadata(node)
        self._cache[jid] = metadata
        return metadata

    async def create(self, subject: str, participants: Sequence[str]) -> GroupMetadata:
        if not subject:
            raise ValueError("a group needs a subject")
        members = []
        for member in participants:
            try:
                members.append(Node("participant", {"jid": str(JID.parse(member).to_non_ad())}))
            except InvalidJID as exc:
                raise ValueError(f"not a valid participant jid: {exc}") from None
        key = os.urandom(8).hex().upper()
        answer = await self._iq(
            GROUP_SERVER, "set", Node("create", {"subject": subject, "key": key}, members)
        )
        node = answer.get_child("group")
        if node is None:
            raise ProtocolError("group create answered without <group>")
        metadata = self.parse_metadata(node)
        self.remember(metadata)
        return metadata

    async def participants_update(
        self, group: JID | str, participants: Sequence[str], action: str
    ) -> list[tuple[str, int]]:
        """Add/remove/promote/demote; per participant its result code (0 = done)."""
        if action not in GROUP_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(GROUP_ACTIONS)}")
        jid = _group_jid(group)
        members = [
            Node("participant", {"jid": str(JID.parse(p).to_non_ad())}) for p in participants
        ]
        answer = await self._iq(str(jid), "set", Node(action, {}, members))
        self.forget(jid)
        listed = answer.get_child(action)
        out = []
        for child in listed.get_children("participant") if listed is not None else []:
            error = child.attrs.get("error")
            out.append((child.attrs.get("jid", ""), int(error) if error and error.isdigit() else 0))
        if action == "remove" and any(code == 0 for _, code in out):
            await self.members_changed(jid, removed=True)
        return out

    async def update_subject(self, group: JID | str, subject: str) -> None:
        if not subject:
            raise ValueError("a group subject cannot be empty")
        jid = _group_jid(group)
        await self._iq(str(jid), "set", Node("subject", {}, subject.encode()))
        self.forget(jid)
