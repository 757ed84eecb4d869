"""X25519 on libsodium (wamd.crypto) against OpenSSL (``cryptography``), an independent
implementation: the same public keys, the same shared secrets, the same refusals."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from wamd.crypto import KeyPair, agree, generate_keypair
from wamd.errors import InvalidKey


def openssl_agree(private: bytes, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private).exchange(
        X25519PublicKey.from_public_bytes(public)
    )


def test_generated_pairs_are_clamped_and_their_public_half_is_openssls() -> None:
    for _ in range(200):
        pair = generate_keypair()
        assert pair.private[0] & 7 == 0 and pair.private[31] & 0xC0 == 0x40
        openssl = X25519PrivateKey.from_private_bytes(pair.private)
        assert openssl.public_key().public_bytes_raw() == pair.public
        assert openssl.private_bytes_raw() == pair.private


def test_from_private_gives_openssls_public_key_for_any_32_bytes() -> None:
    for _ in range(200):
        raw = os.urandom(32)  # not clamped: X25519 clamps
        expected = X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
        assert KeyPair.from_private(raw) == KeyPair(expected, raw)


def test_agreement_equals_openssls_for_random_and_odd_public_keys() -> None:
    for n in range(300):
        ours = generate_keypair() if n % 2 else KeyPair.from_private(os.urandom(32))
        if n % 3 == 0:
            # any 32 bytes: the top bit set, values at or above the field prime
            public = bytearray(os.urandom(32))
            if n % 2:
                public[31] |= 0x80
        else:
            public = bytearray(generate_keypair().public)
        try:
            expected: bytes | None = openssl_agree(ours.private, bytes(public))
        except ValueError:  # OpenSSL refuses an all-zero secret
            expected = None
        if expected is None:
            with pytest.raises(InvalidKey):
                agree(ours, bytes(public))
            continue
        assert agree(ours, bytes(public)) == expected
        assert agree(ours.private, b"\x05" + bytes(public)) == expected
        assert ours.agree(bytes(public)) == expected


def test_low_order_points_and_bad_lengths_are_refused() -> None:
    ours = generate_keypair()
    low_order = [
        bytes(32),
        (1).to_bytes(32, "little"),
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        (2**255 - 19).to_bytes(32, "little"),  # p itself: zero
    ]
    for point in low_order:
        with pytest.raises(ValueError):
            openssl_agree(ours.private, point)
        with pytest.raises(InvalidKey):
            agree(ours, point)
    with pytest.raises(InvalidKey):
        agree(b"\x01" * 31, ours.public)
    with pytest.raises(InvalidKey):
        agree(ours, b"\x07" + ours.public)
    with pytest.raises(InvalidKey):
        KeyPair.from_private(b"\x01" * 33)


def test_key_material_stays_out_of_repr() -> None:
    pair = generate_keypair()
    assert pair.private.hex() not in repr(pair) and repr(pair.private) not in repr(pair)
