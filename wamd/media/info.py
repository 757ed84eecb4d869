"""What a message says about its media, typed: ``MediaInfo`` and ``media_info(message)``.

``WAMessage.media`` is ``media_info(message)``: the kind (``image``, ``video``, ``gif``,
``ptv``, ``audio``, ``ptt``, ``document``, ``sticker``), mimetype, size, caption, file
name, seconds, dimensions, and what a download needs (direct path, key, hashes). Also
the stanza's ``mediatype`` attribute for an outgoing message (whatsmeow
``getMediaTypeFromMessage``), which both references put on every ``enc``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from wamd.media.types import MEDIA_FIELDS, MediaType, media_type_of_field
from wamd.proto import e2e_pb2

__all__ = ["MediaInfo", "enc_media_type", "media_field", "media_info"]

_WRAPPERS = (
    "deviceSentMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
)


def _unwrap(message: e2e_pb2.Message) -> e2e_pb2.Message:
    for _ in range(5):
        for name in _WRAPPERS:
            if message.HasField(name) and getattr(message, name).HasField("message"):
                message = getattr(message, name).message
                break
        else:
            return message
    return message


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """The media of a received (or sent) message."""

    kind: str  # image, video, gif, ptv, audio, ptt, document, sticker
    media_type: MediaType
    field: str  # the Message field: imageMessage, audioMessage ...
    mimetype: str | None
    file_length: int | None
    caption: str | None = None
    file_name: str | None = None
    seconds: int | None = None
    width: int | None = None
    height: int | None = None
    direct_path: str | None = None
    url: str | None = None
    media_key: bytes | None = dataclasses.field(default=None, repr=False)
    file_sha256: bytes | None = dataclasses.field(default=None, repr=False)
    file_enc_sha256: bytes | None = dataclasses.field(default=None, repr=False)
    thumbnail: bytes | None = dataclasses.field(
        default=None, repr=False
    )  # the inline JPEG (or PNG)
    waveform: bytes | None = dataclasses.field(default=None, repr=False)

    @property
    def downloadable(self) -> bool:
        return bool(self.direct_path or self.url) and self.media_key is not None


def media_field(message: e2e_pb2.Message) -> tuple[str, Any] | None:
    """The media field of ``message`` (inside its wrappers) and its sub-message."""
    inner = _unwrap(message)
    for name in MEDIA_FIELDS:
        if inner.HasField(name):
            return name, getattr(inner, name)
    return None


def _opt(sub: Any, name: str) -> Any:
    try:
        return getattr(sub, name) if sub.HasField(name) else None
    except ValueError:  # the sub-message has no such field
        return None


def media_info(message: e2e_pb2.Message | None) -> MediaInfo | None:
    """The media of ``message``, or ``None`` when it carries none."""
    if message is None:
        return None
    found = media_field(message)
    if found is None:
        return None
    name, sub = found
    ptt = bool(_opt(sub, "PTT"))
    gif = bool(_opt(sub, "gifPlayback"))
    media_type = media_type_of_field(name, ptt=ptt, gif=gif)
    kind = media_type.name.lower()
    thumbnail = _opt(sub, "JPEGThumbnail") or _opt(sub, "pngThumbnail")
    return MediaInfo(
        kind=kind,
        media_type=media_type,
        field=name,
        mimetype=_opt(sub, "mimetype"),
        file_length=_opt(sub, "fileLength"),
        caption=_opt(sub, "caption") or None,
        file_name=_opt(sub, "fileName"),
        seconds=_opt(sub, "seconds"),
        width=_opt(sub, "width"),
        height=_opt(sub, "height"),
        direct_path=_opt(sub, "directPath"),
        url=_opt(sub, "URL"),
        media_key=_opt(sub, "mediaKey"),
        file_sha256=_opt(sub, "fileSHA256"),
        file_enc_sha256=_opt(sub, "fileEncSHA256"),
        thumbnail=thumbnail,
        waveform=_opt(sub, "waveform"),
    )


def enc_media_type(message: e2e_pb2.Message) -> str | None:
    """The ``mediatype`` attribute of an outgoing message's ``enc`` nodes, or ``None``
    (whatsmeow ``getMediaTypeFromMessage``; Baileys ``getMediaType``)."""
    inner = _unwrap(message)
    if inner.HasField("extendedTextMessage") and inner.extendedTextMessage.HasField("title"):
        return "url"
    if inner.HasField("imageMessage"):
        return "image"
    if inner.HasField("stickerMessage"):
        return "sticker"
    if inner.HasField("documentMessage"):
        return "document"
    if inner.HasField("audioMessage"):
        return "ptt" if inner.audioMessage.PTT else "audio"
    if inner.HasField("videoMessage"):
        return "gif" if inner.videoMessage.gifPlayback else "video"
    if inner.HasField("contactMessage"):
        return "vcard"
    if inner.HasField("contactsArrayMessage"):
        return "contact_array"
    return None
