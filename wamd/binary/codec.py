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
from wamd.binary.node import Node, NodeContent
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
_AD_DOMAINS: Final = {
    DEFAULT_USER_SERVER: JID("", DEFAULT_USER_SERVER).domain,
    HIDDEN_USER_SERVER: JID("", HIDDEN_USER_SERVER).domain,
    HOSTED_SERVER: JID("", HOSTED_SERVER).domain,
    HOSTED_LID_SERVER: JID("", HOSTED_LID_SERVER).domain,
}
_NIBBLE_TO_HEX: Final = str.maketrans({"-": "a", ".": "b"})  # packed nibbles as hex digits


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
        n = len(value)
        if n <= PACKED_MAX:
            if value.isdigit() and value.isascii():
                # digits only (ids, phone numbers, timestamps): the nibbles are the digits
                return bytes((NIBBLE_8, ((n + 1) >> 1) | (n & 1) << 7)) + bytes.fromhex(
                    value + "f" if n & 1 else value
                )
            if _NIBBLE_CHARS.issuperset(value):
                # a nibble per character: 0-9 as themselves, "-" 10, "." 11, pad 15
                packed = (
                    value.translate(_NIBBLE_TO_HEX) + "f"
                    if n & 1
                    else value.translate(_NIBBLE_TO_HEX)
                )
                return bytes((NIBBLE_8, ((n + 1) >> 1) | (n & 1) << 7)) + bytes.fromhex(packed)
            if _HEX_CHARS.issuperset(value):
                packed = value + "F" if n & 1 else value
                return bytes((HEX_8, ((n + 1) >> 1) | (n & 1) << 7)) + bytes.fromhex(packed)
        if "@" in value:
            quick = self.jid_text(value)
            if quick is not None:
                return quick
            try:
                jid = JID.parse(value)
            except InvalidJID:
                pass
            else:
                return self.jid(jid)
        return _raw(value.encode())

    def jid_text(self, value: str) -> bytes | None:
        """``jid(JID.parse(value))`` without making the JID, for the common forms (no
        agent, not msgr/interop); None when ``value`` is not one of them."""
        user, _, server = value.partition("@")
        if not server or "@" in server or "." in user:
            return None
        device = 0
        if ":" in user:
            user, _, digits = user.partition(":")
            if not (digits.isdigit() and digits.isascii()):
                return None
            device = int(digits)
            if device > 0xFFFF:
                return None
        if server == MESSENGER_SERVER or server == INTEROP_SERVER:
            return None
        if device <= 0xFF and (
            (device and (server == DEFAULT_USER_SERVER or server == HIDDEN_USER_SERVER))
            or server == HOSTED_SERVER
            or server == HOSTED_LID_SERVER
        ):
            return bytes((AD_JID, _AD_DOMAINS[server], device)) + self.string(user)
        return bytes((JID_PAIR,)) + (self.string(user) if user else b"\x00") + self.string(server)

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


def _raw_head(n: int) -> bytes:
    """The tag and length in front of ``n`` raw bytes."""
    if n < 256:
        return bytes((BINARY_8, n))
    if n < 1 << 20:
        return bytes((BINARY_20, (n >> 16) & 0x0F, (n >> 8) & 0xFF, n & 0xFF))
    if n < 1 << 32:
        return bytes((BINARY_32,)) + n.to_bytes(4, "big")
    raise ValueError("binary content too large to encode")


def _raw(data: bytes) -> bytes:
    return _raw_head(len(data)) + data


def _list_start(size: int) -> bytes:
    if size == 0:
        return b"\x00"
    if size < 256:
        return bytes((LIST_8, size))
    if size < 1 << 16:
        return bytes((LIST_16, size >> 8, size & 0xFF))
    raise ValueError(f"a list of {size} items is too long to encode")


_ENCODERS: Final = {version: _Encoder(tokens) for version, tokens in DICTIONARIES.items()}


_LIST_8_HEADS: Final = [bytes((LIST_8, n)) for n in range(256)]
_BINARY_8_HEADS: Final = [bytes((BINARY_8, n)) for n in range(256)]


