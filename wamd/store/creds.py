"""``AuthenticationCreds``: what a linked device must keep across restarts.

Field names follow Baileys' ``AuthenticationCreds`` in snake_case; ``to_json`` writes
Baileys' camelCase names and Buffer form, so a ``creds.json`` reads like Baileys' one.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from wamd.crypto import KeyPair, SignedKeyPair, generate_keypair
from wamd.errors import CorruptedStore
from wamd.store.serialize import decode_value, encode_value

__all__ = ["AuthenticationCreds", "Me", "generate_registration_id", "init_auth_creds"]


def generate_registration_id() -> int:
    """A Signal registration id: 14 random bits, never 0 (libsignal's range)."""
    return secrets.randbelow(16380) + 1


@dataclass
class Me:
    """Who this device is once linked."""

    id: str  # our device JID, e.g. 15551234567:12@s.whatsapp.net
    lid: str | None = None  # our LID device JID
    name: str | None = None  # push name


@dataclass
class AuthenticationCreds:
    noise_key: KeyPair
    pairing_ephemeral_key_pair: KeyPair
    signed_identity_key: KeyPair
    signed_pre_key: SignedKeyPair
    registration_id: int
    adv_secret_key: bytes
    next_pre_key_id: int = 1
    first_unuploaded_pre_key_id: int = 1
    account_sync_counter: int = 0
    account_settings: dict[str, Any] = field(default_factory=lambda: {"unarchiveChats": False})
    registered: bool = False
    me: Me | None = None
    account: bytes | None = None  # serialized ADVSignedDeviceIdentity (with our signature)
    signal_identities: list[dict[str, Any]] = field(default_factory=list)
    platform: str | None = None
    pairing_code: str | None = None
    last_prop_hash: str | None = None
    routing_info: bytes | None = None
    processed_history_messages: list[dict[str, Any]] = field(default_factory=list)
    last_account_sync_timestamp: int | None = None
    my_app_state_key_id: str | None = None
    # when WhatsApp logged this device out (401; unix seconds): the state can no longer
    # log in, and ``wamd pair`` offers to start over (not in Baileys' creds.json)
    logged_out_at: int | None = None

    def __repr__(self) -> str:  # never print key material
        me = self.me.id if self.me else None
        return f"AuthenticationCreds(me={me!r}, registered={self.registered})"

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (as carried by ``creds.update``)."""
        names = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in names:
                raise KeyError(f"unknown credentials field {key!r}")
            setattr(self, key, value)

    # ------------------------------------------------------------------ JSON

    def to_json(self) -> dict[str, Any]:
        spk = self.signed_pre_key
        out: dict[str, Any] = {
            "noiseKey": self.noise_key,
            "pairingEphemeralKeyPair": self.pairing_ephemeral_key_pair,
            "signedIdentityKey": self.signed_identity_key,
            "signedPreKey": {
                "keyPair": spk.key_pair,
                "signature": spk.signature,
                "keyId": spk.key_id,
            },
            "registrationId": self.registration_id,
            "advSecretKey": base64.b64encode(self.adv_secret_key).decode(),
            "nextPreKeyId": self.next_pre_key_id,
            "firstUnuploadedPreKeyId": self.first_unuploaded_pre_key_id,
            "accountSyncCounter": self.account_sync_counter,
            "accountSettings": self.account_settings,
            "registered": self.registered,
            "signalIdentities": self.signal_identities,
            "processedHistoryMessages": self.processed_history_messages,
        }
        if self.me is not None:
            out["me"] = {k: v for k, v in vars(self.me).items() if v is not None}
        optional = {
            "account": self.account,
            "platform": self.platform,
            "pairingCode": self.pairing_code,
            "lastPropHash": self.last_prop_hash,
            "routingInfo": self.routing_info,
            "lastAccountSyncTimestamp": self.last_account_sync_timestamp,
            "myAppStateKeyId": self.my_app_state_key_id,
            "loggedOutAt": self.logged_out_at,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        encoded: dict[str, Any] = encode_value(out)
        return encoded

    @classmethod
    def from_json(cls, data: Any, location: str = "creds") -> AuthenticationCreds:
        """Credentials from ``to_json`` output; ``CorruptedStore`` naming what is wrong."""
        try:
            raw = decode_value(data)
            spk = raw["signedPreKey"]
            me = raw.get("me")
            creds = cls(
                noise_key=_pair(raw["noiseKey"]),
                pairing_ephemeral_key_pair=_pair(raw["pairingEphemeralKeyPair"]),
                signed_identity_key=_pair(raw["signedIdentityKey"]),
                signed_pre_key=SignedKeyPair(
                    _pair(spk["keyPair"]), bytes(spk["signature"]), int(spk["keyId"])
                ),
                registration_id=int(raw["registrationId"]),
                adv_secret_key=base64.b64decode(raw["advSecretKey"], validate=True),
                next_pre_key_id=int(raw.get("nextPreKeyId", 1)),
                first_unuploaded_pre_key_id=int(raw.get("firstUnuploadedPreKeyId", 1)),
                account_sync_counter=int(raw.get("accountSyncCounter", 0)),
                account_settings=dict(raw.get("accountSettings") or {}),
                registered=bool(raw.get("registered", False)),
                me=Me(me["id"], me.get("lid"), me.get("name")) if me else None,
                account=_account(raw.get("account")),
                signal_identities=list(raw.get("signalIdentities") or []),
                platform=raw.get("platform"),
                pairing_code=raw.get("pairingCode"),
                last_prop_hash=raw.get("lastPropHash"),
                routing_info=raw.get("routingInfo"),
                processed_history_messages=list(raw.get("processedHistoryMessages") or []),
                last_account_sync_timestamp=raw.get("lastAccountSyncTimestamp"),
                my_app_state_key_id=raw.get("myAppStateKeyId"),
                logged_out_at=_optional_int(raw.get("loggedOutAt")),
            )
        except CorruptedStore:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CorruptedStore(
                location,
                f"credentials are incomplete or malformed ({exc.__class__.__name__}: {exc})",
            ) from None
        if len(creds.adv_secret_key) != 32:
            raise CorruptedStore(location, "ADV secret key must be 32 bytes")
        return creds


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _pair(value: Any) -> KeyPair:
    if isinstance(value, KeyPair):
        return value
    raise ValueError("expected a key pair")


def _account(value: Any) -> bytes | None:
    """Accept our bytes form and Baileys' object form of ADVSignedDeviceIdentity."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, dict):
        from wamd.proto import adv_pb2

        message = adv_pb2.ADVSignedDeviceIdentity()
        for name in ("details", "accountSignatureKey", "accountSignature", "deviceSignature"):
            if isinstance(value.get(name), bytes):
                setattr(message, name, value[name])
        return message.SerializeToString()
    raise ValueError("account must be bytes or an object")


def init_auth_creds() -> AuthenticationCreds:
    """Fresh credentials for a device that is not linked yet."""
    identity = generate_keypair()
    return AuthenticationCreds(
        noise_key=generate_keypair(),
        pairing_ephemeral_key_pair=generate_keypair(),
        signed_identity_key=identity,
        signed_pre_key=SignedKeyPair.generate(identity, 1),
        registration_id=generate_registration_id(),
        adv_secret_key=os.urandom(32),
    )
