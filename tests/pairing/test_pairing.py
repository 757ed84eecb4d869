from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wamd import pairing
from wamd.crypto import KeyPair, generate_keypair, verify
from wamd.errors import PairingError
from wamd.proto import adv_pb2

NOISE = bytes(range(32))
IDENT = bytes(range(32, 64))
ADV = bytes(range(64, 96))


def test_qr_string_current_form() -> None:
    qr = pairing.make_qr_string("2@abc==", NOISE, IDENT, ADV, pairing.PAIR_CLIENT_CHROME)
    assert qr == (
        "https://wa.me/settings/linked_devices#2@abc==,"
        + base64.b64encode(NOISE).decode()
        + ","
        + base64.b64encode(IDENT).decode()
        + ","
        + base64.b64encode(ADV).decode()
        + ",1"
    )
    parsed = pairing.parse_qr_string(qr)
    assert (parsed.ref, parsed.noise_public, parsed.identity_public, parsed.adv_secret) == (
        "2@abc==",
        NOISE,
        IDENT,
        ADV,
    )
    assert parsed.platform == "1"
    assert base64.b64encode(ADV).decode() not in repr(parsed)


def test_qr_string_bare_legacy_form() -> None:
    bare = ",".join(["ref", *(base64.b64encode(k).decode() for k in (NOISE, IDENT, ADV))])
    parsed = pairing.parse_qr_string(bare)
    assert parsed.ref == "ref" and parsed.platform == "" and parsed.adv_secret == ADV


@pytest.mark.parametrize(
    "text",
    [
        "",
        "https://wa.me/settings/linked_devices#a,b",
        "ref,!!!,AAAA,AAAA",
        "ref," + base64.b64encode(b"short").decode() + ",x,y",
        ",".join(["", *(base64.b64encode(k).decode() for k in (NOISE, IDENT, ADV))]),
        ",".join(["r", *(base64.b64encode(k).decode() for k in (NOISE, IDENT, ADV)), "zz"]),
    ],
)
def test_qr_string_rejects_malformed(text: str) -> None:
    with pytest.raises(PairingError):
        pairing.parse_qr_string(text)


def _pair(hosted: bool = False) -> tuple[bytes, KeyPair, KeyPair, bytes]:
    account = generate_keypair()
    companion = generate_keypair()
    adv = b"\x11" * 32
    container = pairing.make_device_identity(
        account,
        companion.public,
        adv,
        raw_id=1234,
        key_index=3,
        timestamp=1700000000,
        hosted=hosted,
    )
    return container, account, companion, adv


@pytest.mark.parametrize("hosted", [False, True])
def test_adv_round_trip(hosted: bool) -> None:
    container, account, companion, adv = _pair(hosted)
    result = pairing.verify_pair_success(container, adv, companion)
    assert result.key_index == 3 and result.hosted is hosted
    assert result.account_signature_key == account.public
    stored = adv_pb2.ADVSignedDeviceIdentity.FromString(result.account)
    reply = adv_pb2.ADVSignedDeviceIdentity.FromString(result.reply_identity)
    assert stored.accountSignatureKey == account.public
    assert not reply.HasField("accountSignatureKey")
    assert reply.deviceSignature == stored.deviceSignature and len(reply.deviceSignature) == 64
    details = pairing.verify_device_signature(
        result.reply_identity,
        companion.public,
        account.public,
    )
    assert details.rawID == 1234 and details.keyIndex == 3


def test_adv_signature_messages_match_the_wire_layout() -> None:
    container, account, companion, adv = _pair()
    outer = adv_pb2.ADVSignedDeviceIdentityHMAC.FromString(container)
    # the HMAC covers the serialized ADVSignedDeviceIdentity, keyed by the ADV secret
    assert outer.HMAC == hmac.digest(adv, outer.details, "sha256")
    signed = adv_pb2.ADVSignedDeviceIdentity.FromString(outer.details)
    msg = b"\x06\x00" + signed.details + companion.public
    assert verify(account.public, msg, signed.accountSignature)
    result = pairing.verify_pair_success(container, adv, companion)
    dev = adv_pb2.ADVSignedDeviceIdentity.FromString(result.account)
    dev_msg = b"\x06\x01" + signed.details + companion.public + account.public
    assert verify(companion.public, dev_msg, dev.deviceSignature)


