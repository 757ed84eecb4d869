"""Linking a companion device: QR strings, ADV identities and phone-number pairing codes.

Sans-IO and shared by both roles: the client (``wamd``) verifies what the server and the
primary phone send and signs as the new device; the simulated phone (``wamd.sim``) makes
the same structures the way a real primary does. Nothing here touches a socket.

Protocol facts (from whatsmeow ``pair.go``/``pair-code.go``, Baileys
``validate-connection.ts``/``socket.ts``; both agree on everything used here):

QR pairing
  The server sends ``<iq><pair-device><ref>..</ref>x N</pair-device></iq>``; the companion
  shows, per ref, ``https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform``
  where noise/identity are its 32-byte public keys and adv its 32-byte ADV secret, all
  standard base64, and platform one of the ``PAIR_CLIENT_*`` ids. Phones also still accept
  the older bare form ``ref,noise,identity,adv``.

pair-success
  ``device-identity`` holds an ``ADVSignedDeviceIdentityHMAC``: ``HMAC`` = HMAC-SHA256 with
  the companion's ADV secret over ``details`` (prefixed with ``06 05`` for hosted
  accounts). ``details`` is an ``ADVSignedDeviceIdentity`` whose ``accountSignature`` is the
  primary's XEdDSA signature over ``06 00 || ADVDeviceIdentity bytes || companion identity
  public key (32 bytes)`` (prefix ``06 05`` when the device type is hosted). The companion
  adds ``deviceSignature`` = its own signature over ``06 01 || details || identity public ||
  accountSignatureKey`` (``06 06`` hosted), and answers with ``pair-device-sign`` holding the
  signed identity *without* ``accountSignatureKey`` and a ``key-index`` attribute.

Phone-number pairing code
  Eight characters from the alphabet ``123456789ABCDEFGHJKLMNPQRSTVWXYZ`` (5 random bytes in
  base32). Each side wraps an ephemeral X25519 public key as ``salt(32) || iv(16) ||
  AES-256-CTR(PBKDF2-SHA256(code, salt, 131072 iterations, 32), iv, pub)``. The companion
  then sends ``salt(32) || nonce(12) || AES-GCM(HKDF(eph_shared, salt,
  "link_code_pairing_key_bundle_encryption_key"), companion identity || primary identity ||
  random(32))`` and both derive the ADV secret as ``HKDF(eph_shared || identity_shared ||
  random, no salt, "adv_secret", 32)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import KeyPair, generate_keypair, hkdf, verify
from wamd.errors import InvalidKey, PairingError
from wamd.proto import adv_pb2

__all__ = [
    "ADV_ACCOUNT_SIGNATURE_PREFIX",
    "ADV_DEVICE_SIGNATURE_PREFIX",
    "ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX",
    "ADV_HOSTED_DEVICE_SIGNATURE_PREFIX",
    "PAIRING_CODE_ALPHABET",
    "PAIR_CLIENT_CHROME",
    "QR_URL_PREFIX",
    "CodePairingCompanion",
    "PairSuccessResult",
    "QRData",
    "account_signature_message",
    "device_signature_message",
    "format_pairing_code",
    "make_device_identity",
    "make_qr_string",
    "normalize_pairing_code",
    "parse_qr_string",
    "primary_finish_code_pairing",
    "primary_start_code_pairing",
    "unwrap_ephemeral",
    "verify_device_signature",
    "verify_pair_success",
    "wrap_ephemeral",
]

ADV_ACCOUNT_SIGNATURE_PREFIX = b"\x06\x00"  # account (primary) signature over device details
ADV_DEVICE_SIGNATURE_PREFIX = b"\x06\x01"  # companion's own signature over its identity
ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX = b"\x06\x05"  # hosted (business API) account signature / HMAC
ADV_HOSTED_DEVICE_SIGNATURE_PREFIX = b"\x06\x06"  # hosted device signature

QR_URL_PREFIX = "https://wa.me/settings/linked_devices#"  # current QR form scanned by phones

# Companion platform ids carried in the QR string and in link_code_companion_reg.
PAIR_CLIENT_UNKNOWN = "0"
PAIR_CLIENT_CHROME = "1"
PAIR_CLIENT_EDGE = "2"
PAIR_CLIENT_FIREFOX = "3"
PAIR_CLIENT_IE = "4"
PAIR_CLIENT_OPERA = "5"
PAIR_CLIENT_SAFARI = "6"
PAIR_CLIENT_ELECTRON = "7"
PAIR_CLIENT_UWP = "8"
PAIR_CLIENT_OTHER_WEB = "9"
PAIR_CLIENT_MACOS = "c"
PAIR_CLIENT_ANDROID = "e"
_PAIR_CLIENT_IDS = frozenset("0123456789ce")

PAIRING_CODE_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"  # base32 alphabet of pairing codes
PAIRING_CODE_PBKDF2_ITERATIONS = 2 << 16  # 131072 rounds of PBKDF2-SHA256 over the code
_KEY_BUNDLE_INFO = b"link_code_pairing_key_bundle_encryption_key"  # HKDF info, key bundle
_ADV_SECRET_INFO = b"adv_secret"  # HKDF info, ADV secret from code pairing
WRAPPED_EPHEMERAL_LENGTH = 80  # salt 32 + iv 16 + encrypted X25519 public key 32


# --------------------------------------------------------------------------- QR strings


@dataclass(frozen=True, slots=True)
class QRData:
    """The fields of a pairing QR code."""

    ref: str
    noise_public: bytes
    identity_public: bytes
    adv_secret: bytes = b""
    platform: str = ""

    def __repr__(self) -> str:  # the ADV secret is a credential: never print it
        return f"QRData(ref={self.ref!r}, platform={self.platform!r})"


def make_qr_string(
    ref: str | bytes,
    noise_public: bytes,
    identity_public: bytes,
    adv_secret: bytes,
    platform: str = PAIR_CLIENT_CHROME,
) -> str:
    """The QR text for one ref in the form current phones scan."""
    ref_text = ref.decode() if isinstance(ref, bytes) else ref
    fields = (
        ref_text,
        base64.b64encode(noise_public).decode(),
        base64.b64encode(identity_public).decode(),
        base64.b64encode(adv_secret).decode(),
        platform,
    )
    return QR_URL_PREFIX + ",".join(fields)


def _b64_key(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PairingError(f"QR code: {what} is not valid base64") from exc
    if len(raw) != 32:
        raise PairingError(f"QR code: {what} must be 32 bytes, got {len(raw)}")
    return raw


def parse_qr_string(text: str) -> QRData:
    """Parse a pairing QR string in the current URL form or the older bare form."""
    body = text.strip()
    if body.startswith(QR_URL_PREFIX):
        body = body[len(QR_URL_PREFIX) :]
    parts = body.split(",")
    if len(parts) not in (4, 5):
        raise PairingError(f"QR code: expected 4 or 5 comma-separated fields, got {len(parts)}")
    ref = parts[0]
    if not ref:
        raise PairingError("QR code: empty ref")
    platform = parts[4] if len(parts) == 5 else ""
    if platform and platform not in _PAIR_CLIENT_IDS:
        raise PairingError(f"QR code: unknown companion platform id {platform[:8]!r}")
    return QRData(
        ref=ref,
        noise_public=_b64_key(parts[1], "noise key"),
        identity_public=_b64_key(parts[2], "identity key"),
        adv_secret=_b64_key(parts[3], "ADV secret"),
        platform=platform,
    )


# --------------------------------------------------------------------------- ADV identities


def account_signature_message(details: bytes, companion_identity: bytes, hosted: bool) -> bytes:
    """What the primary signs to vouch for a companion's identity key."""
    prefix = ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX if hosted else ADV_ACCOUNT_SIGNATURE_PREFIX
    return prefix + details + companion_identity


