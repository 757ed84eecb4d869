"""The stanza shapes a companion (our client, or one of the sim's phones) writes and reads.

Pure functions over ``Node``: no I/O, no clock (times are arguments), no event loop. The
client and the sim's phones build every ack, receipt, retry receipt, iq and message
stanza here, so both speak one wire form, and tests drive each with literal nodes.

Facts (whatsmeow unless said otherwise):

- Message source (``message.go`` parseMessageSource): in a group or broadcast the sender
  is ``participant``; a stanza from one of our own users is ``from_me`` and its chat is
  ``recipient`` (or our own chat); ``sender_lid``/``participant_lid`` (``*_pn`` in
  lid-addressed chats) name the other form of the sender.
- Acks (``receipt.go`` sendAck): ``<ack class=TAG id to=FROM [participant] [recipient]
  [type]>``; ``type`` is copied for everything but ``message``; ``error`` marks a nack.
- Receipts (``receipt.go`` buildBaseReceipt, sendMessageReceipt): the id back to
  ``from``, with ``recipient`` and ``participant`` copied; ``type="sender"`` for a
  message from our own devices, ``"inactive"`` while we are not marked online, none
  (delivered) otherwise; more ids go in ``<list><item id/></list>``.
- Retry receipts (``retry.go`` sendRetryReceipt): ``type="retry"`` with
  ``<retry count id t v="1"/><registration>4 bytes</registration>``, and from the second
  attempt (phones: always) ``<keys>`` with the key type, identity, one fresh prekey, the
  signed prekey and the device identity.
- Answering a retry (``retry.go`` handleRetryReceipt): the message again, to where the
  receipt came from (``participant`` copied: in a group the receipt comes from the group
  with the device as participant), with the receipt's ``t``, ``device_fanout="false"``
  outside groups, ``count`` on the ``enc``, and ``<device-identity>`` with a pkmsg.
- Fan-out (``send.go`` sendDM/sendGroup): a message goes to every device of the
  recipients and of our own account except the sending device; a group member device
  that lacks our sender key gets a pairwise distribution in ``<participants>``; a group
  message carries ``phash`` (a DM's hash is only compared with the server's answer).
- iq (``request.go``): ``<iq id type xmlns to>``; a result or error goes back to the
  requester with the same id; an error is ``<error code text/>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from wamd.binary.jid import (
    BROADCAST_SERVER,
    DEFAULT_USER_SERVER,
    GROUP_SERVER,
    HIDDEN_USER_SERVER,
    JID,
)
from wamd.binary.node import Node
from wamd.crypto import DJB_TYPE, SignedKeyPair
from wamd.errors import ProtocolError
from wamd.signal.prekeys import prekey_node, signed_prekey_node

__all__ = [
    "SERVER",
    "GroupPlan",
    "MessageSource",
    "OwnIds",
    "RetryKeys",
    "RetryRequest",
    "ack",
    "answer_attrs",
    "iq",
    "iq_error",
    "iq_result",
    "is_nack",
    "message_receipt",
    "message_source",
    "message_stanza",
    "parse_retry_receipt",
    "plan_group",
    "receipt_ids",
    "receipt_stanza",
    "retry_receipt",
    "retry_resend",
    "send_targets",
]

SERVER = DEFAULT_USER_SERVER  # the address of the server itself in iq and acks
RETRY_VERSION = "1"  # <retry v=...>


# ---------------------------------------------------------------------- who we are


@dataclass(frozen=True, slots=True)
class OwnIds:
    """Who we are: our device JID, its lid form, and the users they belong to."""

    pn: JID
    lid: JID | None
    # computed once (every received stanza asks whether it is from one of our users)
    _users: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        users = frozenset({self.pn.user} | ({self.lid.user} if self.lid else set()))
        object.__setattr__(self, "_users", users)

    @property
    def users(self) -> frozenset[str]:
        return self._users

    @property
    def devices(self) -> frozenset[JID]:
        """This very device, under both of its names."""
        return frozenset({self.pn} | ({self.lid} if self.lid else set()))


# ---------------------------------------------------------------------- message source


@dataclass(frozen=True, slots=True)
class MessageSource:
    chat: JID
    sender: JID  # the sending device
    sender_alt: JID | None  # the other form (lid <-> pn) of the sender, when given
    from_me: bool
    is_group: bool


def message_source(node: Node, own: OwnIds) -> MessageSource:
    """Where a ``<message>`` (or a receipt-like stanza) comes from, as we see it.

    Raises ``ProtocolError`` on a stanza that names no sender or a malformed address.
    """
    frm = node.jid_attr("from")
    if frm is None:
        raise ProtocolError(f"<{node.tag}> without from")
    if frm.server in (GROUP_SERVER, BROADCAST_SERVER):
        sender = node.jid_attr("participant")
        if sender is None:
            raise ProtocolError(f"group <{node.tag}> without participant")
        lid_mode = node.attrs.get("addressing_mode") == "lid"
        alt = node.jid_attr("participant_pn" if lid_mode else "participant_lid")
        return MessageSource(frm, sender, alt, sender.user in own.users, True)
    if frm.user in own.users:
        recipient = node.jid_attr("recipient")
        chat = recipient.to_non_ad() if recipient is not None else frm.to_non_ad()
        alt = None
        if own.lid is not None:
            alt = (
                own.lid.with_device(frm.device)
                if frm.server == DEFAULT_USER_SERVER
                else own.pn.with_device(frm.device)
            )
        return MessageSource(chat, frm, alt, True, False)
    alt = node.jid_attr("sender_pn" if frm.server == HIDDEN_USER_SERVER else "sender_lid")
    return MessageSource(frm.to_non_ad(), frm, alt, False, False)


# ---------------------------------------------------------------------- acks and receipts


def answer_attrs(node: Node, stanza_id: str | None = None) -> dict[str, str]:
    """What an ack or receipt for ``node`` starts from: its id, back to its sender, with its
    ``recipient`` and ``participant``."""
    attrs = {
        "id": node.attrs.get("id", "") if stanza_id is None else stanza_id,
        "to": node.attrs.get("from", ""),
    }
    for name in ("recipient", "participant"):
        if name in node.attrs:
            attrs[name] = node.attrs[name]
    return attrs


def ack(node: Node, error: str | None = None) -> Node:
    """The ``<ack>`` a companion sends for a received stanza (a nack with ``error``)."""
    attrs = {"class": node.tag} | answer_attrs(node)
    if node.tag != "message" and "type" in node.attrs:
        attrs["type"] = node.attrs["type"]
    if error:
        attrs["error"] = error
    return Node("ack", attrs)


def is_nack(node: Node) -> bool:
    """Is this ``<ack>`` a refusal (it carries an ``error``)?"""
    return node.tag == "ack" and "error" in node.attrs


def message_receipt(node: Node, kind: str = "") -> Node:
    """The receipt for a received ``<message>``: ``kind`` is ``""`` (delivered),
    ``"sender"`` (from our own device) or ``"inactive"`` (we are not online)."""
    attrs = answer_attrs(node)
    if kind:
        attrs["type"] = kind
    return Node("receipt", attrs)


def receipt_stanza(
    chat: str, participant: str | None, ids: Sequence[str], kind: str, now: int
) -> Node:
    """A receipt we send of our own accord (read, played...) for ``ids`` in one chat.

    ``participant`` (the sender in a group) is only written for group chats.
    """
    if not ids:
        raise ValueError("no message ids given")
    attrs = {"id": ids[0], "to": chat, "t": str(now)}
    if kind:
        attrs["type"] = kind
    if participant and chat.endswith("@" + GROUP_SERVER):
        attrs["participant"] = participant
    children = None
    if len(ids) > 1:
        children = [Node("list", {}, [Node("item", {"id": i}) for i in ids[1:]])]
    return Node("receipt", attrs, children)


def receipt_ids(node: Node) -> list[str]:
    """Every message id a receipt is for: its own, then those in ``<list>``."""
    ids = [node.attrs.get("id", "")]
    listed = node.get_child("list")
    if listed is not None:
        ids += [i.attrs["id"] for i in listed.get_children("item") if "id" in i.attrs]
    return ids


# ---------------------------------------------------------------------- retry receipts


@dataclass(frozen=True, slots=True)
class RetryKeys:
    """What a retry receipt's ``<keys>`` offers the sender to start a new session."""

    identity: bytes  # our identity public key (32 bytes)
    prekey_id: int
    prekey_public: bytes
    signed_prekey: SignedKeyPair
    device_identity: bytes | None = None  # our ADV identity (companions only)

    def __repr__(self) -> str:  # public keys only, but keep reprs free of key bytes
        return f"RetryKeys(prekey_id={self.prekey_id})"