def _write_node(node: Node, out: bytearray, enc: _Encoder) -> None:
    cache = enc.cache
    attrs = node.attrs
    content = node.content
    size = 2 * len(attrs) + (1 if content is None else 2)
    start = len(out)
    if size < 256:
        out += _LIST_8_HEADS[size]
    else:  # the header's length depends on the size: leave empty values out first
        attrs = {k: v for k, v in attrs.items() if v}
        size = 2 * len(attrs) + (1 if content is None else 2)
        out += _LIST_8_HEADS[size] if size < 256 else _list_start(size)
    tag = node.tag
    piece = cache.get(tag)
    out += enc.string(tag) if piece is None else piece
    empty = 0
    for key, value in attrs.items():
        if not value:  # attributes with an empty value are left out
            empty += 1
            continue
        piece = cache.get(key)
        out += enc.string(key) if piece is None else piece
        piece = cache.get(value)
        out += enc.string(value) if piece is None else piece
    if empty:  # a LIST_8 header: the smaller size is also < 256 and 2 bytes long
        out[start : start + 2] = _LIST_8_HEADS[size - 2 * empty]
    if content is None:
        return
    if isinstance(content, list):
        n = len(content)
        out += _LIST_8_HEADS[n] if 0 < n < 256 else _list_start(n)
        for child in content:
            _write_node(child, out, enc)
    elif isinstance(content, bytes):
        n = len(content)
        out += _BINARY_8_HEADS[n] if n < 256 else _raw_head(n)
        out += content
    elif isinstance(content, bytearray | memoryview):
        out += _raw(bytes(content))
    elif isinstance(content, str):
        piece = cache.get(content)
        out += enc.string(content) if piece is None else piece
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
# Decoded packed numbers and JIDs repeat across stanzas (ids of the same users, small
# numbers): bounded caches keyed by their wire bytes (packed hex strings are message ids,
# each seen once: not cached). A key is a whole encoded item, its
# length byte included, so a cut-off slice at the end of the data never matches one.
_CACHE_LIMIT: Final = 20_000
_NIBBLE_CACHE: Final[dict[bytes, str]] = {}  # (Final: the compiled codec reads it directly)


def _by_byte(tokens: TokenDictionary) -> tuple[str | None, ...]:
    """Each of the 256 byte values: the single-byte token it stands for, or None."""
    return tuple(
        tokens.single[b] if 0 < b < DICTIONARY_0 and tokens.single[b] else None for b in range(256)
    )


class _Tables:
    """What the decoder carries for one dictionary version: the single-byte table (each
    byte value's token, or None), the double-byte tables, and the cache of AD_JID /
    JID_PAIR items (tag byte first) with packed users, one per version because a pair's
    server is a token byte, which stands for different servers in each version."""

    __slots__ = ("double", "jids", "single")

    def __init__(self, tokens: TokenDictionary) -> None:
        self.single: tuple[str | None, ...] = _by_byte(tokens)
        self.double: tuple[tuple[str, ...], ...] = tokens.double
        self.jids: dict[bytes, str] = {}


_TABLES: Final = {version: _Tables(tokens) for version, tokens in DICTIONARIES.items()}
# an AD_JID's domain byte: the server it stands for, or None for a raw agent on a
# phone-number user (what JID.from_ad makes of it)
_AD_SERVERS: Final = tuple(
    next((server for server, domain in _AD_DOMAINS.items() if domain == b), None)
    for b in range(256)
)
# Nodes are made as the dataclass's __init__ makes them (it only assigns the three
# fields), without calling it: calling a Python class from the compiled codec costs a
# frame and an argument tuple. tests/binary/test_codec.py checks that Node stays so.
_new_object: Final = object.__new__
_NODE: Final = Node


def clear_caches() -> None:
    """Empty every string cache of the codec (benchmarks measure it cold)."""
    for enc in _ENCODERS.values():
        enc.cache = dict(enc.tokens.encoded)
    _NIBBLE_CACHE.clear()
    for tables in _TABLES.values():
        tables.jids.clear()
    _parse_jid.cache_clear()


def _fail(what: str, pos: int) -> DecodeError:
    return DecodeError(f"binary node: {what} at offset {pos}")


def _take(data: bytes, pos: int, n: int) -> bytes:
    if n > len(data) - pos:
        raise _fail(f"length {n} runs past the end of data", pos)
    return data[pos : pos + n]


# The decoder: functions over (data, position, tables), the common cases inlined
# (single-byte tokens through a 256-entry table, LIST_8, BINARY_8, packed strings and
# JIDs seen before): this is the receive hot path. Reading past the end raises
# IndexError from ``data[pos]``, turned into DecodeError by ``decode_node``; slices are
# length-checked explicitly because they do not raise.


