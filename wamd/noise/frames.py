"""Framing of the Noise stream inside websocket messages.

Every frame is a 3-byte big-endian length and that many bytes. The client sends the
4-byte connection header (``W A 6 <dict version>``) once, in front of its first frame.
Websocket messages need not align with frames: one message may carry several frames or
part of one, so the decoder buffers (whatsmeow ``socket/framesocket.go``). Frames are
limited to ``MAX_FRAME_SIZE`` bytes (a 3-byte length cannot say more anyway; the limit
can be lowered to bound memory per connection).
"""

from __future__ import annotations

from wamd.errors import DecodeError, ProtocolError

__all__ = ["HEADER_LENGTH", "MAX_FRAME_SIZE", "FrameDecoder", "FrameEncoder"]

MAX_FRAME_SIZE = (1 << 24) - 1  # largest length a 3-byte prefix can carry
HEADER_LENGTH = 4  # "W", "A", 6, dict version


class FrameEncoder:
    """Adds length prefixes; prepends ``header`` (if any) to the first frame only."""

    __slots__ = ("_header", "max_size")

    def __init__(self, header: bytes | None = None, max_size: int = MAX_FRAME_SIZE) -> None:
        self._header = header
        self.max_size = max_size

    def encode(self, payload: bytes) -> bytes:
        size = len(payload)
        if size > self.max_size:
            raise ProtocolError(f"frame of {size} bytes exceeds the limit of {self.max_size}")
        prefix = size.to_bytes(3, "big")
        if self._header is not None:
            prefix = self._header + prefix
            self._header = None
        return prefix + payload


class FrameDecoder:
    """Turns a byte stream into frames.

    With ``expect_header`` (the server side) the first 4 bytes are the connection header:
    they are checked (``W A 6``) and the dictionary version is kept in ``dict_version``.
    """

    __slots__ = ("_buffer", "_header_pending", "dict_version", "max_size")

    def __init__(self, *, expect_header: bool = False, max_size: int = MAX_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._header_pending = expect_header
        self.dict_version: int | None = None
        self.max_size = max_size

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the frames now complete (possibly none)."""
        buffer = self._buffer
        buffer += data
        if self._header_pending:
            if len(buffer) < HEADER_LENGTH:
                return []
            if buffer[0:3] != b"WA\x06":
                raise DecodeError("connection header is not WhatsApp's (expected 'WA' 6)")
            self.dict_version = buffer[3]
            del buffer[:HEADER_LENGTH]
            self._header_pending = False
        frames: list[bytes] = []
        pos = 0
        end = len(buffer)
        while end - pos >= 3:
            size = int.from_bytes(buffer[pos : pos + 3], "big")
            if size > self.max_size:
                raise DecodeError(f"frame length {size} exceeds the limit of {self.max_size}")
            if end - pos - 3 < size:
                break
            frames.append(bytes(buffer[pos + 3 : pos + 3 + size]))
            pos += 3 + size
        if pos:
            del buffer[:pos]
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not form a whole frame yet."""
        return len(self._buffer)
