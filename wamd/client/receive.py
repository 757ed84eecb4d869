"""Incoming ``message``, ``receipt`` and ``notification`` stanzas.

Messages (whatsmeow ``message.go`` parseMessageSource/decryptMessages):

- the chat and sender come from ``from``/``participant``/``recipient``; a message from
  one of our own devices (``from`` is our user) is ``from_me`` and its chat is
  ``recipient``; ``sender_lid``/``participant_lid`` (or ``*_pn`` in lid-addressed chats)
  name the other form of the sender, which is learnt as a lid mapping;
- each ``enc`` is decrypted with the sender's *encryption identity* (its lid when
  known); a sender key distribution inside is processed before the next ``enc``;
- crash safety (at-least-once, never twice after a commit): the decrypted ``Message``
  is written to the ``event-buffer`` in the same store transaction that advances the
  Signal state. The event is emitted; once every handler has run on it (coroutine
  handlers included, without holding up the chat) the buffer entry is deleted, and
  only then is the delivery receipt (which is also the server's ack of a message)
  sent. A redelivered stanza whose entry is still buffered is emitted from the buffer (its keys are
  already used up); one whose entry is gone fails as ``DuplicateMessage`` and is only
  acknowledged — the Signal state itself remembers that it was handled. The memory
  store buffers too: a connection's work is cancelled when it ends, which is a crash for
  whatever that work had decrypted and not yet emitted. Within one
  process a buffered message is emitted once, however often it is delivered (a dropped
  connection, a duplicated stanza): a redelivery of a message this process already
  emitted only waits for that emission's handlers, then confirms it;
- a message that cannot be decrypted gets a retry receipt (``type="retry"`` with
  ``<retry count id t v="1"/><registration/>``, plus ``<keys>`` with a fresh one-time
  prekey from the second attempt on; at most ``MAX_RETRY_RECEIPTS`` per message,
  whatsmeow ``retry.go`` sendRetryReceipt), is acked, and a stub (``stub_type=
  "CIPHERTEXT"``) is emitted so that the application knows;
- the receipt is ``type="sender"`` for messages from our own devices (``peer_msg`` for
  a peer message, ``category="peer"``), plain (delivered)
  when we are marked online, else ``type="inactive"`` (whatsmeow sendMessageReceipt).

Receipts become ``message-receipt.update`` and ``messages.update``; a retry receipt is
answered by re-encrypting the message we sent (``wamd.client.send``). Every receipt and
notification is acked with ``<ack class id to [participant] [type]>`` (whatsmeow sendAck).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from wamd.binary import JID, Node
from wamd.binary.jid import (
    DEFAULT_USER_SERVER,
    GROUP_SERVER,
    HIDDEN_USER_SERVER,
    InvalidJID,
)
from wamd.client.calls import CallDesk
from wamd.client.contacts import PushNames
from wamd.client.history import decode_history, decode_inline_history
from wamd.client.profile import Profile
from wamd.client.storefail import guard_store, set_aside_corrupted
from wamd.errors import (
    CorruptedStore,
    DuplicateMessage,
    InvalidMessage,
    ProtocolError,
    SignalError,
    WamdError,
)
from wamd.events import MessagesUpsert
from wamd.messaging import stanzas
from wamd.messaging.crypt import open_enc, parse_message
from wamd.messaging.stanzas import MessageSource, OwnIds
from wamd.messaging.types import (
    CallEvent,
    HistorySet,
    MessageKey,
    MessageReaction,
    MessageReceipt,
    MessageUpdate,
    PresenceUpdate,
    WAMessage,
)
from wamd.proto import common_pb2, e2e_pb2
from wamd.store.views import EventBuffer

if TYPE_CHECKING:
    from wamd.client.core import Attempt, ClientCore
    from wamd.client.devices import DeviceDirectory
    from wamd.client.groups import GroupDirectory
    from wamd.client.prekeys import PreKeyUpkeep
    from wamd.client.send import Sender

__all__ = ["MAX_RETRY_RECEIPTS", "HistoryBlobFetcher", "MessageSource", "Receiver", "chat_key"]

# (notification, message id) -> the compressed HistorySync, or None when it failed
HistoryBlobFetcher = Callable[[e2e_pb2.HistorySyncNotification, str], Awaitable[bytes | None]]

log = logging.getLogger(__name__)

CLAIM_MEMORY = 10_000  # emitted-but-unconfirmed messages remembered per store
MAX_RETRY_RECEIPTS = 5  # retry receipts for one message before giving up (whatsmeow: 5)
RETRY_MEMORY = 10_000  # messages whose retry count is remembered, oldest forgotten first
NACK_PARSING_ERROR = "487"  # <ack error=...>: the stanza could not be parsed
NACK_UNRECOGNIZED = "488"  # nothing in it we know how to handle
NACK_INVALID_PROTOBUF = "491"  # decrypted, but not a Message

_RECEIPT_STATUS: dict[str, Literal["delivery_ack", "read", "played"]] = {
    "": "delivery_ack",
    "read": "read",
    "read-self": "read",
    "played": "played",
    "played-self": "played",
}
_RECEIPT_TYPES = {"", "read", "played", "inactive", "sender", "retry"}

# key store -> {buffer id: (the emission's "handlers done" future, the emitter it went
# through)}; a message is emitted once per process however often it is delivered, until
# its confirmation went out
_Claim = tuple[asyncio.Future[Any], object]
_CLAIMS: weakref.WeakKeyDictionary[object, dict[str, _Claim]] = weakref.WeakKeyDictionary()


_DURABLE = " durable "  # + chat: a chat's messages waiting for their commit to be durable
_SETTLE = " settle "  # + chat: their saved copies' removals, once the handlers are done
_CONFIRM = " confirm "  # + chat: their receipts, waiting for those removals to be durable


def _commit_pending(keys: object) -> asyncio.Future[None] | None:
    """The store's latest grouped commit, while it is not durable yet (else None)."""
    pending = getattr(keys, "commit_pending", None)
    return pending() if pending is not None else None


