from __future__ import annotations

import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

from wamd.crypto import (
    KeyPair,
    agree,
    generate_keypair,
    hkdf,
    hkdf_blocks,
    hmac_sha256,
    hmac_sha256_pair,
    prefixed,
    sign,
    strip_prefix,
    verify,
)
from wamd.errors import InvalidKey


def test_agreement_is_symmetric() -> None:
    a, b = generate_keypair(), generate_keypair()
    assert a.agree(b.public) == b.agree(a.public_prefixed)
    assert KeyPair.from_private(a.private) == a


def test_xeddsa_sign_verify_and_tamper() -> None:
    k = generate_keypair()
    sig = sign(k.private, b"message")
    assert verify(k.public, b"message", sig)
    assert verify(k.public_prefixed, b"message", sig)
    assert not verify(k.public, b"messagf", sig)
    assert not verify(k.public, b"message", sig[:-1] + bytes([sig[-1] ^ 1]))
    assert not verify(k.public, b"message", sig[:63])
    assert not verify(b"\x07" + k.public, b"message", sig)


def test_key_forms() -> None:
    k = generate_keypair()
    assert strip_prefix(prefixed(k.public)) == k.public
    with pytest.raises(InvalidKey):
        strip_prefix(b"\x06" + k.public)
    with pytest.raises(InvalidKey):
        strip_prefix(b"\x05" * 31)
    with pytest.raises(InvalidKey):
        agree(k.private, bytes(32))  # low-order point gives an all-zero secret


def test_hkdf_rfc5869_case_1() -> None:
    # RFC 5869 appendix A.1
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = hkdf(ikm, 42, salt, info)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hkdf_rfc5869_case_3_empty_salt() -> None:
    okm = hkdf(bytes.fromhex("0b" * 22), 42)
    assert okm.hex() == (
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"
    )


def test_signed_key_pair() -> None:
    from wamd.crypto import SignedKeyPair

    identity = generate_keypair()
    spk = SignedKeyPair.generate(identity, 7)
    assert spk.key_id == 7
    assert spk.verify(identity.public)
    assert not spk.verify(generate_keypair().public)


# ------------------------------------------- HMAC and HKDF against independent references


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=200), data=st.binary(max_size=300))
def test_hmac_sha256_matches_the_standard_library(key: bytes, data: bytes) -> None:
    assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256")


@settings(max_examples=200, deadline=None)
@given(key=st.binary(max_size=200), first=st.binary(max_size=100), second=st.binary(max_size=9))
def test_hmac_sha256_pair_is_two_hmacs(key: bytes, first: bytes, second: bytes) -> None:
    want = (hmac.digest(key, first, "sha256"), hmac.digest(key, second, "sha256"))
    assert hmac_sha256_pair(key, first, second) == want


@pytest.mark.parametrize("salt", [b"", bytes(32), bytes(31), bytes(33), b"\x01" + bytes(31)])
def test_hkdf_with_a_zero_salt_and_near_misses(salt: bytes) -> None:
    ikm, info = os.urandom(32), b"WhisperMessageKeys"
    want = HKDF(hashes.SHA256(), 80, salt or None, info).derive(ikm)
    assert hkdf(ikm, 80, salt, info) == want


@pytest.mark.parametrize("size", [4095, 4096, 4097, 70_000])
@pytest.mark.parametrize("key_size", [0, 32, 64, 65, 130])
def test_hmac_sha256_of_long_data_and_keys(size: int, key_size: int) -> None:
    key, data = os.urandom(key_size), os.urandom(size)
    assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256")


@settings(max_examples=200, deadline=None)
@given(
    ikm=st.binary(max_size=100),
    salt=st.binary(max_size=100),
    info=st.binary(max_size=60),
    length=st.integers(1, 255 * 32),
)
def test_hkdf_matches_cryptography(ikm: bytes, salt: bytes, info: bytes, length: int) -> None:
    want = HKDF(hashes.SHA256(), length, salt or None, info).derive(ikm)
    assert hkdf(ikm, length, salt, info) == want


@settings(max_examples=100, deadline=None)
@given(
    ikm=st.binary(max_size=100),
    salt=st.one_of(st.just(b""), st.just(bytes(32)), st.binary(max_size=100)),
    info=st.binary(max_size=30),
    count=st.integers(1, 12),
)
def test_hkdf_blocks_are_the_output_in_32_byte_blocks(
    ikm: bytes, salt: bytes, info: bytes, count: int
) -> None:
    want = HKDF(hashes.SHA256(), 32 * count, salt or None, info).derive(ikm)
    assert hkdf_blocks(ikm, count, salt, info) == [
        want[i : i + 32] for i in range(0, len(want), 32)
    ]


@pytest.mark.parametrize("count", [0, -1, 256])
def test_hkdf_blocks_refuse_a_count_outside_1_to_255(count: int) -> None:
    with pytest.raises(ValueError, match="HKDF output"):
        hkdf_blocks(b"ikm", count)
