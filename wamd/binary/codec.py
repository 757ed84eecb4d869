"""Encoding and decoding WhatsApp's binary XML ("binary nodes").

Wire format (whatsmeow ``binary/encoder.go``/``decoder.go``, Baileys ``WABinary``; they
agree on everything below unless noted):

- A frame payload starts with a flags byte; bit ``0x02`` means the rest is zlib-deflated.
  We always send 0 (uncompressed), as both references do.
- A node is a list: ``1 + 2*len(attrs) + (1 if content)`` items — the tag, then key/value
  pairs, then the content. List sizes: ``LIST_EMPTY`` (0), ``LIST_8`` + 1 byte,
  ``LIST_16`` + 2 bytes big-endian.
- A string is written as the first form that applies: a single-byte token (one byte);
  a double-byte token (``DICTIONARY_n``, index); ``NIBBLE_8`` packing when every character is
  in ``0-9 - .`` and it has at most 127 characters; ``HEX_8`` packing for ``0-9 A-F`` (upper
  case only); a JID (``AD_JID`` for device JIDs of s.whatsapp.net / lid and for hosted
  servers, ``FB_JID`` for msgr, ``INTEROP_JID`` for interop, else ``JID_PAIR``); raw UTF-8
  with a ``BINARY_8`` / ``BINARY_20`` / ``BINARY_32`` length.
- Packed strings: tag, then ``ceil(n/2) | 0x80 if n is odd``, then two characters per
  byte, high nibble first; an odd string ends with the pad nibble 15.
- Bytes content is written raw with a binary length; a list of nodes as a list.

Where the references differ, wamd does this (and why):

- Attributes with an empty value are left out (whatsmeow); Baileys writes them as empty
  raw strings. An empty string elsewhere is written as an empty raw string (Baileys;
  whatsmeow would write an empty packed string, which no real stanza contains).
- A string attribute containing ``@`` is written as a JID when it parses as one. That is
  Baileys' rule for its untyped attributes and what real WhatsApp Web sends; whatsmeow
  decides by the Go type, which gives the same bytes for the JIDs it sends.
- ``user:0@server`` (explicit device 0) is a plain JID_PAIR, as whatsmeow writes it.

Decoding never raises anything but ``DecodeError``: every length is checked against the
remaining input, nesting depth is bounded, and zlib output is capped.
"""

from __future__ import annotations

import zlib
from typing import Final

from wamd.binary.jid import (
    DEFAULT_USER_SERVER,
    HIDDEN_USER_SERVER,
    HOSTED_LID_SERVER,
    HOSTED_SERVER,
    INTEROP_SERVER,
    JID,
    MESSENGER_SERVER,
    InvalidJID,
)
from wamd.binary.jid import _parse as _parse_jid
from wamd.binary.node import Node
from wamd.binary.tokens import DICTIONARIES, TokenDictionary
from wamd.errors import DecodeError

__all__ = ["MAX_DECOMPRESSED_SIZE", "MAX_DEPTH", "clear_caches", "decode_node", "encode_node"]

# Wire tags (single bytes that are not tokens).
LIST_EMPTY: Final = 0  # empty list / absent value
DICTIONARY_0: Final = 236  # double-byte token from dictionary 0 (237..239: dictionaries 1..3)
DICTIONARY_3: Final = 239
INTEROP_JID: Final = 245  # user, device (2 bytes), integrator (2 bytes), server
FB_JID: Final = 246  # user, device (2 bytes), server
AD_JID: Final = 247  # domain type byte, device byte, user
LIST_8: Final = 248  # list with a 1-byte size
LIST_16: Final = 249  # list with a 2-byte size
JID_PAIR: Final = 250  # user (or LIST_EMPTY), server
HEX_8: Final = 251  # packed upper-case hex string
BINARY_8: Final = 252  # raw bytes, 1-byte length
BINARY_20: Final = 253  # raw bytes, 20-bit length in 3 bytes
BINARY_32: Final = 254  # raw bytes, 4-byte length
NIBBLE_8: Final = 255  # packed numeric string
PACKED_MAX: Final = 127  # longest string that may be packed