async def _durable(keys: object) -> None:
    """Wait until every commit made so far on ``keys`` is durable (raises its failure)."""
    durable = getattr(keys, "durable", None)
    if durable is not None:
        await durable()


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    """Resolve ``target`` when ``source`` is done (a redelivery waits on ``target``)."""

    if source.done():  # the common case (plain handlers): no callback to schedule
        if not target.done():
            target.set_result(None)
        return

    def copy(done: asyncio.Future[Any]) -> None:
        if not target.done():
            target.set_result(None)

    source.add_done_callback(copy)


def _unclaim(claims: dict[str, _Claim], placeholders: dict[str, asyncio.Future[Any]]) -> None:
    """A message that was never emitted (its connection ended, its commit failed) is not
    claimed: a redelivery emits it from the saved copy, or decrypts it again."""
    for buffer_id, placeholder in placeholders.items():
        claim = claims.get(buffer_id)
        if claim is not None and claim[0] is placeholder:
            del claims[buffer_id]
        placeholder.cancel()


def chat_key(node: Node) -> str:
    """What orders stanzas: the chat they belong to (cheap, no validation)."""
    attrs = node.attrs
    return attrs.get("recipient") or attrs.get("from", "").split(":")[0].split("@")[0]


def _buffer_key(enc: Node, sender: JID, chat: JID) -> str:
    """SHA-256 of the ciphertext, its type, the sender and the chat, each followed by a
    zero byte (hashed in one call: the same digest as feeding the parts one by one)."""
    return hashlib.sha256(
        b"\x00".join(
            (
                enc.content_bytes() or b"",
                enc.attrs.get("type", "").encode(),
                str(sender).encode(),
                str(chat).encode(),
                b"",
            )
        )
    ).hexdigest()


# protocol messages between our own devices that are not chat content (whatsmeow
# handleProtocolMessage consumes them; they never reach the chat list)
_INTERNAL_PROTOCOL = frozenset(
    {
        e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
        e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE,
        e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_REQUEST,
        e2e_pb2.ProtocolMessage.INITIAL_SECURITY_NOTIFICATION_SETTING_SYNC,
        e2e_pb2.ProtocolMessage.APP_STATE_FATAL_EXCEPTION_NOTIFICATION,
        e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_MESSAGE,
        e2e_pb2.ProtocolMessage.PEER_DATA_OPERATION_REQUEST_RESPONSE_MESSAGE,
        e2e_pb2.ProtocolMessage.LID_MIGRATION_MAPPING_SYNC,
    }
)


def _inner(message: e2e_pb2.Message) -> e2e_pb2.Message:
    return message.deviceSentMessage.message if message.HasField("deviceSentMessage") else message


