"""The Signal protocol's key derivations and message crypto (v3, as WhatsApp uses it).

From libsignal's definitions:

- X3DH master secret: ``0xFF * 32 || DH1 || DH2 || DH3 [|| DH4]``, then
  ``HKDF(salt = 32 zero bytes, info = "WhisperText", 64)`` -> root key, chain key;
- root step (DH ratchet): ``HKDF(DH(their ratchet, our ratchet), salt = root key,
  info = "WhisperRatchet", 64)`` -> new root key, new chain key;
- chain step: message key seed ``HMAC(chain key, 0x01)``, next chain key
  ``HMAC(chain key, 0x02)``;
- message keys: ``HKDF(seed, salt = 32 zero bytes, info = "WhisperMessageKeys", 80)`` ->
  cipher key (32), MAC key (32), IV (16); AES-256-CBC with PKCS#7 padding;
- sender keys: same chain step; ``HKDF(seed, zero salt, "WhisperGroup", 48)`` -> IV (16),
  cipher key (32).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from wamd.crypto import hkdf_blocks, hkdf_zero_salt_pads, hmac_sha256_pair
from wamd.errors import InvalidMessage

__all__ = [
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "chain_step",
    "derive_initial",
    "message_keys",
    "root_step",
    "sender_message_key",
]

_ZERO_SALT = bytes(32)
_TEXT_INFO = b"WhisperText"  # X3DH output
_RATCHET_INFO = b"WhisperRatchet"  # DH ratchet step
_MESSAGE_KEYS_INFO = b"WhisperMessageKeys"  # per-message keys
_GROUP_INFO = b"WhisperGroup"  # sender key message keys
_MESSAGE_KEYS_1, _MESSAGE_KEYS_2, _MESSAGE_KEYS_3 = (
    _MESSAGE_KEYS_INFO + bytes((n,)) for n in (1, 2, 3)
)
_sha256 = hashlib.sha256
_MESSAGE_KEY_SEED = b"\x01"  # HMAC input for a message key seed
_CHAIN_KEY_SEED = b"\x02"  # HMAC input for the next chain key
DISCONTINUITY = b"\xff" * 32  # the 32 bytes in front of the X3DH secrets


def derive_initial(secrets: bytes) -> tuple[bytes, bytes]:
    """(root key, chain key) from the concatenated X3DH agreements (without the 0xFF prefix)."""
    root, chain = hkdf_blocks(DISCONTINUITY + secrets, 2, _ZERO_SALT, _TEXT_INFO)
    return root, chain


def root_step(root_key: bytes, shared_secret: bytes) -> tuple[bytes, bytes]:
    """(new root key, new chain key) after a DH ratchet step."""
    new_root, chain = hkdf_blocks(shared_secret, 2, root_key, _RATCHET_INFO)
    return new_root, chain


def chain_step(chain_key: bytes) -> tuple[bytes, bytes]:
    """(message key seed, next chain key)."""
    return hmac_sha256_pair(chain_key, _MESSAGE_KEY_SEED, _CHAIN_KEY_SEED)


def message_keys(seed: bytes) -> tuple[bytes, bytes, bytes]:
    """(cipher key, MAC key, IV) for one message."""
    # HKDF(seed, zero salt, "WhisperMessageKeys", 80) spelled out: every message makes
    # one, and the general loop cost a fifth more (tests compare with cryptography's HKDF).
    # The PRK's padded keys are hashed once; each block starts from a copy of those
    # states (cheaper than hashing the pad again), the last one from the states themselves.
    inner_pad, outer_pad = hkdf_zero_salt_pads(seed)
    inner, outer = _sha256(inner_pad), _sha256(outer_pad)
    step, final = inner.copy(), outer.copy()
    step.update(_MESSAGE_KEYS_1)
    final.update(step.digest())
    cipher_key = final.digest()
    step, final = inner.copy(), outer.copy()
    step.update(cipher_key + _MESSAGE_KEYS_2)
    final.update(step.digest())
    mac_key = final.digest()
    inner.update(mac_key + _MESSAGE_KEYS_3)
    outer.update(inner.digest())
    return cipher_key, mac_key, outer.digest()[:16]


def sender_message_key(seed: bytes) -> tuple[bytes, bytes]:
    """(IV, cipher key) for one sender key message."""
    first, second = hkdf_blocks(seed, 2, _ZERO_SALT, _GROUP_INFO)
    return first[:16], first[16:] + second[:16]


_PADS = [bytes([n]) * n for n in range(17)]
_AES, _CBC = algorithms.AES, modes.CBC


_MakeContext = Callable[[Any, Any], CipherContext]


def _cipher_contexts() -> tuple[_MakeContext, _MakeContext] | None:
    """``cryptography``'s own constructors of encryption and decryption contexts, the
    ones ``Cipher.encryptor()``/``decryptor()`` end in, when this version has them and
    they give the public API's bytes on a fixed vector; None otherwise.

    A Signal message's AES-CBC is over a few blocks with a fresh key, so building
    ``Cipher`` (its ABC checks, its mode validation) cost as much as the encryption;
    calling the constructor directly saves about a third of it. The key's size is still
    checked by ``algorithms.AES``, and the IV's by ``_context``."""
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        ciphers = rust_openssl.ciphers
        encryption, decryption = ciphers.create_encryption_ctx, ciphers.create_decryption_ctx
        key, iv, data = bytes(range(32)), bytes(range(16)), bytes(range(48))
        expected = Cipher(_AES(key), _CBC(iv)).encryptor().update(data)
        got = encryption(_AES(key), _CBC(iv)).update(data)
        back = decryption(_AES(key), _CBC(iv)).update(got)
    except Exception:  # another version's internals: the public API it is
        return None
    if got != expected or back != data:
        return None
    return encryption, decryption


_CONTEXTS = _cipher_contexts()


def _context(key: bytes, iv: bytes, *, decrypt: bool) -> CipherContext:
    """An AES-256-CBC context (the IV checked here: the direct constructors do not)."""
    if len(iv) != 16:
        raise ValueError("the IV of AES-CBC is 16 bytes")
    if _CONTEXTS is None:
        cipher = Cipher(_AES(key), _CBC(iv))
        return cipher.decryptor() if decrypt else cipher.encryptor()
    return _CONTEXTS[decrypt](_AES(key), _CBC(iv))


def aes_cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    pad = 16 - len(plaintext) % 16  # PKCS#7: always 1-16 bytes of the pad's length
    # the padded input is whole blocks: update() returns all of it and finalize() would
    # return nothing (the import's check makes sure of the first), so it is not called
    return _context(key, iv, decrypt=False).update(plaintext + _PADS[pad])


def aes_cbc_decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    if not ciphertext or len(ciphertext) % 16:
        raise InvalidMessage("ciphertext length is not a multiple of the AES block size")
    # whole blocks in: update() holds nothing back, finalize() would return nothing
    padded = _context(key, iv, decrypt=True).update(ciphertext)
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != _PADS[pad]:
        raise InvalidMessage("bad padding after decryption")
    return padded[:-pad]
