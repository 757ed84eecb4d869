"""A simulated phone's messaging half: a full Signal endpoint living inside the sim.

The primary device of every sim account (device 0) has its own identity (the account
key, as on real phones), signed prekey and one-time prekeys, and sends and receives
through the same router as connected clients, with the same stanzas
(``wamd.messaging.crypt``). Received messages are decrypted, acknowledged with a
delivery receipt and kept for the test to read; messages it cannot decrypt get a retry
receipt with fresh keys; retry receipts for its own messages are answered by
re-encrypting the message for that device.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ProtocolError, SignalError, WamdError
from wamd.media.info import enc_media_type
from wamd.messaging import stanzas
from wamd.messaging.core import (
    device_sent,
    message_type,
    pad,
    participant_hash,
    poll_meta,
    with_sender_key,
)
from wamd.messaging.crypt import encrypt_for_devices, open_enc
from wamd.messaging.types import MessageKey
from wamd.proto import common_pb2, e2e_pb2, history_sync_pb2, web_pb2
from wamd.signal import SignalRepository, parse_bundle
from wamd.signal.address import signal_address
from wamd.signal.session import PreKeyBundle
from wamd.sim import rand
from wamd.sim.phone_media import PhoneMedia
from wamd.sim.services import bundle_node, issue_privacy_token, nct_salt
from wamd.store.memory import MemoryKeyStore

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = ["PhoneEndpoint", "SimMessage", "SimReceipt"]

log = logging.getLogger(__name__)

PREKEY_BATCH = 100  # one-time prekeys a phone publishes at a time
MAX_RETRIES = 5  # retry receipts sent for one message before giving up (whatsmeow)


@dataclass(frozen=True, slots=True)
class SimMessage:
    """A message a simulated phone received (or sent, in ``sent``)."""

    id: str
    chat: JID
    sender: JID
    message: e2e_pb2.Message
    timestamp: int
    from_me: bool = False

    @property
    def text(self) -> str | None:
        m = self.message
        if m.HasField("deviceSentMessage"):
            m = m.deviceSentMessage.message
        if m.HasField("conversation"):
            return m.conversation
        if m.HasField("extendedTextMessage"):
            return m.extendedTextMessage.text
        return None

    @property
    def key(self) -> MessageKey:
        participant = str(self.sender.to_non_ad()) if self.chat.server == GROUP_SERVER else None
        return MessageKey(str(self.chat), self.from_me, self.id, participant)


@dataclass(frozen=True, slots=True)
class SimReceipt:
    id: str
    type: str  # "" for delivery
    sender: JID  # the device that sent the receipt


class PhoneEndpoint:
    def __init__(self, state: SimState, router: Router, phone: SimPhone, device: SimDevice) -> None:
        self.state = state
        self.router = router
        self.phone = phone
        self.device = device
        self.store = MemoryKeyStore()
        self.rng = state.rng
        self.registration_id = self.rng.getrandbits(14) or 1
        self.signed = rand.signed_keypair(self.rng, phone.account_key, 1)
        self.repo = SignalRepository(
            self.store, phone.account_key, self.registration_id, self.signed
        )
        device.identity = phone.account_key.public
        device.registration_id = self.registration_id
        device.signed_prekey_id = self.signed.key_id
        device.signed_prekey = self.signed.key_pair.public
        device.signed_prekey_signature = self.signed.signature
        self._next_prekey = 1
        self.received: list[SimMessage] = []
        self.history: list[SimMessage] = []  # what the phone received and sent, in order
        self.receipts: list[SimReceipt] = []
        self.notifications: list[Node] = []
        self.sent: dict[str, tuple[JID, e2e_pb2.Message]] = {}
        self._inbox: asyncio.Queue[SimMessage] = asyncio.Queue()
        self._arrived = asyncio.Condition()
        self._receipt_event = asyncio.Event()
        self._queue: asyncio.Queue[Node] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._retries: dict[str, int] = {}
        self._key_holders: dict[str, set[JID]] = {}  # group -> devices that have our sender key
        self.fail_decrypt_from: set[str] = set()  # users whose next messages we "cannot" decrypt
        self.app_state_key: tuple[bytes, bytes, int] | None = None  # (id, key, created ms)
        # users (pn) whose LID this phone has seen; their sessions live under the LID
        self.known_lids: set[str] = {phone.number}
        self.media = PhoneMedia(self)  # sending, auto-download, re-upload (phone_media.py)

    # ------------------------------------------------------------------ addresses

    def session_jid(self, jid: JID) -> JID:
        """The address this phone keeps a device's Signal session (and keys) under.

        A device's LID once the phone has seen that user's LID on a stanza; its phone
        number before, as a phone that first wrote to a number does. Learning the LID
        moves the sessions over (``learn_lid``).
        """
        if jid.server == HIDDEN_USER_SERVER:
            return jid
        account = self.state.account_of(jid)
        if account is None or account.number not in self.known_lids:
            return jid
        return JID(account.lid_user, HIDDEN_USER_SERVER, jid.device)

    async def learn_lid(self, jid: JID | str | None) -> None:
        """``jid``'s user has a LID (a stanza showed it): move its sessions there."""
        if jid is None:
            return
        try:
            parsed = JID.parse(jid) if isinstance(jid, str) else jid
        except InvalidJID:
            return
        account = self.state.account_of(parsed)
        if account is None or account.number in self.known_lids:
            return
        self.known_lids.add(account.number)
        await self._migrate_to_lid(account)

    async def _migrate_to_lid(self, account: SimPhone) -> None:
        """Move a user's sessions, identity keys and sender keys from PN to LID addresses.

        whatsmeow store/sqlstore MigratePNToLID: for every device of the user the
        session and identity key stored under the phone-number address move to the LID
        address (replacing what is there) and the phone-number copies are deleted; the
        same for sender keys in every group. Without it the first message after the
        switch is looked up under the LID, finds no session and fails (Bad MAC), and
        only a retry repairs it.
        """
        store = self.store
        writes: dict[str, dict[str, object]] = {}
        groups = [str(g.jid) for g in self.state.groups.values()]
        for device_id in sorted({0, *account.companions}):
            pn = signal_address(JID(account.number, DEFAULT_USER_SERVER, device_id))
            lid = signal_address(JID(account.lid_user, HIDDEN_USER_SERVER, device_id))
            pairs = [("session", pn, lid), ("identity-key", pn, lid)]
            pairs += [("sender-key", f"{g}::{pn}", f"{g}::{lid}") for g in groups]
            for kind, old, new in pairs:
                value = (await store.get(kind, [old])).get(old)
                if value is not None:
                    writes.setdefault(kind, {})[new] = value
                    writes[kind][old] = None
        if writes:
            await store.set(writes)
            moved = sum(len(v) for v in writes.values()) // 2
            log.debug(
                "sim phone %s moved %d keys of %s to its LID",
                self.phone.number,
                moved,
                account.number,
            )

    # ------------------------------------------------------------------ keys

    async def refill_prekeys(self, minimum: int = 10) -> None:
        if len(self.device.prekeys) >= minimum:
            return
        keys = rand.prekeys(self.rng, self._next_prekey, PREKEY_BATCH)
        self._next_prekey = keys[-1][0] + 1
        await self.store.set({"pre-key": {str(i): k for i, k in keys}})
        for key_id, pair in keys:
            self.device.prekeys[key_id] = pair.public

    async def _fetch(self, devices: Sequence[JID]) -> Mapping[JID, PreKeyBundle | Exception]:
        out: dict[JID, PreKeyBundle | Exception] = {}
        for jid in devices:
            target = self.state.device_of(jid)
            if target is None:
                out[jid] = WamdError(f"no such device {jid}")
                continue
            if target.endpoint is not None and target.phone.endpoint is not None:
                await target.phone.endpoint.refill_prekeys()
            bundle = bundle_node(target, str(jid))
            if bundle.get_child("key") is not None:
                self.router.prekey_taken(target)
            try:
                out[jid] = parse_bundle(bundle)
            except WamdError as exc:
                out[jid] = exc
        return out

    # ------------------------------------------------------------------ inbound

    def deliver(self, node: Node) -> None:
        """Called by the router; handled in order by the phone's own task."""
        self._queue.put_nowait(node)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())
            self.state.activity.track(self._worker, f"phone {self.phone.number}")

    async def _work(self) -> None:
        while not self._queue.empty():
            node = self._queue.get_nowait()
            try:
                await self._handle(node)
            except Exception:
                log.exception("sim phone %s failed on <%s>", self.phone.number, node.tag)

    async def _handle(self, node: Node) -> None:
        if node.tag == "message":
            await self._on_message(node)
        elif node.tag == "receipt":
            kind = node.attrs.get("type", "")
            try:
                sender = JID.parse(node.attrs.get("participant") or node.attrs.get("from", ""))
            except InvalidJID:
                return
            if sender.server == HIDDEN_USER_SERVER:
                await self.learn_lid(sender)
            await self.router.handle(self.device, stanzas.ack(node))
            if kind == "server-error":  # a companion asks for media again
                await self.media.on_server_error(node)
                return
            if kind == "retry":
                # kept too, so a test can tell that a message needed a retry
                self.receipts.append(SimReceipt(node.attrs.get("id", ""), kind, sender))
                await self._on_retry(node)
                return
            for receipt_id in stanzas.receipt_ids(node):
                self.receipts.append(SimReceipt(receipt_id, kind, sender))
            self._receipt_event.set()
        elif node.tag == "notification":
            self.notifications.append(node)
            await self.router.handle(self.device, stanzas.ack(node))

    async def _on_message(self, node: Node) -> None:
        attrs = node.attrs
        try:
            origin = JID.parse(attrs.get("from", ""))
            sender = JID.parse(attrs["participant"]) if "participant" in attrs else origin
        except (InvalidJID, KeyError):
            return
        message_id = attrs.get("id", "")
        group = str(origin) if origin.server == GROUP_SERVER else None
        # what the stanza shows of LIDs (whatsmeow handleEncryptedMessage stores these
        # mappings and migrates before decrypting)
        if (
            "sender_lid" in attrs
            or "participant_lid" in attrs
            or sender.server == HIDDEN_USER_SERVER
        ):
            await self.learn_lid(sender)
        if "peer_recipient_lid" in attrs:
            await self.learn_lid(attrs["peer_recipient_lid"])
        opened: list[e2e_pb2.Message] = []
        failed = sender.user in self.fail_decrypt_from
        if failed:
            self.fail_decrypt_from.discard(sender.user)
        else:
            for enc in node.get_children("enc"):
                try:
                    result = await open_enc(self.repo, enc, self.session_jid(sender), group)
                except (SignalError, WamdError) as exc:
                    log.info(
                        "sim phone %s cannot decrypt %s: %s", self.phone.number, message_id, exc
                    )
                    failed = True
                    break
                opened.append(result.message)
        if failed:
            await self._send_retry(node)
            return
        self._retries.pop(message_id, None)
        from_me = sender.user in (self.phone.number, self.phone.lid_user)
        chat = JID.parse(attrs["recipient"]) if "recipient" in attrs else origin.to_non_ad()
        for message in opened:
            content = message
            if content.HasField("senderKeyDistributionMessage") and not _has_content(content):
                continue
            received = SimMessage(
                message_id, chat, sender, content, int(attrs.get("t", "0") or 0), from_me=from_me
            )
            # auto-download before it is reported: wait_received() looks at ``received``
            await self.media.on_received(received)
            self.received.append(received)
            self.history.append(received)
            self._inbox.put_nowait(received)
        if opened:
            async with self._arrived:
                self._arrived.notify_all()
        # whatsmeow sendMessageReceipt / Baileys handleMessage: a copy of our own
        # message (another device of this account sent it) is confirmed with
        # type="sender", a peer message with type="peer_msg", anything else plainly
        kind = "peer_msg" if attrs.get("category") == "peer" else "sender" if from_me else ""
        await self.router.handle(self.device, stanzas.message_receipt(node, kind))

    async def _send_retry(self, node: Node) -> None:
        message_id = node.attrs.get("id", "")
        count = self._retries.get(message_id, 0) + 1
        self._retries[message_id] = count
        if count >= MAX_RETRIES:
            log.warning("sim phone %s gives up on %s", self.phone.number, message_id)
            await self.router.handle(self.device, stanzas.message_receipt(node))
            return
        # phones offer a fresh prekey with every retry receipt
        ((key_id, pair),) = rand.prekeys(self.rng, self._next_prekey, 1)
        self._next_prekey = key_id + 1
        await self.store.set({"pre-key": {str(key_id): pair}})
        keys = stanzas.RetryKeys(self.phone.account_key.public, key_id, pair.public, self.signed)
        receipt = stanzas.retry_receipt(node, count, self.registration_id, keys)
        await self.router.handle(self.device, receipt)

    async def _on_retry(self, node: Node) -> None:
        try:
            request = stanzas.parse_retry_receipt(node)
        except (ProtocolError, InvalidJID) as exc:
            log.info("sim phone %s: bad retry receipt: %s", self.phone.number, exc)
            return
        sent = self.sent.get(request.message_id)
        if sent is None:
            return
        chat, message = sent
        device_jid = request.device
        session = self.session_jid(device_jid)
        try:
            if request.has_keys:
                await self.repo.inject_bundle(session, parse_bundle(node, device_jid.device))
            else:
                await self.repo.delete_session(session)
        except WamdError as exc:
            log.info("sim phone %s: bad retry receipt: %s", self.phone.number, exc)
            return
        if chat.server == GROUP_SERVER:
            distribution = await self.repo.group_distribution(str(chat), self.device.lid)
            message = with_sender_key(message, str(chat), distribution)
        elif device_jid.user == self.phone.number:
            message = device_sent(chat, message)
        enc = await encrypt_for_devices(
            self.repo,
            [device_jid],
            message.SerializeToString(),
            fetch_bundles=self._fetch,
            session_jid=self.session_jid,
            enc_attrs={"count": str(request.count)},
        )
        if not enc.nodes:
            return
        # whatsmeow retry.go: back where the receipt came from (the device in a chat,
        # the group with participant=device in a group)
        resend = stanzas.retry_resend(
            node,
            request,
            message_type(message),
            enc.nodes[0].require_child("enc"),
            now=self.state.now(),
        )
        if device_jid.user == self.phone.number and chat.server != GROUP_SERVER:
            resend.attrs.setdefault("recipient", str(chat))  # our own device: name the chat
        await self.router.handle(self.device, resend)

    # ------------------------------------------------------------------ reading

    async def next_message(self, timeout: float = 10.0) -> SimMessage:
        """The next message this phone receives (``TimeoutError`` if none comes)."""
        return await asyncio.wait_for(self._inbox.get(), timeout)

    async def wait_received(self, count: int, timeout: float) -> None:
        """Wait until more than ``count`` messages were received (``TimeoutError``).

        Unlike ``next_message`` this consumes nothing: any number of waiters may watch.
        """
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) > count)

    async def wait_receipt(
        self, message_id: str, kind: str = "", timeout: float = 10.0
    ) -> SimReceipt:
        """Wait for a receipt (``""`` = delivered, ``"read"``...) for one of our messages."""

        async def find() -> SimReceipt:
            while True:
                for receipt in self.receipts:
                    if receipt.id == message_id and receipt.type == kind:
                        return receipt
                self._receipt_event.clear()
                await self._receipt_event.wait()

        return await asyncio.wait_for(find(), timeout)

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        to: JID,
        message: e2e_pb2.Message,
        message_id: str | None = None,
        *,
        edit: str | None = None,
    ) -> str:
        """Encrypt and send ``message`` to a chat, fanned out as the stanza layer plans it
        (``edit``: the stanza's edit attribute, "1" for an edit, "7" for a revoke)."""
        state = self.state
        message_id = message_id or rand.message_id(self.rng)
        self.sent[message_id] = (to, message)
        own = [self.device.jid]
        self.history.append(
            SimMessage(message_id, to, self.device.jid, message, state.now(), from_me=True)
        )
        plaintext = message.SerializeToString()
        children: list[Node] = []
        media_type = enc_media_type(message)
        if to.server == GROUP_SERVER:
            group = state.groups.get(to.user)
            if group is None:
                raise WamdError(f"no such group {to}")
            members = [state.phones[n] for n in group.participants if n in state.phones]
            holders = self._key_holders.setdefault(str(to), set())
            plan = stanzas.plan_group(
                (d.jid for m in members for d in m.devices()),
                own,
                {str(d): True for d in holders},
            )
            if plan.needing_key:
                distribution = await self.repo.group_distribution(str(to), self.device.lid)
                skdm = with_sender_key(e2e_pb2.Message(), str(to), distribution)
                enc = await encrypt_for_devices(
                    self.repo,
                    plan.needing_key,
                    skdm.SerializeToString(),
                    fetch_bundles=self._fetch,
                    session_jid=self.session_jid,
                )
                holders.update(enc.devices)
                children.append(Node("participants", {}, enc.nodes))
            padded = pad(plaintext, random_byte=self.rng.getrandbits(8))
            ciphertext = await self.repo.group_encrypt(str(to), self.device.lid, padded)
            skmsg = {"v": "2", "type": "skmsg"}
            if media_type is not None:  # whatsmeow sendGroup: on the skmsg enc
                skmsg["mediatype"] = media_type
            children.append(Node("enc", skmsg, ciphertext))
            targets = list(plan.targets)
        else:
            recipient = state.account_of(to)
            if recipient is None:
                raise WamdError(f"{to} is not on the sim")
            targets = stanzas.send_targets(
                [d.jid for d in recipient.devices()] + [d.jid for d in self.phone.devices()],
                own,
            )
            enc = await encrypt_for_devices(
                self.repo,
                targets,
                plaintext,
                fetch_bundles=self._fetch,
                own_users=frozenset({self.phone.number}),
                dsm_plaintext=device_sent(to, message).SerializeToString(),
                session_jid=self.session_jid,
                enc_attrs={"mediatype": media_type} if media_type is not None else None,
            )
            children.append(Node("participants", {}, enc.nodes))
        meta = poll_meta(message)
        stanza = stanzas.message_stanza(
            to,
            message_id,
            message_type(message),
            children,
            edit=edit,
            phash=participant_hash(targets),
            trailing=[meta] if meta is not None else (),
        )
        await self.router.handle(self.device, stanza)
        if state.require_tctoken and to.server != GROUP_SERVER:
            # a phone issues its privacy token to those it writes to (whatsmeow tctoken.go
            # does once per bucket; a phone once per contact is enough for the sim)
            recipient = state.account_of(to)
            if recipient is not None and recipient is not self.phone:
                if (self.phone.number, recipient.number) not in state.tc_tokens:
                    await issue_privacy_token(
                        state, self.router, self.phone, recipient, str(state.now())
                    )
        return message_id

    async def send_history(
        self, device: SimDevice, *, days: float, max_messages: int, blob: bool = False
    ) -> str:
        """Send a newly linked companion the recent history, as the phone does.

        whatsmeow message.go: a ``protocolMessage`` of type HISTORY_SYNC_NOTIFICATION
        from the account's own phone carries a ``HistorySyncNotification``; with
        ``initialHistBootstrapInlinePayload`` set, that field holds the zlib-compressed
        ``HistorySync`` itself (no media download); the companion answers with a
        ``hist_sync`` receipt. Sent as a peer message (``category="peer"``, send.go
        preparePeerMessageNode) to that one device. Bounded: only messages from the last
        ``days`` days, at most ``max_messages`` of the newest, never the full history.
        With ``blob`` the chunk is uploaded to the media host as ``md-msg-hist`` and the
        notification carries its direct path, key and hashes instead (the real phone's
        usual way; ``phone_media.py``).
        """
        now = self.state.clock()
        recent = [m for m in self.history if m.timestamp >= now - days * 86400]
        recent = recent[-max_messages:] if max_messages > 0 else []
        chats: dict[str, list[SimMessage]] = {}
        for item in recent:
            chats.setdefault(str(item.chat.to_non_ad()), []).append(item)
        sync = history_sync_pb2.HistorySync(
            syncType=history_sync_pb2.HistorySync.INITIAL_BOOTSTRAP, chunkOrder=0, progress=100
        )
        order = 0
        for chat_id, items in chats.items():
            conversation = sync.conversations.add(ID=chat_id)
            conversation.lastMsgTimestamp = items[-1].timestamp
            conversation.conversationTimestamp = items[-1].timestamp
            for item in items:
                order += 1
                key = item.key
                info = web_pb2.WebMessageInfo(
                    key=key.to_proto(), message=item.message, messageTimestamp=item.timestamp
                )
                if not item.from_me:
                    sender = self.state.account_of(item.sender)
                    if sender is not None and sender.name:
                        info.pushName = sender.name
                conversation.messages.add(message=info, msgOrderID=order)
        for number in {m.sender.user for m in recent} | {self.phone.number}:
            phone = self.state.phones.get(number)
            if phone is not None:
                sync.pushnames.add(ID=str(phone.jid), pushname=phone.name)
                sync.phoneNumberToLidMappings.add(pnJID=str(phone.jid), lidJID=str(phone.lid))
        sync.nctSalt = nct_salt(self.state, self.phone)  # whatsmeow stores it for cstokens
        raw = sync.SerializeToString()
        notification = e2e_pb2.HistorySyncNotification(
            syncType=e2e_pb2.HistorySyncType.INITIAL_BOOTSTRAP,
            fileLength=len(raw),
            chunkOrder=0,
            progress=100,
            initialHistBootstrapInlinePayload=zlib.compress(raw),
        )
        if recent:
            notification.oldestMsgInChunkTimestampSec = recent[0].timestamp
        compressed = notification.initialHistBootstrapInlinePayload
        if blob:
            await self.media.history_notification(compressed, notification)
        message = e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                type=e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
                historySyncNotification=notification,
            )
        )
        message_id = await self.send_peer(device, message)
        if blob:
            self.media.keep_history(message_id, notification, compressed, device.jid)
        return message_id

    async def send_app_state_keys(self, device: SimDevice) -> str:
        """Share the account's app-state sync key with a newly linked companion.

        Phones do this right after linking (whatsmeow message.go handleAppStateSyncKeyShare,
        Baileys ``appStateSyncKeyShare``): a ``protocolMessage`` APP_STATE_SYNC_KEY_SHARE
        with the key id, the 32-byte key and its fingerprint. Clients such as Baileys hold
        back their events until they have this key and have synced the app state.
        """
        if self.app_state_key is None:
            now_ms = int(self.state.clock() * 1000)
            self.app_state_key = (self.rng.randbytes(6), self.rng.randbytes(32), now_ms)
        key_id, key_data, stamp = self.app_state_key
        key = e2e_pb2.AppStateSyncKey(
            keyID=e2e_pb2.AppStateSyncKeyId(keyID=key_id),
            keyData=e2e_pb2.AppStateSyncKeyData(
                keyData=key_data,
                fingerprint=e2e_pb2.AppStateSyncKeyFingerprint(
                    rawID=int.from_bytes(key_id[:4], "big"),
                    currentIndex=device.key_index,
                    deviceIndexes=[0, *(d.key_index for d in self.phone.devices() if d.key_index)],
                ),
                timestamp=stamp,
            ),
        )
        message = e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                type=e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
                appStateSyncKeyShare=e2e_pb2.AppStateSyncKeyShare(keys=[key]),
            )
        )
        return await self.send_peer(device, message)

    async def send_peer(self, device: SimDevice, message: e2e_pb2.Message) -> str:
        """A peer message (``category="peer"``) from the phone to one of its companions."""
        message_id = rand.message_id(self.rng)
        enc = await encrypt_for_devices(
            self.repo,
            [device.jid],
            message.SerializeToString(),
            fetch_bundles=self._fetch,
            session_jid=self.session_jid,
        )
        if not enc.nodes:
            raise WamdError(f"could not encrypt a peer message for {device.jid}")
        attrs = {"to": str(device.jid), "id": message_id, "type": "text", "category": "peer"}
        children = enc.nodes[0].get_children("enc")
        await self.router.handle(self.device, Node("message", attrs, children))
        return message_id

    def forget_sender_key(self, group: JID) -> None:
        """Members changed: the next message to the group distributes a new key."""
        self._key_holders.pop(str(group), None)

    async def rotate_sender_key(self, group: JID) -> None:
        self.forget_sender_key(group)
        with contextlib.suppress(WamdError):
            await self.repo.reset_group_key(str(group), self.device.lid)


def _has_content(message: e2e_pb2.Message) -> bool:
    return any(f.name != "senderKeyDistributionMessage" for f, _ in message.ListFields())


def text_message(
    text: str, *, quoted: SimMessage | None = None, mentions: Sequence[str] = ()
) -> e2e_pb2.Message:
    """A text message, as an extended text when it quotes or mentions."""
    if quoted is None and not mentions:
        return e2e_pb2.Message(conversation=text)
    message = e2e_pb2.Message()
    ext = message.extendedTextMessage
    ext.text = text
    if quoted is not None:
        ext.contextInfo.stanzaID = quoted.id
        ext.contextInfo.participant = str(quoted.sender.to_non_ad())
        ext.contextInfo.quotedMessage.CopyFrom(quoted.message)
    ext.contextInfo.mentionedJID.extend(mentions)
    return message


def reaction_message(target: MessageKey, emoji: str, now_ms: int) -> e2e_pb2.Message:
    key = common_pb2.MessageKey(remoteJID=target.remote_jid, fromMe=target.from_me, ID=target.id)
    if target.participant:
        key.participant = target.participant
    return e2e_pb2.Message(
        reactionMessage=e2e_pb2.ReactionMessage(key=key, text=emoji, senderTimestampMS=now_ms)
    )