def _has_content(message: e2e_pb2.Message) -> bool:
    """Is this chat content (not only a key distribution or a device-to-device signal)?"""
    inner = _inner(message)
    if inner.HasField("protocolMessage") and inner.protocolMessage.type in _INTERNAL_PROTOCOL:
        return False
    for field, _ in message.ListFields():  # a loop, not any(genexpr): once per message
        if field.name not in _NOT_CONTENT:
            return True
    return False


_NOT_CONTENT = frozenset({"senderKeyDistributionMessage", "messageContextInfo"})


def target_key(
    key: MessageKey, target: common_pb2.MessageKey, own_users: frozenset[str]
) -> MessageKey:
    """The key of the message a reaction, edit or revoke (``key``) points at, as *we* see it.

    The writer fills the target key from its own point of view: in a 1:1 chat its
    ``remoteJID`` is our number, and ``fromMe`` says whether the target was the writer's.
    Turned round (as Baileys' ``normaliseKey`` does): the chat is the chat the message
    came in; the target is ours when the writer says it was not theirs (1:1) or names one
    of our users as its participant (group); a group target that is not ours carries its
    author as ``participant``. A target that is ours has no participant, like the key
    ``send_message`` returns. From one of our own devices the key is already ours.
    """
    chat = key.remote_jid
    group = chat.endswith("@" + GROUP_SERVER)
    author: str | None
    if key.from_me:
        from_me = target.fromMe
        author = target.participant or None
    elif target.fromMe:  # the writer's own message
        from_me, author = False, key.participant
    elif group:
        author = target.participant or None
        from_me = author is not None and _user_of(author) in own_users
    else:  # 1:1 and not the writer's: the only other party is us
        from_me, author = True, None
    participant = _non_ad(author) if group and not from_me and author else None
    return MessageKey(chat, from_me, target.ID, participant)


def _user_of(jid: str) -> str:
    try:
        return JID.parse(jid).user
    except InvalidJID:
        return jid


def _non_ad(jid: str) -> str:
    try:
        return str(JID.parse(jid).to_non_ad())
    except InvalidJID:
        return jid


