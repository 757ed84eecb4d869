"""JSON for stored values, with bytes kept as bytes.

The format is Baileys' ``BufferJSON`` (``{"type": "Buffer", "data": "<base64>"}`` for
every byte string), so files stay readable and a Baileys ``auth_info`` folder's JSON can be
read. ``KeyPair`` values are written as ``{"private": <Buffer>, "public": <Buffer>}`` (the
shape Baileys uses) and read back as ``KeyPair`` when a dict has exactly those two keys.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from wamd.crypto import KeyPair
from wamd.errors import CorruptedStore

__all__ = ["decode_value", "dumps", "encode_value", "loads"]


def encode_value(value: Any) -> Any:
    """A JSON-able structure for ``value`` (bytes -> Buffer objects, KeyPair -> dict)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "Buffer", "data": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, KeyPair):
        return {"private": encode_value(value.private), "public": encode_value(value.public)}
    if isinstance(value, dict):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value``; raises ValueError for malformed Buffers."""
    if isinstance(value, dict):
        if value.get("type") == "Buffer" and "data" in value and len(value) == 2:
            data = value["data"]
            if isinstance(data, str):
                return base64.b64decode(data, validate=True)
            if isinstance(data, list) and all(isinstance(b, int) and 0 <= b < 256 for b in data):
                return bytes(data)
            raise ValueError("malformed Buffer")
        decoded = {k: decode_value(v) for k, v in value.items()}
        if set(decoded) == {"private", "public"} and all(
            isinstance(v, bytes) and len(v) == 32 for v in decoded.values()
        ):
            return KeyPair(decoded["public"], decoded["private"])
        return decoded
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(encode_value(value), separators=(",", ":"))


def loads(text: str | bytes, location: str) -> Any:
    """Parse stored JSON; ``CorruptedStore`` naming ``location`` when it is not valid."""
    try:
        return decode_value(json.loads(text))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CorruptedStore(location, f"not valid stored JSON ({type(exc).__name__})") from None
