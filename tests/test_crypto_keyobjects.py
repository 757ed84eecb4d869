"""The key object a ``KeyPair`` keeps is a cache of its raw private key, nothing more."""

from __future__ import annotations

import copy
import pickle

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from wamd.crypto import KeyPair, agree, generate_keypair
from wamd.errors import InvalidKey


def test_the_kept_key_object_is_the_raw_private_key() -> None:
    generated = generate_keypair()
    rebuilt = KeyPair(generated.public, generated.private)  # made lazily on first use
    derived = KeyPair.from_private(generated.private)
    for pair in (generated, rebuilt, derived):
        assert pair.private_key.private_bytes_raw() == generated.private
        assert pair.private_key.public_key().public_bytes_raw() == generated.public
        assert pair.private_key is pair.private_key  # made once, then kept


def test_agreement_with_the_kept_object_equals_agreement_from_raw_bytes() -> None:
    a, b = generate_keypair(), generate_keypair()
    expected = X25519PrivateKey.from_private_bytes(a.private).exchange(
        X25519PrivateKey.from_private_bytes(b.private).public_key()
    )
    assert a.agree(b.public) == expected
    assert a.agree(b.public_prefixed) == expected
    assert agree(a, b.public) == expected
    assert agree(a.private, b.public) == expected
    assert KeyPair(a.public, a.private).agree(b.public) == expected


def test_a_pair_whose_raw_keys_disagree_with_the_object_is_not_possible() -> None:
    # the object is only ever made from ``private``: a pair built from other raw bytes
    # gets its own object, never a stale one
    a, b = generate_keypair(), generate_keypair()
    mixed = KeyPair(a.public, b.private)
    assert mixed.private_key.private_bytes_raw() == b.private
    assert mixed != a and mixed != b


def test_the_object_is_not_part_of_the_value() -> None:
    a = generate_keypair()
    plain = KeyPair(a.public, a.private)
    assert plain == a and hash(plain) == hash(a)
    assert a.private.hex() not in repr(a) and "secret" not in repr(a)
    for copied in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert copied == a
        assert copied.private_key.private_bytes_raw() == a.private
    restored = pickle.loads(pickle.dumps(a))
    assert restored._secret is None  # pickles carry the raw keys only


def test_bad_keys_are_refused() -> None:
    a = generate_keypair()
    with pytest.raises(InvalidKey):
        agree(a, bytes(32))  # low-order point
    with pytest.raises(InvalidKey):
        agree(b"\x01" * 31, a.public)
    with pytest.raises(InvalidKey):
        KeyPair(a.public, a.private[:31])