def _nibble(data: bytes, pos: int) -> tuple[str, int]:
    """The NIBBLE_8 string whose length byte is at ``pos``, and where it ends."""
    start = data[pos]
    n = start & 0x7F
    stop = pos + 1 + n
    if stop > len(data):
        raise _fail(f"length {n + 1} runs past the end of data", pos)
    raw = data[pos:stop]
    text = _NIBBLE_CACHE.get(raw)
    if text is not None:
        return text, stop
    hexed = raw[1:].hex()
    # digits only (the common case) need no translation; an odd string's pad nibble is
    # dropped, and must not be one of the invalid nibbles 12-14 either
    if start & 0x80:
        text = hexed[:-1]
        digits = text.isdigit() and not 12 <= data[stop - 1] & 0x0F <= 14
    else:
        text = hexed
        digits = text.isdigit()
    if not digits:
        if "c" in hexed or "d" in hexed or "e" in hexed:
            raise _fail("invalid character in packed number", pos)
        text = hexed.translate(_NIBBLE_TRANSLATE)
        if start & 0x80:
            text = text[:-1]
    if len(_NIBBLE_CACHE) > _CACHE_LIMIT:
        _NIBBLE_CACHE.clear()
    _NIBBLE_CACHE[raw] = text
    return text, stop


def _hex(data: bytes, pos: int) -> tuple[str, int]:
    """The HEX_8 string whose length byte is at ``pos``, and where it ends (not cached:
    they are message ids, seen once each)."""
    start = data[pos]
    n = start & 0x7F
    stop = pos + 1 + n
    if stop > len(data):
        raise _fail(f"length {n + 1} runs past the end of data", pos)
    text = data[pos + 1 : stop].hex().upper()
    return (text[:-1] if start & 0x80 else text), stop


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


def _string(data: bytes, pos: int, tables: _Tables) -> tuple[str, int]:
    """The string item at ``pos`` (any form)."""
    tag = data[pos]
    token = tables.single[tag]
    if token is not None:
        return token, pos + 1
    if tag == NIBBLE_8:
        return _nibble(data, pos + 1)
    if tag == HEX_8:
        return _hex(data, pos + 1)
    if tag == AD_JID or tag == JID_PAIR:
        return _jid(data, pos, tables)
    pos += 1
    raw: bytes
    if tag == BINARY_8:
        n = data[pos]
        raw = _take(data, pos + 1, n)
        pos += 1 + n
    elif DICTIONARY_0 <= tag <= DICTIONARY_3:
        return tables.double[tag - DICTIONARY_0][data[pos]], pos + 1
    elif tag == BINARY_20:
        head = _take(data, pos, 3)
        n = ((head[0] & 0x0F) << 16) | (head[1] << 8) | head[2]
        raw = _take(data, pos + 3, n)
        pos += 3 + n
    elif tag == BINARY_32:
        n = int.from_bytes(_take(data, pos, 4), "big")
        raw = _take(data, pos + 4, n)
        pos += 4 + n
    elif tag == FB_JID:
        user, pos = _string(data, pos, tables)
        device = int.from_bytes(_take(data, pos, 2), "big")
        server, pos = _string(data, pos + 2, tables)
        return str(JID(user, server, device)), pos
    elif tag == INTEROP_JID:
        user, pos = _string(data, pos, tables)
        ids = _take(data, pos, 4)
        server, pos = _string(data, pos + 4, tables)
        device, integrator = int.from_bytes(ids[:2], "big"), int.from_bytes(ids[2:], "big")
        return str(JID(user, server, device, integrator=integrator)), pos
    elif tag == LIST_EMPTY:
        raise _fail("missing string", pos - 1)
    else:
        raise _fail(f"unexpected tag {tag} where a string was expected", pos - 1)
    try:
        return raw.decode(), pos
    except UnicodeDecodeError:
        raise _fail("string is not valid UTF-8", pos) from None


def _jid(data: bytes, pos: int, tables: _Tables) -> tuple[str, int]:
    """The AD_JID or JID_PAIR item whose tag is at ``pos``."""
    tag = data[pos]
    user_at = pos + 3 if tag == AD_JID else pos + 1
    key = b""
    stop = 0
    numeric = data[user_at] == NIBBLE_8
    if numeric:  # the common case: a numeric user, then a token server
        stop = user_at + 2 + (data[user_at + 1] & 0x7F)
        if tag == JID_PAIR:
            stop += 1
        key = data[pos:stop]
        text = tables.jids.get(key)
        if text is not None:
            return text, stop
        if tag == JID_PAIR and tables.single[data[stop - 1]] is None:
            key = b""  # the server is not a single token: the key would be cut short
    if tag == AD_JID:
        domain = data[pos + 1]
        device = data[pos + 2]
        if numeric:
            user, after = _nibble(data, user_at + 1)
        else:
            user, after = _string(data, user_at, tables)
        # str(JID.from_ad(user, domain, device)), without making the JID
        server = _AD_SERVERS[domain]
        if server is None:  # an unknown domain is an agent on a phone-number user
            text = f"{user}.{domain}:{device}@{DEFAULT_USER_SERVER}"
        elif device:
            text = f"{user}:{device}@{server}"
        elif user:
            text = f"{user}@{server}"
        else:
            text = server
    else:
        if numeric:
            user, after = _nibble(data, user_at + 1)
        elif data[user_at] == LIST_EMPTY:
            user, after = "", user_at + 1
        else:
            user, after = _string(data, user_at, tables)
        if data[after] == LIST_EMPTY:
            raise _fail("JID pair without a server", after)
        server = tables.single[data[after]]
        if server is not None:
            after += 1
        else:
            server, after = _string(data, after, tables)
        text = f"{user}@{server}" if user else server
    if key and after == stop:
        cache = tables.jids
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        cache[key] = text
    return text, after


