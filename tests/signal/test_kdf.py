"""Known answers for the derivations, computed here from the protocol's definitions with
an independent HKDF (cryptography's) rather than wamd's code paths."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wamd.errors import InvalidMessage
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


# ---------------------------------------------------------------------------- AES-CBC


def _reference_cbc(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """PKCS#7 and AES-256-CBC through cryptography's public API only."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


@pytest.fixture(params=["direct contexts", "public API"])
def cbc_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways kdf builds its AES contexts: cryptography's constructors (where this
    version has them) and the public ``Cipher`` (the fallback)."""
    if request.param == "public API":
        monkeypatch.setattr(kdf, "_CONTEXTS", None)
    else:
        assert kdf._CONTEXTS is not None, "this cryptography has no direct contexts"
    return str(request.param)


def test_aes_cbc_matches_the_public_api_on_random_inputs(cbc_path: str) -> None:
    rnd = random.Random(7)
    for size in [*range(0, 50), 120, 1000, 4096]:
        key, iv = rnd.randbytes(32), rnd.randbytes(16)
        plaintext = rnd.randbytes(size)
        ciphertext = kdf.aes_cbc_encrypt(key, iv, plaintext)
        assert ciphertext == _reference_cbc(key, iv, plaintext), size
        assert kdf.aes_cbc_decrypt(key, iv, ciphertext) == plaintext, size


def test_aes_cbc_refuses_bad_keys_ivs_and_padding(cbc_path: str) -> None:
    key, iv = bytes(32), bytes(16)
    with pytest.raises(ValueError):
        kdf.aes_cbc_encrypt(bytes(31), iv, b"x")
    with pytest.raises(ValueError):
        kdf.aes_cbc_encrypt(key, bytes(15), b"x")
    with pytest.raises(ValueError):
        kdf.aes_cbc_decrypt(key, bytes(17), bytes(16))
    with pytest.raises(InvalidMessage):
        kdf.aes_cbc_decrypt(key, iv, bytes(15))
    with pytest.raises(InvalidMessage):
        kdf.aes_cbc_decrypt(key, iv, b"")
    # a block whose last byte, decrypted, is no valid pad length
    bad = kdf.aes_cbc_encrypt(key, iv, bytes(16))[:16]
    with pytest.raises(InvalidMessage, match="padding"):
        kdf.aes_cbc_decrypt(key, iv, bad)
    # a valid pad length whose bytes are not all that length
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    for block in (b"A" * 13 + b"\x01\x03\x03", b"A" * 15 + b"\x00", b"\x10" * 15 + b"\x11"):
        raw = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor().update(block)
        with pytest.raises(InvalidMessage, match="padding"):
            kdf.aes_cbc_decrypt(key, iv, raw)


def test_direct_contexts_fall_back_when_they_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cryptography whose internals differ (missing, or other bytes) gets the public API."""
    import cryptography.hazmat.bindings._rust as rust

    monkeypatch.setattr(rust.openssl.ciphers, "create_encryption_ctx", lambda a, m: None)
    assert kdf._cipher_contexts() is None
    monkeypatch.delattr(rust.openssl.ciphers, "create_encryption_ctx")
    assert kdf._cipher_contexts() is None
