"""What a simulated phone does with media: send it, fetch what it receives, upload again.

- sending (what WhatsApp's apps do, as whatsmeow ``Upload`` and Baileys
  ``prepareWAMessageMedia`` describe it): a random media key, the blob encrypted for its
  type, ``POST`` to the sim's media host over HTTPS (the host from ``media_conn``, the
  auth it hands out), then the message with url, direct path, key, hashes and length;
- receiving: like a phone with auto-download on, every media message the phone gets is
  downloaded from the host and checked (every whatsmeow check); the plaintext, or the
  error, is kept in ``received_media`` by message id;
- media retry (whatsmeow ``mediaretry.go``, the phone's side): a companion's
  ``<receipt type="server-error">`` with ``<encrypt><enc_p/><enc_iv/></encrypt><rmr/>``
  is opened with the message's media key (it must hold ``ServerErrorReceipt`` with that
  stanza id); the phone uploads the same blob again (same key, same hashes) and answers
  the device with ``<notification type="mediaretry" id from t><rmr/><encrypt>`` holding
  ``MediaRetryNotification{stanzaID, directPath, result=SUCCESS}``, or ``<error
  code="2"/>`` when it no longer has the media;
- history blobs: a history sync sent as a blob (``HistorySyncPolicy(blob=True)``) is
  uploaded as ``md-msg-hist``; a ``server-error`` receipt with ``category="peer"`` for it
  (whatsmeow ``SendHistorySyncServerErrorReceipt``) makes the phone upload it again and
  send a new notification.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wamd.binary import JID, Node
from wamd.errors import MediaError, WamdError
from wamd.media.crypto import (
    EncryptedMedia,
    encrypt_media,
    media_retry_decrypt,
    media_retry_encrypt,
)
from wamd.media.info import media_info
from wamd.media.source import guess_mimetype, image_meta
from wamd.media.transfer import MediaClient, MediaConn, MediaHost, download_blob
from wamd.media.types import MediaType
from wamd.proto import e2e_pb2, mms_retry_pb2

if TYPE_CHECKING:
    from wamd.sim.phone import PhoneEndpoint, SimMessage

__all__ = ["AUTO_DOWNLOAD_LIMIT", "PhoneMedia", "media_message"]

log = logging.getLogger(__name__)

AUTO_DOWNLOAD_LIMIT = 64 << 20  # a phone fetches media up to this size as it arrives
_CLASSES: dict[str, Any] = {
    "image": e2e_pb2.ImageMessage,
    "video": e2e_pb2.VideoMessage,
    "audio": e2e_pb2.AudioMessage,
    "document": e2e_pb2.DocumentMessage,
    "sticker": e2e_pb2.StickerMessage,
}
_FIELDS = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}


@dataclass
class _Kept:
    """What the phone keeps of a media message: the plaintext, and how it was sent."""

    data: bytes
    media_type: MediaType
    media_key: bytes


def media_message(
    kind: str,
    fields: EncryptedMedia,
    url: str,
    direct_path: str,
    *,
    mimetype: str,
    now: int,
    **extra: Any,
) -> e2e_pb2.Message:
    """A ``Message`` with one media field, as an app sends it."""
    sub = _CLASSES[kind](
        URL=url,
        directPath=direct_path,
        mediaKey=fields.media_key,
        fileEncSHA256=fields.file_enc_sha256,
        fileSHA256=fields.file_sha256,
        fileLength=fields.file_length,
        mediaKeyTimestamp=now,
        mimetype=mimetype,
    )
    for name, value in extra.items():
        if value is not None:
            setattr(sub, name, value)
    message = e2e_pb2.Message()
    getattr(message, _FIELDS[kind]).CopyFrom(sub)
    return message


class PhoneMedia:
    """One phone's media (see the module docstring)."""

    def __init__(self, endpoint: PhoneEndpoint) -> None:
        self.endpoint = endpoint
        self.state = endpoint.state
        self.received_media: dict[str, bytes | MediaError] = {}
        self.reuploads: list[str] = []  # message ids uploaded again for a media retry
        self._kept: dict[str, _Kept] = {}
        self._history: dict[str, tuple[e2e_pb2.HistorySyncNotification, bytes, JID]] = {}
        self._client: MediaClient | None = None

    # ------------------------------------------------------------------ HTTP

    def _host(self) -> Any:
        return self.endpoint.phone.server.media

    def client(self) -> MediaClient:
        if self._client is None:
            host = self._host()
            self._client = MediaClient(
                ssl=host.tls.client_context() if host.tls is not None else None,
                scheme=host.scheme,
                retry_delay=lambda n: 0.05 * n,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def conn(self) -> MediaConn:
        return MediaConn(
            self.state.media_auth,
            300,
            21600,
            12,
            tuple(MediaHost(h) for h in self.state.media_hosts),
        )

    async def upload_blob(
        self, blob: bytes, fields: EncryptedMedia, media_type: MediaType
    ) -> tuple[str, str]:
        """POST an encrypted blob to the sim's host: ``(url, direct_path)``."""
        conn = self.conn()

        async def media_conn(force: bool) -> MediaConn:
            return conn

        def body() -> AsyncIterator[bytes]:
            async def one() -> AsyncIterator[bytes]:
                yield blob

            return one()

        result = await self.client().upload(
            media_conn, body, len(blob), fields.file_enc_sha256, media_type
        )
        return result.url, result.direct_path

    # ------------------------------------------------------------------ sending

    async def build(
        self,
        kind: str,
        data: bytes,
        *,
        mimetype: str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        ptt: bool = False,
        seconds: int | None = None,
        gif_playback: bool = False,
    ) -> e2e_pb2.Message:
        """Encrypt and upload ``data``; the message to send (``send_media``)."""
        if kind not in _CLASSES:
            raise WamdError(f"a phone sends image, video, audio, document or sticker, not {kind}")
        media_type = MediaType.parse(kind)
        if kind == "audio" and ptt:
            media_type = MediaType.PTT
        if kind == "video" and gif_playback:
            media_type = MediaType.GIF
        blob, fields = encrypt_media(data, media_type.key_type, self.state.rng.randbytes(32))
        url, direct_path = await self.upload_blob(blob, fields, media_type)
        extra: dict[str, Any] = {}
        if kind in ("image", "sticker"):
            meta = image_meta(data)
            if meta is not None:
                extra |= {"width": meta.width, "height": meta.height}
                if kind == "image" and meta.jpeg_thumbnail:
                    extra["JPEGThumbnail"] = meta.jpeg_thumbnail
        if caption is not None and kind in ("image", "video", "document"):
            extra["caption"] = caption
        if kind == "document":
            extra["fileName"] = file_name or "file"
        if kind == "audio":
            extra["PTT"] = ptt or None
            extra["seconds"] = seconds
        if kind == "video":
            extra["gifPlayback"] = gif_playback or None
            extra["seconds"] = seconds
        message = media_message(
            kind,
            fields,
            url,
            direct_path,
            mimetype=mimetype or guess_mimetype(data[:64], file_name, kind),
            now=self.state.now(),
            **extra,
        )
        return message

    def plaintext(self, message_id: str) -> bytes | None:
        """The media bytes of a message this phone sent or fetched (``None``: none kept)."""
        kept = self._kept.get(message_id)
        return kept.data if kept is not None else None

    def keep_sent(self, message_id: str, message: e2e_pb2.Message, data: bytes) -> None:
        info = media_info(message)
        if info is not None and info.media_key is not None:
            self._kept[message_id] = _Kept(data, info.media_type.key_type, info.media_key)

    # ------------------------------------------------------------------ receiving

    async def on_received(self, received: SimMessage) -> None:
        """Download a media message as it arrives (auto-download), and keep the result."""
        info = media_info(received.message)
        if info is None or not info.downloadable:
            return
        if info.file_length is not None and info.file_length > AUTO_DOWNLOAD_LIMIT:
            return
        try:
            data = await self.download(received.message)
        except MediaError as exc:
            log.info(
                "sim phone %s could not fetch media of %s: %s",
                self.endpoint.phone.number,
                received.id,
                exc,
            )
            self.received_media[received.id] = exc
            return
        self.received_media[received.id] = data
        assert info.media_key is not None
        self._kept[received.id] = _Kept(data, info.media_type.key_type, info.media_key)

    async def download(self, message: e2e_pb2.Message) -> bytes:
        """Fetch and check the media of ``message`` (every whatsmeow check)."""
        info = media_info(message)
        if info is None or info.media_key is None or not info.direct_path:
            raise MediaError("the message has no downloadable media")
        return await download_blob(
            self.client(),
            self.conn(),
            direct_path=info.direct_path,
            media_key=info.media_key,
            file_enc_sha256=info.file_enc_sha256,
            file_sha256=info.file_sha256,
            file_length=info.file_length,
            media_type=info.media_type,
        )

    # ------------------------------------------------------------------ media retry

    async def on_server_error(self, node: Node) -> None:
        """A companion asks for media (or a history blob) again (module docstring)."""
        message_id = node.attrs.get("id", "")
        try:
            requester = JID.parse(node.attrs.get("from", ""))
        except ValueError:
            return
        device = self.state.device_of(requester)
        if device is None:
            return
        if node.attrs.get("category") == "peer":
            await self._history_again(message_id, device)
            return
        rmr = node.get_child("rmr")
        kept = self._kept.get(message_id)
        answer_attrs = {"id": message_id}
        rmr_node = Node("rmr", dict(rmr.attrs) if rmr is not None else {})
        if kept is None or not self._request_opens(node, kept.media_key, message_id):
            stanza = self.state.notification(
                str(self.endpoint.phone.jid),
                "mediaretry",
                [rmr_node, Node("error", {"code": "2"})],
                **answer_attrs,
            )
            await self.endpoint.router.deliver(device, stanza)
            return
        blob, fields = encrypt_media(kept.data, kept.media_type, kept.media_key)
        _, direct_path = await self.upload_blob(blob, fields, kept.media_type)
        self.reuploads.append(message_id)
        payload = mms_retry_pb2.MediaRetryNotification(
            stanzaID=message_id,
            directPath=direct_path,
            result=mms_retry_pb2.MediaRetryNotification.SUCCESS,
        ).SerializeToString()
        ciphertext, iv = media_retry_encrypt(
            kept.media_key, message_id, payload, self.state.rng.randbytes(12)
        )
        encrypt = Node("encrypt", {}, [Node("enc_p", {}, ciphertext), Node("enc_iv", {}, iv)])
        stanza = self.state.notification(
            str(self.endpoint.phone.jid), "mediaretry", [rmr_node, encrypt], **answer_attrs
        )
        await self.endpoint.router.deliver(device, stanza)

    @staticmethod
    def _request_opens(node: Node, media_key: bytes, message_id: str) -> bool:
        """An ``<encrypt>`` that is there must open to this message's id; one that is
        missing is let through (Baileys notes the media comes back without it)."""
        encrypt = node.get_child("encrypt")
        if encrypt is None:
            return True
        enc_p = encrypt.get_child("enc_p")
        enc_iv = encrypt.get_child("enc_iv")
        if enc_p is None or enc_iv is None:
            return False
        try:
            plain = media_retry_decrypt(
                media_key, message_id, enc_p.content_bytes() or b"", enc_iv.content_bytes() or b""
            )
            request = mms_retry_pb2.ServerErrorReceipt()
            request.ParseFromString(plain)
        except (MediaError, Exception):
            return False
        return request.stanzaID == message_id

    # ------------------------------------------------------------------ history blobs

    async def history_notification(
        self, compressed: bytes, notification: e2e_pb2.HistorySyncNotification
    ) -> None:
        """Upload a compressed history chunk and point ``notification`` at it."""
        blob, fields = encrypt_media(compressed, MediaType.HISTORY, self.state.rng.randbytes(32))
        _, direct_path = await self.upload_blob(blob, fields, MediaType.HISTORY)
        notification.directPath = direct_path
        notification.mediaKey = fields.media_key
        notification.fileEncSHA256 = fields.file_enc_sha256
        notification.fileSHA256 = fields.file_sha256
        notification.fileLength = fields.file_length
        notification.ClearField("initialHistBootstrapInlinePayload")

    def keep_history(
        self,
        message_id: str,
        notification: e2e_pb2.HistorySyncNotification,
        compressed: bytes,
        device: JID,
    ) -> None:
        self._history[message_id] = (notification, compressed, device)

    async def _history_again(self, message_id: str, device: Any) -> None:
        found = self._history.pop(message_id, None)
        if found is None:
            return
        notification, compressed, _ = found
        again = e2e_pb2.HistorySyncNotification()
        again.CopyFrom(notification)
        await self.history_notification(compressed, again)
        self.reuploads.append(message_id)
        message = e2e_pb2.Message(
            protocolMessage=e2e_pb2.ProtocolMessage(
                type=e2e_pb2.ProtocolMessage.HISTORY_SYNC_NOTIFICATION,
                historySyncNotification=again,
            )
        )
        new_id = await self.endpoint.send_peer(device, message)
        self._history[new_id] = (again, compressed, device.jid)
