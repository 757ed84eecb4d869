"""Moving media blobs over HTTP: ``media_conn`` answers, uploads, downloads (aiohttp).

Protocol facts (whatsmeow ``mediaconn.go``, ``upload.go``, ``download.go``; Baileys
``messages-media.ts``):

- ``<iq xmlns="w:m" type="set"><media_conn/></iq>`` is answered with ``<media_conn auth
  ttl auth_ttl max_buckets><host hostname/>…``; the answer may be used until ``ttl``
  seconds after it was fetched (``MediaConn``);
- an upload is ``POST https://<host>/mms/<mms type>/<token>?auth=<auth>&token=<token>``
  where ``token`` is the blob's SHA-256 in URL-safe base64 (with its ``=`` padding, as
  whatsmeow sends it), with ``Origin``/``Referer`` of WhatsApp Web; the JSON answer has
  ``url`` and ``direct_path``. wamd tries the hosts in order and fetches a fresh
  ``media_conn`` after a failed attempt (Baileys); whatsmeow tries the first host only;
- a download is ``GET https://<host><direct path>&hash=<token>&mms-type=<type>&__wa-mms=``
  from each host in turn; on a network error or a retryable status (429, 5xx) up to 5
  tries per host with a growing pause (whatsmeow ``downloadPossiblyEncryptedMediaWithRetries``;
  ``Retry-After`` is honoured); 403, 404 and 410 stop at once (``MediaUnavailable``).

TLS is verified against the system's roots unless ``ssl=`` gives another context (a
sim passes one that trusts its own CA); ``scheme="http"`` (a sim's media host without TLS)
is allowed for loopback hosts only, so that a media auth token never crosses a network in
the clear; ``proxy=`` sends every request through an HTTP proxy. Bodies stream in both
directions, chunk by chunk.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from wamd.binary import Node
from wamd.errors import (
    MediaDownloadError,
    MediaIntegrityError,
    MediaUnavailable,
    MediaUploadError,
    ProtocolError,
)
from wamd.media.crypto import MediaDecryptor
from wamd.media.types import MediaType

__all__ = [
    "CHUNK_SIZE",
    "MAX_PICTURE_BYTES",
    "DownloadTarget",
    "MediaClient",
    "MediaConn",
    "MediaHost",
    "UploadResult",
    "download_blob",
    "media_conn_query",
    "upload_token",
]

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024  # bytes read, encrypted, sent or decrypted at a time
MAX_PICTURE_BYTES = 2 << 20  # a profile picture larger than this is refused
DOWNLOAD_TRIES = 5  # per host, on network errors (whatsmeow: 5)
UNAVAILABLE = frozenset({403, 404, 410})  # never retried (whatsmeow ErrMediaDownloadFailedWith*)
WEB_ORIGIN = "https://web.whatsapp.com"  # Origin of uploads and downloads (whatsmeow socket.Origin)


def upload_token(file_enc_sha256: bytes) -> str:
    """The upload token: URL-safe base64 of the blob's SHA-256, padded (whatsmeow)."""
    return base64.urlsafe_b64encode(file_enc_sha256).decode()


def media_conn_query() -> Node:
    """``<iq xmlns="w:m" type="set" to="s.whatsapp.net"><media_conn/></iq>``."""
    return Node("iq", {"to": "s.whatsapp.net", "type": "set", "xmlns": "w:m"}, [Node("media_conn")])


@dataclass(frozen=True, slots=True)
class MediaHost:
    hostname: str  # may carry a port: "127.0.0.1:8443"


@dataclass(frozen=True, slots=True)
class MediaConn:
    """A ``media_conn`` answer: where to upload and download, and the upload auth."""

    auth: str = field(repr=False)
    ttl: int
    auth_ttl: int
    max_buckets: int
    hosts: tuple[MediaHost, ...]
    fetched_at: float = field(default_factory=time.monotonic)

    def expired(self, now: float | None = None) -> bool:
        """Past ``ttl`` seconds since it was fetched (whatsmeow ``MediaConn.Expiry``)."""
        return (time.monotonic() if now is None else now) >= self.fetched_at + self.ttl

    @classmethod
    def parse(cls, answer: Node, now: float | None = None) -> MediaConn:
        """From the iq result; ``ProtocolError`` naming what is missing or malformed."""
        node = answer.get_child("media_conn") if answer.tag == "iq" else answer
        if node is None or node.tag != "media_conn":
            raise ProtocolError("the media_conn answer has no <media_conn>")
        auth = node.attrs.get("auth")
        if not auth:
            raise ProtocolError("the media_conn answer has no auth")
        numbers = {}
        for name in ("ttl", "auth_ttl", "max_buckets"):
            raw = node.attrs.get(name, "0")
            if not raw.isdigit():
                raise ProtocolError(f"the media_conn answer's {name} is not a number")
            numbers[name] = int(raw)
        hosts = []
        for child in node.get_children():
            if child.tag != "host":
                continue
            name = child.attrs.get("hostname", "")
            if not name or "/" in name or any(c.isspace() for c in name):
                raise ProtocolError("a media_conn host has no usable hostname")
            hosts.append(MediaHost(name))
        if not hosts:
            raise ProtocolError("the media_conn answer names no host")
        return cls(
            auth,
            numbers["ttl"],
            numbers["auth_ttl"],
            numbers["max_buckets"],
            tuple(hosts),
            time.monotonic() if now is None else now,
        )