def device_signature_message(
    details: bytes, companion_identity: bytes, account_key: bytes
) -> bytes:
    """What the companion signs to accept the account's vouching.

    Both whatsmeow and Baileys sign with ``06 01`` even for hosted accounts (the hosted
    device prefix ``06 06`` is defined by both but used by neither), so wamd does too.
    """
    return ADV_DEVICE_SIGNATURE_PREFIX + details + companion_identity + account_key


@dataclass(frozen=True, slots=True)
class PairSuccessResult:
    """What a companion learns and must store from a verified pair-success."""

    account: bytes  # ADVSignedDeviceIdentity with our device signature (kept in creds)
    reply_identity: bytes  # the same without accountSignatureKey: goes into pair-device-sign
    key_index: int
    account_signature_key: bytes  # the primary's identity key (32 bytes)
    hosted: bool


def verify_pair_success(
    device_identity: bytes, adv_secret: bytes, identity: KeyPair
) -> PairSuccessResult:
    """Check a pair-success ``device-identity`` and sign it as the companion.

    Raises ``PairingError`` whose ``code``/``text`` are what the companion answers the
    server with (401 ``hmac-mismatch``, 401 ``signature-mismatch``, 500 ``internal-error``).
    """
    container = adv_pb2.ADVSignedDeviceIdentityHMAC()
    try:
        container.ParseFromString(device_identity)
    except _ProtoDecodeError as exc:
        raise PairingError(
            "pair-success: malformed identity container", code=500, text="internal-error"
        ) from exc
    hmac_prefix = (
        ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX if container.accountType == adv_pb2.HOSTED else b""
    )
    expected = hmac.digest(adv_secret, hmac_prefix + container.details, "sha256")
    if not hmac.compare_digest(expected, container.HMAC):
        raise PairingError(
            "pair-success: identity HMAC does not match", code=401, text="hmac-mismatch"
        )

    signed = adv_pb2.ADVSignedDeviceIdentity()
    details = adv_pb2.ADVDeviceIdentity()
    try:
        signed.ParseFromString(container.details)
        details.ParseFromString(signed.details)
    except _ProtoDecodeError as exc:
        raise PairingError(
            "pair-success: malformed device identity", code=500, text="internal-error"
        ) from exc

    hosted = details.deviceType == adv_pb2.HOSTED
    account_key = signed.accountSignatureKey
    if len(account_key) != 32 or len(signed.accountSignature) != 64:
        raise PairingError(
            "pair-success: account signature missing", code=401, text="signature-mismatch"
        )
    message = account_signature_message(signed.details, identity.public, hosted)
    if not verify(account_key, message, signed.accountSignature):
        raise PairingError(
            "pair-success: account signature invalid", code=401, text="signature-mismatch"
        )

    signed.deviceSignature = identity.sign(
        device_signature_message(signed.details, identity.public, account_key)
    )
    account = signed.SerializeToString()
    signed.ClearField("accountSignatureKey")
    return PairSuccessResult(
        account=account,
        reply_identity=signed.SerializeToString(),
        key_index=details.keyIndex,
        account_signature_key=bytes(account_key),
        hosted=hosted,
    )


