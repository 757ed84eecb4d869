"""The media types of WhatsApp's blobs: the HKDF info string and the upload path of each.

Sources: whatsmeow ``download.go`` (``MediaType`` constants, ``mediaTypeToMMSType``,
``classToMediaType``) and Baileys ``Defaults`` (``MEDIA_HKDF_KEY_MAPPING``,
``MEDIA_PATH_MAP``). Where they disagree wamd follows whatsmeow (``docs/media.md``):
history blobs go to ``/mms/md-msg-hist`` (Baileys: ``/mms/md-app-state``) and link
thumbnails to ``/mms/thumbnail-link`` (Baileys: ``/mms/image``).

A sticker, a GIF, a voice note and a round video (ptv) are not key types of their own:
they use the keys and upload path of image, video, audio and video. They are kept here
as members because the message field and the stanza's ``mediatype`` tell them apart.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["MEDIA_FIELDS", "MediaType", "media_type_of_field"]


class MediaType(Enum):
    """``(key name, mms type)``: ``"WhatsApp <key name> Keys"`` and ``/mms/<mms type>/``."""

    IMAGE = ("Image", "image")
    VIDEO = ("Video", "video")
    GIF = ("Video", "video", "gif")
    PTV = ("Video", "video", "ptv")
    AUDIO = ("Audio", "audio")
    PTT = ("Audio", "audio", "ptt")
    DOCUMENT = ("Document", "document")
    STICKER = ("Image", "image", "sticker")
    HISTORY = ("History", "md-msg-hist")
    APP_STATE = ("App State", "md-app-state")
    LINK_THUMBNAIL = ("Link Thumbnail", "thumbnail-link")
    STICKER_PACK = ("Sticker Pack", "sticker-pack")
    # Baileys only: thumbnails uploaded on their own and payment backgrounds
    IMAGE_THUMBNAIL = ("Image Thumbnail", "image", "thumbnail-image")
    VIDEO_THUMBNAIL = ("Video Thumbnail", "video", "thumbnail-video")
    DOCUMENT_THUMBNAIL = ("Document Thumbnail", "document", "thumbnail-document")
    PAYMENT_BACKGROUND = ("Payment Background", "image", "payment-bg-image")

    @property
    def hkdf_info(self) -> str:
        """The HKDF ``info``: ``"WhatsApp Image Keys"`` and so on."""
        return f"WhatsApp {self.value[0]} Keys"

    @property
    def mms_type(self) -> str:
        """The upload path's type (``/mms/<mms_type>/<token>``) and download ``mms-type``."""
        mms: str = self.value[1]
        return mms

    @property
    def key_type(self) -> MediaType:
        """The member whose keys this one uses (``STICKER`` → ``IMAGE``)."""
        for member in MediaType:
            if member.value[:2] == self.value[:2]:
                return member
        return self  # pragma: no cover - every value starts one member

    @classmethod
    def parse(cls, name: str | MediaType) -> MediaType:
        """A member from itself or its name, case-insensitively (``"image"``, ``"ptt"``,
        ``"app-state"`` or ``"app_state"``); ``ValueError`` naming the known ones."""
        if isinstance(name, MediaType):
            return name
        key = name.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            known = ", ".join(m.name.lower() for m in cls)
            raise ValueError(f"unknown media type {name!r} (known: {known})") from None


# the Message fields that carry downloadable media, and the type of their keys
MEDIA_FIELDS: dict[str, MediaType] = {
    "imageMessage": MediaType.IMAGE,
    "videoMessage": MediaType.VIDEO,
    "ptvMessage": MediaType.PTV,
    "audioMessage": MediaType.AUDIO,
    "documentMessage": MediaType.DOCUMENT,
    "stickerMessage": MediaType.STICKER,
}


def media_type_of_field(field_name: str, *, ptt: bool = False, gif: bool = False) -> MediaType:
    """The media type of a Message field (voice notes and GIFs told apart by their flags)."""
    kind = MEDIA_FIELDS[field_name]
    if kind is MediaType.AUDIO and ptt:
        return MediaType.PTT
    if kind is MediaType.VIDEO and gif:
        return MediaType.GIF
    return kind