def _node(data: bytes, pos: int, depth: int, tables: _Tables) -> tuple[Node, int]:
    """The node whose list header is at ``pos``."""
    if depth > MAX_DEPTH:
        raise _fail("nodes nested too deeply", pos)
    end = len(data)
    single = tables.single
    if data[pos] == LIST_8:
        size = data[pos + 1]
        pos += 2
        if size > end - pos:
            raise _fail(f"list of {size} items is longer than the data", pos)
    else:
        size, pos = _list_size(data, pos)
    if size == 0:
        raise _fail("empty list where a node was expected", pos)
    tag = single[data[pos]]
    if tag is not None:
        pos += 1
    else:
        tag, pos = _string(data, pos, tables)
    attrs: dict[str, str] = {}
    for _attr in range((size - 1) >> 1):
        key = single[data[pos]]
        if key is not None:
            pos += 1
        else:
            key, pos = _string(data, pos, tables)
        b = data[pos]
        value = single[b]
        if value is not None:
            pos += 1
        elif b == NIBBLE_8:
            value, pos = _nibble(data, pos + 1)
        elif b == HEX_8:
            value, pos = _hex(data, pos + 1)
        elif b == LIST_EMPTY:  # an empty value (Baileys writes "" as byte 0)
            value = ""
            pos += 1
        elif b == AD_JID or b == JID_PAIR:
            value, pos = _jid(data, pos, tables)
        else:
            value, pos = _string(data, pos, tables)
        attrs[key] = value
    content: NodeContent
    if size & 1:
        content = None
    else:
        b = data[pos]
        if b == BINARY_8:
            n = data[pos + 1]
            pos += 2
            if n > end - pos:
                raise _fail(f"length {n} runs past the end of data", pos)
            content = data[pos : pos + n]
            pos += n
        elif b == LIST_8 or b == LIST_16:
            if b == LIST_8:
                count = data[pos + 1]
                pos += 2
                if count > end - pos:
                    raise _fail(f"list of {count} items is longer than the data", pos)
            else:
                count, pos = _list_size(data, pos)
            children: list[Node] = []
            depth += 1
            for _child in range(count):
                child, pos = _node(data, pos, depth, tables)
                children.append(child)
            content = children
        elif b == BINARY_20:
            h = _take(data, pos + 1, 3)
            n = ((h[0] & 0x0F) << 16) | (h[1] << 8) | h[2]
            content = _take(data, pos + 4, n)
            pos += 4 + n
        elif b == BINARY_32:
            n = int.from_bytes(_take(data, pos + 1, 4), "big")
            content = _take(data, pos + 5, n)
            pos += 5 + n
        elif b == LIST_EMPTY:
            content = None
            pos += 1
        else:
            content, pos = _string(data, pos, tables)
    node: Node = _new_object(_NODE)
    node.tag = tag
    node.attrs = attrs
    node.content = content
    return node, pos


def _inflate(data: bytes) -> bytes:
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, MAX_DECOMPRESSED_SIZE)
    except zlib.error as exc:
        raise DecodeError(f"binary node: compressed payload is corrupt ({exc})") from None
    if decompressor.unconsumed_tail:
        raise DecodeError("binary node: compressed payload inflates past the size limit")
    return out


def decode_node(data: bytes | bytearray | memoryview, *, dict_version: int = 3) -> Node:
    """Decode a frame payload (flags byte first) into a ``Node``.

    Raises ``DecodeError`` for anything malformed, naming what and where.
    """
    tables = _TABLES.get(dict_version)
    if tables is None:
        raise ValueError(f"unknown token dictionary version {dict_version}")
    if not data:
        raise DecodeError("binary node: empty payload")
    body = data[1:] if type(data) is bytes else bytes(data[1:])
    if data[0] & FLAG_COMPRESSED:
        body = _inflate(body)
    try:
        result, pos = _node(body, 0, 0, tables)
    except IndexError:
        raise DecodeError("binary node: unexpected end of data") from None
    except RecursionError:
        raise DecodeError("binary node: nested too deeply") from None
    if pos != len(body):
        raise DecodeError(f"binary node: {len(body) - pos} trailing bytes after the node")
    return result
