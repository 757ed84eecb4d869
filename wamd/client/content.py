"""Turning what the application asks to send into a ``Message`` protobuf.

The content forms are Baileys' (``sock.sendMessage(jid, {text})`` and friends), as dicts:

- ``{"text": "hi"}`` — a plain text; with ``quoted=`` or ``mentions=`` (or a
  ``"mentions"`` key) it becomes an ``extendedTextMessage`` with a ``contextInfo``;
- ``{"react": {"key": MessageKey, "text": "👍"}}`` — a reaction (empty text removes it);
- ``{"text": "fixed", "edit": MessageKey}`` — an edit of a message we sent
  (``editedMessage`` → ``protocolMessage`` MESSAGE_EDIT, whatsmeow ``BuildEdit``);
- ``{"delete": MessageKey}`` — delete for everyone (``protocolMessage`` REVOKE,
  whatsmeow ``BuildRevoke``);
- ``{"disappearing_messages_in_chat": seconds}`` — the chat's ephemeral timer;
- ``{"poll": {"name": ..., "options": [...], "selectable": n}}`` — a poll (``selectable``
  options may be chosen, 0 = any number; a fresh message secret, ``wamd.client.polls``);
- ``{"vote": {"poll": WAMessage | MessageKey, "options": [...]}}`` — our vote on a poll;
- ``{"location": {"degrees_latitude": ..., "degrees_longitude": ..., "name", "address",
  "url", "comment"}}`` — a location (a ``text`` stanza in both references, no mediatype);
- ``{"contacts": [vcard, ...], "display_name": ...}`` — contact cards (vCard strings, or
  ``{"vcard", "display_name"}``): one is a ``contactMessage`` (``mediatype="vcard"``),
  several a ``contactsArrayMessage`` (``contact_array``), as Baileys builds them;
- a ready ``e2e_pb2.Message`` is sent as it is.

``AnyMessageContent`` is the union of these forms as ``TypedDict``s, which is what
``send_message`` is annotated with: a type checker refuses a misspelt key or a value of
the wrong type. At run time an unknown key is still a ``ContentError``. A message key may
be a ``MessageKey`` or a dict with its fields (``KeyDict``).

The stanza's ``edit`` attribute follows whatsmeow ``getEditAttribute``: ``1`` message
edit, ``7`` sender revoke, ``8`` admin revoke (a revoke of someone else's message in a
group); a removed reaction is also ``7``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict, cast

from wamd.binary.jid import JID, InvalidJID
from wamd.client.polls import build_poll
from wamd.errors import ContentError
from wamd.messaging.polls import poll_creation
from wamd.messaging.types import MessageKey, WAMessage
from wamd.proto import common_pb2, e2e_pb2

__all__ = [
    "AnyMessageContent",
    "AudioContent",
    "Card",
    "ContactsContent",
    "ContentError",
    "DeleteContent",
    "DisappearingContent",
    "DocumentContent",
    "EditContent",
    "ImageContent",
    "KeyDict",
    "Location",
    "LocationContent",
    "Poll",
    "PollContent",
    "ReactContent",
    "Reaction",
    "StickerContent",
    "TextContent",
    "VideoContent",
    "Vote",
    "VoteContent",
    "build_message",
    "context_info",
    "edit_attribute",
]

EDIT_MESSAGE = "1"  # <message edit="1">: an edited message
EDIT_SENDER_REVOKE = "7"  # delete for everyone by its sender (or a removed reaction)
EDIT_ADMIN_REVOKE = "8"  # a group admin deletes someone else's message

_KNOWN_KEYS = {
    "text",
    "react",
    "edit",
    "delete",
    "mentions",
    "disappearing_messages_in_chat",
    "poll",
    "vote",
    "location",
    "contacts",
    "display_name",
}
_MEDIA_KEYS = {"image", "video", "audio", "document", "sticker"}  # wamd/client/media.py


class KeyDict(TypedDict):
    """A message key as a dict (``MessageKey``'s fields)."""

    remote_jid: str
    id: str
    from_me: NotRequired[bool]
    participant: NotRequired[str | None]


class TextContent(TypedDict):
    """``{"text": "hi"}``, optionally with ``mentions`` (JIDs)."""

    text: str
    mentions: NotRequired[Sequence[str]]


class EditContent(TypedDict):
    """``{"text": "fixed", "edit": key}``: the new text of a message we sent."""

    text: str
    edit: MessageKey | KeyDict
    mentions: NotRequired[Sequence[str]]


class Reaction(TypedDict):
    """The reaction of a ``ReactContent``: an emoji on ``key`` (empty ``text`` removes it)."""

    key: MessageKey | KeyDict
    text: NotRequired[str]


class ReactContent(TypedDict):
    """``{"react": {"key": key, "text": "👍"}}``."""

    react: Reaction


class DeleteContent(TypedDict):
    """``{"delete": key}``: delete a message for everyone."""

    delete: MessageKey | KeyDict


class DisappearingContent(TypedDict):
    """``{"disappearing_messages_in_chat": seconds}``: the chat's timer (0 turns it off)."""

    disappearing_messages_in_chat: int


class ImageContent(TypedDict):
    """``{"image": src, "caption": ...}``; ``src`` is bytes, a path, a binary file or an
    async iterable of bytes (so for every media kind below). Dimensions and a JPEG
    thumbnail are filled in when Pillow is installed, the mimetype is guessed."""

    image: Any
    caption: NotRequired[str]
    mimetype: NotRequired[str]
    width: NotRequired[int]
    height: NotRequired[int]
    jpeg_thumbnail: NotRequired[bytes]
    mentions: NotRequired[Sequence[str]]


class VideoContent(TypedDict):
    """``{"video": src}``; ``gif_playback=True`` shows it as a GIF."""

    video: Any
    caption: NotRequired[str]
    mimetype: NotRequired[str]
    gif_playback: NotRequired[bool]
    seconds: NotRequired[int]
    width: NotRequired[int]
    height: NotRequired[int]
    jpeg_thumbnail: NotRequired[bytes]
    mentions: NotRequired[Sequence[str]]


class AudioContent(TypedDict):
    """``{"audio": src, "ptt": True}`` is a voice note (``seconds``, ``waveform``: up to 64
    bytes, each 0-100)."""

    audio: Any
    ptt: NotRequired[bool]
    seconds: NotRequired[int]
    waveform: NotRequired[bytes]
    mimetype: NotRequired[str]


class DocumentContent(TypedDict):
    """``{"document": src, "file_name": "invoice.pdf", "mimetype": "application/pdf"}``."""

    document: Any
    file_name: NotRequired[str]
    mimetype: NotRequired[str]
    caption: NotRequired[str]
    title: NotRequired[str]
    page_count: NotRequired[int]
    jpeg_thumbnail: NotRequired[bytes]
    mentions: NotRequired[Sequence[str]]


class StickerContent(TypedDict):
    """``{"sticker": webp}``."""

    sticker: Any
    mimetype: NotRequired[str]
    width: NotRequired[int]
    height: NotRequired[int]
    is_animated: NotRequired[bool]


class Poll(TypedDict):
    """The poll of a ``PollContent``: its question and options."""

    name: str
    options: Sequence[str]
    selectable: NotRequired[int]  # how many may be chosen (default 1; 0 = any number)


class PollContent(TypedDict):
    """``{"poll": {"name": "Lunch?", "options": ["pizza", "salad"], "selectable": 1}}``."""

    poll: Poll


class Vote(TypedDict):
    """The vote of a ``VoteContent``: the poll (a message or its key) and the options."""

    poll: WAMessage | MessageKey | KeyDict
    options: Sequence[str]


class VoteContent(TypedDict):
    """``{"vote": {"poll": poll_message, "options": ["pizza"]}}``: our vote."""

    vote: Vote


class Location(TypedDict):
    """A ``LocationContent``'s place (Baileys' ``LocationMessage`` fields, snake_case)."""

    degrees_latitude: float
    degrees_longitude: float
    name: NotRequired[str]
    address: NotRequired[str]
    url: NotRequired[str]
    comment: NotRequired[str]


class LocationContent(TypedDict):
    """``{"location": {"degrees_latitude": 52.37, "degrees_longitude": 4.9}}``."""

    location: Location


class Card(TypedDict):
    """One contact card: its vCard and the name shown."""

    vcard: str
    display_name: NotRequired[str]


class ContactsContent(TypedDict):
    """``{"contacts": [vcard, ...]}``: contact cards (``display_name`` names several)."""

    contacts: Sequence[str | Card]
    display_name: NotRequired[str]


AnyMessageContent = (
    TextContent
    | EditContent
    | ReactContent
    | DeleteContent
    | DisappearingContent
    | ImageContent
    | VideoContent
    | AudioContent
    | DocumentContent
    | StickerContent
    | PollContent
    | VoteContent
    | LocationContent
    | ContactsContent
)
"""What ``send_message`` takes as a dict (besides a ready ``e2e_pb2.Message``)."""


def _key_proto(key: MessageKey | KeyDict | Mapping[str, Any]) -> common_pb2.MessageKey:
    if isinstance(key, MessageKey):
        return key.to_proto()
    if isinstance(key, Mapping):
        try:
            return MessageKey(
                str(key["remote_jid"]),
                bool(key.get("from_me", False)),
                str(key["id"]),
                key.get("participant"),
            ).to_proto()
        except KeyError as exc:
            raise ContentError(f"a message key needs {exc.args[0]!r}") from None
    raise ContentError(f"expected a MessageKey, got {type(key).__name__}")


def context_info(quoted: WAMessage | None, mentions: Sequence[str]) -> e2e_pb2.ContextInfo | None:
    """The ``contextInfo`` of a reply and/or mentions (``None`` for neither)."""
    return _context(quoted, mentions)


def _context(quoted: WAMessage | None, mentions: Sequence[str]) -> e2e_pb2.ContextInfo | None:
    if quoted is None and not mentions:
        return None
    info = e2e_pb2.ContextInfo()
    if quoted is not None:
        info.stanzaID = quoted.key.id
        sender = quoted.key.participant or (
            quoted.sender if quoted.key.from_me else quoted.key.remote_jid
        )
        if sender:
            try:
                info.participant = str(JID.parse(sender).to_non_ad())
            except InvalidJID:
                info.participant = sender
        if quoted.message is not None:
            info.quotedMessage.CopyFrom(quoted.content or quoted.message)
    info.mentionedJID.extend(mentions)
    return info


def build_message(
    content: AnyMessageContent | Mapping[str, Any] | e2e_pb2.Message,
    *,
    quoted: WAMessage | None = None,
    mentions: Sequence[str] = (),
    now_ms: int | None = None,
) -> e2e_pb2.Message:
    """The ``Message`` for ``content`` (see the module docstring); ``ContentError`` if unusable."""
    if isinstance(content, e2e_pb2.Message):
        return content
    if not isinstance(content, Mapping):
        raise ContentError(f"content must be a dict or a Message, not {type(content).__name__}")
    # checked at run time from here on (a caller may pass any Mapping)
    fields = cast("Mapping[str, Any]", content)
    unknown = set(fields) - _KNOWN_KEYS
    media = unknown & _MEDIA_KEYS
    if media:
        raise ContentError(
            f"{', '.join(sorted(media))} content is uploaded first: send it with "
            "WASocket.send_message"
        )
    if unknown:
        raise ContentError(f"unknown content keys: {', '.join(sorted(unknown))}")
    stamp = int(time.time() * 1000) if now_ms is None else now_ms
    mentions = [*mentions, *fields.get("mentions", ())]
    if "react" in fields:
        react = fields["react"]
        if not isinstance(react, Mapping) or "key" not in react:
            raise ContentError('a reaction is {"react": {"key": MessageKey, "text": emoji}}')
        return e2e_pb2.Message(
            reactionMessage=e2e_pb2.ReactionMessage(
                key=_key_proto(react["key"]),
                text=str(react.get("text", "")),
                senderTimestampMS=stamp,
            )
        )
    if "delete" in fields:
        return e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                key=_key_proto(fields["delete"]), type=e2e_pb2.ProtocolMessage.REVOKE
            )
        )
    if "disappearing_messages_in_chat" in fields:
        seconds = fields["disappearing_messages_in_chat"]
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ContentError("disappearing_messages_in_chat is a number of seconds (0 = off)")
        return e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                type=e2e_pb2.ProtocolMessage.EPHEMERAL_SETTING, ephemeralExpiration=seconds
            )
        )
    if "vote" in fields:
        raise ContentError("a vote is built by send_message, which knows the poll's secret")
    if "poll" in fields:
        spec = fields["poll"]
        if not isinstance(spec, Mapping):
            raise ContentError('a poll is {"poll": {"name": ..., "options": [...]}}')
        name, options, selectable = build_poll(spec)
        return poll_creation(name, options, selectable)
    if "location" in fields:
        return e2e_pb2.Message(locationMessage=_location(fields["location"]))
    if "contacts" in fields:
        return _contacts(fields["contacts"], fields.get("display_name"))
    text = fields.get("text")
    if not isinstance(text, str):
        raise ContentError('nothing to send: give {"text": ...}, "react", "edit" or "delete"')
    context = _context(quoted, mentions)
    if context is None:
        body = e2e_pb2.Message(conversation=text)
    else:
        body = e2e_pb2.Message(
            extendedTextMessage=e2e_pb2.ExtendedTextMessage(text=text, contextInfo=context)
        )
    if "edit" in fields:
        key = _key_proto(fields["edit"])
        key.fromMe = True
        return e2e_pb2.Message(
            editedMessage=e2e_pb2.FutureProofMessage(
                message=e2e_pb2.Message(
                    protocolMessage=e2e_pb2.ProtocolMessage(
                        key=key,
                        type=e2e_pb2.ProtocolMessage.MESSAGE_EDIT,
                        editedMessage=body,
                        timestampMS=stamp,
                    )
                )
            )
        )
    return body


