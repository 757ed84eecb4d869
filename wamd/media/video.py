"""A video's dimensions, duration and JPEG thumbnail, when ffmpeg is on ``PATH``.

Baileys makes a video's thumbnail with ffmpeg (``generateThumbnail`` → ``extractVideoThumb``:
one frame from the start, scaled down) and leaves ``seconds`` to the application;
whatsmeow leaves all of it to the application. wamd asks ``ffprobe`` for the width, height
and duration and ``ffmpeg`` for the first frame as a JPEG whose longer side is 72 px (the
same size as an image's thumbnail), for videos given as bytes or a path; a stream was read
once, into the encrypted spool, and gets none. Without ffmpeg, or when it cannot read the
file, the message goes without them (WhatsApp shows a grey box until it is downloaded).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass

__all__ = ["VideoMeta", "video_meta"]

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 72
FFMPEG_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class VideoMeta:
    width: int | None
    height: int | None
    seconds: int | None
    jpeg_thumbnail: bytes | None


async def _run(*args: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(FFMPEG_TIMEOUT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, b"", b"timed out"
    return proc.returncode or 0, out, err


async def _probe(ffprobe: str, path: str) -> tuple[int | None, int | None, int | None]:
    code, out, err = await _run(
        ffprobe,
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height:format=duration",
        "-of",
        "json",
        path,
    )
    if code != 0:
        log.info("no video details: ffprobe failed: %s", err.decode(errors="replace")[-200:])
        return None, None, None
    try:
        info = json.loads(out)
        stream = (info.get("streams") or [{}])[0]
        width, height = stream.get("width"), stream.get("height")
        duration = float(info.get("format", {}).get("duration", "nan"))
    except (ValueError, TypeError, AttributeError):
        return None, None, None
    seconds = max(1, round(duration)) if duration == duration and duration > 0 else None
    return (
        width if isinstance(width, int) and width > 0 else None,
        height if isinstance(height, int) and height > 0 else None,
        seconds,
    )


async def _thumbnail(ffmpeg: str, path: str) -> bytes | None:
    scale = f"scale='if(gt(iw,ih),{THUMBNAIL_SIDE},-2)':'if(gt(iw,ih),-2,{THUMBNAIL_SIDE})'"
    code, out, err = await _run(
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-i",
        path,
        "-frames:v",
        "1",
        "-vf",
        scale,
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
        "-q:v",
        "8",
        "pipe:1",
    )
    if code != 0 or not out.startswith(b"\xff\xd8"):
        log.info("no video thumbnail: ffmpeg failed: %s", err.decode(errors="replace")[-200:])
        return None
    return out


async def video_meta(src: object) -> VideoMeta | None:
    """Details of a video given as bytes or a path (``None`` without ffmpeg and ffprobe,
    or for another kind of source)."""
    ffmpeg, ffprobe = shutil.which("ffmpeg"), shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        return None
    if isinstance(src, str | os.PathLike):
        path = os.fspath(src)
        width, height, seconds = await _probe(ffprobe, path)
        return VideoMeta(width, height, seconds, await _thumbnail(ffmpeg, path))
    if not isinstance(src, bytes | bytearray | memoryview):
        return None
    # an MP4 may keep its index at the end: ffmpeg needs a file it can seek in
    handle, name = tempfile.mkstemp(prefix="wamd-video-", suffix=".mp4")
    try:
        with os.fdopen(handle, "wb") as out:
            await asyncio.to_thread(out.write, bytes(src))
        width, height, seconds = await _probe(ffprobe, name)
        return VideoMeta(width, height, seconds, await _thumbnail(ffmpeg, name))
    finally:
        with contextlib.suppress(OSError):
            await asyncio.to_thread(os.unlink, name)
