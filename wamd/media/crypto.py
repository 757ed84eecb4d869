"""WhatsApp media encryption, sans-IO and streaming.

Every blob on WhatsApp's media hosts (photos, videos, voice notes, documents, stickers,
history-sync chunks, app-state snapshots and patches, link thumbnails) is encrypted the
same way (whatsmeow ``upload.go``/``download.go``, Baileys ``messages-media.ts``):

- a random 32-byte ``mediaKey`` is expanded with HKDF-SHA256 (no salt, ``info`` =
  ``"WhatsApp <T> Keys"`` for the blob's type, 112 bytes) into ``iv`` [0:16],
  ``cipherKey`` [16:48] and ``macKey`` [48:80] (the last 32 bytes, the ref key, are unused);
- the plaintext is encrypted with AES-256-CBC and PKCS#7 padding;
- ``mac`` is HMAC-SHA256(macKey, iv ‖ ciphertext), truncated to its first 10 bytes;
- the uploaded blob is ``ciphertext ‖ mac``; ``fileSha256`` is SHA-256 of the plaintext,
  ``fileEncSha256`` SHA-256 of the blob, ``fileLength`` the plaintext's length.

``MediaEncryptor`` and ``MediaDecryptor`` work chunk by chunk, so a 100 MB video is never
held whole: each ``update`` returns what can be written out now. The decryptor holds back
the last 10 bytes it was given (they may be the MAC) and the last plaintext block (it
carries the padding). Its ``finalize`` makes whatsmeow's checks in whatsmeow's order —
length, blob hash, MAC, padding, plaintext hash — and then the announced plaintext
length, raising ``MediaIntegrityError`` naming the first that failed. Nothing it returned
before ``finalize`` may be trusted until ``finalize`` returns.

No key ever appears in a ``repr``, a log line or an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wamd.crypto import hkdf
from wamd.errors import MediaIntegrityError
from wamd.media.types import MediaType

__all__ = [
    "MAC_LENGTH",
    "MEDIA_KEY_LENGTH",
    "EncryptedMedia",
    "MediaDecryptor",
    "MediaEncryptor",
    "MediaKeys",
    "decrypt_media",
    "encrypt_media",
    "encrypted_length",
    "media_keys",
    "media_retry_decrypt",
    "media_retry_encrypt",
    "media_retry_key",
]

MEDIA_KEY_LENGTH = 32  # mediaKey: 32 random bytes
MAC_LENGTH = 10  # the blob ends with the first 10 bytes of HMAC-SHA256(macKey, iv ‖ ciphertext)
_EXPANDED = 112  # HKDF output: iv 16, cipher key 32, mac key 32, ref key 32
_BLOCK = 16
_RETRY_INFO = b"WhatsApp Media Retry Notification"  # whatsmeow mediaretry.go getMediaRetryKey

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class MediaKeys:
    """The keys a media key expands to for one media type (never shown in ``repr``)."""

    iv: bytes = field(repr=False)
    cipher_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    ref_key: bytes = field(repr=False)


def media_keys(media_key: bytes, media_type: MediaType) -> MediaKeys:
    """HKDF-SHA256 of ``media_key`` with the type's info string (see the module docstring)."""
    if len(media_key) != MEDIA_KEY_LENGTH:
        raise ValueError(f"a media key is {MEDIA_KEY_LENGTH} bytes, not {len(media_key)}")
    expanded = hkdf(media_key, _EXPANDED, info=media_type.hkdf_info.encode())
    return MediaKeys(expanded[:16], expanded[16:48], expanded[48:80], expanded[80:])