def _location(spec: Any) -> e2e_pb2.LocationMessage:
    if not isinstance(spec, Mapping):
        raise ContentError('a location is {"location": {"degrees_latitude": ..., ...}}')
    try:
        lat = float(spec["degrees_latitude"])
        lon = float(spec["degrees_longitude"])
    except KeyError as exc:
        raise ContentError(f"a location needs {exc.args[0]!r}") from None
    except (TypeError, ValueError):
        raise ContentError("a location's degrees are numbers") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ContentError(f"no such place: latitude {lat}, longitude {lon}")
    location = e2e_pb2.LocationMessage(degreesLatitude=lat, degreesLongitude=lon)
    for key, field_name in (
        ("name", "name"),
        ("address", "address"),
        ("url", "URL"),
        ("comment", "comment"),
    ):
        value = spec.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise ContentError(f"a location's {key!r} is a str")
            setattr(location, field_name, value)
    return location


def _vcard_name(vcard: str) -> str:
    for line in vcard.splitlines():
        if line.upper().startswith("FN:") or line.upper().startswith("FN;"):
            return line.split(":", 1)[1].strip()
    return ""


def _contacts(cards: Any, display_name: Any) -> e2e_pb2.Message:
    if isinstance(cards, (str, bytes)) or not isinstance(cards, Sequence) or not cards:
        raise ContentError('contact cards are {"contacts": [vcard, ...]} (at least one)')
    out = []
    for card in cards:
        if isinstance(card, str):
            vcard, name = card, None
        elif isinstance(card, Mapping) and isinstance(card.get("vcard"), str):
            vcard, name = card["vcard"], card.get("display_name")
        else:
            raise ContentError("a contact card is a vCard string or {'vcard': ..., 'display_name'}")
        if "BEGIN:VCARD" not in vcard.upper():
            raise ContentError("a contact card's vcard must be a vCard (BEGIN:VCARD ...)")
        out.append(e2e_pb2.ContactMessage(displayName=str(name or _vcard_name(vcard)), vcard=vcard))
    if len(out) == 1:
        return e2e_pb2.Message(contactMessage=out[0])
    title = display_name if isinstance(display_name, str) else f"{len(out)} contacts"
    return e2e_pb2.Message(
        contactsArrayMessage=e2e_pb2.ContactsArrayMessage(displayName=title, contacts=out)
    )


def edit_attribute(message: e2e_pb2.Message) -> str | None:
    """The stanza's ``edit`` attribute for this message, or ``None``."""
    if message.HasField("editedMessage") and message.editedMessage.HasField("message"):
        return edit_attribute(message.editedMessage.message)
    if message.HasField("protocolMessage") and message.protocolMessage.HasField("key"):
        proto = message.protocolMessage
        if proto.type == e2e_pb2.ProtocolMessage.REVOKE:
            return EDIT_SENDER_REVOKE if proto.key.fromMe else EDIT_ADMIN_REVOKE
        if proto.type == e2e_pb2.ProtocolMessage.MESSAGE_EDIT and proto.HasField("editedMessage"):
            return EDIT_MESSAGE
    if message.HasField("reactionMessage") and not message.reactionMessage.text:
        return EDIT_SENDER_REVOKE
    return None
