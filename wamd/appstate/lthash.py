"""LTHash, the order-independent hash of a collection's state.

WhatsApp's "anti-tampering" hash (whatsmeow ``appstate/lthash``; Baileys
``LT_HASH_ANTI_TAMPERING``): 128 bytes read as 64 little-endian unsigned 16-bit lanes.
Each value MAC is expanded with HKDF-SHA256 (no salt, info ``"WhatsApp Patch
Integrity"``) to 128 bytes, which are added to (a SET) or subtracted from (the value a
SET overwrites, or a REMOVE removes) the hash lane by lane, modulo 2**16. A patch is
applied by subtracting everything it overwrites or removes, then adding everything it
sets.

Sums are taken over all inputs first and reduced once at the end: lanes are independent
and addition modulo 2**16 commutes, so the result is the same as one input at a time,
at a fraction of the cost (a snapshot of 15,000 records is one pass).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from operator import add, sub
from typing import Final

from wamd.crypto import hkdf

__all__ = ["EMPTY", "HASH_SIZE", "expand", "subtract_then_add"]

HASH_SIZE: Final = 128  # bytes: 64 little-endian u16 lanes
EMPTY: Final = bytes(HASH_SIZE)
_INFO: Final = b"WhatsApp Patch Integrity"  # HKDF info of a value MAC's expansion
_LANES: Final = struct.Struct("<64H")


def expand(value_mac: bytes) -> bytes:
    """The 128 bytes a value MAC contributes to the hash."""
    return hkdf(value_mac, HASH_SIZE, info=_INFO)


def subtract_then_add(base: bytes, subtract: Iterable[bytes], add_: Iterable[bytes]) -> bytes:
    """``base`` minus the expansions of ``subtract`` plus those of ``add_``."""
    if len(base) != HASH_SIZE:
        raise ValueError(f"an LTHash is {HASH_SIZE} bytes, not {len(base)}")
    lanes = list(_LANES.unpack(base))
    unpack = _LANES.unpack
    for mac in subtract:
        lanes = list(map(sub, lanes, unpack(expand(mac))))
    for mac in add_:
        lanes = list(map(add, lanes, unpack(expand(mac))))
    return _LANES.pack(*(x & 0xFFFF for x in lanes))
