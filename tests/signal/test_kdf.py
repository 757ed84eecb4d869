"""Known answers for the derivations, computed here from the protocol's definitions with
an independent HKDF (cryptography's) rather than wamd's code paths."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wamd.signal import kdf


def reference_hkdf(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


SEED = bytes(range(32))


def test_initial_keys_from_x3dh_secrets() -> None:
    secrets = bytes(range(96))
    out = reference_hkdf(b"\xff" * 32 + secrets, bytes(32), b"WhisperText", 64)
    assert kdf.derive_initial(secrets) == (out[:32], out[32:])


def test_root_step() -> None:
    out = reference_hkdf(b"\x07" * 32, SEED, b"WhisperRatchet", 64)
    assert kdf.root_step(SEED, b"\x07" * 32) == (out[:32], out[32:])


def test_chain_step() -> None:
    seed, nxt = kdf.chain_step(SEED)
    assert seed == hmac.new(SEED, b"\x01", hashlib.sha256).digest()
    assert nxt == hmac.new(SEED, b"\x02", hashlib.sha256).digest()


def test_message_keys() -> None:
    out = reference_hkdf(SEED, bytes(32), b"WhisperMessageKeys", 80)
    assert kdf.message_keys(SEED) == (out[:32], out[32:64], out[64:])


def test_sender_message_key() -> None:
    out = reference_hkdf(SEED, bytes(32), b"WhisperGroup", 48)
    assert kdf.sender_message_key(SEED) == (out[:16], out[16:])


def test_literal_chain_values() -> None:
    # HMAC-SHA256 under an all-zero chain key of 0x01 / 0x02, pinned as literals
    seed, nxt = kdf.chain_step(bytes(32))
    assert seed.hex() == "3d7afb663124ecbf2c953f863d4fc8796eeb2d372b64aad58697ec5264649cdb"
    assert nxt.hex() == "4ee7be0c7872360ca67414608081e9bd60fd580a7bbd209701d2a5a0b4316d0d"
