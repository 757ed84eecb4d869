"""A video's dimensions, duration and thumbnail from ffmpeg (skipped without it on PATH)."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.client.stores import link
from wamd.media.video import video_meta
from wamd.sim import SimServer
from wamd.testing import wait_received

FFMPEG = shutil.which("ffmpeg")
pytestmark = pytest.mark.skipif(
    FFMPEG is None or shutil.which("ffprobe") is None, reason="ffmpeg/ffprobe are not on PATH"
)


def clip(path: Path) -> bytes:
    assert FFMPEG is not None
    subprocess.run(
        [
            FFMPEG,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=10:duration=2.6",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


async def test_a_video_gets_its_size_seconds_and_a_thumbnail(
    sim: SimServer, tmp_path: Path
) -> None:
    from PIL import Image

    data = clip(tmp_path / "clip.mp4")
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    for src in (data, tmp_path / "clip.mp4"):
        sent = await sock.send_message(alice.jid, {"video": src, "caption": "look"})
        got = await wait_received(alice, lambda m, i=sent.key.id: m.id == i)
        video = got.message.videoMessage
        assert (video.width, video.height, video.seconds) == (320, 180, 3)
        with Image.open(io.BytesIO(video.JPEGThumbnail)) as thumb:
            assert thumb.format == "JPEG" and thumb.size == (72, 40)
    given = await sock.send_message(
        alice.jid, {"video": data, "width": 16, "height": 9, "seconds": 30, "jpeg_thumbnail": b"J"}
    )
    got = await wait_received(alice, lambda m: m.id == given.key.id)
    video = got.message.videoMessage
    assert (video.width, video.height, video.seconds, video.JPEGThumbnail) == (16, 9, 30, b"J")

    async def stream() -> AsyncIterator[bytes]:
        yield data

    streamed = await sock.send_message(alice.jid, {"video": stream()})
    got = await wait_received(alice, lambda m: m.id == streamed.key.id)
    assert not got.message.videoMessage.HasField("seconds")  # a stream is read once only
    await sock.end()


async def test_what_ffmpeg_cannot_read_has_no_details(tmp_path: Path) -> None:
    meta = await video_meta(b"\x00\x00\x00\x18ftypmp42 but nothing else")
    assert meta is not None and meta == type(meta)(None, None, None, None)
    assert await video_meta(iter([b"x"])) is None
    assert await video_meta(tmp_path / "missing.mp4") == type(meta)(None, None, None, None)
