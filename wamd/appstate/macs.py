"""The MACs of app-state mutations, snapshots and patches (whatsmeow ``appstate/hash.go``).

- index MAC = HMAC-SHA256(index key, the index JSON bytes);
- value MAC = HMAC-SHA512(value-MAC key, op ‖ key id ‖ iv ‖ ciphertext ‖
  u64be(len(key id) + 1)), its first 32 bytes. ``op`` is **1 for SET, 2 for REMOVE**:
  the wire enum (SET = 0, REMOVE = 1) plus one, not the enum itself;
- snapshot MAC = HMAC-SHA256(snapshot-MAC key, LTHash ‖ u64be(version) ‖ name);
- patch MAC = HMAC-SHA256(patch-MAC key, snapshot MAC ‖ each mutation's value MAC ‖
  u64be(version) ‖ name).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Final, Literal

__all__ = ["VALUE_MAC_SIZE", "index_mac", "op_byte", "patch_mac", "snapshot_mac", "value_mac"]

VALUE_MAC_SIZE: Final = 32  # the last 32 bytes of a record's value blob

Operation = Literal["set", "remove"]


def op_byte(operation: Operation) -> bytes:
    """The operation as the value MAC takes it: 0x01 SET, 0x02 REMOVE."""
    return b"\x01" if operation == "set" else b"\x02"


def index_mac(index_key: bytes, index: bytes) -> bytes:
    return hmac.digest(index_key, index, "sha256")


def value_mac(operation: Operation, data: bytes, key_id: bytes, value_mac_key: bytes) -> bytes:
    """``data`` is the IV followed by the ciphertext."""
    trailer = (len(key_id) + 1).to_bytes(8, "big")
    mac = hmac.new(value_mac_key, op_byte(operation), "sha512")
    mac.update(key_id)
    mac.update(data)
    mac.update(trailer)
    return mac.digest()[:VALUE_MAC_SIZE]


def snapshot_mac(lthash: bytes, version: int, name: str, snapshot_mac_key: bytes) -> bytes:
    return hmac.digest(
        snapshot_mac_key, lthash + version.to_bytes(8, "big") + name.encode(), "sha256"
    )


def patch_mac(
    snapshot_mac_: bytes, value_macs: Iterable[bytes], version: int, name: str, patch_mac_key: bytes
) -> bytes:
    mac = hmac.new(patch_mac_key, snapshot_mac_, "sha256")
    for item in value_macs:
        mac.update(item)
    mac.update(version.to_bytes(8, "big"))
    mac.update(name.encode())
    return mac.digest()
