"""Curve25519 keys, XEdDSA signatures and HKDF: the primitives every layer shares.

One home for key material so that the Noise layer, the Signal layer and the stores agree
on one ``KeyPair`` type. X25519 (agreement and key generation) runs in libsodium through
PyNaCl, on the raw 32-byte keys; XEdDSA (signatures made with a Curve25519 key, as Signal
and WhatsApp use them) runs in the backend :mod:`wamd.xeddsa` picks: libsodium through
PyNaCl by default, or ``python-axolotl-curve25519`` when the ``wamd[axolotl]`` extra is
installed.

Wire facts:
- a Curve25519 public key is 32 bytes; Signal serialises it with a leading type byte
  ``0x05`` (33 bytes), and signatures over keys are made over that 33-byte form;
- an XEdDSA signature is 64 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from nacl.bindings import crypto_scalarmult, crypto_scalarmult_base
from nacl.exceptions import RuntimeError as NaclRuntimeError

from wamd import xeddsa
from wamd.errors import InvalidKey

__all__ = [
    "DJB_TYPE",
    "KeyPair",
    "SignedKeyPair",
    "agree",
    "generate_keypair",
    "hkdf",
    "hmac_sha256",
    "prefixed",
    "sign",
    "strip_prefix",
    "verify",
]

DJB_TYPE = 0x05  # type byte in front of a serialised Curve25519 public key
_DJB_PREFIX = bytes([DJB_TYPE])


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A Curve25519 key pair. ``public`` is the raw 32-byte key (no type byte)."""

    public: bytes
    private: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.public) != 32 or len(self.private) != 32:
            raise InvalidKey("a Curve25519 key pair needs 32-byte public and private keys")

    @classmethod
    def from_private(cls, private: bytes) -> KeyPair:
        """The pair for a 32-byte private key (clamped as X25519 requires)."""
        if len(private) != 32:
            raise InvalidKey("a Curve25519 private key is 32 bytes")
        return cls(crypto_scalarmult_base(bytes(private)), private)

    @property
    def public_prefixed(self) -> bytes:
        """The 33-byte Signal form of the public key (type byte 0x05 first)."""
        return _DJB_PREFIX + self.public

    def agree(self, their_public: bytes) -> bytes:
        """X25519 shared secret with another public key (32 or 33-byte form)."""
        return agree(self.private, their_public)

    def sign(self, message: bytes) -> bytes:
        """XEdDSA signature of ``message`` with this key."""
        return sign(self.private, message)


@dataclass(frozen=True, slots=True)
class SignedKeyPair:
    """A key pair signed by an identity key, as Signal's signed prekey.

    ``signature`` is the XEdDSA signature by the identity key over the 33-byte
    (0x05-prefixed) public key; ``key_id`` is the prekey id announced on the wire.
    """

    key_pair: KeyPair
    signature: bytes
    key_id: int

    @classmethod
    def generate(cls, identity: KeyPair, key_id: int) -> SignedKeyPair:
        """A fresh key pair signed by ``identity``."""
        pair = generate_keypair()
        return cls(pair, identity.sign(pair.public_prefixed), key_id)

    def verify(self, identity_public: bytes) -> bool:
        """Whether the signature is valid for ``identity_public`` (either key form)."""
        return verify(identity_public, self.key_pair.public_prefixed, self.signature)


def generate_keypair() -> KeyPair:
    """A fresh random Curve25519 key pair (the private key stored clamped, as OpenSSL and
    libsignal store theirs)."""
    private = bytearray(os.urandom(32))
    private[0] &= 248
    private[31] = (private[31] & 127) | 64
    key = bytes(private)
    return KeyPair(crypto_scalarmult_base(key), key)


def strip_prefix(public: bytes) -> bytes:
    """The raw 32-byte key from either the 32-byte or the 33-byte (0x05-prefixed) form."""
    if len(public) == 33:
        if public[0] != DJB_TYPE:
            raise InvalidKey(f"unknown public key type byte {public[0]:#04x}")
        return public[1:]
    if len(public) != 32:
        raise InvalidKey(f"a Curve25519 public key is 32 or 33 bytes, got {len(public)}")
    return public


def prefixed(public: bytes) -> bytes:
    """The 33-byte form of a public key given in either form."""
    return _DJB_PREFIX + strip_prefix(public)


def agree(private: bytes | KeyPair, their_public: bytes) -> bytes:
    """X25519 agreement between a private key (raw, or a pair) and a public key (either form).

    On raw bytes with libsodium (``crypto_scalarmult``): nothing is built per call, where
    OpenSSL through ``cryptography`` rebuilt a key object from the raw private key first,
    which cost as much as the agreement itself.
    """
    raw = private.private if isinstance(private, KeyPair) else private
    if len(raw) != 32:
        raise InvalidKey("a Curve25519 private key is 32 bytes")
    public = strip_prefix(their_public)
    try:
        return crypto_scalarmult(bytes(raw), bytes(public))
    except NaclRuntimeError:  # an all-zero shared secret: a low-order point
        raise InvalidKey("X25519 agreement failed: invalid public key") from None


