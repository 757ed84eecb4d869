"""Voice notes: duration from the Ogg headers (pure Python), the waveform (Baileys' rule,
fed by ffmpeg when it is on PATH), and both in what a phone receives."""

from __future__ import annotations

import itertools
import shutil
import struct
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.client.stores import link
from wamd.media.audio import (
    OGG_HEAD,
    OGG_TAIL,
    ffmpeg_waveform,
    ogg_duration,
    seconds_of,
    waveform_from_pcm,
)
from wamd.sim import SimServer
from wamd.testing import wait_received

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not on PATH")


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ byte]
    return crc


def page(packet: bytes, granule: int, seq: int, serial: int = 7, flags: int = 0) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, serial, seq, 0, len(lacing))
    raw = header + bytes(lacing) + packet
    return raw[:22] + struct.pack("<I", _crc(raw)) + raw[26:]


def opus_stream(seconds: float, pre_skip: int = 312, packet: int = 900, serial: int = 7) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 16000, 0, 0)
    out = [page(head, 0, 0, serial, flags=2), page(b"OpusTags" + bytes(16), 0, 1, serial)]
    total = pre_skip + round(seconds * 48000)
    granule, seq = 0, 2
    while granule < total:
        granule = min(total, granule + 48000 // 5)
        out.append(page(bytes(packet), granule, seq, serial, flags=4 if granule == total else 0))
        seq += 1
    return b"".join(out)


def vorbis_stream(samples: int, rate: int = 44100) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, rate, 0, 128000, 0, 0xB8, 1)
    return page(ident, 0, 0, flags=2) + page(bytes(300), samples, 1, flags=4)


def ends(data: bytes) -> tuple[bytes, bytes]:
    return data[:OGG_HEAD], data[-OGG_TAIL:]


def test_ogg_opus_duration_is_granule_less_pre_skip_at_48_khz() -> None:
    assert ogg_duration(*ends(opus_stream(3.25))) == pytest.approx(3.25)
    assert ogg_duration(*ends(opus_stream(61.0, pre_skip=3840))) == pytest.approx(61.0)
    long = opus_stream(90.0, packet=1000)  # the last page lies far past the head
    assert len(long) > OGG_HEAD + OGG_TAIL
    assert ogg_duration(*ends(long)) == pytest.approx(90.0)
    assert ogg_duration(*ends(vorbis_stream(44100 * 2))) == pytest.approx(2.0)
    # a file cut short: its last whole page counts, not the torn one after it
    torn = ogg_duration(*ends(opus_stream(2.0, packet=900)[:-400]))
    assert torn is not None and 1.5 < torn < 2.0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"ID3" + bytes(500),  # an MP3
        b"OggS" + bytes(100),  # a capture pattern and nothing sensible after it
        page(b"Speex   " + bytes(72), 0, 0) + page(bytes(10), 16000, 1),  # not Opus or Vorbis
    ],
)
def test_anything_else_has_no_duration(data: bytes) -> None:
    assert ogg_duration(*ends(data)) in (None, 0.0)


def test_a_page_of_another_stream_is_not_taken_for_the_last() -> None:
    ours = opus_stream(5.0)
    other = page(bytes(50), 48000 * 900, 9, serial=99)  # a second logical stream's page
    assert ogg_duration(*ends(ours + other)) == pytest.approx(5.0)


def test_seconds_are_whole_and_at_least_one() -> None:
    assert [seconds_of(d) for d in (None, 0.0, 0.2, 1.49, 1.5, 59.7)] == [None, 0, 1, 1, 2, 60]


def test_the_waveform_follows_baileys_rule() -> None:
    # 128 buckets: two per bar, each bar's mean rising with the bar; the largest is 100
    sums = [float(i // 2 + 1) * 80 for i in range(128)]
    bars = waveform_from_pcm(sums)
    assert len(bars) == 64 and bars[-1] == 100
    assert list(bars) == [int(100 * (b + 1) / 64) for b in range(64)]
    assert waveform_from_pcm([0.0] * 200) == bytes(64)  # silence
    assert waveform_from_pcm([5.0] * 10) == bytes(64)  # too short for 64 bars


def ramp_voice_note(path: Path, seconds: float = 3.0) -> bytes:
    """A real Ogg Opus voice note whose loudness rises from silence (ffmpeg's encoder)."""
    assert FFMPEG is not None
    subprocess.run(
        [
            *(FFMPEG, "-v", "error", "-y", "-f", "lavfi"),
            *("-i", f"sine=frequency=300:duration={seconds}"),
            *("-af", f"volume='t/{seconds}':eval=frame", "-c:a", "libopus", "-b:a", "16k"),
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


@needs_ffmpeg
async def test_ffmpeg_decodes_a_real_voice_note_into_a_rising_waveform(tmp_path: Path) -> None:
    data = ramp_voice_note(tmp_path / "v.ogg")
    assert ogg_duration(*ends(data)) == pytest.approx(3.0, abs=0.03)
    bars = await ffmpeg_waveform(data)
    assert bars is not None and len(bars) == 64 and max(bars) == 100
    assert bars[0] < 10 and bars[-1] >= 95
    assert all(b >= a - 3 for a, b in itertools.pairwise(bars))  # rising
    assert await ffmpeg_waveform(tmp_path / "v.ogg") == bars  # a path gives the same
    assert await ffmpeg_waveform(b"OggS not audio at all") is None
    assert await ffmpeg_waveform(b"x", ffmpeg=str(tmp_path / "no-such-ffmpeg")) is None


async def test_a_voice_note_gets_its_seconds_from_the_ogg_headers(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    note = opus_stream(7.4)

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(note), 1000):
            yield note[i : i + 1000]

    for src in (note, stream()):
        sent = await sock.send_message(alice.jid, {"audio": src, "ptt": True})
        got = await wait_received(alice, lambda m, i=sent.key.id: m.id == i)
        assert got.message.audioMessage.seconds == 7 and got.message.audioMessage.PTT
    given = await sock.send_message(
        alice.jid, {"audio": note, "ptt": True, "seconds": 9, "waveform": bytes(range(64))}
    )
    got = await wait_received(alice, lambda m: m.id == given.key.id)
    assert got.message.audioMessage.seconds == 9  # the application's figures win
    assert got.message.audioMessage.waveform == bytes(range(64))
    mp3 = await sock.send_message(alice.jid, {"audio": b"ID3" + bytes(3000)})
    got = await wait_received(alice, lambda m: m.id == mp3.key.id)
    assert not got.message.audioMessage.HasField("seconds")  # no guess for other formats
    await sock.end()


@needs_ffmpeg
async def test_a_voice_note_gets_a_waveform_when_ffmpeg_is_there(
    sim: SimServer, tmp_path: Path
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    data = ramp_voice_note(tmp_path / "note.ogg", 2.0)
    for src in (data, tmp_path / "note.ogg"):
        sent = await sock.send_message(alice.jid, {"audio": src, "ptt": True})
        got = await wait_received(alice, lambda m, i=sent.key.id: m.id == i)
        audio = got.message.audioMessage
        assert audio.seconds == 2 and len(audio.waveform) == 64 and max(audio.waveform) == 100
        assert audio.waveform[0] < audio.waveform[-1]
    plain = await sock.send_message(alice.jid, {"audio": data})  # music, not a voice note
    got = await wait_received(alice, lambda m: m.id == plain.key.id)
    assert got.message.audioMessage.seconds == 2 and not got.message.audioMessage.waveform
    await sock.end()