def make_device_identity(
    account: KeyPair,
    companion_identity: bytes,
    adv_secret: bytes,
    *,
    raw_id: int,
    key_index: int,
    timestamp: int,
    hosted: bool = False,
) -> bytes:
    """The primary's side: an ``ADVSignedDeviceIdentityHMAC`` for a new companion."""
    details = adv_pb2.ADVDeviceIdentity(rawID=raw_id, timestamp=timestamp, keyIndex=key_index)
    if hosted:
        details.accountType = adv_pb2.HOSTED
        details.deviceType = adv_pb2.HOSTED
    details_bytes = details.SerializeToString()
    signed = adv_pb2.ADVSignedDeviceIdentity(
        details=details_bytes,
        accountSignatureKey=account.public,
        accountSignature=account.sign(
            account_signature_message(details_bytes, companion_identity, hosted)
        ),
    )
    signed_bytes = signed.SerializeToString()
    prefix = ADV_HOSTED_ACCOUNT_SIGNATURE_PREFIX if hosted else b""
    container = adv_pb2.ADVSignedDeviceIdentityHMAC(
        details=signed_bytes, HMAC=hmac.digest(adv_secret, prefix + signed_bytes, "sha256")
    )
    if hosted:
        container.accountType = adv_pb2.HOSTED
    return container.SerializeToString()


