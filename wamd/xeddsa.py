"""XEdDSA signatures (a Curve25519 key signing as an Ed25519 key) behind one small interface.

Signal and WhatsApp sign with the same Curve25519 keys they use for agreement: signed
prekeys, the ADV device identity, sender-key messages and the Noise certificate chain.
Two backends compute the same signatures:

- ``nacl`` (the default dependency, PyNaCl on libsodium; Apache-2.0 and ISC): wheels for
  every platform, constant-time scalar arithmetic in C. Chosen over the ``xeddsa`` package
  (MIT, but a wheel per Python version from one maintainer, so a new Python waits for a
  release) and over pure Python on ``cryptography`` (no new dependency, but signing needs a
  scalar multiplication by the identity key that Python integers cannot do in constant
  time, and it is two orders of magnitude slower). PyNaCl is maintained by PyCA, the
  maintainers of ``cryptography``, and ships one abi3 wheel per platform.
- ``axolotl`` (``pip install wamd[axolotl]``, python-axolotl-curve25519, GPLv3, built from
  source with a C compiler): the C code of libsignal-protocol-c, picked when installed.

What is signed (the scheme of the Signal reference, libsignal's ``calculate_signature``):
with ``k`` the clamped private key, ``A = kB`` on Edwards25519,
``r = SHA512(0xFE || 0xFF*31 || k || M || Z) mod L`` for 64 random bytes ``Z``,
``R = rB``, ``h = SHA512(R || A || M) mod L``, ``s = r + h·k mod L``; the signature is
``R || s`` with the sign bit of ``A`` in the top bit of the last byte (``s < 2^253`` leaves
it free). A verifier rebuilds ``A`` from the Montgomery ``u`` as ``y = (u - 1)/(u + 1)``
with that sign bit and checks an ordinary Ed25519 signature. Baileys' signatures (deterministic
nonce) verify the same way.
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

__all__ = [
    "BACKEND_ENV",
    "SignatureBackend",
    "available_backends",
    "backend",
    "get_backend",
]

BACKEND_ENV = "WAMD_XEDDSA_BACKEND"  # forces a backend by name ("nacl" or "axolotl")

_P = 2**255 - 19  # the field prime of Curve25519 / Edwards25519
_HASH1_PREFIX = b"\xfe" + b"\xff" * 31  # Signal's domain separation of the nonce hash


class SignatureBackend(Protocol):
    """Sign and verify with raw 32-byte Curve25519 keys (no 0x05 type byte)."""

    name: str

    def sign(self, private: bytes, message: bytes, random: bytes) -> bytes:
        """The 64-byte signature of ``message``; ``random`` is 64 bytes of nonce input."""
        ...

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """Whether the 64-byte ``signature`` of ``message`` is valid for ``public``."""
        ...


def clamp(private: bytes) -> bytes:
    """The X25519 clamping of a private key (the scalar its public key is made with)."""
    key = bytearray(private)
    key[0] &= 248
    key[31] &= 127
    key[31] |= 64
    return bytes(key)


def edwards_public(public: bytes, sign_bit: int) -> bytes | None:
    """The Ed25519 encoding of the Montgomery ``u`` in ``public`` with ``sign_bit``.

    ``None`` for ``u = -1``, which has no Edwards image. Only public values are used, so
    Python integers are fine here.
    """
    u = int.from_bytes(public, "little") & ((1 << 255) - 1)
    u %= _P
    if u == _P - 1:
        return None
    y = (u - 1) * pow(u + 1, _P - 2, _P) % _P
    encoded = bytearray(y.to_bytes(32, "little"))
    encoded[31] |= (sign_bit & 1) << 7
    return bytes(encoded)


class NaclBackend:
    """XEdDSA on libsodium through PyNaCl."""

    name = "nacl"

    def __init__(self) -> None:
        from nacl import bindings

        if not bindings.has_crypto_core_ed25519:  # a minimal libsodium build lacks it
            raise ImportError("PyNaCl was built without Ed25519 scalar arithmetic")
        self._b = bindings

    def _reduce(self, digest: bytes) -> bytes:
        reduced: bytes = self._b.crypto_core_ed25519_scalar_reduce(digest)
        return reduced

    def sign(self, private: bytes, message: bytes, random: bytes) -> bytes:
        b = self._b
        key = clamp(private)
        a = self._reduce(key + bytes(32))
        public: bytes = b.crypto_scalarmult_ed25519_base_noclamp(a)
        sign_bit = public[31] & 0x80
        r = self._reduce(hashlib.sha512(_HASH1_PREFIX + key + message + random).digest())
        big_r: bytes = b.crypto_scalarmult_ed25519_base_noclamp(r)
        h = self._reduce(hashlib.sha512(big_r + public + message).digest())
        s: bytes = b.crypto_core_ed25519_scalar_add(b.crypto_core_ed25519_scalar_mul(h, a), r)
        return big_r + s[:31] + bytes([s[31] | sign_bit])

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        edwards = edwards_public(public, signature[63] >> 7)
        if edwards is None:
            return False
        plain = signature[:63] + bytes([signature[63] & 0x7F])
        try:
            self._b.crypto_sign_open(plain + message, edwards)
        except Exception:  # nacl.exceptions.BadSignatureError, or a rejected point
            return False
        return True


class AxolotlBackend:
    """XEdDSA in libsignal-protocol-c's C code (python-axolotl-curve25519, GPLv3)."""

    name = "axolotl"

    def __init__(self) -> None:
        import axolotl_curve25519

        self._c = axolotl_curve25519

    def sign(self, private: bytes, message: bytes, random: bytes) -> bytes:
        signature: bytes = self._c.calculateSignature(random, clamp(private), message)
        return signature

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        return bool(self._c.verifySignature(public, message, signature) == 0)


_FACTORIES: dict[str, type[NaclBackend] | type[AxolotlBackend]] = {
    "axolotl": AxolotlBackend,
    "nacl": NaclBackend,
}
_PREFERENCE = ("axolotl", "nacl")  # the extra, when installed, is what the user asked for


def get_backend(name: str) -> SignatureBackend:
    """The backend called ``name``; ``ImportError`` saying what to install when it is absent."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown XEdDSA backend {name!r} (known: {', '.join(_FACTORIES)})")
    try:
        return factory()
    except ImportError as exc:
        hint = "pip install 'wamd[axolotl]'" if name == "axolotl" else "pip install pynacl"
        raise ImportError(f"XEdDSA backend {name!r} is not installed ({hint}): {exc}") from exc


def available_backends() -> list[SignatureBackend]:
    """Every backend that imports here, in order of preference."""
    found: list[SignatureBackend] = []
    for name in _PREFERENCE:
        try:
            found.append(get_backend(name))
        except ImportError:
            continue
    return found


def _select() -> SignatureBackend:
    forced = os.environ.get(BACKEND_ENV)
    if forced:
        return get_backend(forced)
    found = available_backends()
    if not found:
        raise ImportError(
            "no XEdDSA backend: install wamd's dependencies (pip install wamd) or "
            "pip install pynacl"
        )
    return found[0]


backend: SignatureBackend = _select()
"""The backend :func:`wamd.crypto.sign` and :func:`wamd.crypto.verify` use."""
