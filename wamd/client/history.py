"""History sync: the recent history the phone sends a newly linked companion.

The phone sends a ``protocolMessage`` HISTORY_SYNC_NOTIFICATION (whatsmeow ``message.go``
handleHistorySyncNotificationLoop / DownloadHistorySync). Its ``HistorySync`` is either
inline — ``initialHistBootstrapInlinePayload``, zlib-compressed, which current phones
use for the first chunk — or a media blob to download (``directPath`` with a media key,
"WhatsApp History Keys"), which ``wamd/client/media.py`` fetches. Both are decoded here
(``decode_history``) and emitted as ``messaging-history.set``.

The payload is bounded: at most ``MAX_HISTORY_BYTES`` once inflated (a zlib bomb is
refused), and a malformed one raises ``InvalidMessage`` without touching anything else.
"""

from __future__ import annotations

import logging
import zlib

from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.errors import InvalidMessage
from wamd.messaging.types import HistoryChat, HistorySet, MessageKey, WAMessage
from wamd.proto import e2e_pb2, history_sync_pb2

__all__ = ["MAX_HISTORY_BYTES", "decode_history", "decode_inline_history"]

log = logging.getLogger(__name__)

MAX_HISTORY_BYTES = 64 << 20  # a history chunk larger than this once inflated is refused


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_HISTORY_BYTES + 1)
    except zlib.error:
        raise InvalidMessage("the inline history is not valid zlib data") from None
    if len(out) > MAX_HISTORY_BYTES or inflater.unconsumed_tail:
        raise InvalidMessage(f"the inline history inflates past {MAX_HISTORY_BYTES} bytes")
    return out


def decode_inline_history(
    notification: e2e_pb2.HistorySyncNotification,
) -> HistorySet | None:
    """The history carried inline by ``notification``; ``None`` when it must be downloaded."""
    if not notification.HasField("initialHistBootstrapInlinePayload"):
        return None
    return decode_history(notification.initialHistBootstrapInlinePayload)


def decode_history(compressed: bytes) -> HistorySet:
    """A zlib-compressed ``HistorySync`` (inline or downloaded), bounded as above."""
    sync = history_sync_pb2.HistorySync()
    try:
        sync.ParseFromString(_inflate(compressed))
    except ProtobufDecodeError:
        raise InvalidMessage("the inline history is not a HistorySync") from None
    chats = []
    messages = []
    for conversation in sync.conversations:
        chats.append(
            HistoryChat(
                id=conversation.ID,
                name=conversation.name or None,
                unread_count=conversation.unreadCount,
                last_message_timestamp=conversation.lastMsgTimestamp,
                archived=conversation.archived,
            )
        )
        for item in conversation.messages:
            info = item.message
            key = info.key
            participant = key.participant or info.participant or None
            messages.append(
                WAMessage(
                    key=MessageKey(
                        key.remoteJID or conversation.ID, key.fromMe, key.ID, participant
                    ),
                    message=info.message if info.HasField("message") else None,
                    message_timestamp=info.messageTimestamp,
                    push_name=info.pushName or None,
                    sender=participant,
                    offline=True,
                )
            )
    return HistorySet(
        chats=tuple(chats),
        contacts={p.ID: p.pushname for p in sync.pushnames if p.ID},
        messages=tuple(messages),
        lid_mappings={
            m.pnJID: m.lidJID for m in sync.phoneNumberToLidMappings if m.pnJID and m.lidJID
        },
        sync_type=history_sync_pb2.HistorySync.HistorySyncType.Name(sync.syncType),
        progress=sync.progress if sync.HasField("progress") else None,
        is_latest=sync.HasField("progress") and sync.progress >= 100,
        tc_tokens={
            c.ID: (c.tcToken, c.tcTokenTimestamp)
            for c in sync.conversations
            if c.ID and c.tcToken and c.tcTokenTimestamp
        },
        nct_salt=sync.nctSalt or None,
    )
