"""Sending messages: device fan-out, sender keys for groups, retries, receipts, presence.

1:1 (whatsmeow ``send.go`` sendDM/prepareMessageNode): the devices of the recipient and
of our own account come from usync; devices without a session get one from a batch
prekey fetch; each gets ``<to jid><enc v="2" type="pkmsg"|"msg"/></to>`` inside
``<participants>`` — our own other devices get the message wrapped as a
``deviceSentMessage`` — and ``<device-identity>`` (our ADV identity) is attached when
any ``pkmsg`` is in the stanza. The server acks with ``<ack class="message" id>``; an
``error`` attribute there means it refused the message; a ``phash`` there means our
device lists were stale, so they are dropped and fetched again next time.

Groups (whatsmeow sendGroup, Baileys relayMessage): the message is encrypted once with
our sender key (``skmsg``); member devices that do not have our key yet get a
``SenderKeyDistributionMessage`` in a pairwise ``enc`` in the same stanza. Who has our
key is kept under ``sender-key-memory`` (Baileys' layout); when members leave, our key
is replaced so that they cannot read what follows. The stanza carries ``phash``, the
hash of every device the group message is for (``wamd.messaging.core``).

Every message we send is kept (``sent-message``, the last ``SENT_KEEP``) so that a
peer's retry receipt can be answered by re-encrypting it for that one device
(whatsmeow ``retry.go`` handleRetryReceipt; at most ``MAX_INCOMING_RETRIES`` per
device and message). Sends to one chat keep their order (a lock per chat); the Signal
state of one peer device is only touched under the repository's per-device lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.client.content import build_message, edit_attribute
from wamd.client.polls import Polls
from wamd.client.privacy_tokens import NO_TOKEN, TokenKeeper
from wamd.errors import NoPushName, NoSession, SendError, WamdError
from wamd.media.info import enc_media_type
from wamd.messaging import stanzas
from wamd.messaging.core import (
    device_sent,
    message_type,
    new_message_id,
    pad,
    participant_hash,
    poll_meta,
    with_sender_key,
)
from wamd.messaging.crypt import encrypt_for_devices, parse_message
from wamd.messaging.stanzas import OwnIds
from wamd.messaging.types import MessageKey, MessageUpdate, WAMessage
from wamd.proto import e2e_pb2
from wamd.signal.prekeys import parse_bundle
from wamd.signal.session import PreKeyBundle
from wamd.store.views import SENT_KEEP, SenderKeyMemory, SentMessages

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.devices import DeviceDirectory
    from wamd.client.groups import GroupDirectory

__all__ = ["MAX_INCOMING_RETRIES", "SENT_KEEP", "SendError", "Sender"]

log = logging.getLogger(__name__)

MAX_INCOMING_RETRIES = 10  # retries answered per device and message (whatsmeow)
RETRY_MEMORY = 10_000  # (device, message) retry counts remembered, oldest forgotten first
ACK_TIMEOUT = 30.0  # seconds to wait for the server's ack of a message
PRESENCE_STATES = {"available", "unavailable", "composing", "paused", "recording"}


def _as_jid(value: JID | str) -> JID:
    return value if isinstance(value, JID) else JID.parse(value)


class Sender:
    def __init__(self, core: ClientCore, devices: DeviceDirectory, groups: GroupDirectory) -> None:
        self.core = core
        self.log = core.logger_for(__name__)
        self.devices = devices
        self.groups = groups
        self.sent = SentMessages(core.auth.keys, SENT_KEEP)
        self.key_memory = SenderKeyMemory(core.auth.keys)
        self.polls = Polls(core, devices)
        self.tokens = TokenKeeper(core, devices)  # privacy tokens (wamd/client/privacy_tokens.py)
        # one lock per chat being sent to (and how many sends use it), so sends keep order
        self._chat_locks: dict[JID, tuple[asyncio.Lock, int]] = {}
        self._incoming_retries: dict[tuple[JID, str], int] = {}
        self._sent_here: dict[str, None] = {}  # ids this socket sent (bounded, oldest first)

    # ------------------------------------------------------------------ identity

    def _me(self) -> OwnIds:
        return self.core.require_own()

    def sent_here(self, message_id: str) -> bool:
        """Did this socket (this process) send the message with this id?"""
        return message_id in self._sent_here

    # ------------------------------------------------------------------ public API

    async def send_message(
        self,
        jid: JID | str,
        content: Mapping[str, Any] | e2e_pb2.Message,
        *,
        quoted: WAMessage | None = None,
        mentions: Sequence[str] = (),
        message_id: str | None = None,
    ) -> WAMessage:
        to = _as_jid(jid).to_non_ad()
        if to.server not in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, GROUP_SERVER):
            raise WamdError(f"cannot send to {to}: only users and groups are supported")
        if isinstance(content, Mapping) and "vote" in content:
            message = await self.polls.vote_message(content["vote"])
        else:
            message = build_message(content, quoted=quoted, mentions=mentions)
        own = self._me().pn
        mid = message_id or new_message_id(own.user)
        now = int(time.time())
        lock, users = self._chat_locks.get(to) or (asyncio.Lock(), 0)
        self._chat_locks[to] = (lock, users + 1)
        try:
            async with lock:
                await self._remember_sent(mid, to, message, now)
                await self.polls.sent(mid, to, message)  # a poll's secret, for its votes
                self._sent_here[mid] = None
                while len(self._sent_here) > SENT_KEEP:
                    del self._sent_here[next(iter(self._sent_here))]
                if to.server == GROUP_SERVER:
                    await self._send_group(to, mid, message)
                else:
                    await self._send_dm(to, mid, message)
        finally:
            lock, users = self._chat_locks[to]
            if users <= 1:
                del self._chat_locks[to]  # no one else sending to this chat: forget the lock
            else:
                self._chat_locks[to] = (lock, users - 1)
        return WAMessage(
            key=MessageKey(str(to), True, mid),
            message=message,
            message_timestamp=now,
            push_name=self.core.auth.creds.me.name if self.core.auth.creds.me else None,
            sender=str(own),
        )

    async def send_peer(self, message: e2e_pb2.Message) -> str:
        """A peer message to our own phone (app-state key requests and the like).

        whatsmeow ``SendPeerMessage``/preparePeerMessageNode: ``<message to=OWN_USER
        type="text" category="peer" push_priority="high">`` with one bare ``<enc>`` for
        the primary device (device 0); no fan-out, no device-sent wrapper.
        """
        own = self._me().pn
        phone = own.to_non_ad()
        mid = new_message_id(own.user)
        nodes, include_identity, _ = await self._encrypt([phone], message.SerializeToString())
        if not nodes:
            raise NoSession(f"could not encrypt a peer message for {phone}")
        attrs = {
            "to": str(phone),
            "id": mid,
            "type": "text",
            "category": "peer",
            "push_priority": "high",
        }
        children = nodes[0].get_children("enc")
        if include_identity and self.core.auth.creds.account is not None:
            children.append(Node("device-identity", {}, self.core.auth.creds.account))
        ack = await self.core.live_conn().request(Node("message", attrs, children), ACK_TIMEOUT)
        if "error" in ack.attrs:
            raise SendError(mid, ack.attrs["error"])
        return mid

    # ------------------------------------------------------------------ 1:1

    async def _fetch_bundles(self, devices: Sequence[JID]) -> dict[JID, PreKeyBundle | Exception]:
        request = Node(
            "iq",
            {"to": DEFAULT_USER_SERVER, "type": "get", "xmlns": "encrypt"},
            [
                Node(
                    "key",
                    {},
                    [Node("user", {"jid": str(d), "reason": "identity"}) for d in devices],
                )
            ],
        )
        answer = await self.core.query(request)
        listed = answer.get_child("list")
        out: dict[JID, PreKeyBundle | Exception] = {}
        if listed is None:
            return out
        for user in listed.get_children("user"):
            try:
                jid = JID.parse(user.attrs.get("jid", ""))
            except InvalidJID:
                continue
            try:
                out[jid] = parse_bundle(user, jid.device)
            except WamdError as exc:
                out[jid] = exc
        return out

    async def _encrypt(
        self,
        devices: Sequence[JID],
        plaintext: bytes,
        *,
        dsm_plaintext: bytes | None = None,
        enc_attrs: Mapping[str, str] | None = None,
    ) -> tuple[list[Node], bool, list[JID]]:
        me = self._me()
        targets = stanzas.send_targets(devices, me.devices)
        encryption = await self.devices.encryption_jids(targets)
        result = await encrypt_for_devices(
            self.core.signal,
            targets,
            plaintext,
            fetch_bundles=self._fetch_bundles,
            own_users=me.users,
            dsm_plaintext=dsm_plaintext,
            session_jid=lambda d: encryption.get(d, d),
            enc_attrs=enc_attrs,
        )
        return result.nodes, result.include_identity, result.devices

    async def _send_dm(self, to: JID, mid: str, message: e2e_pb2.Message) -> None:
        me = self._me()
        own_user = (me.lid if to.server == HIDDEN_USER_SERVER and me.lid else me.pn).to_non_ad()
        devices = await self.devices.get_devices([to, own_user])
        dsm = device_sent(to, message)
        enc_attrs = self._enc_attrs(message)
        nodes, include_identity, _ = await self._encrypt(
            devices,
            message.SerializeToString(),
            dsm_plaintext=dsm.SerializeToString(),
            enc_attrs=enc_attrs,
        )
        if not any(JID.parse(n.attrs["jid"]).user == to.user for n in nodes):
            raise NoSession(f"could not encrypt for any device of {to}")
        token = await self.tokens.token_node(to)
        try:
            await self._relay(
                to,
                mid,
                message,
                [Node("participants", {}, nodes)],
                include_identity,
                extra=[token] if token is not None else (),
            )
        except SendError as exc:
            if exc.code == NO_TOKEN:  # Baileys: issue ours, do not retry (another reach-out)
                await self.tokens.issue(await self.tokens.storage_jid(to))
            raise
        await self.tokens.after_send(to)

    def _enc_attrs(self, message: e2e_pb2.Message) -> dict[str, str]:
        # whatsmeow prepareMessageNode: edits, reactions and poll votes "hide" on failure;
        # media and contact cards carry their mediatype on each 1:1 enc (whatsmeow
        # getMediaTypeFromMessage)
        attrs = {}
        if (
            edit_attribute(message)
            or message.HasField("reactionMessage")
            or message.HasField("pollUpdateMessage")
        ):
            attrs["decrypt-fail"] = "hide"
        media_type = enc_media_type(message)
        if media_type is not None:
            attrs["mediatype"] = media_type
        return attrs

    async def _relay(
        self,
        to: JID,
        mid: str,
        message: e2e_pb2.Message,
        children: list[Node],
        include_identity: bool,
        phash: str | None = None,
        extra: Sequence[Node] = (),
    ) -> Node:
        stanza = stanzas.message_stanza(
            to,
            mid,
            message_type(message),
            children,
            edit=edit_attribute(message),
            phash=phash,
            device_identity=self.core.auth.creds.account if include_identity else None,
            trailing=[*([meta] if (meta := poll_meta(message)) is not None else []), *extra],
        )
        ack = await self.core.live_conn().request(stanza, ACK_TIMEOUT)
        if "error" in ack.attrs:
            raise SendError(mid, ack.attrs["error"])
        if "phash" in ack.attrs:
            self.log.info("server says our device list for %s was stale; refreshing it", to)
            self.devices.invalidate(to)
            if to.server == GROUP_SERVER:
                self.groups.forget(to)
        self.core.ev.emit(
            "messages.update", [MessageUpdate(MessageKey(str(to), True, mid), "server_ack")]
        )
        return ack

    # ------------------------------------------------------------------ groups

    async def _send_group(self, to: JID, mid: str, message: e2e_pb2.Message) -> None:
        ids = self._me()
        me = ids.lid or ids.pn
        metadata = await self.groups.metadata(to)
        users = [JID.parse(p.id) for p in metadata.participants]
        devices = await self.devices.get_devices(users)
        group = str(to)
        memory = await self.key_memory.get(group)
        needing = stanzas.plan_group(devices, ids.devices, memory).needing_key
        children: list[Node] = []
        include_identity = False
        got: list[JID] = []
        if needing:
            distribution = await self.core.signal.group_distribution(group, me)
            skdm = with_sender_key(e2e_pb2.Message(), group, distribution)
            nodes, include_identity, got = await self._encrypt(needing, skdm.SerializeToString())
            if nodes:
                children.append(Node("participants", {}, nodes))
        ciphertext = await self.core.signal.group_encrypt(
            group, me, pad(message.SerializeToString())
        )
        skmsg = {"v": "2", "type": "skmsg"}
        media_type = enc_media_type(message)  # on the skmsg only (whatsmeow sendGroup)
        if media_type is not None:
            skmsg["mediatype"] = media_type
        children.append(Node("enc", skmsg, ciphertext))
        await self._relay(to, mid, message, children, include_identity, participant_hash(devices))
        if needing:
            await self.key_memory.mark(group, [str(d) for d in got])

    # ------------------------------------------------------------------ sent messages

    async def _remember_sent(self, mid: str, chat: JID, message: e2e_pb2.Message, now: int) -> None:
        await self.sent.remember(mid, str(chat), message.SerializeToString(), now)

    async def sent_message(self, mid: str) -> tuple[JID, e2e_pb2.Message] | None:
        stored = await self.sent.get(mid)
        if stored is None:
            return None
        try:
            return JID.parse(stored.chat), parse_message(stored.message)
        except WamdError:
            self.log.warning("stored sent message %s is unreadable", mid)
            return None

    # ------------------------------------------------------------------ retries

    async def handle_retry(self, node: Node) -> None:
        """A peer device could not decrypt one of our messages: send it again, to it only."""
        request = stanzas.parse_retry_receipt(node)
        mid, count, device = request.message_id, request.count, request.device
        key = (device, mid)
        self._incoming_retries[key] = self._incoming_retries.pop(key, 0) + 1  # newest last
        while len(self._incoming_retries) > RETRY_MEMORY:
            del self._incoming_retries[next(iter(self._incoming_retries))]
        if self._incoming_retries[key] >= MAX_INCOMING_RETRIES:
            self.log.warning("dropping retry %d from %s for %s", count, device, mid)
            return
        found = await self.sent_message(mid)
        if found is None:
            raise WamdError(f"retry receipt for {mid}, which we no longer have")
        chat, message = found
        me = self._me()
        is_group = request.chat.server == GROUP_SERVER
        if is_group:
            distribution = await self.core.signal.group_distribution(str(chat), me.lid or me.pn)
            resend = with_sender_key(message, str(chat), distribution)
        elif device.user in me.users:
            resend = device_sent(chat, message)
        else:
            resend = message
        encryption = (await self.devices.encryption_jids([device]))[device]
        if request.has_keys:
            await self.core.signal.inject_bundle(encryption, parse_bundle(node, device.device))
        elif count >= 2 or not await self.core.signal.has_session(encryption):
            bundles = await self._fetch_bundles([device])
            bundle = bundles.get(device)
            if isinstance(bundle, PreKeyBundle):
                await self.core.signal.inject_bundle(encryption, bundle)
        kind, ciphertext = await self.core.signal.encrypt(
            encryption, pad(resend.SerializeToString())
        )
        enc_attrs = {"v": "2", "type": kind, "count": str(count)} | self._enc_attrs(message)
        answer = stanzas.retry_resend(
            node,
            request,
            message_type(message),
            Node("enc", enc_attrs, ciphertext),
            now=int(time.time()),
            device_identity=self.core.auth.creds.account,
            edit=edit_attribute(message),
        )
        await self.core.live_conn().send(answer)
        self.log.debug("answered retry %d for %s from %s", count, mid, device)

    # ------------------------------------------------------------------ receipts, presence

    async def read_messages(self, keys: Sequence[MessageKey]) -> None:
        """Send read receipts (blue ticks), one stanza per chat and sender."""
        groups: dict[tuple[str, str | None], list[str]] = {}
        for key in keys:
            if key.from_me:
                continue
            groups.setdefault((key.remote_jid, key.participant), []).append(key.id)
        for (chat, participant), ids in groups.items():
            await self.send_receipt(chat, participant, ids, "read")

    async def send_receipt(
        self, jid: str, participant: str | None, ids: Sequence[str], kind: str = "read"
    ) -> None:
        receipt = stanzas.receipt_stanza(jid, participant, ids, kind, int(time.time()))
        await self.core.live_conn().send(receipt)

    async def send_presence_update(self, state: str, jid: str | None = None) -> None:
        if state not in PRESENCE_STATES:
            raise ValueError(f"presence must be one of {', '.join(sorted(PRESENCE_STATES))}")
        conn = self.core.live_conn()
        if state in ("available", "unavailable"):
            # both references announce presence with the push name and refuse without one
            # (whatsmeow presence.go ErrNoPushName; Baileys strips '@' from it)
            me = self.core.auth.creds.me
            if me is None or not me.name:
                raise NoPushName(
                    f"cannot send presence {state!r} without a push name: pass "
                    "make_wa_socket(push_name=...) or call set_push_name()"
                )
            await conn.send(Node("presence", {"type": state, "name": me.name.replace("@", "")}))
            self.core.marked_online = state == "available"
            return
        if jid is None:
            raise ValueError(f"{state!r} is a chat state: give the chat's jid")
        own = self._me().pn
        if state == "recording":
            child = Node("composing", {"media": "audio"})
        else:
            child = Node(state)
        await conn.send(Node("chatstate", {"from": str(own.to_non_ad()), "to": jid}, [child]))

    async def presence_subscribe(self, jid: str) -> None:
        conn = self.core.live_conn()
        await conn.send(Node("presence", {"type": "subscribe", "to": jid}))
