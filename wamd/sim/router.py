"""Stanza routing inside the sim: messages, receipts, acks, presence and chatstates.

What the real server does, as the public clients observe it:

- A ``message`` from a device carries one ``<to jid=DEVICE><enc/></to>`` per addressed
  device inside ``<participants>`` (plus, in a group, one ``<enc type="skmsg">`` for
  everybody and ``<device-identity>`` when any copy is a ``pkmsg``). The server answers
  the sender with ``<ack class="message" id=.. from=TO t=..>`` (whatsmeow ``send.go``
  waits for it; ``phash`` in it is the server's participant hash when the client's
  differs) and delivers to each device a stanza of its own:
  1:1 ``<message from=SENDER_DEVICE id t type notify [sender_lid|sender_pn]>``,
  own other devices ``... recipient=CHAT peer_recipient_lid|peer_recipient_pn``, group
  ``from=GROUP participant=SENDER_DEVICE participant_lid`` (whatsmeow ``message.go``
  parseMessageSource reads exactly these). The alternative addresses are the *user*
  (no device): whatsmeow copies the sender's device onto them when it is 0, and Baileys
  has the same step (commented out) in ``decode-wa-message.ts``.
  A retry resend (whatsmeow ``retry.go``) is a bare ``<enc>`` either ``to=DEVICE`` or
  ``to=GROUP participant=DEVICE``; it reaches that one device.
- Everything delivered stays in the device's outbox until the device acknowledges it
  (a ``receipt`` for a message, an ``ack`` for the rest) and is delivered again after
  the next login, before ``<ib><offline/></ib>``.
- A ``receipt`` is acknowledged with ``<ack class="receipt">`` and forwarded to the
  device that sent the message (delivery, retry) or to all of that user's devices
  (read, played), as ``<receipt from=READER_DEVICE id t [type] [participant]
  [recipient]>``. ``type="sender"`` (another device of the sender's own account
  confirming its copy, whatsmeow ReceiptTypeSender) goes to the sending device with the
  chat in ``recipient``; ``peer_msg``, ``hist_sync`` and the like are not forwarded.
- ``presence`` and ``chatstate`` are forwarded live, never queued.
- A 1:1 message to an account that blocked the sender is taken and acknowledged as
  usual, but only the sender's own devices get their copies: WhatsApp tells nobody
  they are blocked (one tick, no delivery receipt, ever). Nor do their typing
  indicators reach it, and it shows them no presence. Groups are not affected. A
  message *to* a contact one has blocked is delivered: the official apps refuse to send
  it before it leaves the phone, the server is not known to (neither reference checks).
- In an announcement group only admins post: a member's message is refused with
  ``<ack error="403">``, the code the server uses for a sender who may not post there
  (as for a non-member; no reference names a code of its own for this case).
  Reactions and poll votes are not posts (see ``_posts``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ProtocolError
from wamd.messaging import stanzas
from wamd.messaging.core import participant_hash
from wamd.sim.calls import Calls
from wamd.sim.services import carries_token

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.state import SimDevice, SimState

__all__ = ["LOW_PREKEYS", "OUTBOX_LIMIT", "Router", "outbox_key"]

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 20_000  # stanzas kept per offline device before the oldest are dropped
LOW_PREKEYS = 5  # fewer one-time prekeys than this left: the device is told to upload
SERVER = DEFAULT_USER_SERVER


def _norm(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(JID.parse(value))
    except InvalidJID:
        return value


def _per_device(node: Node) -> dict[str, Node]:
    """``<participants><to jid=DEVICE><enc/></to>..`` as {normalised device JID: enc}."""
    out: dict[str, Node] = {}
    participants = node.get_child("participants")
    if participants is not None:
        for to_node in participants.get_children("to"):
            enc = to_node.get_child("enc")
            if enc is not None:
                out[_norm(to_node.attrs.get("jid"))] = enc
    return out


def outbox_key(
    tag: str, node_id: str, peer: str | None, participant: str | None
) -> tuple[str, ...]:
    """What an ack names: the stanza class, its id, the peer and the group participant."""
    return (tag, node_id, _norm(peer), _norm(participant))


class Router:
    """Delivers stanzas to devices (keeping them until acknowledged) and routes what
    devices send: messages, receipts, acks, presence, chatstates, server notifications."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.presence: dict[str, tuple[str, int]] = {}  # pn user -> (available|unavailable, t)
        self.subscribers: dict[str, set[tuple[str, int]]] = {}  # pn user -> {(pn user, device)}
        self.calls = Calls(state, self)

    # ------------------------------------------------------------------ delivery

    async def deliver(self, device: SimDevice, node: Node, *, queue: bool = True) -> None:
        """Give ``node`` to ``device`` now if it is reachable; keep it until acked."""
        if queue:
            key = outbox_key(
                node.tag,
                node.attrs.get("id", ""),
                node.attrs.get("from"),
                node.attrs.get("participant"),
            )
            device.outbox[key] = node
            device.outbox.move_to_end(key)
            while len(device.outbox) > OUTBOX_LIMIT:
                dropped, _ = device.outbox.popitem(last=False)
                log.warning("outbox of %s is full: dropped %s", device.jid, dropped[:2])
        if device.endpoint is not None:
            device.endpoint(node)
            return
        conn = device.connection
        if queue and conn is not None and device.replaying is conn:
            return  # the login's replay sends it after the stanzas queued before it
        if conn is not None and not conn.closed:
            await self.state.faults.send(device, conn, node)  # the wire, faults and all

    def acknowledge(self, device: SimDevice, tag: str, node: Node) -> None:
        """The device confirmed a stanza: drop it (and any listed ids) from its outbox."""
        peer = node.attrs.get("to")
        participant = node.attrs.get("participant")
        for node_id in stanzas.receipt_ids(node):
            device.outbox.pop(outbox_key(tag, node_id, peer, participant), None)

    # ------------------------------------------------------------------ notifications

    def prekey_taken(self, device: SimDevice) -> None:
        """A one-time prekey was handed out: warn a companion that is running low.

        whatsmeow notification.go handleEncryptNotification: ``<notification
        type="encrypt" from="s.whatsapp.net"><count value=N/></notification>`` makes the
        client upload more when N is below its minimum (5 in both references). Sent once
        until the device uploads again.
        """
        if device.endpoint is not None or device.low_prekeys_told:
            return
        if len(device.prekeys) >= LOW_PREKEYS:
            return
        device.low_prekeys_told = True
        stanza = self.state.notification(
            SERVER, "encrypt", [Node("count", {"value": str(len(device.prekeys))})]
        )
        self.state.spawn(self.deliver(device, stanza), f"prekey warning for {device.jid}")

    async def notify_devices(self, phone: SimPhone, action: str, changed: SimDevice) -> None:
        """Tell everyone that ``phone``'s device list changed (a companion linked or left).

        whatsmeow notification.go handleDeviceNotification reads ``<notification
        type="devices" from=USER><add|remove device_hash=H><device jid lid/></add>``,
        where ``H`` is the participant hash of the user's new device list; clients drop
        their cached list (or patch it when the hash matches). Sent to every device of
        every other account and to the account's own other devices.
        """
        device_node = Node("device", {"jid": str(changed.jid), "lid": str(changed.lid)})
        device_hash = participant_hash([d.jid for d in phone.devices()])
        stanza = self.state.notification(
            str(phone.jid),
            "devices",
            [Node(action, {"device_hash": device_hash}, [device_node])],
        )
        for target in list(self.state.all_devices()):
            if target is not changed:
                await self.deliver(target, stanza)

    # ------------------------------------------------------------------ inbound stanzas

    async def handle(self, device: SimDevice, node: Node) -> None:
        tag = node.tag
        if tag == "message":
            await self.on_message(device, node)
        elif tag == "receipt":
            await self.on_receipt(device, node)
        elif tag == "ack":
            self.acknowledge(device, node.attrs.get("class", ""), node)
        elif tag == "presence":
            await self.on_presence(device, node)
        elif tag == "chatstate":
            await self.on_chatstate(device, node)
        elif tag == "call":
            await self.calls.on_call(device, node)  # wamd/sim/calls.py

    async def _ack(self, device: SimDevice, attrs: dict[str, str]) -> None:
        await self.deliver(device, Node("ack", attrs), queue=False)

    async def on_message(self, device: SimDevice, node: Node) -> None:
        state = self.state
        message_id = node.attrs.get("id", "")
        try:
            to = node.jid_attr("to")
        except ProtocolError:
            to = None
        if not message_id or to is None:
            await self._ack(device, {"class": "message", "id": message_id, "error": "400"})
            return
        now = str(int(state.clock()))
        ack = {"class": "message", "id": message_id, "from": str(to), "t": now}
        base = {"id": message_id, "t": now, "type": node.attrs.get("type", "text")}
        for extra in ("edit", "category", "mediatype"):
            if extra in node.attrs:
                base[extra] = node.attrs[extra]
        if device.phone.name:
            base["notify"] = device.phone.name
        if to.server == GROUP_SERVER:
            routed = self._route_group(device, node, to, base)
        elif to.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER):
            routed = self._route_direct(device, node, to, base)
        else:
            routed = 400
        if (
            not isinstance(routed, int)
            and state.require_tctoken
            and to.server != GROUP_SERVER
            and device is not device.phone.primary
            and node.attrs.get("category") != "peer"
        ):
            recipient = state.account_of(to)
            if (
                recipient is not None
                and recipient is not device.phone
                and not carries_token(state, device.phone, recipient, node)
            ):
                routed = 463  # Baileys: no privacy token (a restricted account's first message)
        if isinstance(routed, int):
            await self._ack(device, ack | {"error": str(routed)})
            return
        copies, expected = routed
        phash = node.attrs.get("phash")
        if phash and expected is not None:
            # whatsmeow send.go hashes every device it encrypted for plus its own (usync
            # lists it); Baileys leaves its own device out: both are accepted. A differing
            # list is answered with the server's hash in whatsmeow's form.
            with_sender = participant_hash([*expected, device.jid])
            if phash not in (with_sender, participant_hash(expected)):
                ack["phash"] = with_sender
        await self._ack(device, ack)
        for target, copy in copies.items():
            await self.deliver(target, copy)

    def _route_group(
        self, device: SimDevice, node: Node, to: JID, base: dict[str, str]
    ) -> int | tuple[dict[SimDevice, Node], list[JID] | None]:
        """Copies of a group message per member device (or an ack error code)."""
        state = self.state
        group = state.groups.get(to.user)
        if group is None:
            return 404
        if device.phone.number not in group.participants:
            return 403
        identity = node.get_child("device-identity")
        attrs = base | {
            "from": str(to),
            "participant": str(device.jid),
            "participant_lid": str(device.phone.lid),
        }
        copies: dict[SimDevice, Node] = {}
        encs = [e for e in node.get_children("enc") if e.attrs.get("type") != "skmsg"]
        if "participant" in node.attrs and encs and node.get_child("participants") is None:
            # whatsmeow retry.go: a resend to one member device is <message to=GROUP
            # participant=THAT_DEVICE> with a bare pairwise <enc>
            try:
                target_jid = node.jid_attr("participant")
            except ProtocolError:
                return 400
            target = state.device_of(target_jid) if target_jid is not None else None
            if target is None or target.phone.number not in group.participants:
                return 404
            retry_children = [*encs, *([identity] if identity is not None else [])]
            copies[target] = Node("message", attrs, retry_children)
            return copies, None
        if group.announce and not group.participants[device.phone.number] and _posts(node):
            return 403  # an announcement group: only admins post (see _posts)
        skmsg = next((e for e in node.get_children("enc") if e.attrs.get("type") == "skmsg"), None)
        per_device = _per_device(node)
        expected: list[JID] = []
        for number in group.participants:
            member = state.phones.get(number)
            if member is None:
                continue
            for target in member.devices():
                if target is device:
                    continue
                expected.append(target.jid)
                children: list[Node] = []
                enc = per_device.get(str(target.jid)) or per_device.get(str(target.lid))
                if enc is not None:
                    children.append(enc)
                if skmsg is not None:
                    children.append(skmsg)
                if not children:
                    continue
                if identity is not None and any(c.attrs.get("type") == "pkmsg" for c in children):
                    children.append(identity)
                copies[target] = Node("message", attrs, children)
        return copies, expected

    def _route_direct(
        self, device: SimDevice, node: Node, to: JID, base: dict[str, str]
    ) -> int | tuple[dict[SimDevice, Node], list[JID] | None]:
        """Copies of a 1:1 message per addressed device (or an ack error code)."""
        state = self.state
        sender_phone = device.phone
        recipient = state.account_of(to)
        if recipient is None:
            return 404
        # a recipient who blocked the sender gets nothing; the sender is told nothing
        # either (its ack is the usual one, no delivery receipt ever comes: one tick)
        blocked = recipient is not sender_phone and sender_phone.number in recipient.blocked
        identity = node.get_child("device-identity")
        use_lid = to.server == HIDDEN_USER_SERVER
        me_as = device.lid if use_lid else device.jid
        chat = to.to_non_ad()
        copies: dict[SimDevice, Node] = {}

        def attrs_for(target: SimDevice) -> dict[str, str]:
            attrs = base | {"from": str(me_as)}
            if target.phone is sender_phone:
                # whatsmeow parseMessageSource: own devices learn the chat from recipient
                # and its other form from peer_recipient_lid / peer_recipient_pn
                attrs["recipient"] = str(chat)
                if use_lid:
                    attrs["peer_recipient_pn"] = str(recipient.jid)
                else:
                    attrs["peer_recipient_lid"] = str(recipient.lid)
            elif use_lid:
                # the alternative address is the user, without the device (whatsmeow
                # copies the device over from the sender when it is 0)
                attrs["sender_pn"] = str(sender_phone.jid)
            else:
                attrs["sender_lid"] = str(sender_phone.lid)
            return attrs

        participants = node.get_child("participants")
        bare = node.get_children("enc")
        if participants is None and bare:
            # a resend to one device after a retry receipt (whatsmeow retry.go): to=DEVICE
            target = state.device_of(to)
            if target is None:
                return 404
            if blocked and target.phone is recipient:
                return {}, None
            children = [*bare, *([identity] if identity is not None else [])]
            attrs = attrs_for(target)
            if target.phone is sender_phone:
                # the chat of a resend to our own device is named by the sender
                attrs = base | {"from": str(me_as)}
                if "recipient" in node.attrs:
                    attrs["recipient"] = node.attrs["recipient"]
            copies[target] = Node("message", attrs, children)
            return copies, None
        for jid_text, enc in _per_device(node).items():
            try:
                target_jid = JID.parse(jid_text)
            except InvalidJID:
                continue
            target = state.device_of(target_jid)
            if target is None or target is device:
                continue
            if target.phone is not recipient and target.phone is not sender_phone:
                continue  # a device of a third account has no business in this chat
            if blocked and target.phone is recipient:
                continue
            children = [enc]
            if identity is not None and enc.attrs.get("type") == "pkmsg":
                children.append(identity)
            copies[target] = Node("message", attrs_for(target), children)
        # the participant hash counts the recipient's devices even when it blocked the
        # sender: a differing phash in the ack would tell the sender it is blocked
        accounts = [recipient] if recipient is sender_phone else [recipient, sender_phone]
        expected = [d.jid for a in accounts for d in a.devices() if d is not device]
        return copies, expected

    async def on_receipt(self, device: SimDevice, node: Node) -> None:
        state = self.state
        kind = node.attrs.get("type", "")
        self.acknowledge(device, "message", node)
        ack = {"class": "receipt", "id": node.attrs.get("id", ""), "from": node.attrs.get("to", "")}
        if kind:
            ack["type"] = kind
        await self._ack(device, ack)
        if kind == "server-error":
            await self._server_error(device, node)
            return
        if kind in ("peer_msg", "read-self", "hist_sync"):
            return
        try:
            to = node.jid_attr("to")
            participant = node.jid_attr("participant")
        except ProtocolError:
            return
        if to is None:
            return
        original = to if to.server != GROUP_SERVER else participant
        if original is None:
            return
        origin_phone = state.account_of(original)
        if origin_phone is None:
            return
        reader = device.lid if original.server == HIDDEN_USER_SERVER else device.jid
        attrs = {"id": node.attrs.get("id", ""), "t": str(int(state.clock()))}
        if kind:
            attrs["type"] = kind
        if to.server == GROUP_SERVER:
            attrs |= {"from": str(to), "participant": str(reader)}
        else:
            attrs["from"] = str(reader)
        if "recipient" in node.attrs:
            # a receipt from one of the sender's own devices names the chat: without
            # it the sender's client (whatsmeow parseMessageSource) would take the
            # chat to be its own number
            attrs["recipient"] = node.attrs["recipient"]
        forwarded = Node("receipt", attrs, node.content if isinstance(node.content, list) else None)
        if kind in ("", "retry", "inactive", "enc_rekey_retry", "sender"):
            targets = [d for d in [state.device_of(original)] if d is not None]
        else:
            targets = list(origin_phone.devices())
        for target in targets:
            if target is not device:
                await self.deliver(target, forwarded)

    async def _server_error(self, device: SimDevice, node: Node) -> None:
        """A companion's ``server-error`` receipt (media retry, or a history blob it could
        not fetch; whatsmeow ``mediaretry.go``, ``SendHistorySyncServerErrorReceipt``) is
        addressed to its own account and goes to the account's phone, which holds the
        media and answers with a ``mediaretry`` notification or a new history chunk."""
        try:
            to = node.jid_attr("to")
        except ProtocolError:
            return
        if to is None or to.user not in (device.phone.number, device.phone.lid_user):
            return  # only one's own phone is asked
        attrs = dict(node.attrs) | {"from": str(device.jid)}
        attrs.pop("to", None)
        children = node.content if isinstance(node.content, list) else None
        await self.deliver(device.phone.primary, Node("receipt", attrs, children), queue=False)

    # ------------------------------------------------------------------ presence

    async def on_presence(self, device: SimDevice, node: Node) -> None:
        kind = node.attrs.get("type", "available")
        user = device.phone.number
        if kind == "subscribe":
            try:
                target = node.jid_attr("to")
            except ProtocolError:
                return
            target_phone = self.state.account_of(target) if target is not None else None
            if target_phone is None or user in target_phone.blocked:
                return  # who blocked us shows us no presence (and never says why)
            self.subscribers.setdefault(target_phone.number, set()).add((user, device.jid.device))
            await self.deliver(device, self._presence_node(target_phone), queue=False)
        elif kind in ("available", "unavailable"):
            self.presence[user] = (kind, int(self.state.clock()))
            await self.broadcast_presence(device.phone)

    def _presence_node(self, phone: SimPhone) -> Node:
        kind, since = self.presence.get(phone.number, ("unavailable", int(self.state.clock())))
        attrs = {"from": str(phone.jid)}
        if kind == "unavailable":
            attrs |= {"type": "unavailable", "last": str(since)}
        return Node("presence", attrs)

    async def broadcast_presence(self, phone: SimPhone) -> None:
        stanza = self._presence_node(phone)
        for user, device_id in list(self.subscribers.get(phone.number, ())):
            if user in phone.blocked:
                continue
            subscriber = self.state.device_of(JID(user, SERVER, device_id))
            if subscriber is not None:
                await self.deliver(subscriber, stanza, queue=False)

    async def on_chatstate(self, device: SimDevice, node: Node) -> None:
        try:
            to = node.jid_attr("to")
        except ProtocolError:
            return
        if to is None:
            return
        states = node.get_children()
        if not states:
            return
        state = self.state
        if to.server == GROUP_SERVER:
            group = state.groups.get(to.user)
            if group is None or device.phone.number not in group.participants:
                return
            stanza = Node(
                "chatstate", {"from": str(to), "participant": str(device.phone.jid)}, states
            )
            phones = [state.phones[n] for n in group.participants if n in state.phones]
        else:
            target = state.account_of(to)
            if target is None or device.phone.number in target.blocked:
                return
            sender = device.phone.lid if to.server == HIDDEN_USER_SERVER else device.phone.jid
            stanza = Node("chatstate", {"from": str(sender)}, states)
            phones = [target]
        for phone in phones:
            if phone is device.phone:
                continue
            for target_device in phone.devices():
                await self.deliver(target_device, stanza, queue=False)


def _posts(node: Node) -> bool:
    """Whether a group message is a post that an announcement group keeps to its admins.

    Reactions and poll votes are not posts: WhatsApp lets every member react in an
    announcement group (whatsmeow issue 509: reactions in a community's announcements).
    """
    if node.attrs.get("type") == "reaction":
        return False
    meta = node.get_child("meta")
    return not (meta is not None and meta.attrs.get("polltype") == "vote")