FLAG_COMPRESSED: Final = 0x02  # frame flags bit: payload is zlib-deflated
MAX_DEPTH: Final = 64  # deepest nesting decode accepts (real stanzas nest < 10)
MAX_DECOMPRESSED_SIZE: Final = 1 << 24  # same as the largest frame

_NIBBLE_CHARS: Final = frozenset("0123456789-.")
_HEX_CHARS: Final = frozenset("0123456789ABCDEF")
_NIBBLE_VALUES: Final = {c: i for i, c in enumerate("0123456789-.")}
_HEX_VALUES: Final = {c: i for i, c in enumerate("0123456789ABCDEF")}


def _pair_table(values: dict[str, int]) -> dict[str, int]:
    table = {a + b: (va << 4) | vb for a, va in values.items() for b, vb in values.items()}
    for a, va in values.items():
        table[a] = (va << 4) | 15  # the last character of an odd-length string, padded
    return table


_NIBBLE_PAIRS: Final = _pair_table(_NIBBLE_VALUES)
_HEX_PAIRS: Final = _pair_table(_HEX_VALUES)


# ---------------------------------------------------------------------------- encoding


class _Encoder:
    """String -> bytes for one dictionary version, with a bounded cache of results."""

    __slots__ = ("cache", "tokens")

    def __init__(self, tokens: TokenDictionary) -> None:
        self.tokens = tokens
        self.cache: dict[str, bytes] = dict(tokens.encoded)

    def string(self, value: str) -> bytes:
        cached = self.cache.get(value)
        if cached is not None:
            return cached
        encoded = self._encode_string(value)
        if len(self.cache) > 50_000:
            self.cache = dict(self.tokens.encoded)
        if len(value) <= 64:
            self.cache[value] = encoded
        return encoded

    def _encode_string(self, value: str) -> bytes:
        if not value:
            return b"\xfc\x00"  # BINARY_8, length 0
        if len(value) <= PACKED_MAX:
            if _NIBBLE_CHARS.issuperset(value):
                return _pack(value, NIBBLE_8, _NIBBLE_PAIRS)
            if _HEX_CHARS.issuperset(value):
                return _pack(value, HEX_8, _HEX_PAIRS)
        if "@" in value:
            try:
                jid = JID.parse(value)
            except InvalidJID:
                pass
            else:
                return self.jid(jid)
        return _raw(value.encode())

    def jid(self, jid: JID) -> bytes:
        server = jid.server
        if (
            (jid.device and server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER))
            or server == HOSTED_SERVER
            or server == HOSTED_LID_SERVER
        ) and jid.device <= 0xFF:
            return bytes((AD_JID, jid.domain & 0xFF, jid.device)) + self.string(jid.user)
        if server == MESSENGER_SERVER:
            return (
                bytes((FB_JID,))
                + self.string(jid.user)
                + jid.device.to_bytes(2, "big")
                + self.string(server)
            )
        if server == INTEROP_SERVER:
            return (
                bytes((INTEROP_JID,))
                + self.string(jid.user)
                + jid.device.to_bytes(2, "big")
                + jid.integrator.to_bytes(2, "big")
                + self.string(server)
            )
        user = self.string(jid.user) if jid.user else b"\x00"
        return bytes((JID_PAIR,)) + user + self.string(server)


def _pack(value: str, tag: int, pairs: dict[str, int]) -> bytes:
    n = len(value)
    out = bytearray((tag, ((n + 1) >> 1) | (0x80 if n & 1 else 0)))
    out.extend(pairs[value[i : i + 2]] for i in range(0, n, 2))
    return bytes(out)


def _raw(data: bytes) -> bytes:
    n = len(data)
    if n < 256:
        return bytes((BINARY_8, n)) + data
    if n < 1 << 20:
        return bytes((BINARY_20, (n >> 16) & 0x0F, (n >> 8) & 0xFF, n & 0xFF)) + data
    if n < 1 << 32:
        return bytes((BINARY_32,)) + n.to_bytes(4, "big") + data
    raise ValueError("binary content too large to encode")


