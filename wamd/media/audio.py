"""Voice notes and audio: duration from the Ogg headers, a waveform when a decoder is there.

What Baileys does (``prepareWAMessageMedia``): an audio message without ``seconds`` gets
its duration from ``music-metadata``; a voice note (``ptt``) gets a ``waveform`` from the
optional ``audio-decode`` package: the first channel cut into 64 blocks, the mean
absolute sample of each, scaled so that the largest is 100, each floored to a whole
number. Without the decoder it sends none. whatsmeow leaves both to the application.

wamd, likewise, never guesses:

- ``ogg_duration(head, tail)`` reads the duration of an Ogg Opus (or Vorbis) stream from
  its first bytes (the identification header: Opus pre-skip, Vorbis sample rate) and its
  last bytes (the last page's granule position), in pure Python, with no decoding: the
  number of samples is ``granule - pre_skip`` at 48 kHz for Opus (RFC 7845 section 4), at
  the stream's rate for Vorbis. Voice notes are Ogg Opus (WhatsApp's ``audio/ogg;
  codecs=opus``); for other formats it answers ``None``, and the message goes without
  ``seconds`` unless the application gives them;
- ``waveform_from_pcm`` is Baileys' 64-bar rule over signed 16-bit mono samples, and
  ``ffmpeg_waveform`` feeds it from ``ffmpeg`` (when it is on ``PATH``) decoding the
  audio to 8 kHz mono; decoding is streamed, so a long recording costs a list of
  10 ms sums, not its samples. Without ffmpeg, or when it fails, there is no waveform.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
import sys
from array import array
from collections.abc import AsyncIterator, Sequence

__all__ = [
    "OGG_HEAD",
    "OGG_TAIL",
    "WAVEFORM_BARS",
    "ffmpeg_waveform",
    "ogg_duration",
    "seconds_of",
    "waveform_from_pcm",
]

log = logging.getLogger(__name__)

OGG_HEAD = 4096  # bytes kept from the start: the first page holds the identification header
OGG_TAIL = 65307 + 1024  # bytes kept from the end: an Ogg page is at most 65307 bytes
WAVEFORM_BARS = 64  # Baileys' and WhatsApp's
PCM_RATE = 8000  # Hz ffmpeg decodes to for the waveform
BUCKET = PCM_RATE // 100  # samples summed together (10 ms)
FFMPEG_TIMEOUT = 120.0  # seconds ffmpeg may take

_PAGE = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, seq, crc, segments


def _first_packet(head: bytes) -> tuple[int, bytes] | None:
    """The serial number and first packet of the first page (the identification header)."""
    if len(head) < _PAGE.size or head[:4] != b"OggS" or head[4] != 0:
        return None
    _, _, _, _, serial, _, _, segments = _PAGE.unpack_from(head)
    table = head[_PAGE.size : _PAGE.size + segments]
    if len(table) < segments:
        return None
    size = 0
    for lacing in table:
        size += lacing
        if lacing < 255:
            break
    start = _PAGE.size + segments
    packet = head[start : start + size]
    return (serial, packet) if len(packet) == size else None


def _last_granule(tail: bytes, serial: int) -> int | None:
    """The granule position of the last whole page of ``serial`` in ``tail``."""
    at = len(tail)
    while True:
        at = tail.rfind(b"OggS", 0, at)
        if at < 0:
            return None
        if at + _PAGE.size <= len(tail):
            _, version, _, granule, page_serial, _, _, segments = _PAGE.unpack_from(tail, at)
            body = sum(tail[at + _PAGE.size : at + _PAGE.size + segments])
            whole = at + _PAGE.size + segments + body <= len(tail)
            if version == 0 and page_serial == serial and granule >= 0 and whole:
                return int(granule)
        if at == 0:
            return None


def ogg_duration(head: bytes, tail: bytes) -> float | None:
    """Seconds of an Ogg Opus or Vorbis stream from its first and last bytes (``None``
    for anything else, or a stream too damaged to tell)."""
    first = _first_packet(head)
    if first is None:
        return None
    serial, packet = first
    if packet[:8] == b"OpusHead" and len(packet) >= 19:
        pre_skip = int(struct.unpack_from("<H", packet, 10)[0])
        rate = 48000  # Opus granules always count 48 kHz samples
    elif packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        pre_skip = 0
        rate = int(struct.unpack_from("<I", packet, 12)[0])
    else:
        return None
    granule = _last_granule(tail, serial)
    if granule is None or rate <= 0 or granule < pre_skip:
        return None
    return (granule - pre_skip) / rate


def seconds_of(duration: float | None) -> int | None:
    """Whole seconds for the message (``seconds`` is an integer); at least 1 if any."""
    if duration is None:
        return None
    return max(1, round(duration)) if duration > 0 else 0


def waveform_from_pcm(sums: Sequence[float], counts: Sequence[int] | None = None) -> bytes:
    """Baileys' waveform from per-bucket sums of absolute sample values.

    ``sums[i]`` is the sum of ``|sample|`` over bucket ``i`` (``counts[i]`` samples, all
    ``BUCKET`` by default). The buckets are cut into 64 blocks of equal size; a block's
    value is its mean, scaled so that the largest is 100 and floored. Silence (or too
    little audio for 64 blocks) gives 64 zeros.
    """
    n = len(sums)
    per = n // WAVEFORM_BARS
    if per == 0:
        return bytes(WAVEFORM_BARS)
    sizes = counts if counts is not None else [BUCKET] * n
    means = []
    for bar in range(WAVEFORM_BARS):
        lo, hi = bar * per, (bar + 1) * per
        samples = sum(sizes[lo:hi])
        means.append(sum(sums[lo:hi]) / samples if samples else 0.0)
    top = max(means)
    if top <= 0:
        return bytes(WAVEFORM_BARS)
    return bytes(min(100, int(100 * m / top)) for m in means)


async def _pcm_buckets(chunks: AsyncIterator[bytes]) -> tuple[list[float], list[int]]:
    sums: list[float] = []
    counts: list[int] = []
    carry = b""
    async for chunk in chunks:
        data = carry + chunk
        usable = len(data) - len(data) % (2 * BUCKET)
        carry = data[usable:]
        samples = array("h")
        samples.frombytes(data[:usable])
        if sys.byteorder == "big":
            samples.byteswap()  # s16le from ffmpeg
        for start in range(0, len(samples), BUCKET):
            block = samples[start : start + BUCKET]
            sums.append(float(sum(map(abs, block))))
            counts.append(len(block))
    if len(carry) >= 2:
        samples = array("h")
        samples.frombytes(carry[: len(carry) - len(carry) % 2])
        if sys.byteorder == "big":
            samples.byteswap()
        sums.append(float(sum(map(abs, samples))))
        counts.append(len(samples))
    return sums, counts


async def ffmpeg_waveform(
    src: bytes | str | os.PathLike[str], *, ffmpeg: str | None = None
) -> bytes | None:
    """The waveform of an audio file or its bytes, decoded by ``ffmpeg`` (``None``
    without ffmpeg on ``PATH``, or when it cannot decode the audio)."""
    binary = ffmpeg or shutil.which("ffmpeg")
    if binary is None:
        return None
    from_stdin = isinstance(src, bytes)
    source = "pipe:0" if from_stdin else os.fspath(src)
    args = [binary, "-nostdin", "-v", "error", "-i", source]
    args += ["-map", "0:a:0", "-ac", "1", "-ar", str(PCM_RATE), "-f", "s16le", "pipe:1"]
    if from_stdin:
        args.remove("-nostdin")
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE if from_stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        log.info("no waveform: cannot run ffmpeg: %s", exc)
        return None
    assert proc.stdout is not None and proc.stderr is not None

    async def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(src)  # type: ignore[arg-type]
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # ffmpeg stopped reading (it failed: its exit code says so)
        finally:
            proc.stdin.close()

    async def read() -> AsyncIterator[bytes]:
        assert proc.stdout is not None
        while data := await proc.stdout.read(1 << 16):
            yield data

    try:
        async with asyncio.timeout(FFMPEG_TIMEOUT):
            feeding = asyncio.ensure_future(feed()) if from_stdin else None
            (sums, counts), errors = await asyncio.gather(_pcm_buckets(read()), proc.stderr.read())
            if feeding is not None:
                await feeding
            code = await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.info("no waveform: ffmpeg took over %.0f s", FFMPEG_TIMEOUT)
        return None
    if code != 0 or not sums:
        log.info("no waveform: ffmpeg could not decode the audio: %s", errors.decode()[-200:])
        return None
    return waveform_from_pcm(sums, counts)
