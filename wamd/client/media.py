"""Media on a socket: ``media_conn``, sending media content, downloads, media retry,
history blobs.

- ``media_conn`` (whatsmeow ``mediaconn.go``): fetched with ``<iq xmlns="w:m">``, kept
  until its ``ttl`` runs out, fetched again (forced) after a failed upload;
- sending (Baileys ``prepareWAMessageMedia``, whatsmeow ``Upload``): the source is read
  chunk by chunk and encrypted into a spool (memory up to ``SPOOL_IN_MEMORY``, then a
  temporary file: the token in the upload URL is the blob's hash, so the blob must be
  whole before it can be sent), then streamed to the hosts; the message gets url,
  direct path, key, hashes, length, mimetype (guessed when not given), and for images
  dimensions and a JPEG thumbnail when Pillow is installed;
- downloads (whatsmeow ``Download``/``DownloadToFile``): every check, in whatsmeow's order
  (``wamd.media.crypto``); ``to=`` a path writes a ``.part`` file beside it and renames
  it only once every check passed; ``to=`` a stream gets the plaintext as it is
  decrypted (what was written before a failure must be discarded);
- media retry (whatsmeow ``mediaretry.go``): a 404/410 is answered by asking our own
  phone to upload the media again, with ``<receipt type="server-error">`` holding
  ``ServerErrorReceipt`` encrypted under the media key; the phone's ``<notification
  type="mediaretry">`` carries the new direct path (or an error), decrypted the same way;
- history blobs (whatsmeow ``DownloadHistorySync``, ``handleHistorySyncNotificationLoop``):
  downloaded one at a time in the background, inflated with the inline path's bound,
  emitted as ``messaging-history.set``, then deleted from the server (``DeleteMedia``).
  A failed download is reported to the phone with whatsmeow's
  ``SendHistorySyncServerErrorReceipt`` (``category="peer"``), so that it uploads again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from wamd.binary import Node
from wamd.errors import (
    ContentError,
    MediaError,
    MediaRetryError,
    MediaUnavailable,
    NotMedia,
    WamdError,
)
from wamd.media.audio import OGG_HEAD, OGG_TAIL, ffmpeg_waveform, ogg_duration, seconds_of
from wamd.media.crypto import (
    EncryptedMedia,
    MediaEncryptor,
    media_retry_decrypt,
    media_retry_encrypt,
)
from wamd.media.info import MediaInfo, media_field, media_info
from wamd.media.source import guess_mimetype, image_meta, read_chunks, source_name
from wamd.media.transfer import (
    CHUNK_SIZE,
    MediaClient,
    MediaConn,
    UploadResult,
    download_blob,
    media_conn_query,
)
from wamd.media.types import MediaType
from wamd.media.video import video_meta
from wamd.messaging.types import MediaUpdate, MessageKey, WAMessage
from wamd.proto import e2e_pb2, mms_retry_pb2

if TYPE_CHECKING:
    from wamd.client.core import ClientCore

__all__ = ["MEDIA_KEYS", "MediaService", "PathTarget", "Progress", "Spooled", "spool_source"]

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 2 << 20  # an encrypted blob up to this size stays in memory before upload
IMAGE_IN_MEMORY = 16 << 20  # an image from a stream is kept whole for its thumbnail up to this
MEDIA_RETRY_TIMEOUT = 60.0  # seconds to wait for the phone's mediaretry notification
RETRY_ERROR_NOT_ON_PHONE = "2"  # <error code="2">: the phone no longer has the media

Progress = Callable[[int, int], Any]  # (bytes uploaded, total)

MEDIA_KEYS = ("image", "video", "audio", "document", "sticker")  # content keys that are media

_FIELD = {
    "image": "imageMessage",
    "video": "videoMessage",
    "audio": "audioMessage",
    "document": "documentMessage",
    "sticker": "stickerMessage",
}
_ALLOWED = {
    "image": {"caption", "mimetype", "width", "height", "jpeg_thumbnail", "mentions"},
    "video": {
        "caption",
        "mimetype",
        "gif_playback",
        "seconds",
        "width",
        "height",
        "jpeg_thumbnail",
        "mentions",
    },
    "audio": {"ptt", "seconds", "waveform", "mimetype"},
    "document": {
        "file_name",
        "mimetype",
        "caption",
        "title",
        "page_count",
        "jpeg_thumbnail",
        "mentions",
    },
    "sticker": {"mimetype", "width", "height", "is_animated"},
}


def is_media_content(content: object) -> bool:
    return isinstance(content, Mapping) and any(key in content for key in MEDIA_KEYS)


@dataclass
class Spooled:
    """An encrypted blob ready to upload, in memory or in a temporary file."""

    fields: EncryptedMedia
    file: IO[bytes]
    head: bytes  # the plaintext's first bytes (the mimetype; an Ogg stream's header)
    whole: bytes | None  # the plaintext, kept for images (dimensions, thumbnail)
    tail: bytes = b""  # the plaintext's last bytes, for audio (the last Ogg page)

    def body(self, progress: Progress | None) -> AsyncIterator[bytes]:
        total = self.fields.enc_length

        async def chunks() -> AsyncIterator[bytes]:
            await asyncio.to_thread(self.file.seek, 0)
            sent = 0
            while True:
                data = await asyncio.to_thread(self.file.read, CHUNK_SIZE)
                if not data:
                    return
                yield data
                sent += len(data)
                if progress is not None:
                    result = progress(sent, total)
                    if asyncio.iscoroutine(result):
                        await result

        return chunks()

    def close(self) -> None:
        self.file.close()


class PathTarget:
    """Writes to ``<path>.part``; ``commit`` renames it once every check passed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part")
        self._file: IO[bytes] | None = None

    async def open(self) -> None:
        try:
            self._file = await asyncio.to_thread(self.part.open, "wb")
        except OSError as exc:
            raise MediaError(f"cannot write {self.part}: {exc.strerror or exc}") from None

    async def write(self, data: bytes) -> None:
        assert self._file is not None
        await asyncio.to_thread(self._file.write, data)

    async def reset(self) -> bool:
        assert self._file is not None
        await asyncio.to_thread(self._file.seek, 0)
        await asyncio.to_thread(self._file.truncate)
        return True

    async def commit(self) -> None:
        assert self._file is not None
        await asyncio.to_thread(self._file.close)
        await asyncio.to_thread(os.replace, self.part, self.path)

    async def abandon(self) -> None:
        if self._file is not None:
            await asyncio.to_thread(self._file.close)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(self.part.unlink)


