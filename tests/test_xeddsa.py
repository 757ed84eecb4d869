"""Both XEdDSA backends against signatures made elsewhere, and against each other.

``tests/vectors/xeddsa/references.json`` holds a signature made by the Signal reference
(libsignal-protocol-java's Curve25519 test) and twelve made by Baileys (``make_baileys.js``,
run against Baileys 6.17.16); ``deterministic.json`` holds signatures made by
python-axolotl-curve25519's C code with given random bytes, which every backend must
reproduce byte for byte. The live cross-check (each backend verifying the other's fresh
signatures) needs the ``wamd[axolotl]`` extra and says so when it is absent.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from wamd import xeddsa
from wamd.crypto import KeyPair, generate_keypair, sign, verify
from wamd.xeddsa import SignatureBackend, available_backends, get_backend

VECTORS = Path(__file__).parent / "vectors" / "xeddsa"
REFERENCES: dict[str, Any] = json.loads((VECTORS / "references.json").read_text())
DETERMINISTIC: list[dict[str, str]] = json.loads((VECTORS / "deterministic.json").read_text())[
    "vectors"
]
BACKENDS = {b.name: b for b in available_backends()}


def _backend(name: str) -> SignatureBackend:
    if name not in BACKENDS:
        pytest.skip(f"the {name} backend is not installed (pip install 'wamd[{name}]')")
    return BACKENDS[name]


def _raw(public_hex: str) -> bytes:
    public = bytes.fromhex(public_hex)
    return public[1:] if len(public) == 33 else public


ALL = ["nacl", "axolotl"]
REFERENCE_VECTORS = [("signal", v) for v in REFERENCES["signal"]] + [
    ("baileys", v) for v in REFERENCES["baileys"]["vectors"]
]


def test_the_nacl_backend_is_installed_by_default() -> None:
    assert "nacl" in BACKENDS  # the default dependency; without it this whole file is moot


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    ("origin", "vector"),
    REFERENCE_VECTORS,
    ids=[f"{o}{i}" for i, (o, _) in enumerate(REFERENCE_VECTORS)],
)
def test_signatures_made_by_signal_and_baileys_verify(
    name: str, origin: str, vector: dict[str, str]
) -> None:
    backend = _backend(name)
    public, message = _raw(vector["public"]), bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    assert KeyPair.from_private(bytes.fromhex(vector["private"])).public == public
    assert backend.verify(public, message, signature)
    assert not backend.verify(public, message + b"\x00", signature)
    assert not backend.verify(generate_keypair().public, message, signature)


@pytest.mark.parametrize("name", ALL)
def test_every_flipped_bit_of_the_signal_signature_is_refused(name: str) -> None:
    backend = _backend(name)
    vector = REFERENCES["signal"][0]
    public, message = _raw(vector["public"]), bytes.fromhex(vector["message"])
    signature = bytes.fromhex(vector["signature"])
    for index, bit in itertools.product(range(64), range(8)):
        flipped = bytearray(signature)
        flipped[index] ^= 1 << bit
        assert not backend.verify(public, message, bytes(flipped)), (index, bit)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("vector", DETERMINISTIC, ids=lambda v: v["signature"][-2:])
def test_given_the_random_bytes_every_backend_makes_the_same_signature(
    name: str, vector: dict[str, str]
) -> None:
    backend = _backend(name)
    made = backend.sign(
        bytes.fromhex(vector["private"]),
        bytes.fromhex(vector["message"]),
        bytes.fromhex(vector["random"]),
    )
    assert made.hex() == vector["signature"]


def test_the_vectors_cover_both_edwards_sign_bits() -> None:
    # half of all keys have the sign bit of their Edwards point set; the top bit of the
    # signature carries it, and a verifier that ignored it would pass only the other half
    bits = {bytes.fromhex(v["signature"])[63] >> 7 for v in DETERMINISTIC}
    assert bits == {0, 1}
    bits = {bytes.fromhex(v["signature"])[63] >> 7 for _, v in REFERENCE_VECTORS}
    assert bits == {0, 1}


@pytest.mark.parametrize(("signer", "verifier"), list(itertools.product(ALL, ALL)))
def test_each_backend_verifies_the_others_fresh_signatures(signer: str, verifier: str) -> None:
    make, check = _backend(signer), _backend(verifier)
    for size in (0, 1, 33, 200):
        key = generate_keypair()
        message = os.urandom(size)
        signature = make.sign(key.private, message, os.urandom(64))
        assert check.verify(key.public, message, signature)
        assert not check.verify(key.public, message + b"!", signature)


@pytest.mark.parametrize("name", ALL)
def test_unclamped_private_keys_sign_for_their_public_key(name: str) -> None:
    # KeyPair.from_private takes any 32 bytes; X25519 clamps them, so must the signer
    backend = _backend(name)
    private = bytes([0xFF] * 32)
    signature = backend.sign(private, b"m", bytes(64))
    assert verify(KeyPair.from_private(private).public, b"m", signature)


@pytest.mark.parametrize("name", ALL)
def test_public_keys_without_an_edwards_point_are_refused(name: str) -> None:
    backend = _backend(name)
    signature = sign(generate_keypair().private, b"m")
    minus_one = (2**255 - 20).to_bytes(32, "little")  # u = -1 has no Edwards image
    for public in (minus_one, bytes(32), bytes([1]) + bytes(31)):
        assert not backend.verify(public, b"m", signature)


def test_crypto_sign_and_verify_go_through_the_selected_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Recording:
        name = "recording"

        def sign(self, private: bytes, message: bytes, random: bytes) -> bytes:
            calls.append("sign")
            assert len(random) == 64
            return bytes(64)

        def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
            calls.append("verify")
            return True

    monkeypatch.setattr(xeddsa, "backend", Recording())
    key = generate_keypair()
    assert sign(key.private, b"m") == bytes(64)
    assert verify(key.public_prefixed, b"m", bytes(64))
    assert calls == ["sign", "verify"]


def test_backend_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(xeddsa.BACKEND_ENV, "nacl")
    assert xeddsa._select().name == "nacl"
    monkeypatch.setenv(xeddsa.BACKEND_ENV, "openssl")
    with pytest.raises(ValueError, match="unknown XEdDSA backend 'openssl'"):
        xeddsa._select()
    monkeypatch.delenv(xeddsa.BACKEND_ENV)
    monkeypatch.setitem(sys.modules, "axolotl_curve25519", None)  # not installed
    with pytest.raises(ImportError, match=r"pip install 'wamd\[axolotl\]'"):
        get_backend("axolotl")
    assert xeddsa._select().name == "nacl"  # the extra is picked only when installed
    monkeypatch.setitem(sys.modules, "nacl", None)
    with pytest.raises(ImportError, match="no XEdDSA backend"):
        xeddsa._select()
