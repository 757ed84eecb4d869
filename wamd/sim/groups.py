"""Groups on the sim (namespace ``w:g2``): the group records, the iq answers and the changes.

Shapes as whatsmeow ``group.go`` sends and reads them: ``create`` to ``g.us``; ``query``,
``add``/``remove``/``promote``/``demote`` and ``subject`` to the group (administration:
``group_admin.py``). Members receive ``<notification type="w:gp2" from=GROUP
participant=ACTOR>`` with the same child. Only admins change members (401; adding is every
member's under ``all_member_add``), the subject is every member's unless the group is
``locked``; only members ask about it (403), an unknown group is 404; per participant,
adding a member twice is 409 and an unknown user 404.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.messaging import stanzas
from wamd.sim.group_admin import SERVER_ACTIONS, GroupAdmin
from wamd.sim.state import SERVER

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = ["MAX_GROUP_SIZE", "Groups", "SimGroup", "group_node", "new_group_id"]

MAX_GROUP_SIZE = 1024  # WhatsApp's group size limit


@dataclass
class SimGroup:
    id: str  # user part of the group JID
    subject: str
    creator: str  # pn user
    creation: int
    participants: dict[str, str | None] = field(default_factory=dict)  # pn user -> admin role
    subject_owner: str = ""
    subject_time: int = 0
    # administration (wamd/sim/group_admin.py)
    description: str = ""
    description_id: str = ""  # "" until a description is set
    description_owner: str = ""  # pn user
    description_time: int = 0
    announce: bool = False  # only admins send messages
    locked: bool = False  # only admins edit the group's info
    member_add_mode: str = "admin_add"  # or "all_member_add"
    approval: bool = False  # joining by link needs an admin's approval
    ephemeral: int = 0  # disappearing-messages timer, seconds (0: off)
    invite_code: str = ""  # "" until an admin asks for the link
    revoked_codes: set[str] = field(default_factory=set)
    requests: dict[str, tuple[int, str]] = field(default_factory=dict)  # pn user -> (t, method)
    picture: tuple[str, bytes] | None = None  # (picture id, JPEG): wamd/sim/profile.py

    @property
    def jid(self) -> JID:
        return JID(self.id, GROUP_SERVER)


def _error(request: Node, code: int, text: str) -> Node:
    return stanzas.iq_error(request, code, text, as_server=True)


def _result(request: Node, children: list[Node] | None = None) -> Node:
    return stanzas.iq_result(request, children, as_server=True)


def group_node(state: SimState, group: SimGroup) -> Node:
    participants = []
    for number, role in group.participants.items():
        attrs = {"jid": f"{number}@{SERVER}"}
        phone = state.phones.get(number)
        if phone is not None:
            attrs["lid"] = str(phone.lid)
        if role:
            attrs["type"] = role
        participants.append(Node("participant", attrs))
    attrs = {
        "id": group.id,
        "creator": f"{group.creator}@{SERVER}",
        "subject": group.subject,
        "s_t": str(group.subject_time),
        "s_o": f"{group.subject_owner or group.creator}@{SERVER}",
        "creation": str(group.creation),
        "size": str(len(group.participants)),
    }
    return Node("group", attrs, participants + settings_nodes(group))


def settings_nodes(group: SimGroup) -> list[Node]:
    """The children of ``<group>`` after the participants: its description and settings, in
    the shapes whatsmeow parseGroupNode and Baileys extractGroupMetadata read."""
    out: list[Node] = []
    if group.description_id:
        attrs = {
            "id": group.description_id,
            "participant": f"{group.description_owner}@{SERVER}",
            "t": str(group.description_time),
        }
        out.append(Node("description", attrs, [Node("body", {}, group.description.encode())]))
    if group.announce:
        out.append(Node("announcement"))
    if group.locked:
        out.append(Node("locked"))
    if group.ephemeral:
        out.append(Node("ephemeral", {"expiration": str(group.ephemeral), "trigger": "1"}))
    out.append(Node("member_add_mode", {}, group.member_add_mode.encode()))
    if group.approval:
        out.append(Node("membership_approval_mode", {}, [Node("group_join", {"state": "on"})]))
    return out


def _members(state: SimState, node: Node) -> list[str] | None:
    """pn users named by <participant jid> children (lids resolved), None if malformed."""
    out = []
    for child in node.get_children("participant"):
        try:
            jid = JID.parse(child.attrs.get("jid", ""))
        except InvalidJID:
            return None
        if jid.server == HIDDEN_USER_SERVER:
            phone = state.account_of(jid)
            out.append(phone.number if phone is not None else jid.user)
        else:
            out.append(jid.user)
    return out


def new_group_id(rng: random.Random) -> str:
    """A group id of the current form (``120363`` + digits)."""
    return "120363" + str(rng.getrandbits(48)).zfill(12)


class Groups:
    """The groups of the sim: their iq answers and the changes members see."""

    def __init__(self, state: SimState, router: Router) -> None:
        self.state = state
        self.router = router
        self.admin = GroupAdmin(self)

    def node_of(self, group: SimGroup) -> Node:
        return group_node(self.state, group)

    async def notify(
        self, group: SimGroup, actor: SimPhone, child: Node, extra: Sequence[str] = ()
    ) -> None:
        """<notification type="w:gp2"> to every device of the members (and ``extra``)."""
        numbers = list(dict.fromkeys([*group.participants, *extra]))
        stanza = self.state.notification(
            str(group.jid), "w:gp2", [child], participant=str(actor.jid)
        )
        for number in numbers:
            phone = self.state.phones.get(number)
            if phone is None:
                continue
            for device in phone.devices():
                await self.router.deliver(device, stanza)

    def participant_node(self, number: str, attrs: dict[str, str] | None = None) -> Node:
        phone = self.state.phones.get(number)
        lid = {"lid": str(phone.lid)} if phone is not None else {}
        return Node("participant", {"jid": f"{number}@{SERVER}"} | lid | (attrs or {}))

    async def create(self, creator: SimPhone, subject: str, members: Sequence[str]) -> SimGroup:
        now = self.state.now()
        group = SimGroup(new_group_id(self.state.rng), subject, creator.number, now)
        group.participants[creator.number] = "superadmin"
        for number in members:
            if number in self.state.phones and number != creator.number:
                group.participants[number] = None
        group.subject_owner, group.subject_time = creator.number, now
        self.state.groups[group.id] = group
        await self.notify(group, creator, Node("create", {}, [group_node(self.state, group)]))
        return group

    async def set_subject(self, group: SimGroup, actor: SimPhone, subject: str) -> None:
        group.subject = subject
        group.subject_owner, group.subject_time = actor.number, self.state.now()
        attrs = {"subject": subject, "s_o": str(actor.jid), "s_t": str(group.subject_time)}
        await self.notify(group, actor, Node("subject", attrs))

    async def change_participants(
        self, group: SimGroup, actor: SimPhone, action: str, members: Sequence[str]
    ) -> list[tuple[str, int]]:
        """Apply add/remove/promote/demote; per member the error code (0 = done)."""
        done: list[str] = []
        results: list[tuple[str, int]] = []
        for number in members:
            present = number in group.participants
            if action == "add":
                error = (
                    0 if number in self.state.phones and not present else (409 if present else 404)
                )
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
            child = Node(action, {}, [self.participant_node(n) for n in done])
            await self.notify(group, actor, child, extra=done if action == "remove" else ())
            if action in ("add", "remove"):
                for phone in self.state.phones.values():
                    if phone.number in group.participants:
                        await phone.endpoint.rotate_sender_key(group.jid)
        return results

    async def answer(self, device: SimDevice, node: Node) -> Node:
        """``<iq xmlns="w:g2">``: create, query, participants and subject (see the module)."""
        actor = device.phone.number
        children = node.get_children()
        if not children:
            return _error(node, 400, "bad-request")
        action = children[0]
        try:
            to = JID.parse(node.attrs.get("to", ""))
        except InvalidJID:
            return _error(node, 400, "bad-request")
        if action.tag == "create":
            members = _members(self.state, action)
            subject = action.attrs.get("subject", "")
            if members is None or not subject:
                return _error(node, 400, "bad-request")
            if len(members) + 1 > MAX_GROUP_SIZE:
                return _error(node, 406, "not-acceptable")
            created = await self.create(device.phone, subject, members)
            return _result(node, [group_node(self.state, created)])
        if to.server == GROUP_SERVER and not to.user and action.tag in SERVER_ACTIONS:
            return await self.admin.answer_server(device, node, action)
        group = self.state.groups.get(to.user) if to.server == GROUP_SERVER else None
        if group is None:
            return _error(node, 404, "item-not-found")
        if actor not in group.participants:
            return _error(node, 403, "forbidden")
        if action.tag == "query":
            return _result(node, [group_node(self.state, group)])
        if self.admin.handles(action):
            return await self.admin.answer_group(device, node, group, action)
        is_admin = bool(group.participants.get(actor))
        # WhatsApp's group settings: the info (subject) is every member's to edit unless the
        # group is locked; members may add others under all_member_add; the rest is admins'
        member_may = (action.tag == "subject" and not group.locked) or (
            action.tag == "add" and group.member_add_mode == "all_member_add"
        )
        if not is_admin and not member_may:
            return _error(node, 401, "not-authorized")
        if action.tag == "subject":
            raw = action.content
            text = raw.decode() if isinstance(raw, bytes) else str(raw or "")
            if not text:
                return _error(node, 400, "bad-request")
            await self.set_subject(group, device.phone, text)
            return _result(node)
        if action.tag in ("add", "remove", "promote", "demote"):
            members = _members(self.state, action)
            if members is None or not members:
                return _error(node, 400, "bad-request")
            results = await self.change_participants(group, device.phone, action.tag, members)
            listed = [
                self.participant_node(n, {"error": str(e)} if e else None) for n, e in results
            ]
            return _result(node, [Node(action.tag, {}, listed)])
        return _error(node, 501, "feature-not-implemented")