def retry_receipt(
    node: Node, count: int, registration_id: int, keys: RetryKeys | None = None
) -> Node:
    """The retry receipt asking the sender of ``node`` (a ``<message>``) to send it again."""
    attrs = answer_attrs(node) | {"type": "retry"}
    children = [
        Node(
            "retry",
            {
                "count": str(count),
                "id": attrs["id"],
                "t": node.attrs.get("t", ""),
                "v": RETRY_VERSION,
            },
        ),
        Node("registration", {}, registration_id.to_bytes(4, "big")),
    ]
    if keys is not None:
        key_children = [
            Node("type", {}, bytes((DJB_TYPE,))),
            Node("identity", {}, keys.identity),
            prekey_node(keys.prekey_id, keys.prekey_public),
            signed_prekey_node(keys.signed_prekey),
        ]
        if keys.device_identity:
            key_children.append(Node("device-identity", {}, keys.device_identity))
        children.append(Node("keys", {}, key_children))
    return Node("receipt", attrs, children)


@dataclass(frozen=True, slots=True)
class RetryRequest:
    """A peer device could not decrypt one of our messages."""

    message_id: str
    count: int
    t: str | None  # the ``t`` of the message it asks for, as the receipt says
    chat: JID  # where the receipt came from (a user's device, or the group)
    device: JID  # the device that asks
    has_keys: bool  # it offers a prekey bundle for a new session