def encrypted_length(file_length: int) -> int:
    """The blob's size for a plaintext of ``file_length`` bytes (PKCS#7 always pads)."""
    return (file_length // _BLOCK + 1) * _BLOCK + MAC_LENGTH


# ---------------------------------------------------------------- hashing off the caller

# Past this many bytes a blob's SHA-256 passes run on worker threads (hashlib lets go of
# the GIL while it hashes), overlapping the caller's AES and HMAC; below it the hand-off
# costs more than it saves.
THREADED_FROM = 256 * 1024
_WINDOW = 8  # chunks a lane may have queued: bounds the memory a slow worker holds


class _Worker:
    """A daemon thread that runs queued ``(hash.update, data, lane)`` jobs in order."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[Buffer], None], Buffer, _HashLane]] = (
            queue.SimpleQueue()
        )
        threading.Thread(target=self._run, name="wamd-media-hash", daemon=True).start()

    def _run(self) -> None:
        while True:
            update, data, lane = self.jobs.get()
            try:
                update(data)
            except BaseException as exc:  # raised again by the lane's digest()
                lane.failed = exc
            finally:
                lane.slots.release()


_workers: list[_Worker] = []
_workers_lock = threading.Lock()


def _worker(index: int) -> _Worker:
    with _workers_lock:
        while len(_workers) <= index:
            _workers.append(_Worker())
        return _workers[index]


def _forget_workers() -> None:  # a forked child has none of its parent's threads
    global _workers_lock
    _workers.clear()
    _workers_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


class _HashLane:
    """One SHA-256, fed in order: inline until ``THREADED_FROM`` bytes have come (or
    from the start when the blob is known to be that long), then on worker ``index``."""

    __slots__ = ("_fed", "_hash", "_index", "_worker", "failed", "slots")

    def __init__(self, index: int, *, expected: int = 0) -> None:
        self._hash = hashlib.sha256()
        self._index = index
        self._fed = 0
        self._worker = _worker(index) if expected >= THREADED_FROM else None
        self.slots = threading.Semaphore(_WINDOW)
        self.failed: BaseException | None = None

    def update(self, data: Buffer) -> None:
        if self._worker is None:
            self._fed += len(data)
            if self._fed < THREADED_FROM:
                self._hash.update(data)
                return
            self._worker = _worker(self._index)  # what came before is hashed already
        if not (
            isinstance(data, bytes)
            or (isinstance(data, memoryview) and isinstance(data.obj, bytes))
        ):
            data = bytes(data)  # the caller may change its buffer once update returns
        self.slots.acquire()
        self._worker.jobs.put((self._hash.update, data, self))

    def digest(self) -> bytes:
        if self._worker is not None:
            for _ in range(_WINDOW):  # every queued update has run
                self.slots.acquire()
            for _ in range(_WINDOW):
                self.slots.release()
            if self.failed is not None:
                raise self.failed
        return self._hash.digest()


@dataclass(frozen=True, slots=True)
class EncryptedMedia:
    """What a message needs about an encrypted blob (the proto's fields)."""

    media_key: bytes = field(repr=False)
    file_sha256: bytes
    file_enc_sha256: bytes
    file_length: int  # plaintext bytes
    enc_length: int  # blob bytes (ciphertext ‖ mac)


class MediaEncryptor:
    """Encrypts one blob chunk by chunk: ``update`` then ``finalize`` (the last bytes)."""

    def __init__(self, media_type: MediaType, media_key: bytes | None = None) -> None:
        self.media_type = media_type
        self._media_key = media_key if media_key is not None else os.urandom(MEDIA_KEY_LENGTH)
        keys = media_keys(self._media_key, media_type)
        self._cipher = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).encryptor()
        self._mac = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
        self._plain_hash = _HashLane(0)
        self._enc_hash = _HashLane(1)
        self._length = 0
        self._enc_length = 0
        self._result: EncryptedMedia | None = None

    def __repr__(self) -> str:
        return f"MediaEncryptor({self.media_type.name}, {self._length} bytes in)"

    def update(self, chunk: bytes | bytearray | memoryview) -> bytes:
        """Encrypt the next plaintext bytes; returns the ciphertext ready so far."""
        if self._result is not None:
            raise RuntimeError("the encryptor is finalized")
        self._plain_hash.update(chunk)
        self._length += len(chunk)
        out = self._cipher.update(chunk)
        self._mac.update(out)
        self._enc_hash.update(out)
        self._enc_length += len(out)
        return out

    def finalize(self) -> bytes:
        """The padding's ciphertext and the MAC: the blob's last bytes."""
        if self._result is not None:
            raise RuntimeError("the encryptor is finalized")
        pad = _BLOCK - self._length % _BLOCK
        out = self._cipher.update(bytes([pad]) * pad) + self._cipher.finalize()
        self._mac.update(out)
        out += self._mac.digest()[:MAC_LENGTH]
        self._enc_hash.update(out)
        self._enc_length += len(out)
        self._result = EncryptedMedia(
            self._media_key,
            self._plain_hash.digest(),
            self._enc_hash.digest(),
            self._length,
            self._enc_length,
        )
        return out

    @property
    def result(self) -> EncryptedMedia:
        """The hashes and lengths, once ``finalize`` has run."""
        if self._result is None:
            raise RuntimeError("finalize the encryptor first")
        return self._result


class MediaDecryptor:
    """Checks and decrypts one blob chunk by chunk (see the module docstring).

    ``file_enc_sha256`` and ``file_sha256`` are the message's hashes; ``file_length``,
    when known, bounds the blob (``update`` refuses more than its encrypted size, so a
    hostile host cannot stream without end) and is checked against the plaintext.
    """

    def __init__(
        self,
        media_type: MediaType,
        media_key: bytes,
        *,
        file_enc_sha256: bytes | None,
        file_sha256: bytes | None,
        file_length: int | None = None,
    ) -> None:
        self.media_type = media_type
        keys = media_keys(media_key, media_type)
        self._cipher = Cipher(algorithms.AES(keys.cipher_key), modes.CBC(keys.iv)).decryptor()
        self._mac = hmac.new(keys.mac_key, keys.iv, hashlib.sha256)
        # a hash only when there is a value to check it against (each costs a SHA-256 pass)
        expected = file_length or 0
        self._enc_hash = _HashLane(0, expected=expected) if file_enc_sha256 is not None else None
        self._plain_hash = _HashLane(1, expected=expected) if file_sha256 is not None else None
        self._want_enc = file_enc_sha256
        self._want_plain = file_sha256
        self._file_length = file_length
        self._limit = encrypted_length(file_length) if file_length is not None else None
        self._tail = b""  # the last MAC_LENGTH bytes seen: maybe the MAC
        self._held = b""  # the latest plaintext: it may end with the padding
        self._received = 0
        self._written = 0
        self._done = False

    def __repr__(self) -> str:
        return f"MediaDecryptor({self.media_type.name}, {self._received} bytes in)"

    @property
    def received(self) -> int:
        return self._received

    def update(self, chunk: bytes | bytearray | memoryview) -> bytes:
        """Take the next blob bytes; returns plaintext that is ready (not yet verified)."""
        if self._done:
            raise RuntimeError("the decryptor is finalized")
        size = len(chunk)
        if not size:
            return b""
        self._received += size
        if self._limit is not None and self._received > self._limit:
            raise MediaIntegrityError(
                "length",
                f"the blob is longer than the {self._limit} bytes its file length allows",
            )
        if self._enc_hash is not None:
            self._enc_hash.update(chunk)
        view = memoryview(chunk)
        if self._limit is not None:
            # the blob's size is known: the MAC is its last 10 bytes, nothing is copied
            start = self._received - size
            cut = max(0, min(size, self._limit - MAC_LENGTH - start))
            if cut < size:
                self._tail += bytes(view[cut:])
            return self._feed(view[:cut])
        # unknown size: the last 10 bytes seen so far may be the MAC
        if size >= MAC_LENGTH:
            earlier, self._tail = self._tail, bytes(view[size - MAC_LENGTH :])
            first = self._feed(earlier)
            second = self._feed(view[: size - MAC_LENGTH])
            return first + second if first else second
        joined = self._tail + bytes(view)
        cut = max(len(joined) - MAC_LENGTH, 0)
        self._tail = joined[cut:]
        return self._feed(joined[:cut])

    def _feed(self, body: bytes | memoryview) -> bytes:
        """MAC and decrypt ``body``; returns the plaintext of the call before (the latest
        may end with the padding, so it is held back until more comes)."""
        if not len(body):
            return b""
        self._mac.update(body)
        new = self._cipher.update(body)
        if not new:
            return b""
        out, self._held = self._held, new
        if out:
            if self._plain_hash is not None:
                self._plain_hash.update(out)
            self._written += len(out)
        return out

    def finalize(self) -> bytes:
        """Run every check (``MediaIntegrityError`` names the first that fails); returns
        the last plaintext bytes (without the padding)."""
        if self._done:
            raise RuntimeError("the decryptor is finalized")
        self._done = True
        if self._received <= MAC_LENGTH:
            raise MediaIntegrityError("length", f"the blob is only {self._received} bytes long")
        if self._limit is not None and self._received != self._limit:
            raise MediaIntegrityError(
                "length",
                f"the blob is {self._received} bytes, its file length needs {self._limit}",
            )
        if self._enc_hash is not None and not hmac.compare_digest(
            self._enc_hash.digest(), self._want_enc or b""
        ):
            raise MediaIntegrityError("file_enc_sha256", "the blob's SHA-256 does not match")
        if not hmac.compare_digest(self._mac.digest()[:MAC_LENGTH], self._tail):
            raise MediaIntegrityError("mac", "the blob's MAC does not verify")
        try:
            rest = self._held + self._cipher.finalize()
        except ValueError:
            raise MediaIntegrityError("padding", "the ciphertext is not whole AES blocks") from None
        pad = rest[-1] if rest else 0
        if not rest or not 1 <= pad <= _BLOCK or rest[-pad:] != bytes([pad]) * pad:
            raise MediaIntegrityError("padding", "the decrypted blob has invalid padding")
        out = rest[:-pad]
        self._written += len(out)
        if self._plain_hash is not None:
            self._plain_hash.update(out)
        if self._plain_hash is not None and not hmac.compare_digest(
            self._plain_hash.digest(), self._want_plain or b""
        ):
            raise MediaIntegrityError("file_sha256", "the decrypted file's SHA-256 does not match")
        if self._file_length is not None and self._written != self._file_length:
            raise MediaIntegrityError(
                "file_length",
                f"the file is {self._written} bytes, the message says {self._file_length}",
            )
        return out


def encrypt_media(
    data: bytes, media_type: MediaType, media_key: bytes | None = None
) -> tuple[bytes, EncryptedMedia]:
    """Encrypt a whole blob in memory: ``(ciphertext ‖ mac, its fields)``."""
    enc = MediaEncryptor(media_type, media_key)
    blob = enc.update(data) + enc.finalize()
    return blob, enc.result


def decrypt_media(
    blob: bytes,
    media_type: MediaType,
    media_key: bytes,
    *,
    file_enc_sha256: bytes | None,
    file_sha256: bytes | None,
    file_length: int | None = None,
) -> bytes:
    """Check and decrypt a whole blob in memory (``MediaIntegrityError`` if it fails)."""
    dec = MediaDecryptor(
        media_type,
        media_key,
        file_enc_sha256=file_enc_sha256,
        file_sha256=file_sha256,
        file_length=file_length,
    )
    return dec.update(blob) + dec.finalize()


def media_retry_key(media_key: bytes) -> bytes:
    """The AES-GCM key of media-retry receipts and notifications (HKDF, 32 bytes)."""
    return hkdf(media_key, 32, info=_RETRY_INFO)


def media_retry_encrypt(
    media_key: bytes, message_id: str, plaintext: bytes, iv: bytes | None = None
) -> tuple[bytes, bytes]:
    """AES-256-GCM under the retry key, with the message id as associated data:
    ``(ciphertext, iv)`` (whatsmeow ``encryptMediaRetryReceipt``; a 12-byte iv)."""
    nonce = iv if iv is not None else os.urandom(12)
    return AESGCM(media_retry_key(media_key)).encrypt(nonce, plaintext, message_id.encode()), nonce


def media_retry_decrypt(media_key: bytes, message_id: str, ciphertext: bytes, iv: bytes) -> bytes:
    """The inverse of ``media_retry_encrypt``; ``MediaIntegrityError`` if it does not open."""
    from cryptography.exceptions import InvalidTag

    try:
        return AESGCM(media_retry_key(media_key)).decrypt(iv, ciphertext, message_id.encode())
    except (InvalidTag, ValueError):
        raise MediaIntegrityError("mac", "the media-retry payload does not decrypt") from None