def verify_device_signature(
    reply_identity: bytes, companion_identity: bytes, account_key: bytes
) -> adv_pb2.ADVDeviceIdentity:
    """The server's check of a ``pair-device-sign`` reply; returns the device details.

    The reply carries no ``accountSignatureKey`` (the companion strips it), so the
    primary's key is supplied by the caller. Raises ``PairingError`` when anything fails.
    """
    signed = adv_pb2.ADVSignedDeviceIdentity()
    details = adv_pb2.ADVDeviceIdentity()
    try:
        signed.ParseFromString(reply_identity)
        details.ParseFromString(signed.details)
    except _ProtoDecodeError as exc:
        raise PairingError("pair-device-sign: malformed device identity") from exc
    hosted = details.deviceType == adv_pb2.HOSTED
    if not verify(
        account_key,
        account_signature_message(signed.details, companion_identity, hosted),
        signed.accountSignature,
    ):
        raise PairingError("pair-device-sign: account signature does not match")
    if not verify(
        companion_identity,
        device_signature_message(signed.details, companion_identity, account_key),
        signed.deviceSignature,
    ):
        raise PairingError("pair-device-sign: device signature invalid")
    return details


# --------------------------------------------------------------------------- pairing codes


def _code_key(code: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, PAIRING_CODE_PBKDF2_ITERATIONS, 32)


def _ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def wrap_ephemeral(code: str, public: bytes) -> bytes:
    """Wrap an ephemeral public key under the pairing code (80 bytes)."""
    salt, iv = os.urandom(32), os.urandom(16)
    return salt + iv + _ctr(_code_key(code, salt), iv, public)


def unwrap_ephemeral(code: str, wrapped: bytes) -> bytes:
    """The ephemeral public key inside an 80-byte wrapped key."""
    if len(wrapped) < WRAPPED_EPHEMERAL_LENGTH:
        raise PairingError(f"wrapped ephemeral key must be 80 bytes, got {len(wrapped)}")
    salt, iv, encrypted = wrapped[:32], wrapped[32:48], wrapped[48:80]
    return _ctr(_code_key(code, salt), iv, encrypted)


def normalize_pairing_code(code: str) -> str:
    """The 8-character code from what a user typed (dash and case ignored)."""
    cleaned = code.replace("-", "").replace(" ", "").upper()
    if len(cleaned) != 8 or any(ch not in PAIRING_CODE_ALPHABET for ch in cleaned):
        raise PairingError("a pairing code is 8 characters from 1-9 and A-Z without I, O and U")
    return cleaned


def format_pairing_code(code: str) -> str:
    """``ABCD-EFGH``: how the code is shown to the user."""
    return f"{code[:4]}-{code[4:]}"


def _random_code() -> str:
    value = int.from_bytes(secrets.token_bytes(5), "big")  # 40 bits = 8 base32 characters
    return "".join(PAIRING_CODE_ALPHABET[(value >> shift) & 31] for shift in range(35, -1, -5))


def _adv_secret(eph_shared: bytes, identity_shared: bytes, random: bytes) -> bytes:
    return hkdf(eph_shared + identity_shared + random, 32, info=_ADV_SECRET_INFO)