def parse_retry_receipt(node: Node) -> RetryRequest:
    """Read a ``<receipt type="retry">``; ``ProtocolError`` when it lacks what we need."""
    retry = node.require_child("retry")
    message_id = retry.require_attr("id")
    count = retry.attr_int("count", 1) or 1
    frm = node.jid_attr("from")
    if frm is None:
        raise ProtocolError("retry receipt without from")
    participant = node.jid_attr("participant")
    return RetryRequest(
        message_id,
        count,
        retry.attrs.get("t"),
        frm,
        participant if participant is not None else frm,
        node.get_child("keys") is not None,
    )


def retry_resend(
    receipt: Node,
    request: RetryRequest,
    message_type: str,
    enc: Node,
    *,
    now: int,
    device_identity: bytes | None = None,
    edit: str | None = None,
) -> Node:
    """The ``<message>`` that answers a retry receipt: one ``enc`` for the asking device.

    ``enc`` must already carry ``count``; ``device_identity`` is attached when ``enc`` is
    a ``pkmsg``.
    """
    attrs = {
        "to": receipt.attrs.get("from", ""),
        "type": message_type,
        "id": request.message_id,
        "t": request.t or str(now),
    }
    if request.chat.server != GROUP_SERVER:
        attrs["device_fanout"] = "false"
    for name in ("participant", "recipient"):
        if name in receipt.attrs:
            attrs[name] = receipt.attrs[name]
    if edit:
        attrs["edit"] = edit
    children = [enc]
    if device_identity and enc.attrs.get("type") == "pkmsg":
        children.append(Node("device-identity", {}, device_identity))
    return Node("message", attrs, children)


# ---------------------------------------------------------------------- fan-out


def send_targets(devices: Iterable[JID], own: Iterable[JID]) -> list[JID]:
    """The devices a message goes to: all of ``devices`` but the sending one (``own``:
    its names), in order, without repeats."""
    skip = set(own)
    out: list[JID] = []
    for device in devices:
        if device not in skip:
            skip.add(device)
            out.append(device)
    return out


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """Who a group message goes to, and who of them needs our sender key first."""

    targets: tuple[JID, ...]
    needing_key: tuple[JID, ...]


def plan_group(
    devices: Iterable[JID], own: Iterable[JID], has_key: Mapping[str, object]
) -> GroupPlan:
    """``has_key`` is the sender-key memory (device JID text -> truthy when it has our key)."""
    targets = send_targets(devices, own)
    return GroupPlan(tuple(targets), tuple(d for d in targets if not has_key.get(str(d))))


def message_stanza(
    to: JID | str,
    message_id: str,
    message_type: str,
    children: Sequence[Node],
    *,
    edit: str | None = None,
    phash: str | None = None,
    device_identity: bytes | None = None,
    extra: Mapping[str, str] | None = None,
    trailing: Sequence[Node] = (),
) -> Node:
    """A ``<message>`` to send: the ``<participants>``/``<enc>`` children built by the
    caller, ``<device-identity>`` appended when any pairwise ``enc`` is a pkmsg, then
    ``trailing`` (a poll's ``<meta>``, after the identity as whatsmeow orders them)."""
    attrs = {"id": message_id, "type": message_type, "to": str(to)}
    if edit:
        attrs["edit"] = edit
    if phash:
        attrs["phash"] = phash
    if extra:
        attrs.update(extra)
    out = list(children)
    if device_identity:
        out.append(Node("device-identity", {}, device_identity))
    out.extend(trailing)
    return Node("message", attrs, out)


# ---------------------------------------------------------------------- iq


def iq(
    type: str,
    xmlns: str,
    children: Sequence[Node] | None = None,
    *,
    to: str = SERVER,
    id: str | None = None,
    attrs: Mapping[str, str] | None = None,
) -> Node:
    """An ``<iq>`` request (the connection fills ``id`` when it is ``None``)."""
    head = {"to": to, "type": type, "xmlns": xmlns}
    if id is not None:
        head["id"] = id
    if attrs:
        head.update(attrs)
    return Node("iq", head, list(children) if children else None)


def iq_result(
    request: Node, children: Sequence[Node] | None = None, *, as_server: bool = False
) -> Node:
    """The ``type="result"`` answer to ``request``, with its id.

    A companion answers the server ``to`` the request's sender; the server (the sim)
    answers ``from`` the address the request was sent to.
    """
    attrs = {"type": "result", "id": request.attrs.get("id", "")}
    if as_server:
        attrs["from"] = request.attrs.get("to") or SERVER
    else:
        attrs["to"] = request.attrs.get("from") or SERVER
    return Node("iq", attrs, list(children) if children else None)


def iq_error(request: Node, code: int, text: str, *, as_server: bool = False) -> Node:
    """The ``type="error"`` answer to ``request``, with ``<error code text/>``."""
    answer = iq_result(
        request, [Node("error", {"code": str(code), "text": text})], as_server=as_server
    )
    answer.attrs["type"] = "error"
    return answer
