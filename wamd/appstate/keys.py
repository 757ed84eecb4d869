"""App-state keys: the five collections and the expansion of a sync key.

A companion gets its app-state sync keys from its primary phone in a
``protocolMessage`` of type ``APP_STATE_SYNC_KEY_SHARE`` (a key id, 32 bytes of key
data, a fingerprint and a timestamp per key). Every patch, snapshot and mutation names
the key it was made with by id. One key expands, with HKDF-SHA256 (no salt, info
``"WhatsApp Mutation Keys"``, 160 bytes), into five 32-byte keys, in this order: index,
value encryption, value MAC, snapshot MAC, patch MAC (whatsmeow ``appstate/keys.go``
expandAppStateKeys; Baileys ``mutationKeys``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from wamd.crypto import hkdf

__all__ = ["COLLECTIONS", "CollectionName", "MutationKeys", "expand_keys"]

CollectionName = Literal[
    "critical_block", "critical_unblock_low", "regular_high", "regular", "regular_low"
]
# the five collections, in the order whatsmeow syncs them (AllPatchNames)
COLLECTIONS: Final[tuple[CollectionName, ...]] = (
    "critical_block",
    "critical_unblock_low",
    "regular_high",
    "regular",
    "regular_low",
)

_EXPANSION_INFO: Final = b"WhatsApp Mutation Keys"  # HKDF info of the key expansion
_EXPANDED_LENGTH: Final = 160  # five 32-byte keys


@dataclass(frozen=True, slots=True)
class MutationKeys:
    """The five keys one app-state sync key expands to (never shown in ``repr``)."""

    index: bytes = field(repr=False)
    value_encryption: bytes = field(repr=False)
    value_mac: bytes = field(repr=False)
    snapshot_mac: bytes = field(repr=False)
    patch_mac: bytes = field(repr=False)


def expand_keys(key_data: bytes) -> MutationKeys:
    """Expand the key data of an app-state sync key (any length; the phone sends 32)."""
    out = hkdf(key_data, _EXPANDED_LENGTH, info=_EXPANSION_INFO)
    return MutationKeys(out[0:32], out[32:64], out[64:96], out[96:128], out[128:160])
