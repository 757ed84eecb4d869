"""Message-level facts shared by the client and the sim's phones (no I/O).

- Padding: a v2 ``enc`` plaintext is the ``Message`` protobuf followed by ``n`` bytes
  of value ``n`` (1..15, random); the receiver checks and strips it (whatsmeow
  ``message.go`` padMessage/unpadMessage; Baileys pads the same way).
- Message ids: ``3EB0`` + the first 9 bytes, upper-case hex, of SHA-256 over the unix
  time (8 bytes), the own user + ``@c.us`` and 16 random bytes (whatsmeow
  ``send.go`` GenerateMessageID, what WhatsApp Web does today).
- Participant hash (``phash``): ``2:`` + unpadded base64 of the first 6 bytes of
  SHA-256 over the sorted device JIDs in their ``user.agent:device@server`` form
  (whatsmeow ``participantListHashV2``). Baileys hashes the plain JID strings instead;
  we follow whatsmeow, whose form is the one WhatsApp's server answers with.
- ``message_type``: the ``type`` attribute of a ``message`` stanza.
- ``device_sent`` / ``with_sender_key``: the two wrappings a sent message gets (for our
  own devices; with a group's sender key distribution).
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterable

from wamd.binary.jid import JID
from wamd.binary.node import Node
from wamd.errors import InvalidMessage
from wamd.media.info import enc_media_type  # the one home of mediatype
from wamd.proto import e2e_pb2

__all__ = [
    "MESSAGE_ID_PREFIX",
    "device_sent",
    "is_poll_creation",
    "message_type",
    "new_message_id",
    "pad",
    "participant_hash",
    "poll_meta",
    "unpad",
    "unwrap",
    "with_sender_key",
]

MESSAGE_ID_PREFIX = "3EB0"  # ids of messages sent from WhatsApp Web (and us)
MAX_PADDING = 15  # padding bytes: 1..15, each equal to the count


def pad(plaintext: bytes, *, random_byte: int | None = None) -> bytes:
    """Append WhatsApp's random padding to a serialised ``Message``."""
    count = (os.urandom(1)[0] if random_byte is None else random_byte) & 0x0F
    if count == 0:
        count = MAX_PADDING
    return plaintext + bytes((count,)) * count


def unpad(data: bytes) -> bytes:
    """Strip and check the padding; ``InvalidMessage`` when it is not well formed."""
    if not data:
        raise InvalidMessage("decrypted message is empty (no padding)")
    count = data[-1]
    if count == 0 or count > len(data) or data[-count:] != bytes((count,)) * count:
        raise InvalidMessage("decrypted message has malformed padding")
    return data[:-count]


def new_message_id(own_user: str | None = None, *, now: float | None = None) -> str:
    """A fresh message id in WhatsApp Web's current format (``3EB0`` + 18 hex digits)."""
    data = int(time.time() if now is None else now).to_bytes(8, "big")
    if own_user:
        data += own_user.encode() + b"@c.us"
    data += os.urandom(16)
    return MESSAGE_ID_PREFIX + hashlib.sha256(data).digest()[:9].hex().upper()


def _ad_string(jid: JID) -> str:
    return f"{jid.user}.{jid.agent}:{jid.device}@{jid.server}"


def participant_hash(devices: Iterable[JID]) -> str:
    """The ``phash`` of a list of device JIDs (order does not matter)."""
    joined = "".join(sorted(_ad_string(j) for j in devices))
    digest = hashlib.sha256(joined.encode()).digest()[:6]
    return "2:" + base64.b64encode(digest).decode().rstrip("=")


def device_sent(chat: JID | str, message: e2e_pb2.Message) -> e2e_pb2.Message:
    """``message`` as our own other devices get it: a ``deviceSentMessage`` naming the chat."""
    return e2e_pb2.Message(
        deviceSentMessage=e2e_pb2.DeviceSentMessage(destinationJID=str(chat), message=message)
    )


def with_sender_key(message: e2e_pb2.Message, group: str, distribution: bytes) -> e2e_pb2.Message:
    """A copy of ``message`` carrying our sender key for ``group`` (for a pairwise ``enc``)."""
    out = e2e_pb2.Message()
    out.CopyFrom(message)
    out.senderKeyDistributionMessage.groupID = group
    out.senderKeyDistributionMessage.axolotlSenderKeyDistributionMessage = distribution
    return out


def unwrap(message: e2e_pb2.Message) -> e2e_pb2.Message:
    """The content inside device-sent, ephemeral, view-once and similar wrappers."""
    for _ in range(4):  # wrappers nest a few levels at most
        if message.HasField("deviceSentMessage") and message.deviceSentMessage.HasField("message"):
            message = message.deviceSentMessage.message
        elif message.HasField("ephemeralMessage"):
            message = message.ephemeralMessage.message
        elif message.HasField("viewOnceMessage"):
            message = message.viewOnceMessage.message
        elif message.HasField("viewOnceMessageV2"):
            message = message.viewOnceMessageV2.message
        elif message.HasField("documentWithCaptionMessage"):
            message = message.documentWithCaptionMessage.message
        else:
            break
    return message


def message_type(message: e2e_pb2.Message) -> str:
    """The stanza ``type``: ``reaction``, ``poll``, ``media`` or ``text`` (whatsmeow
    getTypeFromMessage, Baileys getMessageType). A location is ``text`` in both: it has no
    media ``mediatype``."""
    inner = unwrap(message)
    if inner.HasField("reactionMessage"):
        return "reaction"
    if is_poll_creation(inner) or inner.HasField("pollUpdateMessage"):
        return "poll"
    if enc_media_type(inner) is not None or inner.HasField("ptvMessage"):
        return "media"
    return "text"


def is_poll_creation(message: e2e_pb2.Message) -> bool:
    return (
        message.HasField("pollCreationMessage")
        or message.HasField("pollCreationMessageV2")
        or message.HasField("pollCreationMessageV3")
    )


def poll_meta(message: e2e_pb2.Message) -> Node | None:
    """``<meta polltype="creation"|"vote"/>``, the child a poll stanza carries after its
    ``enc`` nodes (whatsmeow getMessageContent; Baileys relayMessage)."""
    inner = unwrap(message)
    if inner.HasField("pollUpdateMessage"):
        return Node("meta", {"polltype": "vote"})
    if is_poll_creation(inner):
        return Node("meta", {"polltype": "creation"})
    return None