def sign(private: bytes, message: bytes) -> bytes:
    """XEdDSA signature (64 bytes) of ``message`` with a Curve25519 private key."""
    if len(private) != 32:
        raise InvalidKey("a Curve25519 private key is 32 bytes")
    return xeddsa.backend.sign(private, message, os.urandom(64))


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid XEdDSA signature of ``message`` by ``public``."""
    if len(signature) != 64:
        return False
    try:
        raw = strip_prefix(public)
    except InvalidKey:
        return False
    return xeddsa.backend.verify(raw, message, signature)


_IPAD = bytes(b ^ 0x36 for b in range(256))  # translate tables: each byte XOR the pad
_OPAD = bytes(b ^ 0x5C for b in range(256))
_BLOCK_ZEROS = bytes(64)
_SMALL_DATA = 4096  # past this, OpenSSL's HMAC (no copy of the data) is the faster one
_sha256 = hashlib.sha256


def _block_key(key: bytes) -> bytes:
    """An HMAC-SHA256 key as its 64-byte block (hashed when longer, zero-padded)."""
    if len(key) > 64:
        key = _sha256(key).digest()
    return key + _BLOCK_ZEROS[len(key) :]


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104). Signal's chains and HKDF make many of them over a few
    bytes each; two one-shot SHA-256 calls over the padded key do that in half the time
    of ``hmac.digest``, which sets up an OpenSSL HMAC context every call."""
    if len(data) > _SMALL_DATA:
        return hmac.digest(key, data, "sha256")
    key = _block_key(key)
    inner = _sha256(key.translate(_IPAD) + data).digest()
    return _sha256(key.translate(_OPAD) + inner).digest()


def hmac_sha256_pair(key: bytes, first: bytes, second: bytes) -> tuple[bytes, bytes]:
    """``(hmac_sha256(key, first), hmac_sha256(key, second))``, the key padded once (a
    chain step's two HMACs share their key): each padded key is hashed once and its
    hash state copied for the second HMAC (a copy costs less than a fresh hash)."""
    key = _block_key(key)
    inner = _sha256(key.translate(_IPAD))
    inner_second = inner.copy()
    inner.update(first)
    inner_second.update(second)
    outer = _sha256(key.translate(_OPAD))
    outer_second = outer.copy()
    outer.update(inner.digest())
    outer_second.update(inner_second.digest())
    return outer.digest(), outer_second.digest()


# HKDF's extract with the empty (32 zero bytes) salt: the padded key's hash states, once
_ZERO_SALT = _HALF_BLOCK_ZEROS = bytes(32)
_ZERO_SALT_INNER = _sha256(_BLOCK_ZEROS.translate(_IPAD))
_ZERO_SALT_OUTER = _sha256(_BLOCK_ZEROS.translate(_OPAD))


def hkdf(key_material: bytes, length: int, salt: bytes = b"", info: bytes = b"") -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-then-expand; an empty salt means 32 zero bytes."""
    if length <= 0:
        return b""
    # past 255 blocks (8,160 bytes) hkdf_blocks refuses: "HKDF output too long"
    blocks = hkdf_blocks(key_material, (length + 31) // 32, salt, info)
    return b"".join(blocks)[:length] if len(blocks) > 1 else blocks[0][:length]


def hkdf_blocks(
    key_material: bytes, count: int, salt: bytes = b"", info: bytes = b""
) -> list[bytes]:
    """HKDF-SHA256's first ``count`` output blocks of 32 bytes (1-255), as a list: what
    callers that split the output into keys want, without joining and slicing it.

    The expand's HMACs share the PRK as key, padded once, and each is two one-shot
    hashes (for the two blocks most callers want, as cheap as copying hash states)."""
    if not 1 <= count <= 255:
        raise ValueError("HKDF output too long" if count > 255 else "HKDF output is empty")
    if not salt or salt == _ZERO_SALT:
        inner_pad, outer_pad = hkdf_zero_salt_pads(key_material)
    else:
        prk = _block_key(hmac_sha256(salt, key_material))
        inner_pad, outer_pad = prk.translate(_IPAD), prk.translate(_OPAD)
    block = _sha256(outer_pad + _sha256(inner_pad + info + b"\x01").digest()).digest()
    blocks = [block]
    for counter in range(2, count + 1):
        data = inner_pad + block + info + _COUNTERS[counter]
        block = _sha256(outer_pad + _sha256(data).digest()).digest()
        blocks.append(block)
    return blocks


def hkdf_zero_salt_pads(key_material: bytes) -> tuple[bytes, bytes]:
    """HKDF-SHA256's extract with the empty (zero) salt, as the PRK's inner and outer
    HMAC pads: block ``n`` of the output is then
    ``sha256(outer + sha256(inner + previous block + info + bytes([n])))``. For callers
    that spell out a fixed expansion (Signal's message keys) instead of a loop.

    Starts from the zero salt's padded hash states, computed once."""
    inner_state = _ZERO_SALT_INNER.copy()
    inner_state.update(key_material)
    outer_state = _ZERO_SALT_OUTER.copy()
    outer_state.update(inner_state.digest())
    prk = outer_state.digest() + _HALF_BLOCK_ZEROS  # 32 bytes, padded to the block
    return prk.translate(_IPAD), prk.translate(_OPAD)


_COUNTERS = [bytes((n,)) for n in range(256)]