class _StreamTarget:
    """Writes to the caller's stream (sync or async ``write``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.start: int | None = None
        with contextlib.suppress(Exception):
            if stream.seekable():
                self.start = stream.tell()

    async def write(self, data: bytes) -> None:
        result = self.stream.write(data)
        if asyncio.iscoroutine(result):
            await result

    async def reset(self) -> bool:
        if self.start is None:
            return False
        self.stream.seek(self.start)
        self.stream.truncate()
        return True


def _sub_message(kind: str, info: EncryptedMedia, upload: UploadResult, mimetype: str) -> Any:
    cls = {
        "image": e2e_pb2.ImageMessage,
        "video": e2e_pb2.VideoMessage,
        "audio": e2e_pb2.AudioMessage,
        "document": e2e_pb2.DocumentMessage,
        "sticker": e2e_pb2.StickerMessage,
    }[kind]
    sub = cls(
        URL=upload.url,
        directPath=upload.direct_path,
        mediaKey=info.media_key,
        fileEncSHA256=info.file_enc_sha256,
        fileSHA256=info.file_sha256,
        fileLength=info.file_length,
        mediaKeyTimestamp=int(time.time()),
        mimetype=mimetype,
    )
    return sub


def _opt_int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ContentError(f"{name} must be a non-negative whole number")
    return value


def _opt_bytes(fields: Mapping[str, Any], name: str) -> bytes | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, bytes | bytearray):
        raise ContentError(f"{name} must be bytes")
    return bytes(value)


def _opt_str(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContentError(f"{name} must be a string")
    return value


async def _spool_write(file: IO[bytes], data: bytes) -> None:
    if file.tell() + len(data) > SPOOL_IN_MEMORY:
        await asyncio.to_thread(file.write, data)  # on disk (or about to be)
    else:
        file.write(data)


async def spool_source(
    src: object, media_type: MediaType, *, keep_whole: bool = False, keep_tail: bool = False
) -> Spooled:
    """Read ``src`` chunk by chunk and encrypt it into a spool: memory up to
    ``SPOOL_IN_MEMORY``, a temporary file beyond (the upload needs the whole blob's hash
    before it starts). ``keep_whole`` keeps the plaintext too, up to ``IMAGE_IN_MEMORY``
    (an image's dimensions and thumbnail); ``keep_tail`` its last ``OGG_TAIL`` bytes (an
    audio file's duration)."""
    encryptor = MediaEncryptor(media_type.key_type)
    file = cast(
        "IO[bytes]",
        tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="wamd-upload-"),
    )
    head = b""
    tail = b""
    whole: list[bytes] | None = [] if keep_whole else None
    kept = 0
    try:
        async for chunk in read_chunks(src, CHUNK_SIZE):
            if len(head) < OGG_HEAD:
                head += chunk[: OGG_HEAD - len(head)]
            if keep_tail:
                tail = (tail + chunk)[-OGG_TAIL:]
            if whole is not None:
                kept += len(chunk)
                whole = whole if kept <= IMAGE_IN_MEMORY else None
                if whole is not None:
                    whole.append(chunk)
            await _spool_write(file, encryptor.update(chunk))
        await _spool_write(file, encryptor.finalize())
    except BaseException:
        file.close()
        raise
    return Spooled(
        encryptor.result, file, head, b"".join(whole) if whole is not None else None, tail
    )