def test_forged_hmac_is_refused_with_401() -> None:
    container, _, companion, _ = _pair()
    with pytest.raises(PairingError) as err:
        pairing.verify_pair_success(container, b"\x22" * 32, companion)
    assert (err.value.code, err.value.text) == (401, "hmac-mismatch")


def test_forged_account_signature_is_refused_with_401() -> None:
    adv = b"\x11" * 32
    companion = generate_keypair()
    # signed for a different companion key: the HMAC is right, the signature is not
    container = pairing.make_device_identity(
        generate_keypair(), generate_keypair().public, adv, raw_id=1, key_index=1, timestamp=1
    )
    with pytest.raises(PairingError) as err:
        pairing.verify_pair_success(container, adv, companion)
    assert (err.value.code, err.value.text) == (401, "signature-mismatch")


def test_garbage_identity_is_internal_error() -> None:
    with pytest.raises(PairingError) as err:
        pairing.verify_pair_success(b"\xff\xff\xff", b"\x11" * 32, generate_keypair())
    assert err.value.code == 500


def test_device_signature_check_rejects_tampering() -> None:
    container, account, companion, adv = _pair()
    result = pairing.verify_pair_success(container, adv, companion)
    reply = adv_pb2.ADVSignedDeviceIdentity.FromString(result.reply_identity)
    reply.deviceSignature = bytes(64)
    with pytest.raises(PairingError):
        pairing.verify_device_signature(
            reply.SerializeToString(),
            companion.public,
            account.public,
        )
    with pytest.raises(PairingError):
        pairing.verify_device_signature(
            result.reply_identity,
            companion.public,
            generate_keypair().public,
        )


def test_wrapped_ephemeral_layout() -> None:
    code = "ABCD2345"
    pub = generate_keypair().public
    wrapped = pairing.wrap_ephemeral(code, pub)
    assert len(wrapped) == 80
    salt, iv, enc = wrapped[:32], wrapped[32:48], wrapped[48:]
    key = hashlib.pbkdf2_hmac("sha256", code.encode(), salt, 131072, 32)
    dec = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    assert dec.update(enc) + dec.finalize() == pub
    assert pairing.unwrap_ephemeral(code, wrapped) == pub


def test_code_pairing_both_sides_derive_the_same_adv_secret() -> None:
    companion_identity = generate_keypair()
    primary_identity = generate_keypair()
    companion = pairing.CodePairingCompanion.start()
    assert len(companion.code) == 8 and set(companion.code) <= set(pairing.PAIRING_CODE_ALPHABET)
    typed = companion.display_code.lower()  # the user may type it in any case, with the dash
    primary_eph, companion_eph_pub, wrapped_primary = pairing.primary_start_code_pairing(
        typed, companion.wrapped_ephemeral
    )
    assert companion_eph_pub == companion.ephemeral.public
    bundle, adv_companion = companion.finish(
        wrapped_primary, primary_identity.public, companion_identity
    )
    got_identity, adv_primary = pairing.primary_finish_code_pairing(
        primary_eph, companion_eph_pub, bundle, primary_identity
    )
    assert got_identity == companion_identity.public
    assert adv_companion == adv_primary and len(adv_primary) == 32


def test_code_pairing_wrong_code_fails_on_the_phone() -> None:
    companion = pairing.CodePairingCompanion.start("ABCD-EFGH")
    primary_identity = generate_keypair()
    primary_eph, companion_eph_pub, wrapped_primary = pairing.primary_start_code_pairing(
        "ABCD-EFGJ", companion.wrapped_ephemeral
    )
    # the wrong code unwraps to a different (random-looking) key: agreement differs
    bundle, _ = companion.finish(wrapped_primary, primary_identity.public, generate_keypair())
    with pytest.raises(PairingError):
        pairing.primary_finish_code_pairing(
            primary_eph, companion_eph_pub, bundle, primary_identity
        )


@pytest.mark.parametrize("code", ["ABC", "ABCDEFGHI", "ABCD-EFG0", "IIIIOOOO"])
def test_pairing_code_alphabet_enforced(code: str) -> None:
    with pytest.raises(PairingError):
        pairing.normalize_pairing_code(code)


def test_short_wrapped_key_rejected() -> None:
    with pytest.raises(PairingError):
        pairing.unwrap_ephemeral("ABCDEFGH", b"\x00" * 79)
    with pytest.raises(PairingError):
        pairing.primary_finish_code_pairing(
            generate_keypair(), generate_keypair().public, b"\x00" * 100, generate_keypair()
        )