def _list_start(size: int) -> bytes:
    if size == 0:
        return b"\x00"
    if size < 256:
        return bytes((LIST_8, size))
    if size < 1 << 16:
        return bytes((LIST_16, size >> 8, size & 0xFF))
    raise ValueError(f"a list of {size} items is too long to encode")


_ENCODERS: Final = {version: _Encoder(tokens) for version, tokens in DICTIONARIES.items()}


def _write_node(node: Node, out: bytearray, enc: _Encoder) -> None:
    string = enc.string
    attrs = [(k, v) for k, v in node.attrs.items() if v]
    content = node.content
    size = 2 * len(attrs) + (1 if content is None else 2)
    if size < 256:
        out.append(LIST_8)
        out.append(size)
    else:
        out += _list_start(size)
    out += string(node.tag)
    for key, value in attrs:
        out += string(key)
        out += string(value)
    if content is None:
        return
    if isinstance(content, list):
        n = len(content)
        if n == 0:
            out.append(LIST_EMPTY)
        elif n < 256:
            out.append(LIST_8)
            out.append(n)
        else:
            out += _list_start(n)
        for child in content:
            _write_node(child, out, enc)
    elif isinstance(content, bytes | bytearray | memoryview):
        out += _raw(bytes(content))
    elif isinstance(content, str):
        out += string(content)
    else:
        raise TypeError(f"<{node.tag}> has content of unsupported type {type(content).__name__}")


def encode_node(node: Node, *, dict_version: int = 3) -> bytes:
    """The frame payload for ``node``: flags byte 0, then the encoded node."""
    try:
        enc = _ENCODERS[dict_version]
    except KeyError:
        raise ValueError(f"unknown token dictionary version {dict_version}") from None
    out = bytearray(b"\x00")
    _write_node(node, out, enc)
    return bytes(out)


# ---------------------------------------------------------------------------- decoding


_NIBBLE_TRANSLATE: Final = str.maketrans({"a": "-", "b": ".", "f": "\x00"})
# Decoded packed strings and device JIDs repeat across stanzas (ids of the same users,
# small numbers): bounded caches keyed by their wire bytes.
_CACHE_LIMIT: Final = 20_000
_NIBBLE_CACHE: dict[bytes, str] = {}
_HEX_CACHE: dict[bytes, str] = {}
_AD_JID_CACHE: dict[tuple[str, int, int], str] = {}


def clear_caches() -> None:
    """Empty every string cache of the codec (benchmarks measure it cold)."""
    for enc in _ENCODERS.values():
        enc.cache = dict(enc.tokens.encoded)
    _NIBBLE_CACHE.clear()
    _HEX_CACHE.clear()
    _AD_JID_CACHE.clear()
    _parse_jid.cache_clear()


def _fail(what: str, pos: int) -> DecodeError:
    return DecodeError(f"binary node: {what} at offset {pos}")


def _take(data: bytes, pos: int, n: int) -> bytes:
    if n > len(data) - pos:
        raise _fail(f"length {n} runs past the end of data", pos)
    return data[pos : pos + n]


def _packed_hit(data: bytes, pos: int) -> tuple[str, int] | None:
    """A cached NIBBLE_8 string whose length byte is at ``pos``, or None."""
    stop = pos + 1 + (data[pos] & 0x7F)
    if stop > len(data):
        return None
    hit = _NIBBLE_CACHE.get(data[pos:stop])
    return None if hit is None else (hit, stop)


def _packed(data: bytes, pos: int, nibble: bool) -> tuple[str, int]:
    """A NIBBLE_8/HEX_8 string whose length byte is at ``pos``."""
    start = data[pos]
    n = start & 0x7F
    raw = _take(data, pos, n + 1)
    cache = _NIBBLE_CACHE if nibble else _HEX_CACHE
    text = cache.get(raw)
    if text is not None:
        return text, pos + 1 + n
    text = raw[1:].hex()
    if nibble:
        if "c" in text or "d" in text or "e" in text:
            raise _fail("invalid character in packed number", pos)
        text = text.translate(_NIBBLE_TRANSLATE)
    else:
        text = text.upper()
    if start & 0x80:
        text = text[:-1]
    if len(cache) > _CACHE_LIMIT:
        cache.clear()
    cache[raw] = text
    return text, pos + 1 + n


