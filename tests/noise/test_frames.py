from __future__ import annotations

import pytest

from wamd.errors import DecodeError, ProtocolError
from wamd.noise import FrameDecoder, FrameEncoder, connection_header


def test_header_once_then_length_prefixes() -> None:
    enc = FrameEncoder(connection_header(3))
    assert enc.encode(b"abc") == b"WA\x06\x03\x00\x00\x03abc"
    assert enc.encode(b"de") == b"\x00\x00\x02de"


def test_server_reads_header_and_coalesced_frames() -> None:
    enc = FrameEncoder(connection_header(2))
    stream = enc.encode(b"one") + enc.encode(b"") + enc.encode(b"three")
    dec = FrameDecoder(expect_header=True)
    assert dec.feed(stream) == [b"one", b"", b"three"]
    assert dec.dict_version == 2 and dec.pending == 0


def test_partial_frames_byte_by_byte() -> None:
    enc = FrameEncoder(connection_header(3))
    stream = enc.encode(b"x" * 300) + enc.encode(b"y")
    dec = FrameDecoder(expect_header=True)
    frames: list[bytes] = []
    for i in range(len(stream)):
        frames += dec.feed(stream[i : i + 1])
    assert frames == [b"x" * 300, b"y"]


def test_length_lies_and_limits() -> None:
    dec = FrameDecoder(max_size=1000)
    with pytest.raises(DecodeError, match="exceeds the limit"):
        dec.feed(b"\x00\x10\x00")
    dec = FrameDecoder()
    assert dec.feed(b"\x00\x00\x10abc") == []  # truncated: waits for more
    assert dec.pending == 6
    with pytest.raises(ProtocolError):
        FrameEncoder(max_size=10).encode(b"x" * 11)


def test_bad_header() -> None:
    with pytest.raises(DecodeError, match="connection header"):
        FrameDecoder(expect_header=True).feed(b"GET / HTTP/1.1")