@dataclass(frozen=True, slots=True)
class UploadResult:
    url: str
    direct_path: str
    handle: str | None = None
    object_id: str | None = None


class DownloadTarget(Protocol):
    """Where downloaded plaintext goes: ``write`` each chunk; ``reset`` before a retry
    (``False``: it cannot start again, the download fails instead of retrying)."""

    async def write(self, data: bytes) -> None: ...

    async def reset(self) -> bool: ...


class BytesTarget:
    """Collects the plaintext in memory (for ``download_media(msg)`` → bytes)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.parts.append(data)

    async def reset(self) -> bool:
        self.parts.clear()
        return True

    def value(self) -> bytes:
        return b"".join(self.parts)


BodyFactory = Callable[[], AsyncIterator[bytes]]
Progress = Callable[[int, int], Any]  # (bytes sent, total)


class _HttpStatus(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        self.status = status
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return min(float(value.strip()), 60.0)
    return None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


class MediaClient:
    """One aiohttp session for a socket's media (made on first use, closed by ``close``).

    ``scheme`` is ``"https"`` for WhatsApp (a sim on loopback may use ``"http"``);
    ``retry_delay(n)`` is the pause before the n-th retry of a download (whatsmeow: n s).
    """

    def __init__(
        self,
        *,
        ssl: ssl_module.SSLContext | None = None,
        scheme: str = "https",
        proxy: str | None = None,
        origin: str = WEB_ORIGIN,
        user_agent: str | None = None,
        timeout: float = 300.0,
        retry_delay: Callable[[int], float] = float,
    ) -> None:
        if scheme not in ("https", "http"):
            raise ValueError(f"media scheme must be https or http, not {scheme!r}")
        self.ssl = ssl
        self.scheme = scheme
        self.proxy = proxy
        self.origin = origin
        self.user_agent = user_agent
        self.timeout = timeout
        self.retry_delay = retry_delay
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"MediaClient(scheme={self.scheme!r}, proxy={'set' if self.proxy else None})"

    def _headers(self) -> dict[str, str]:
        headers = {"Origin": self.origin, "Referer": self.origin + "/"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        return headers

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=self.timeout),
                auto_decompress=False,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ upload

    def _plain_ok(self, hostname: str) -> bool:
        """Whether ``hostname`` may be spoken to over this client's scheme (plain http:
        loopback only)."""
        if self.scheme == "https":
            return True
        host = hostname.rsplit(":", 1)[0] if hostname.count(":") == 1 else hostname
        host = host.strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def upload_url(
        self, host: MediaHost, conn: MediaConn, media_type: MediaType, token: str
    ) -> str:
        from urllib.parse import quote

        if not self._plain_ok(host.hostname):
            raise MediaUploadError(f"plain http to {host.hostname}: only loopback hosts")
        return (
            f"{self.scheme}://{host.hostname}/mms/{media_type.mms_type}/{token}"
            f"?auth={quote(conn.auth, safe='')}&token={quote(token, safe='')}"
        )

    async def upload(
        self,
        media_conn: Callable[[bool], Awaitable[MediaConn]],
        body: BodyFactory,
        size: int,
        file_enc_sha256: bytes,
        media_type: MediaType,
    ) -> UploadResult:
        """POST the blob to each host in turn until one takes it.

        ``media_conn(force)`` gives the current answer; after a failed attempt it is
        called with ``force=True`` (a fresh auth), as Baileys does. ``body()`` makes a
        new iterator over the blob for each attempt.
        """
        token = upload_token(file_enc_sha256)
        conn = await media_conn(False)
        tried: set[str] = set()
        last: MediaUploadError | None = None
        while True:
            host = next((h for h in conn.hosts if h.hostname not in tried), None)
            if host is None:
                break
            tried.add(host.hostname)
            url = self.upload_url(host, conn, media_type, token)
            headers = self._headers() | {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
            }
            try:
                async with self.session().post(
                    url, data=body(), headers=headers, proxy=self.proxy
                ) as response:
                    text = await response.text(errors="replace")
                    if response.status != 200:
                        raise MediaUploadError(
                            f"{host.hostname} refused the upload: HTTP {response.status}"
                            + (f" {_short(text)}" if text else ""),
                            response.status,
                        )
                    return _parse_upload(text, host.hostname)
            except MediaUploadError as exc:
                last = exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = MediaUploadError(f"uploading to {host.hostname} failed: {_describe(exc)}")
            log.warning("%s", last)
            if last.status == 413:
                break  # too large for this type: another host will not take it either
            try:
                conn = await media_conn(True)
            except Exception as exc:  # the socket may be gone: keep the hosts we had
                log.debug("could not refresh media_conn after a failed upload: %s", exc)
        raise last or MediaUploadError("no media host to upload to")

    async def delete(
        self, conn: MediaConn, media_type: MediaType, direct_path: str, file_enc_sha256: bytes
    ) -> None:
        """``DELETE /mms/<type>/<token>?token&d_md&auth`` (whatsmeow ``DeleteMedia``), on
        the first host; ``MediaDownloadError`` when it is refused."""
        from urllib.parse import quote

        path = direct_path.split("?", 1)[0]
        token = upload_token(file_enc_sha256)
        d_md = base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")
        host = conn.hosts[0]
        if not self._plain_ok(host.hostname):
            raise MediaDownloadError(f"plain http to {host.hostname}: only loopback hosts")
        url = (
            f"{self.scheme}://{host.hostname}/mms/{media_type.mms_type}/{token}"
            f"?token={quote(token, safe='')}&d_md={d_md}&auth={quote(conn.auth, safe='')}"
        )
        try:
            async with self.session().delete(url, headers=self._headers(), proxy=self.proxy) as r:
                if not 200 <= r.status < 300:
                    raise MediaDownloadError(
                        f"{host.hostname} refused to delete: HTTP {r.status}", r.status
                    )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise MediaDownloadError(
                f"deleting on {host.hostname} failed: {_describe(exc)}"
            ) from None

    # ------------------------------------------------------------------ plain files

    async def fetch_bytes(self, url: str, limit: int) -> bytes:
        """GET a file that is not end-to-end encrypted (a profile picture's URL), at most
        ``limit`` bytes. ``MediaUnavailable`` for 403/404/410, ``MediaDownloadError`` for
        any other status, a network error, a body over ``limit`` or a URL not on
        https (http only when this client speaks plain http to a sim)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if (
            parts.scheme not in ("https", self.scheme)
            or not parts.hostname
            or (parts.scheme == "http" and not self._plain_ok(parts.netloc))
        ):
            raise MediaDownloadError(f"not a media URL this client fetches: {_short(url)}")
        try:
            async with self.session().get(
                url, headers=self._headers(), proxy=self.proxy
            ) as response:
                if response.status in UNAVAILABLE:
                    raise MediaUnavailable(
                        f"{parts.netloc} answered HTTP {response.status}", response.status
                    )
                if response.status != 200:
                    raise MediaDownloadError(
                        f"{parts.netloc} answered HTTP {response.status}", response.status
                    )
                body = bytearray()
                async for chunk in response.content.iter_chunked(CHUNK_SIZE):
                    body += chunk
                    if len(body) > limit:
                        raise MediaDownloadError(
                            f"the file at {parts.netloc} is over {limit} bytes"
                        )
                return bytes(body)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise MediaDownloadError(
                f"downloading from {parts.netloc} failed: {_describe(exc)}"
            ) from None

    # ------------------------------------------------------------------ download

    def download_url(
        self, host: MediaHost, direct_path: str, file_enc_sha256: bytes | None, mms_type: str
    ) -> str:
        if not self._plain_ok(host.hostname):
            raise MediaDownloadError(f"plain http to {host.hostname}: only loopback hosts")
        joiner = "&" if "?" in direct_path else "?"
        hashed = upload_token(file_enc_sha256) if file_enc_sha256 is not None else ""
        return (
            f"{self.scheme}://{host.hostname}{direct_path}{joiner}"
            f"hash={hashed}&mms-type={mms_type}&__wa-mms="
        )

    async def fetch(
        self,
        hosts: Sequence[MediaHost],
        direct_path: str,
        file_enc_sha256: bytes | None,
        media_type: MediaType,
        consume: Callable[[AsyncIterator[bytes]], Awaitable[None]],
        reset: Callable[[], Awaitable[bool]],
    ) -> None:
        """GET the blob and hand its body to ``consume``, host by host, retrying (see the
        module docstring). ``consume`` raising ``MediaIntegrityError`` moves to the next
        host (whatsmeow); a wrong plaintext hash stops at once."""
        if not direct_path.startswith("/"):
            raise MediaDownloadError("the media's direct path does not start with '/'")
        if not hosts:
            raise MediaDownloadError("no media host to download from")
        last: Exception | None = None
        started = False
        for index, host in enumerate(hosts):
            url = self.download_url(host, direct_path, file_enc_sha256, media_type.mms_type)
            for attempt in range(DOWNLOAD_TRIES):
                if started and not await reset():
                    raise MediaDownloadError(
                        "the download failed after part of it was written to a stream "
                        f"that cannot start again: {last}"
                    )
                started = True
                try:
                    await self._get(url, consume)
                    return
                except _HttpStatus as exc:
                    if exc.status in UNAVAILABLE:
                        raise MediaUnavailable(
                            f"{host.hostname} answered HTTP {exc.status} for the media",
                            exc.status,
                        ) from None
                    last = MediaDownloadError(
                        f"{host.hostname} answered HTTP {exc.status}", exc.status
                    )
                    if not _retryable(exc.status):
                        break
                    delay = exc.retry_after
                except MediaIntegrityError as exc:
                    if exc.check == "file_sha256":
                        raise
                    last = exc
                    break  # the next host may serve it whole
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    last = MediaDownloadError(
                        f"downloading from {host.hostname} failed: {_describe(exc)}"
                    )
                    delay = None
                if attempt + 1 < DOWNLOAD_TRIES:
                    pause = delay if delay is not None else self.retry_delay(attempt + 1)
                    log.warning("%s; retrying in %.1f s", last, pause)
                    await asyncio.sleep(pause)
            if index + 1 < len(hosts):
                log.warning("media download failed on %s (%s); trying the next host", host, last)
        if isinstance(last, MediaIntegrityError):
            raise last
        if isinstance(last, MediaDownloadError):
            raise last
        raise MediaDownloadError(f"the media download failed: {last}")

    async def _get(
        self, url: str, consume: Callable[[AsyncIterator[bytes]], Awaitable[None]]
    ) -> None:
        async with self.session().get(url, headers=self._headers(), proxy=self.proxy) as response:
            if response.status != 200:
                raise _HttpStatus(
                    response.status, _retry_after(response.headers.get("Retry-After"))
                )
            await consume(response.content.iter_chunked(CHUNK_SIZE))


def _parse_upload(text: str, host: str) -> UploadResult:
    try:
        answer = json.loads(text)
    except ValueError:
        raise MediaUploadError(f"{host} answered the upload with something not JSON") from None
    if not isinstance(answer, dict):
        raise MediaUploadError(f"{host} answered the upload with a JSON {type(answer).__name__}")
    url, path = answer.get("url"), answer.get("direct_path")
    if not isinstance(url, str) or not isinstance(path, str) or not path.startswith("/"):
        raise MediaUploadError(f"{host}'s upload answer has no usable url and direct_path")
    handle = answer.get("handle")
    object_id = answer.get("object_id")
    return UploadResult(
        url,
        path,
        handle if isinstance(handle, str) else None,
        str(object_id) if object_id is not None else None,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def decrypt_into(
    chunks: AsyncIterator[bytes], decryptor: MediaDecryptor, target: DownloadTarget
) -> None:
    """Feed a blob's body through ``decryptor`` into ``target`` (then every check)."""
    async for chunk in chunks:
        out = decryptor.update(chunk)
        if out:
            await target.write(out)
    last = decryptor.finalize()
    if last:
        await target.write(last)


async def download_blob(
    client: MediaClient,
    media_conn: MediaConn,
    *,
    direct_path: str,
    media_key: bytes,
    file_enc_sha256: bytes | None,
    file_sha256: bytes | None,
    file_length: int | None,
    media_type: MediaType | str,
    target: DownloadTarget | None = None,
) -> bytes:
    """Download, check and decrypt one blob by its direct path, key, hashes and length.

    For blobs that are not in a chat message: app-state snapshots and patches
    (``ExternalBlobReference``: ``media_type="app_state"``) and history-sync chunks
    (``"history"``). ``media_conn`` is the socket's (``await sock.media_conn()``).
    Returns the plaintext, or ``b""`` when ``target`` took it chunk by chunk.
    Raises ``MediaUnavailable`` (403/404/410), ``MediaDownloadError`` (network, other
    statuses, after the retries) or ``MediaIntegrityError`` (naming the failed check).
    """
    kind = MediaType.parse(media_type)
    sink: DownloadTarget = target if target is not None else BytesTarget()

    def make_decryptor() -> MediaDecryptor:
        return MediaDecryptor(
            kind.key_type,
            media_key,
            file_enc_sha256=file_enc_sha256,
            file_sha256=file_sha256,
            file_length=file_length,
        )

    async def consume(chunks: AsyncIterator[bytes]) -> None:
        await decrypt_into(chunks, make_decryptor(), sink)

    await client.fetch(media_conn.hosts, direct_path, file_enc_sha256, kind, consume, sink.reset)
    if isinstance(sink, BytesTarget):
        return sink.value()
    return b""