def _list_size(data: bytes, pos: int) -> tuple[int, int]:
    tag = data[pos]
    if tag == LIST_8:
        size, pos = data[pos + 1], pos + 2
    elif tag == LIST_16:
        size, pos = int.from_bytes(_take(data, pos + 1, 2), "big"), pos + 3
    elif tag == LIST_EMPTY:
        return 0, pos + 1
    else:
        raise _fail(f"expected a list, found tag {tag}", pos)
    if size > len(data) - pos:  # every item takes at least one byte
        raise _fail(f"list of {size} items is longer than the data", pos)
    return size, pos


def _decode_body(data: bytes, tokens: TokenDictionary) -> Node:
    """Decode one node filling all of ``data``.

    Two closures over local state with the common cases (tokens, LIST_8, BINARY_8,
    cached packed numbers) inlined: this is the receive hot path. Reading past the end
    raises IndexError from ``data[pos]``, turned into DecodeError by the caller; slices
    are length-checked explicitly because they do not raise.
    """
    single = tokens.single
    double = tokens.double
    end = len(data)
    fail = _fail
    take = _take

    def string(pos: int) -> tuple[str, int]:
        tag = data[pos]
        pos += 1
        if 0 < tag < 236:
            token = single[tag]
            if not token:
                raise fail(f"unknown token {tag}", pos - 1)
            return token, pos
        if tag == BINARY_8:
            n = data[pos]
            raw = take(data, pos + 1, n)
            pos += 1 + n
        elif tag == NIBBLE_8 or tag == HEX_8:
            stop = pos + 1 + (data[pos] & 0x7F)
            if stop <= end:  # fast path: a packed string seen before
                seen = (_NIBBLE_CACHE if tag == NIBBLE_8 else _HEX_CACHE).get(data[pos:stop])
                if seen is not None:
                    return seen, stop
            return _packed(data, pos, tag == NIBBLE_8)
        elif DICTIONARY_0 <= tag <= DICTIONARY_3:
            return double[tag - DICTIONARY_0][data[pos]], pos + 1
        elif tag == JID_PAIR:
            b = data[pos]
            if b == LIST_EMPTY:
                user = ""
                pos += 1
            elif b == NIBBLE_8 and (hit := _packed_hit(data, pos + 1)) is not None:
                user, pos = hit
            else:
                user, pos = string(pos)
            b = data[pos]
            if 0 < b < 236 and single[b]:
                server = single[b]
                pos += 1
            elif b == LIST_EMPTY:
                raise fail("JID pair without a server", pos)
            else:
                server, pos = string(pos)
            return (f"{user}@{server}" if user else server), pos
        elif tag == AD_JID:
            domain = data[pos]
            device = data[pos + 1]
            if data[pos + 2] == NIBBLE_8 and (hit := _packed_hit(data, pos + 3)) is not None:
                user, pos = hit
            else:
                user, pos = string(pos + 2)
            key = (user, domain, device)
            text = _AD_JID_CACHE.get(key)
            if text is None:
                if len(_AD_JID_CACHE) > _CACHE_LIMIT:
                    _AD_JID_CACHE.clear()
                text = _AD_JID_CACHE[key] = str(JID.from_ad(user, domain, device))
            return text, pos
        elif tag == BINARY_20:
            head = take(data, pos, 3)
            n = ((head[0] & 0x0F) << 16) | (head[1] << 8) | head[2]
            raw = take(data, pos + 3, n)
            pos += 3 + n
        elif tag == BINARY_32:
            n = int.from_bytes(take(data, pos, 4), "big")
            raw = take(data, pos + 4, n)
            pos += 4 + n
        elif tag == FB_JID:
            user, pos = string(pos)
            device = int.from_bytes(take(data, pos, 2), "big")
            server, pos = string(pos + 2)
            return str(JID(user, server, device)), pos
        elif tag == INTEROP_JID:
            user, pos = string(pos)
            ids = take(data, pos, 4)
            server, pos = string(pos + 4)
            device, integrator = int.from_bytes(ids[:2], "big"), int.from_bytes(ids[2:], "big")
            return str(JID(user, server, device, integrator=integrator)), pos
        elif tag == LIST_EMPTY:
            raise fail("missing string", pos - 1)
        else:
            raise fail(f"unexpected tag {tag} where a string was expected", pos - 1)
        try:
            return raw.decode(), pos
        except UnicodeDecodeError:
            raise fail("string is not valid UTF-8", pos) from None

    def node(pos: int, depth: int) -> tuple[Node, int]:
        if depth > MAX_DEPTH:
            raise fail("nodes nested too deeply", pos)
        if data[pos] == LIST_8:
            size = data[pos + 1]
            pos += 2
            if size > end - pos:
                raise fail(f"list of {size} items is longer than the data", pos)
        else:
            size, pos = _list_size(data, pos)
        if size == 0:
            raise fail("empty list where a node was expected", pos)
        b = data[pos]
        if 0 < b < 236 and single[b]:
            tag, pos = single[b], pos + 1
        else:
            tag, pos = string(pos)
        attrs: dict[str, str] = {}
        for _ in range((size - 1) >> 1):
            b = data[pos]
            if 0 < b < 236 and single[b]:
                key, pos = single[b], pos + 1
            else:
                key, pos = string(pos)
            b = data[pos]
            if 0 < b < 236 and single[b]:
                attrs[key], pos = single[b], pos + 1
            elif b == LIST_EMPTY:  # an empty value (Baileys writes "" as byte 0)
                attrs[key], pos = "", pos + 1
            else:
                attrs[key], pos = string(pos)
        if size & 1:
            return Node(tag, attrs), pos
        b = data[pos]
        content: list[Node] | bytes | str | None
        if b == LIST_8 or b == LIST_16:
            count, pos = _list_size(data, pos)
            children: list[Node] = []
            append = children.append
            depth += 1
            for _ in range(count):
                child, pos = node(pos, depth)
                append(child)
            content = children
        elif b == BINARY_8:
            n = data[pos + 1]
            pos += 2
            if n > end - pos:
                raise fail(f"length {n} runs past the end of data", pos)
            content = data[pos : pos + n]
            pos += n
        elif b == BINARY_20:
            h = take(data, pos + 1, 3)
            n = ((h[0] & 0x0F) << 16) | (h[1] << 8) | h[2]
            content = take(data, pos + 4, n)
            pos += 4 + n
        elif b == BINARY_32:
            n = int.from_bytes(take(data, pos + 1, 4), "big")
            content = take(data, pos + 5, n)
            pos += 5 + n
        elif b == LIST_EMPTY:
            content = None
            pos += 1
        else:
            content, pos = string(pos)
        return Node(tag, attrs, content), pos

    result, pos = node(0, 0)
    if pos != end:
        raise DecodeError(f"binary node: {end - pos} trailing bytes after the node")
    return result


def _inflate(data: bytes) -> bytes:
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED_SIZE)
    except zlib.error as exc:
        raise DecodeError(f"binary node: compressed payload is corrupt ({exc})") from None
    if decompressor.unconsumed_tail:
        raise DecodeError("binary node: compressed payload inflates past the size limit")
    return out


def decode_node(data: bytes, *, dict_version: int = 3) -> Node:
    """Decode a frame payload (flags byte first) into a ``Node``.

    Raises ``DecodeError`` for anything malformed, naming what and where.
    """
    tokens = DICTIONARIES.get(dict_version)
    if tokens is None:
        raise ValueError(f"unknown token dictionary version {dict_version}")
    if not data:
        raise DecodeError("binary node: empty payload")
    body = bytes(data[1:])
    if data[0] & FLAG_COMPRESSED:
        body = _inflate(body)
    try:
        return _decode_body(body, tokens)
    except IndexError:
        raise DecodeError("binary node: unexpected end of data") from None
    except RecursionError:
        raise DecodeError("binary node: nested too deeply") from None
