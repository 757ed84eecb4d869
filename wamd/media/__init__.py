"""WhatsApp media: crypto (sans-IO, streaming), message media info, and transfers.

- ``MediaType``: each blob type's HKDF info and upload path (``types.py``);
- ``MediaEncryptor``/``MediaDecryptor``, ``encrypt_media``/``decrypt_media``, the
  media-retry AES-GCM helpers (``crypto.py``);
- ``MediaInfo``/``media_info``: what a message says about its media (``info.py``);
- ``MediaConn``, ``MediaClient`` (aiohttp: upload to the ``media_conn`` hosts, download
  with host rotation and retries), ``download_blob`` — download and decrypt by direct
  path, media key, hashes and length (app-state and history blobs) (``transfer.py``).

``transfer`` imports aiohttp; it is loaded on first use of its names, so the sans-IO
parts (which ``wamd.messaging`` uses) stay free of asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wamd.media.crypto import (
    MAC_LENGTH,
    EncryptedMedia,
    MediaDecryptor,
    MediaEncryptor,
    MediaKeys,
    decrypt_media,
    encrypt_media,
    encrypted_length,
    media_keys,
    media_retry_decrypt,
    media_retry_encrypt,
)
from wamd.media.info import MediaInfo, enc_media_type, media_info
from wamd.media.types import MediaType

if TYPE_CHECKING:
    from wamd.media.transfer import (
        DownloadTarget,
        MediaClient,
        MediaConn,
        MediaHost,
        UploadResult,
        download_blob,
    )

__all__ = [
    "MAC_LENGTH",
    "DownloadTarget",
    "EncryptedMedia",
    "MediaClient",
    "MediaConn",
    "MediaDecryptor",
    "MediaEncryptor",
    "MediaHost",
    "MediaInfo",
    "MediaKeys",
    "MediaType",
    "UploadResult",
    "decrypt_media",
    "download_blob",
    "enc_media_type",
    "encrypt_media",
    "encrypted_length",
    "media_info",
    "media_keys",
    "media_retry_decrypt",
    "media_retry_encrypt",
]

_LAZY = {"DownloadTarget", "MediaClient", "MediaConn", "MediaHost", "UploadResult", "download_blob"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from wamd.media import transfer

        return getattr(transfer, name)
    raise AttributeError(f"module 'wamd.media' has no attribute {name!r}")