class Receiver:
    def __init__(
        self,
        core: ClientCore,
        devices: DeviceDirectory,
        groups: GroupDirectory,
        sender: Sender,
        prekeys: PreKeyUpkeep,
    ) -> None:
        self.core = core
        self.log = core.logger_for(__name__)
        self.devices = devices
        self.groups = groups
        self.sender = sender
        self.prekeys = prekeys
        self.buffer = EventBuffer(core.auth.keys)
        self.push_names = PushNames(core)
        self.calls = CallDesk(core, sender)
        self.profile = Profile(core, devices)  # pictures, blocklist, privacy (profile.py)
        self._retries: dict[str, int] = {}
        self._settling: set[asyncio.Task[Any]] = set()  # receipts waiting for handlers
        self._last_claims: tuple[object, dict[str, _Claim]] | None = None  # _claims()
        # downloads a history blob (the socket's media layer); None: blobs are only logged
        self.history_blob: HistoryBlobFetcher | None = None
        # app state (wamd.client.appstate), wired by the socket: keys the phone shares
        # (stored before the message is confirmed), and server_sync notifications
        self.on_app_state_keys: Callable[[e2e_pb2.AppStateSyncKeyShare], Awaitable[None]] | None = (
            None
        )
        self.on_server_sync: Callable[[Node], Awaitable[None]] | None = None

    # ------------------------------------------------------------------ helpers

    @property
    def _own(self) -> OwnIds:
        own = self.core.own_ids()
        if own is None:
            raise ProtocolError("a message arrived before login")
        return own

    async def _send(self, node: Node) -> None:
        await self.core.send_quietly(node)

    async def ack(self, node: Node, error: str | None = None) -> None:
        await self._send(stanzas.ack(node, error))

    def source(self, node: Node) -> MessageSource:
        return stanzas.message_source(node, self._own)

    async def _encryption_jid(self, src: MessageSource) -> JID:
        sender = src.sender
        devices = self.devices
        if src.sender_alt is not None:
            alt = src.sender_alt
            if alt.device == 0 and sender.device:
                alt = alt.with_device(sender.device)
            if sender.server == DEFAULT_USER_SERVER and alt.server == HIDDEN_USER_SERVER:
                await devices.learn(sender.to_non_ad(), alt.to_non_ad())
            if sender.server == HIDDEN_USER_SERVER and alt.server == DEFAULT_USER_SERVER:
                await devices.learn(alt.to_non_ad(), sender.to_non_ad())
        return await devices.encryption_jid(sender)

    # ------------------------------------------------------------------ messages

    async def on_message(self, node: Node) -> None:
        """Handle a ``<message>``: decrypt and commit it here, in the chat's turn; what
        follows (emit, confirm) runs once that commit is durable.

        With a store that groups commits (the multi-file one: many messages' writes
        share one fsync) the commit is not durable yet when the next message of the
        chat could be decrypted: the rest goes to the chat's *durable* queue, which
        waits for it, and the receipt to the chat's *settle* queue, which waits for the
        saved copy's removal to be durable too. Both keep the chat's order; every later
        message of a chat whose queue is busy follows it there. Other stores commit
        durably at once and all of it runs here, as before.
        """
        try:
            src = self.source(node)
            message_id = node.require_attr("id")
            timestamp = node.attr_int("t", 0) or 0
        except (ProtocolError, InvalidJID) as exc:
            self.log.warning("unparseable <message>: %s", exc)
            await self.ack(node, NACK_PARSING_ERROR)
            return
        encs = node.get_children("enc")
        if not encs:
            await self.ack(node, None if node.get_child("unavailable") else NACK_UNRECOGNIZED)
            return
        sender = await self._encryption_jid(src)
        keys = self.core.auth.keys
        grouped = getattr(keys, "grouped_transaction", None)
        group = str(src.chat) if src.is_group else None
        decrypted: list[tuple[str, e2e_pb2.Message]] = []
        claims = self._claims()
        claimed: list[tuple[str, asyncio.Future[Any]]] = []  # emitted here before
        failure: Exception | None = None
        for enc in encs:
            buffer_id = _buffer_key(enc, sender, src.chat)
            claim = claims.get(buffer_id)
            if claim is not None:
                # this process emitted it already (a redelivery after a dropped connection,
                # a duplicated stanza): its handlers have it; only the confirmation is owed
                earlier: asyncio.Future[Any] | None = claim[0]
                emitter = claim[1]
                if emitter is not self.core.ev:
                    # through an earlier socket's emitter, whose handlers may not have
                    # reached it yet: the chat's next messages wait, or they would overtake it
                    try:
                        await asyncio.shield(claim[0])
                    except asyncio.CancelledError:
                        task = asyncio.current_task()
                        if not claim[0].cancelled() or (task is not None and task.cancelling()):
                            raise
                        earlier = None  # never emitted after all: from the saved copy
                if earlier is not None:
                    claimed.append((buffer_id, earlier))
                    continue
            buffered = await self.buffer.get(buffer_id)
            if buffered is not None:
                try:
                    decrypted.append((buffer_id, parse_message(buffered.plaintext)))
                except WamdError:
                    await self.buffer.drop([buffer_id])
                continue
            try:
                async with grouped() if grouped is not None else keys.transaction():
                    opened = await open_enc(self.core.signal, enc, sender, group)
                    await self.buffer.put(buffer_id, opened.plaintext, message_id, timestamp)
            except DuplicateMessage:
                self.log.debug("message %s was already handled", message_id)
                continue
            except (SignalError, ProtocolError, CorruptedStore) as exc:
                failure = exc
                break
            decrypted.append((buffer_id, opened.message))
        # claimed from now on (a copy of this stanza handled meanwhile only confirms it),
        # until the emission's handlers are done (the "handled" future replaces these)
        placeholders: dict[str, asyncio.Future[Any]] = {}
        if failure is None:
            loop = asyncio.get_running_loop()
            for buffer_id, _ in decrypted:
                placeholders[buffer_id] = loop.create_future()
                claims[buffer_id] = (placeholders[buffer_id], self.core.ev)
        pending = _commit_pending(keys)

        def finish() -> Awaitable[None]:
            return self._finish_message(
                node, src, message_id, timestamp, decrypted, claimed, placeholders, failure, pending
            )

        chat = chat_key(node)
        attempt = self.core.attempt
        if attempt is None or (pending is None and not attempt.workers.busy(_DURABLE + chat)):
            await finish()
            return
        attempt.workers.submit(
            _DURABLE + chat,
            lambda: guard_store(self.core, attempt, finish()),
            on_drop=lambda: _unclaim(claims, placeholders),
        )

    async def _finish_message(
        self,
        node: Node,
        src: MessageSource,
        message_id: str,
        timestamp: int,
        decrypted: list[tuple[str, e2e_pb2.Message]],
        claimed: list[tuple[str, asyncio.Future[Any]]],
        placeholders: dict[str, asyncio.Future[Any]],
        failure: Exception | None,
        pending: asyncio.Future[None] | None,
    ) -> None:
        claims = self._claims()
        emitted = False
        try:
            if pending is not None:
                await asyncio.shield(pending)  # raises when the commit failed: no ack
            if failure is not None:
                await self._undecryptable(node, src, message_id, timestamp, decrypted, failure)
                return
            handled = await self._deliver(node, src, message_id, timestamp, decrypted)
            emitted = True
        finally:
            if emitted:
                for placeholder in placeholders.values():
                    _chain(handled, placeholder)
            else:
                _unclaim(claims, placeholders)
        buffered_ids = [buffer_id for buffer_id, _ in decrypted]
        for buffer_id in buffered_ids:  # claimed by this emission until confirmed
            claims[buffer_id] = (handled, self.core.ev)
        while len(claims) > CLAIM_MEMORY:
            del claims[next(iter(claims))]
        owed = buffered_ids + [buffer_id for buffer_id, _ in claimed]
        history = src.from_me and any(
            _inner(m).protocolMessage.type == e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
            for _, m in decrypted
            if _inner(m).HasField("protocolMessage")
        )
        keys = self.core.auth.keys

        async def settle(confirm_in: Attempt | None = None) -> None:
            # the application has the message: forget the saved copy, then confirm it once
            # that is durable. Shielded: these futures are shared (a redelivery on the next
            # connection waits for the same emission), and a settle cut short with its
            # connection would otherwise cancel them, and with them every later wait on them
            await asyncio.shield(handled)
            for _, earlier in claimed:
                await asyncio.shield(earlier)
            if owed:
                await self.buffer.drop(owed, grouped=True)
            if confirm_in is None:
                await _durable(keys)
                await confirm()
                return
            # the chat's confirm queue waits for this removal's group (every commit made so
            # far), while this queue goes on with the chat's next removal, which joins the
            # next group instead of waiting for this one's fsync first
            pending = _commit_pending(keys)
            confirm_in.workers.submit(
                _CONFIRM + chat, lambda: guard_store(self.core, confirm_in, confirm(pending))
            )

        async def confirm(pending: asyncio.Future[None] | None = None) -> None:
            if pending is not None:
                await asyncio.shield(pending)  # raises when the commit failed: no receipt
            await self._receipt(node, src)
            for buffer_id in owed:
                claims.pop(buffer_id, None)
            if history:
                # whatsmeow handleProtocolMessage: the phone is told the history arrived
                own = self._own.pn
                attrs = {"id": message_id, "type": "hist_sync", "to": str(own.to_non_ad())}
                await self._send(Node("receipt", attrs))

        chat = chat_key(node)
        attempt = self.core.attempt
        handlers_done = handled.done() and all(earlier.done() for _, earlier in claimed)
        if handlers_done and attempt is not None and getattr(keys, "groups_commits", False):
            # the settle queue: the removal's commit joins the next group, and the durable
            # queue goes on with the chat's next message meanwhile
            attempt.workers.submit(
                _SETTLE + chat, lambda: guard_store(self.core, attempt, settle(attempt))
            )
        elif handlers_done:
            await settle()
        else:  # coroutine handlers still at work: the chat goes on, the receipt waits
            task = self.core.spawn(settle())  # part of this connection: cut short with it
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _undecryptable(
        self,
        node: Node,
        src: MessageSource,
        message_id: str,
        timestamp: int,
        decrypted: list[tuple[str, e2e_pb2.Message]],
        exc: Exception,
    ) -> None:
        self.log.warning("cannot decrypt message %s from %s: %s", message_id, src.sender, exc)
        if isinstance(exc, CorruptedStore):  # set aside; the retry rebuilds it
            await set_aside_corrupted(self.core, exc)
        if decrypted:
            # what did decrypt (a key distribution) took effect; the resend that
            # the retry asks for comes as a new stanza, so these copies would linger
            await self.buffer.drop(b for b, _ in decrypted)
        await self._send_retry(node, src, message_id)
        await self.ack(node)
        self._emit_messages(
            [
                WAMessage(
                    key=self._key(src, message_id),
                    message=None,
                    message_timestamp=timestamp,
                    push_name=node.attrs.get("notify"),
                    sender=str(src.sender),
                    stub_type="CIPHERTEXT",
                    offline="offline" in node.attrs,
                )
            ],
            node,
        )

    async def _deliver(
        self,
        node: Node,
        src: MessageSource,
        message_id: str,
        timestamp: int,
        decrypted: list[tuple[str, e2e_pb2.Message]],
    ) -> asyncio.Future[Any]:
        """Emit what decrypted; the future is done when every handler has run."""
        self._retries.pop(message_id, None)
        if decrypted:
            self.push_names.seen(src.sender, node.attrs.get("notify"), from_me=src.from_me)
        out = []
        for _, message in decrypted:
            if not _has_content(message):
                inner = _inner(message)
                if (
                    src.from_me
                    and inner.protocolMessage.type
                    == e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION
                ):
                    await self._history(inner.protocolMessage.historySyncNotification, message_id)
                elif (
                    src.from_me
                    and inner.protocolMessage.type
                    == e2e_pb2.ProtocolMessage.APP_STATE_SYNC_KEY_SHARE
                    and self.on_app_state_keys is not None
                ):
                    await self.on_app_state_keys(inner.protocolMessage.appStateSyncKeyShare)
                continue
            msg = WAMessage(
                key=self._key(src, message_id),
                message=message,
                message_timestamp=timestamp,
                push_name=node.attrs.get("notify"),
                sender=str(src.sender),
                category=node.attrs.get("category"),
                edit=node.attrs.get("edit"),
                offline="offline" in node.attrs,
            )
            out.append(msg)
            await self.sender.polls.received(msg)  # a poll's secret kept; a vote read
            self._protocol_events(msg)
        return self._emit_messages(out, node)

    def _claims(self) -> dict[str, _Claim]:
        """Buffered messages emitted by this process and not yet confirmed, for this store
        (shared by every socket on it, as a reconnect makes a new one)."""
        keys = self.core.auth.keys
        last = self._last_claims
        if last is not None and last[0] is keys:
            return last[1]  # the same store as the last stanza's (no weak-key lookup)
        claims = _CLAIMS.get(keys)
        if claims is None:
            claims = _CLAIMS[keys] = {}
        self._last_claims = (keys, claims)
        return claims

    async def _history(
        self, notification: e2e_pb2.HistorySyncNotification, message_id: str
    ) -> None:
        """Emit an inline history chunk as ``messaging-history.set`` (see ``history.py``)."""
        try:
            history = decode_inline_history(notification)
        except InvalidMessage as exc:
            self.log.warning("history sync %s is unreadable: %s", message_id, exc)
            return
        if history is None:
            fetch = self.history_blob
            if fetch is None:
                self.log.info("history sync %s is a blob and no media layer is set", message_id)
                return
            # downloaded beside the chat (whatsmeow's history loop); idle() waits for it
            task = self.core.spawn(self._blob_history(fetch, notification, message_id))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)
            return
        await self._emit_history(history)

    async def _blob_history(
        self,
        fetch: HistoryBlobFetcher,
        notification: e2e_pb2.HistorySyncNotification,
        message_id: str,
    ) -> None:
        data = await fetch(notification, message_id)
        if data is None:
            return  # logged and reported to the phone by the fetcher
        try:
            history = decode_history(data)
        except InvalidMessage as exc:
            self.log.warning("history sync %s is unreadable: %s", message_id, exc)
            return
        await self._emit_history(history)

    async def _emit_history(self, history: HistorySet) -> None:
        for pn, lid in history.lid_mappings.items():
            try:
                await self.devices.learn(JID.parse(pn).to_non_ad(), JID.parse(lid).to_non_ad())
            except InvalidJID:
                self.log.debug("history sync has a malformed lid mapping")
        await self.sender.tokens.from_history(history.tc_tokens)
        self.sender.tokens.learn_salt(history.nct_salt)  # the cstoken salt (privacy_tokens.py)
        self.core.ev.emit("messaging-history.set", history)

    def _key(self, src: MessageSource, message_id: str) -> MessageKey:
        participant = str(src.sender.to_non_ad()) if src.is_group else None
        return MessageKey(str(src.chat), src.from_me, message_id, participant)

    def _emit_messages(self, messages: list[WAMessage], node: Node) -> asyncio.Future[Any]:
        """Emit ``messages.upsert``; the future is done when every handler has run."""
        kind: Literal["notify", "append"] = "append" if "offline" in node.attrs else "notify"
        if messages:
            return self.core.ev.emit_tracked(
                "messages.upsert", MessagesUpsert(tuple(messages), kind)
            )
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def settle_pending(self) -> None:
        """Wait until every handled message has been confirmed to the server."""
        while self._settling:
            await asyncio.gather(*list(self._settling), return_exceptions=True)

    def _protocol_events(self, msg: WAMessage) -> None:
        content = msg.content
        if content is None:
            return
        ev = self.core.ev
        if content.HasField("reactionMessage"):
            reaction = content.reactionMessage
            target = reaction.key
            ev.emit(
                "messages.reaction",
                MessageReaction(
                    key=target_key(msg.key, target, self._own.users),
                    reaction_key=msg.key,
                    text=reaction.text,
                    timestamp_ms=reaction.senderTimestampMS,
                ),
            )
        edited = content
        if content.HasField("editedMessage") and content.editedMessage.HasField("message"):
            edited = content.editedMessage.message
        if edited.HasField("protocolMessage"):
            proto = edited.protocolMessage
            key = target_key(msg.key, proto.key, self._own.users)
            if proto.type == e2e_pb2.ProtocolMessage.REVOKE:
                ev.emit("messages.update", [MessageUpdate(key, "revoked")])
            elif proto.type == e2e_pb2.ProtocolMessage.MESSAGE_EDIT:
                ev.emit("messages.update", [MessageUpdate(key, "edited", proto.editedMessage)])

    async def _receipt(self, node: Node, src: MessageSource) -> None:
        # whatsmeow sendMessageReceipt, Baileys handleMessage: a peer message between our
        # own devices (category="peer") is confirmed with type="peer_msg"
        if src.from_me:
            kind = "peer_msg" if node.attrs.get("category") == "peer" else "sender"
        else:
            kind = "" if self.core.marked_online else "inactive"
        await self._send(stanzas.message_receipt(node, kind))

    async def _send_retry(self, node: Node, src: MessageSource, message_id: str) -> None:
        count = self._retries.get(message_id, 0) + 1
        enc = node.get_children("enc")
        if count == 1 and len(enc) == 1:
            try:
                in_message = enc[0].attr_int("count", 0) or 0
            except ProtocolError:
                in_message = 0
            if in_message:  # a resend after we restarted: continue its count
                count = in_message + 1
        self._retries.pop(message_id, None)
        self._retries[message_id] = count  # newest last
        while len(self._retries) > RETRY_MEMORY:
            del self._retries[next(iter(self._retries))]
        if count >= MAX_RETRY_RECEIPTS:
            self.log.warning("no more retry receipts for %s (%d sent)", message_id, count - 1)
            return
        creds = self.core.auth.creds
        keys = None
        if count > 1:
            ((key_id, prekey),) = await self.core.signal.new_prekeys(creds.next_pre_key_id, 1)
            self.core.change_creds({"next_pre_key_id": key_id + 1})
            keys = stanzas.RetryKeys(
                creds.signed_identity_key.public,
                key_id,
                prekey.public,
                creds.signed_pre_key,
                creds.account,
            )
        await self._send(stanzas.retry_receipt(node, count, creds.registration_id, keys))

    # ------------------------------------------------------------------ receipts

    async def on_receipt(self, node: Node) -> None:
        kind = node.attrs.get("type", "")
        try:
            frm = node.jid_attr("from")
            participant = node.jid_attr("participant")
            message_id = node.require_attr("id")
        except (ProtocolError, InvalidJID) as exc:
            self.log.warning("unparseable <receipt>: %s", exc)
            await self.ack(node, NACK_PARSING_ERROR)
            return
        if frm is None:
            await self.ack(node, NACK_PARSING_ERROR)
            return
        if kind == "retry":
            try:
                await self.sender.handle_retry(node)
            except WamdError as exc:
                self.log.warning("could not answer a retry receipt for %s: %s", message_id, exc)
            await self.ack(node)
            return
        ids = stanzas.receipt_ids(node)
        is_group = frm.server == GROUP_SERVER
        reader = participant if is_group and participant is not None else frm
        from_own_device = reader.user in self._own.users
        chat = frm.to_non_ad()
        recipient = node.jid_attr("recipient")
        if from_own_device and recipient is not None:
            chat = recipient.to_non_ad()
        timestamp = node.attr_int("t", 0) or int(time.time())
        receipt_type: Any = kind if kind in _RECEIPT_TYPES else "other"
        if kind == "":
            receipt_type = "delivery"
        receipts = []
        updates = []
        status = _RECEIPT_STATUS.get(kind)
        for mid in ids:
            key = MessageKey(str(chat), True, mid, None)
            receipts.append(
                MessageReceipt(key, str(reader.to_non_ad()), receipt_type, timestamp, tuple(ids))
            )
            if status is not None and not from_own_device:
                updates.append(MessageUpdate(key, status))
        self.core.ev.emit("message-receipt.update", receipts)
        if updates:
            self.core.ev.emit("messages.update", updates)
        await self.ack(node)

    # ------------------------------------------------------------------ notifications

    async def on_notification(self, node: Node) -> None:
        kind = node.attrs.get("type", "")
        await self.ack(node)
        try:
            if kind == "devices":
                frm = node.jid_attr("from")
                if frm is not None:
                    self.devices.invalidate(frm)
            elif kind == "encrypt":
                count = node.get_child("count")
                if count is not None and node.attrs.get("from") == DEFAULT_USER_SERVER:
                    self.core.spawn(self.prekeys.upkeep())
                elif node.get_child("identity") is not None:
                    frm = node.jid_attr("from")
                    if frm is not None:
                        self.devices.invalidate(frm)
            elif kind == "w:gp2":
                await self._group_notification(node)
            elif kind == "account_sync":
                await self.profile.on_account_sync(node)  # blocklist changes
            elif kind == "privacy_token":
                await self.sender.tokens.on_notification(node)  # wamd/client/privacy_tokens.py
            elif kind == "server_sync" and self.on_server_sync is not None:
                await self.on_server_sync(node)  # starts a fetch in the background
        except (ProtocolError, InvalidJID) as exc:
            self.log.warning("malformed <notification type=%r>: %s", kind, exc)

    async def _group_notification(self, node: Node) -> None:
        await self.groups.admin.on_notification(node)  # wamd/client/group_admin.py

    # ------------------------------------------------------------------ calls

    async def on_call(self, node: Node) -> None:
        """Calls are not answered (no media here); they are acked and reported, and with
        ``reject_calls`` an offer is rejected."""
        await self.ack(node)
        children = node.get_children()
        if len(children) != 1:
            return
        signal = children[0]
        try:
            timestamp = node.attr_int("t", 0) or 0
        except ProtocolError:
            timestamp = 0
        event = CallEvent(
            chat_id=node.attrs.get("from", ""),
            call_id=signal.attrs.get("call-id", ""),
            status=signal.tag,
            creator=signal.attrs.get("call-creator"),
            timestamp=timestamp,
            group_jid=signal.attrs.get("group-jid"),
            is_video=signal.get_child("video") is not None,
        )
        self.core.ev.emit("call", [event])
        await self.calls.on_call(event)  # reject_calls=True declines it (wamd/client/calls.py)

    # ------------------------------------------------------------------ presence

    async def on_presence(self, node: Node) -> None:
        frm = node.attrs.get("from")
        if not frm:
            return
        kind = node.attrs.get("type", "available")
        last = node.attr_int("last", None) if node.attrs.get("last", "").isdigit() else None
        state = "unavailable" if kind == "unavailable" else "available"
        self.core.ev.emit("presence.update", PresenceUpdate(frm, {frm: state}, last))

    async def on_chatstate(self, node: Node) -> None:
        frm = node.attrs.get("from")
        if not frm:
            return
        who = node.attrs.get("participant") or frm
        states = node.get_children()
        if not states:
            return
        state = states[0].tag
        if state == "composing" and states[0].attrs.get("media") == "audio":
            state = "recording"
        self.core.ev.emit("presence.update", PresenceUpdate(frm, {who: state}))