class MediaService:
    """The socket's media (see the module docstring)."""

    def __init__(
        self,
        core: ClientCore,
        http: MediaClient,
        *,
        retry_timeout: float = MEDIA_RETRY_TIMEOUT,
    ) -> None:
        self.core = core
        self.http = http
        self.log = core.logger_for(__name__)
        self.retry_timeout = retry_timeout
        self._conn: MediaConn | None = None
        self._conn_lock = asyncio.Lock()
        self._retries: dict[str, asyncio.Future[Node]] = {}
        self._history_lock = asyncio.Lock()

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------------ media_conn

    async def media_conn(self, force: bool = False) -> MediaConn:
        """The current ``media_conn`` answer, fetched when there is none, it expired, or
        ``force`` (whatsmeow ``refreshMediaConn``)."""
        async with self._conn_lock:
            if self._conn is None or force or self._conn.expired():
                self._conn = MediaConn.parse(await self.core.query(media_conn_query()))
                self.log.debug(
                    "media_conn: %d hosts, ttl %d s", len(self._conn.hosts), self._conn.ttl
                )
            return self._conn

    # ------------------------------------------------------------------ upload

    async def spool(
        self, src: object, media_type: MediaType, *, keep_whole: bool, keep_tail: bool = False
    ) -> Spooled:
        """Read and encrypt ``src`` into a spool (see the module docstring)."""
        return await spool_source(src, media_type, keep_whole=keep_whole, keep_tail=keep_tail)

    async def upload(
        self, src: object, media_type: MediaType | str, progress: Progress | None = None
    ) -> tuple[UploadResult, EncryptedMedia]:
        """Encrypt and upload ``src``; returns where it went and its message fields."""
        kind = MediaType.parse(media_type)
        spooled = await self.spool(src, kind, keep_whole=False)
        try:
            result = await self._upload_spooled(spooled, kind, progress)
        finally:
            spooled.close()
        return result, spooled.fields

    async def _upload_spooled(
        self, spooled: Spooled, kind: MediaType, progress: Progress | None
    ) -> UploadResult:
        return await self.http.upload(
            self.media_conn,
            lambda: spooled.body(progress),
            spooled.fields.enc_length,
            spooled.fields.file_enc_sha256,
            kind,
        )

    async def build_message(
        self,
        content: Mapping[str, Any],
        *,
        context: e2e_pb2.ContextInfo | None,
        progress: Progress | None = None,
    ) -> e2e_pb2.Message:
        """Upload the media of ``content`` and build its ``Message`` (see the module
        docstring; ``ContentError`` for content that cannot be sent)."""
        kinds = [k for k in MEDIA_KEYS if k in content]
        if len(kinds) != 1:
            raise ContentError(f"one media kind per message, got {', '.join(kinds)}")
        kind = kinds[0]
        unknown = set(content) - _ALLOWED[kind] - {kind}
        if unknown:
            raise ContentError(f"unknown keys for {kind} content: {', '.join(sorted(unknown))}")
        src = content[kind]
        if src is None:
            raise ContentError(f"{kind} content needs its bytes, a path or a stream")
        if kind == "audio":
            media_type = MediaType.PTT if content.get("ptt") else MediaType.AUDIO
        elif kind == "video":
            media_type = MediaType.GIF if content.get("gif_playback") else MediaType.VIDEO
        else:
            media_type = MediaType.parse(kind)
        mimetype = _opt_str(content, "mimetype")
        caption = _opt_str(content, "caption")
        width, height = _opt_int(content, "width"), _opt_int(content, "height")
        thumbnail = _opt_bytes(content, "jpeg_thumbnail")
        is_image = kind in ("image", "sticker")
        seconds = _opt_int(content, "seconds")
        waveform = _opt_bytes(content, "waveform")
        if waveform is not None and (len(waveform) > 64 or any(b > 100 for b in waveform)):
            raise ContentError("a waveform is at most 64 bytes, each 0-100")
        spooled = await self.spool(
            src, media_type, keep_whole=is_image, keep_tail=kind == "audio" and seconds is None
        )
        try:
            if kind == "audio" and seconds is None:
                seconds = seconds_of(ogg_duration(spooled.head, spooled.tail))
            if kind == "audio" and content.get("ptt") and waveform is None:
                waveform = await self._waveform(src)
            if is_image and (
                width is None or height is None or (kind == "image" and thumbnail is None)
            ):
                meta_source: bytes | Path | None = spooled.whole
                if meta_source is None and isinstance(src, str | os.PathLike):
                    meta_source = Path(src)
                meta = (
                    await asyncio.to_thread(image_meta, meta_source)
                    if meta_source is not None
                    else None
                )
                if meta is not None:
                    width = meta.width if width is None else width
                    height = meta.height if height is None else height
                    if kind == "image" and thumbnail is None:
                        thumbnail = meta.jpeg_thumbnail
            if kind == "video" and None in (width, height, seconds, thumbnail):
                found = await video_meta(src)  # with ffmpeg on PATH (wamd.media.video)
                if found is not None:
                    width = found.width if width is None else width
                    height = found.height if height is None else height
                    seconds = found.seconds if seconds is None else seconds
                    thumbnail = found.jpeg_thumbnail if thumbnail is None else thumbnail
            if mimetype is None:
                mimetype = guess_mimetype(spooled.head, source_name(src), kind)
                if kind == "sticker" and mimetype != "image/webp":
                    self.log.info("a sticker should be WebP; sending %s as it is", mimetype)
            upload = await self._upload_spooled(spooled, media_type, progress)
        finally:
            spooled.close()
        sub = _sub_message(kind, spooled.fields, upload, mimetype)
        if caption is not None and kind in ("image", "video", "document"):
            sub.caption = caption
        if width is not None and kind in ("image", "video", "sticker"):
            sub.width = width
        if height is not None and kind in ("image", "video", "sticker"):
            sub.height = height
        if thumbnail is not None and kind in ("image", "video", "document"):
            sub.JPEGThumbnail = thumbnail
        if seconds is not None and kind in ("audio", "video"):
            sub.seconds = seconds
        if kind == "video" and content.get("gif_playback"):
            sub.gifPlayback = True
        if kind == "audio":
            if content.get("ptt"):
                sub.PTT = True
            if waveform is not None:
                sub.waveform = waveform
        if kind == "document":
            sub.fileName = _opt_str(content, "file_name") or source_name(src) or "file"
            title = _opt_str(content, "title")
            if title is not None:
                sub.title = title
            pages = _opt_int(content, "page_count")
            if pages is not None:
                sub.pageCount = pages
        if kind == "sticker" and content.get("is_animated"):
            sub.isAnimated = True
        if context is not None:
            sub.contextInfo.CopyFrom(context)
        message = e2e_pb2.Message()
        getattr(message, _FIELD[kind]).CopyFrom(sub)
        return message

    async def _waveform(self, src: object) -> bytes | None:
        """A voice note's waveform, when ffmpeg is there to decode it (``wamd.media.audio``);
        for bytes and paths only: a stream was read once, into the encrypted spool."""
        if isinstance(src, bytes | bytearray | memoryview):
            return await ffmpeg_waveform(bytes(src))
        if isinstance(src, str | os.PathLike):
            return await ffmpeg_waveform(src)
        return None

    # ------------------------------------------------------------------ download

    async def download(
        self,
        message: WAMessage | e2e_pb2.Message,
        to: str | os.PathLike[str] | Any | None = None,
        *,
        reupload: bool = True,
    ) -> bytes | None:
        """The media of ``message`` (see ``WASocket.download_media``)."""
        proto = message.message if isinstance(message, WAMessage) else message
        info = media_info(proto)
        if info is None:
            raise NotMedia("the message has no media to download")
        try:
            return await self._download_info(info, to)
        except MediaUnavailable as exc:
            if not (reupload and exc.expired and isinstance(message, WAMessage)):
                raise
            self.log.info(
                "media of %s is gone from the server (%s): asking the phone",
                message.key.id,
                exc.status,
            )
        updated = await self.request_reupload(message)
        new_info = media_info(updated.message)
        assert new_info is not None
        return await self._download_info(new_info, to)

    async def _download_info(self, info: MediaInfo, to: object) -> bytes | None:
        if info.media_key is None:
            raise NotMedia("the message's media has no key")
        path = info.direct_path
        if not path and info.url:
            from urllib.parse import urlsplit

            parts = urlsplit(info.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
        if not path:
            raise NotMedia("the message's media has no direct path or url")
        conn = await self.media_conn()
        common = {
            "direct_path": path,
            "media_key": info.media_key,
            "file_enc_sha256": info.file_enc_sha256,
            "file_sha256": info.file_sha256,
            "file_length": info.file_length,
            "media_type": info.media_type,
        }
        if to is None:
            return await download_blob(self.http, conn, **common)  # type: ignore[arg-type]
        if isinstance(to, str | os.PathLike):
            target = PathTarget(Path(to))
            await target.open()
            try:
                await download_blob(self.http, conn, target=target, **common)  # type: ignore[arg-type]
            except BaseException:
                await target.abandon()
                raise
            await target.commit()
            return None
        if not callable(getattr(to, "write", None)):
            raise MediaError(
                f"cannot download into a {type(to).__name__}: give a path or a writable stream"
            )
        await download_blob(self.http, conn, target=_StreamTarget(to), **common)  # type: ignore[arg-type]
        return None

    # ------------------------------------------------------------------ media retry

    async def request_reupload(self, message: WAMessage) -> WAMessage:
        """Ask our phone to upload the media of ``message`` again; the message with its
        new direct path (Baileys ``updateMediaMessage``). ``MediaRetryError`` when the
        phone cannot (or does not answer in ``retry_timeout`` seconds)."""
        info = media_info(message.message)
        if info is None or info.media_key is None or message.message is None:
            raise NotMedia("the message has no media to re-upload")
        own = self.core.require_own()
        mid = message.key.id
        payload = mms_retry_pb2.ServerErrorReceipt(stanzaID=mid).SerializeToString()
        ciphertext, iv = media_retry_encrypt(info.media_key, mid, payload)
        rmr = {"jid": message.key.remote_jid, "from_me": "true" if message.key.from_me else "false"}
        if message.key.participant:
            rmr["participant"] = message.key.participant
        receipt = Node(
            "receipt",
            {"id": mid, "to": str(own.pn.to_non_ad()), "type": "server-error"},
            [
                Node("encrypt", {}, [Node("enc_p", {}, ciphertext), Node("enc_iv", {}, iv)]),
                Node("rmr", rmr),
            ],
        )
        waiter: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        self._retries[mid] = waiter
        try:
            await self.core.live_conn().send(receipt)
            async with asyncio.timeout(self.retry_timeout):
                node = await waiter
        except TimeoutError:
            raise MediaRetryError(
                "timeout", f"the phone did not re-upload the media of {mid}"
            ) from None
        finally:
            if self._retries.get(mid) is waiter:
                del self._retries[mid]
        return self._apply_retry(message, info, node)

    def _apply_retry(self, message: WAMessage, info: MediaInfo, node: Node) -> WAMessage:
        error = node.get_child("error")
        if error is not None:
            code = error.attrs.get("code", "")
            result = "NOT_FOUND" if code == RETRY_ERROR_NOT_ON_PHONE else "GENERAL_ERROR"
            raise MediaRetryError(result, f"the phone could not re-upload the media (error {code})")
        encrypt = node.get_child("encrypt")
        enc_p = encrypt.get_child("enc_p") if encrypt is not None else None
        enc_iv = encrypt.get_child("enc_iv") if encrypt is not None else None
        if (
            enc_p is None
            or enc_iv is None
            or not enc_p.content_bytes()
            or not enc_iv.content_bytes()
        ):
            raise MediaRetryError("GENERAL_ERROR", "the mediaretry notification has no payload")
        assert info.media_key is not None
        plain = media_retry_decrypt(
            info.media_key,
            message.key.id,
            enc_p.content_bytes() or b"",
            enc_iv.content_bytes() or b"",
        )
        answer = mms_retry_pb2.MediaRetryNotification()
        try:
            answer.ParseFromString(plain)
        except Exception:
            raise MediaRetryError(
                "GENERAL_ERROR", "the mediaretry payload does not parse"
            ) from None
        result = mms_retry_pb2.MediaRetryNotification.ResultType.Name(answer.result)
        if answer.result != mms_retry_pb2.MediaRetryNotification.SUCCESS or not answer.directPath:
            raise MediaRetryError(result, f"the phone could not re-upload the media ({result})")
        updated = e2e_pb2.Message()
        assert message.message is not None
        updated.CopyFrom(message.message)
        found = media_field(updated)
        assert found is not None
        _, sub = found
        sub.directPath = answer.directPath
        conn = self._conn
        if conn is not None and conn.hosts:
            sub.URL = f"https://{conn.hosts[0].hostname}{answer.directPath}"
        return WAMessage(
            key=message.key,
            message=updated,
            message_timestamp=message.message_timestamp,
            push_name=message.push_name,
            sender=message.sender,
            category=message.category,
            edit=message.edit,
            offline=message.offline,
        )

    def on_retry_notification(self, node: Node) -> None:
        """``<notification type="mediaretry" id>``: ``messages.media-update`` (Baileys), and
        the answer goes to the download waiting for it."""
        self._emit_media_update(node)
        waiter = self._retries.get(node.attrs.get("id", ""))
        if waiter is None or waiter.done():
            self.log.debug("mediaretry notification nobody waits for: %s", node.attrs.get("id"))
            return
        if node.get_child("rmr") is None:
            self.log.warning("mediaretry notification without <rmr>")
        waiter.set_result(node)

    def _emit_media_update(self, node: Node) -> None:
        rmr = node.get_child("rmr")
        mid = node.attrs.get("id", "")
        if rmr is None or not mid or not rmr.attrs.get("jid"):
            return
        key = MessageKey(
            remote_jid=rmr.attrs["jid"],
            from_me=rmr.attrs.get("from_me") == "true",
            id=mid,
            participant=rmr.attrs.get("participant"),
        )
        error = node.get_child("error")
        encrypt = node.get_child("encrypt")
        enc_p = encrypt.get_child("enc_p") if encrypt is not None else None
        enc_iv = encrypt.get_child("enc_iv") if encrypt is not None else None
        update = (
            MediaUpdate(key, error=error.attrs.get("code", ""))
            if error is not None
            else MediaUpdate(
                key,
                ciphertext=enc_p.content_bytes() if enc_p is not None else None,
                iv=enc_iv.content_bytes() if enc_iv is not None else None,
            )
        )
        self.core.ev.emit("messages.media-update", [update])

    # ------------------------------------------------------------------ history blobs

    async def download_history(
        self, notification: e2e_pb2.HistorySyncNotification, message_id: str
    ) -> bytes | None:
        """The compressed ``HistorySync`` of a notification that points at a blob, or
        ``None`` (after telling the phone) when it cannot be downloaded."""
        async with self._history_lock:  # one at a time, in the order they came
            try:
                conn = await self.media_conn()
                data = await download_blob(
                    self.http,
                    conn,
                    direct_path=notification.directPath,
                    media_key=notification.mediaKey,
                    file_enc_sha256=notification.fileEncSHA256,
                    file_sha256=notification.fileSHA256,
                    file_length=notification.fileLength
                    if notification.HasField("fileLength")
                    else None,
                    media_type=MediaType.HISTORY,
                )
            except (MediaError, WamdError) as exc:
                self.log.warning("history sync %s could not be downloaded: %s", message_id, exc)
                await self._history_server_error(notification, message_id)
                return None
            with contextlib.suppress(WamdError, MediaError):
                await self.delete_blob(
                    MediaType.HISTORY, notification.directPath, notification.fileEncSHA256
                )
            return data

    async def _history_server_error(
        self, notification: e2e_pb2.HistorySyncNotification, message_id: str
    ) -> None:
        """whatsmeow ``SendHistorySyncServerErrorReceipt``: ask the phone to upload again."""
        own = self.core.own_ids()
        if own is None or len(notification.mediaKey) != 32:
            return
        payload = mms_retry_pb2.ServerErrorReceipt(stanzaID=message_id).SerializeToString()
        ciphertext, iv = media_retry_encrypt(notification.mediaKey, message_id, payload)
        await self.core.send_quietly(
            Node(
                "receipt",
                {
                    "id": message_id,
                    "type": "server-error",
                    "to": str(own.pn.to_non_ad()),
                    "category": "peer",
                },
                [Node("encrypt", {}, [Node("enc_p", {}, ciphertext), Node("enc_iv", {}, iv)])],
            )
        )

    async def delete_blob(
        self, media_type: MediaType, direct_path: str, file_enc_sha256: bytes
    ) -> None:
        """whatsmeow ``DeleteMedia``: remove a blob we are done with (history chunks)."""
        if not direct_path:
            return
        conn = await self.media_conn()
        await self.http.delete(conn, media_type, direct_path, file_enc_sha256)