@dataclass(slots=True)
class CodePairingCompanion:
    """The companion's half of phone-number pairing.

    ``start()`` gives the code to show and the wrapped key for ``companion_hello``;
    ``finish()`` handles the server's ``link_code_companion_reg`` notification and returns
    the ``companion_finish`` key bundle and the new ADV secret.
    """

    code: str
    ephemeral: KeyPair
    wrapped_ephemeral: bytes

    @classmethod
    def start(cls, code: str | None = None) -> CodePairingCompanion:
        """A fresh pairing attempt; ``code`` may fix the code (8 chars of the alphabet)."""
        chosen = normalize_pairing_code(code) if code is not None else _random_code()
        ephemeral = generate_keypair()
        return cls(chosen, ephemeral, wrap_ephemeral(chosen, ephemeral.public))

    @property
    def display_code(self) -> str:
        return format_pairing_code(self.code)

    def finish(
        self, wrapped_primary_ephemeral: bytes, primary_identity: bytes, identity: KeyPair
    ) -> tuple[bytes, bytes]:
        """``(wrapped_key_bundle, adv_secret)`` for ``companion_finish``."""
        if len(primary_identity) != 32:
            raise PairingError("primary identity key must be 32 bytes")
        primary_ephemeral = unwrap_ephemeral(self.code, wrapped_primary_ephemeral)
        try:
            eph_shared = self.ephemeral.agree(primary_ephemeral)
            identity_shared = identity.agree(primary_identity)
        except InvalidKey as exc:
            raise PairingError("pairing code: the phone's keys are invalid") from exc
        random = os.urandom(32)
        salt, nonce = os.urandom(32), os.urandom(12)
        bundle_key = hkdf(eph_shared, 32, salt, _KEY_BUNDLE_INFO)
        sealed = AESGCM(bundle_key).encrypt(
            nonce, identity.public + primary_identity + random, None
        )
        return salt + nonce + sealed, _adv_secret(eph_shared, identity_shared, random)


def primary_start_code_pairing(code: str, wrapped_companion: bytes) -> tuple[KeyPair, bytes, bytes]:
    """The phone's side after the user typed ``code``.

    Returns ``(primary_ephemeral, companion_ephemeral_public, wrapped_primary_ephemeral)``.
    """
    normalized = normalize_pairing_code(code)
    companion_public = unwrap_ephemeral(normalized, wrapped_companion)
    ephemeral = generate_keypair()
    return ephemeral, companion_public, wrap_ephemeral(normalized, ephemeral.public)


def primary_finish_code_pairing(
    primary_ephemeral: KeyPair,
    companion_ephemeral_public: bytes,
    wrapped_key_bundle: bytes,
    primary_identity: KeyPair,
) -> tuple[bytes, bytes]:
    """The phone's check of ``companion_finish``: ``(companion_identity, adv_secret)``.

    A wrong code shows up here: the key bundle does not authenticate.
    """
    if len(wrapped_key_bundle) < 32 + 12 + 16 + 96:
        raise PairingError("key bundle too short")
    salt, nonce, sealed = (
        wrapped_key_bundle[:32],
        wrapped_key_bundle[32:44],
        wrapped_key_bundle[44:],
    )
    try:
        eph_shared = primary_ephemeral.agree(companion_ephemeral_public)
    except InvalidKey as exc:
        raise PairingError("pairing code: the companion's ephemeral key is invalid") from exc
    try:
        bundle = AESGCM(hkdf(eph_shared, 32, salt, _KEY_BUNDLE_INFO)).decrypt(nonce, sealed, None)
    except Exception as exc:  # cryptography's InvalidTag: wrong code or tampered bundle
        raise PairingError("pairing code: key bundle does not authenticate") from exc
    if len(bundle) != 96:
        raise PairingError("pairing code: key bundle has the wrong size")
    companion_identity, primary_public, random = bundle[:32], bundle[32:64], bundle[64:]
    if primary_public != primary_identity.public:
        raise PairingError("pairing code: key bundle names another primary identity")
    try:
        identity_shared = primary_identity.agree(companion_identity)
    except InvalidKey as exc:
        raise PairingError("pairing code: the companion identity key is invalid") from exc
    return companion_identity, _adv_secret(eph_shared, identity_shared, random)
