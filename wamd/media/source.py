"""What an application hands over to send: bytes, a path, a file or an async byte stream.

``read_chunks(src)`` turns any of them into an async iterator of byte chunks (files are
read off the event loop, one chunk at a time); ``guess_mimetype`` names the type from the
file name or the first bytes; ``image_meta`` gives an image's dimensions and a small
JPEG thumbnail when Pillow is installed (``pip install wamd[media]``), ``None`` otherwise.
A source that cannot be read raises ``MediaSourceError`` naming it.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import mimetypes
import os
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wamd.errors import MediaSourceError

__all__ = [
    "DEFAULT_MIMETYPES",
    "ImageMeta",
    "MediaSource",
    "guess_mimetype",
    "image_meta",
    "read_chunks",
    "source_name",
]

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 72  # px: the longer side of an inline JPEG thumbnail
THUMBNAIL_QUALITY = 50

# Baileys Utils/messages.ts MIMETYPE_MAP: what a kind is when nothing says otherwise
DEFAULT_MIMETYPES = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "document": "application/pdf",
    "audio": "audio/ogg; codecs=opus",
    "sticker": "image/webp",
}


MediaSource = bytes | bytearray | memoryview | str | os.PathLike[str] | AsyncIterable[bytes] | Any
"""bytes, a path (``str`` or ``Path``), a binary file object, or an async iterable of bytes."""


def source_name(src: object) -> str | None:
    """The file name behind a source, if it has one."""
    if isinstance(src, str | os.PathLike):
        return Path(src).name
    name = getattr(src, "name", None)
    return Path(name).name if isinstance(name, str) else None


def _describe(src: object) -> str:
    if isinstance(src, str | os.PathLike):
        return str(src)
    return type(src).__name__


async def read_chunks(src: object, chunk_size: int) -> AsyncIterator[bytes]:
    """Yield the source's bytes, ``chunk_size`` at a time (see the module docstring)."""
    if isinstance(src, bytes | bytearray | memoryview):
        view = memoryview(src)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except OSError as exc:
            raise MediaSourceError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            while True:
                try:
                    data = await asyncio.to_thread(handle.read, chunk_size)
                except OSError as exc:
                    raise MediaSourceError(f"cannot read {path}: {exc.strerror or exc}") from None
                if not data:
                    return
                yield data
        finally:
            handle.close()
    if isinstance(src, AsyncIterable):
        async for piece in src:
            if not isinstance(piece, bytes | bytearray | memoryview):
                raise MediaSourceError(f"the media stream gave a {type(piece).__name__}, not bytes")
            yield bytes(piece)
        return
    read = getattr(src, "read", None)
    if callable(read):
        in_memory = isinstance(src, io.BytesIO)
        is_async = inspect.iscoroutinefunction(read)  # aiohttp, asyncio streams
        while True:
            try:
                if in_memory:
                    data = read(chunk_size)
                elif is_async:
                    data = await read(chunk_size)
                else:  # a file: read off the event loop
                    data = await asyncio.to_thread(read, chunk_size)
            except OSError as exc:
                raise MediaSourceError(f"cannot read {_describe(src)}: {exc}") from None
            if not isinstance(data, bytes | bytearray | memoryview):
                raise MediaSourceError(f"{_describe(src)} is not opened in binary mode")
            if not data:
                return
            yield bytes(data)
    raise MediaSourceError(
        f"cannot send a {type(src).__name__} as media: give bytes, a path, a binary file "
        "or an async iterable of bytes"
    )


_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"OggS", "audio/ogg; codecs=opus"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"PK\x03\x04", "application/zip"),
    (4, b"ftyp", "video/mp4"),
)


def guess_mimetype(head: bytes, name: str | None, kind: str) -> str:
    """The mimetype from the first bytes, else the file name, else the kind's default."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    for offset, magic, mimetype in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if mimetype == "video/mp4" and kind == "audio":
                return "audio/mp4"
            return mimetype
    if name:
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return "audio/ogg; codecs=opus" if guessed == "audio/ogg" else guessed
    if kind == "document":
        return "application/octet-stream"
    return DEFAULT_MIMETYPES.get(kind, "application/octet-stream")


@dataclass(frozen=True, slots=True)
class ImageMeta:
    width: int
    height: int
    jpeg_thumbnail: bytes | None


def image_meta(data: bytes | Path) -> ImageMeta | None:
    """Dimensions and a JPEG thumbnail, with Pillow; ``None`` without it or for data it
    cannot read (blocking: run it in a thread)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            width, height = image.size
            try:
                image.seek(0)
                thumb = image.convert("RGB")
                thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                out = io.BytesIO()
                thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
                jpeg: bytes | None = out.getvalue()
            except (OSError, ValueError, Image.DecompressionBombError) as exc:
                log.debug("no thumbnail: %s", exc)
                jpeg = None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        log.debug("not an image Pillow reads: %s", exc)
        return None
    return ImageMeta(width, height, jpeg)
