"""The ClientPayload a client sends inside ClientFinish, and the server's reading of it.

A device that is not linked yet sends a *registration* payload carrying its Signal
keys (``devicePairingData``); a linked device sends a *login* payload naming its
phone number and device number. Field values follow whatsmeow ``store/clientpayload.go``
(and Baileys ``validate-connection.ts``, which agrees on everything but version defaults):
user agent WEB / RELEASE with mcc/mnc "000", os "0.1", device "Desktop", locale en-US;
web sub-platform WEB_BROWSER; connect type WIFI_UNKNOWN, reason USER_ACTIVATED;
registration: passive=false, pull=false; login: passive=true, pull=true, lc=1,
lidDbMigrated=true (whatsmeow; Baileys sends false — wamd stores LID mappings, so true).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import DJB_TYPE
from wamd.defaults import DEFAULT_BROWSER, WA_VERSION
from wamd.errors import HandshakeError
from wamd.proto import companion_reg_pb2, wa6_pb2

__all__ = [
    "ParsedClientPayload",
    "build_hash",
    "device_props",
    "login_payload",
    "parse_client_payload",
    "registration_payload",
]

_PLATFORM_TYPES = companion_reg_pb2.DeviceProps.PlatformType


def build_hash(version: tuple[int, ...]) -> bytes:
    """MD5 of the dotted version string: ``buildHash`` in the registration data."""
    return hashlib.md5(".".join(map(str, version)).encode(), usedforsecurity=False).digest()


def device_props(browser: tuple[str, str, str] = DEFAULT_BROWSER) -> bytes:
    """Serialized DeviceProps: the OS name shown on the phone and the platform type."""
    os_name, browser_name, _ = browser
    # Baileys maps the browser name onto PlatformType and falls back on CHROME
    name = browser_name.upper()
    platform = name if name in _PLATFORM_TYPES.keys() else "CHROME"
    props = companion_reg_pb2.DeviceProps(
        os=os_name,
        version=companion_reg_pb2.DeviceProps.AppVersion(primary=0, secondary=1, tertiary=0),
        platformType=platform,
        requireFullSync=False,
        historySyncConfig=companion_reg_pb2.DeviceProps.HistorySyncConfig(
            storageQuotaMb=10240,
            inlineInitialPayloadInE2EeMsg=True,
            supportCallLogHistory=False,
            supportBotUserAgentChatHistory=True,
            supportCagReactionsAndPolls=True,
            supportBizHostedMsg=True,
            supportRecentSyncChunkMessageCountTuning=True,
            supportHostedGroupMsg=True,
            supportFbidBotChatHistory=True,
            supportMessageAssociation=True,
        ),
    )
    return props.SerializeToString()


def _base(version: tuple[int, int, int], push_name: str | None) -> wa6_pb2.ClientPayload:
    ua = wa6_pb2.ClientPayload.UserAgent
    payload = wa6_pb2.ClientPayload(
        userAgent=ua(
            platform=ua.WEB,
            releaseChannel=ua.RELEASE,
            appVersion=ua.AppVersion(primary=version[0], secondary=version[1], tertiary=version[2]),
            mcc="000",
            mnc="000",
            osVersion="0.1",
            manufacturer="",
            device="Desktop",
            osBuildNumber="0.1",
            localeLanguageIso6391="en",
            localeCountryIso31661Alpha2="US",
        ),
        webInfo=wa6_pb2.ClientPayload.WebInfo(
            webSubPlatform=wa6_pb2.ClientPayload.WebInfo.WEB_BROWSER
        ),
        connectType=wa6_pb2.ClientPayload.WIFI_UNKNOWN,
        connectReason=wa6_pb2.ClientPayload.USER_ACTIVATED,
    )
    if push_name:
        payload.pushName = push_name
    return payload


def registration_payload(
    registration_id: int,
    identity_public: bytes,
    signed_prekey_id: int,
    signed_prekey_public: bytes,
    signed_prekey_signature: bytes,
    *,
    version: tuple[int, int, int] = WA_VERSION,
    browser: tuple[str, str, str] = DEFAULT_BROWSER,
    push_name: str | None = None,
) -> bytes:
    """The payload of a device that wants to be linked (QR or pairing code follows)."""
    payload = _base(version, push_name)
    payload.devicePairingData.CopyFrom(
        wa6_pb2.ClientPayload.DevicePairingRegistrationData(
            eRegid=registration_id.to_bytes(4, "big"),
            eKeytype=bytes((DJB_TYPE,)),
            eIdent=identity_public,
            eSkeyID=signed_prekey_id.to_bytes(3, "big"),
            eSkeyVal=signed_prekey_public,
            eSkeySig=signed_prekey_signature,
            buildHash=build_hash(version),
            deviceProps=device_props(browser),
        )
    )
    payload.passive = False
    payload.pull = False
    return payload.SerializeToString()


def login_payload(
    user: str,
    device: int,
    *,
    version: tuple[int, int, int] = WA_VERSION,
    push_name: str | None = None,
) -> bytes:
    """The payload of a linked device logging in (``user`` is the phone number)."""
    if not user.isdigit():
        raise ValueError("the login user must be the account's phone number (digits)")
    payload = _base(version, push_name)
    payload.username = int(user)
    payload.device = device
    payload.passive = True
    payload.pull = True
    payload.lidDbMigrated = True
    payload.lc = 1
    return payload.SerializeToString()


@dataclass(frozen=True, slots=True)
class ParsedClientPayload:
    """What a server learns from a ClientPayload (``wamd.sim`` uses this)."""

    payload: wa6_pb2.ClientPayload
    is_registration: bool
    version: tuple[int, int, int]
    username: str | None = None
    device: int | None = None
    registration_id: int | None = None
    identity_public: bytes | None = None
    signed_prekey_id: int | None = None
    signed_prekey_public: bytes | None = None
    signed_prekey_signature: bytes | None = None
    device_props: companion_reg_pb2.DeviceProps | None = None


def parse_client_payload(data: bytes) -> ParsedClientPayload:
    """Parse and validate a ClientPayload; ``HandshakeError`` naming what is wrong."""
    payload = wa6_pb2.ClientPayload()
    try:
        payload.ParseFromString(data)
    except _ProtoDecodeError:
        raise HandshakeError("client payload does not parse") from None
    if not payload.HasField("userAgent") or not payload.userAgent.HasField("appVersion"):
        raise HandshakeError("client payload has no user agent version")
    app = payload.userAgent.appVersion
    version = (app.primary, app.secondary, app.tertiary)
    if payload.HasField("devicePairingData"):
        reg = payload.devicePairingData
        if len(reg.eRegid) != 4 or reg.eKeytype != bytes((DJB_TYPE,)):
            raise HandshakeError("registration payload: bad registration id or key type")
        if len(reg.eIdent) != 32 or len(reg.eSkeyVal) != 32:
            raise HandshakeError("registration payload: keys must be 32 bytes")
        if len(reg.eSkeyID) != 3 or len(reg.eSkeySig) != 64:
            raise HandshakeError("registration payload: bad signed prekey id or signature")
        props = companion_reg_pb2.DeviceProps()
        try:
            props.ParseFromString(reg.deviceProps)
        except _ProtoDecodeError:
            raise HandshakeError("registration payload: device props do not parse") from None
        return ParsedClientPayload(
            payload=payload,
            is_registration=True,
            version=version,
            registration_id=int.from_bytes(reg.eRegid, "big"),
            identity_public=reg.eIdent,
            signed_prekey_id=int.from_bytes(reg.eSkeyID, "big"),
            signed_prekey_public=reg.eSkeyVal,
            signed_prekey_signature=reg.eSkeySig,
            device_props=props,
        )
    if not payload.HasField("username"):
        raise HandshakeError("login payload has no username")
    return ParsedClientPayload(
        payload=payload,
        is_registration=False,
        version=version,
        username=str(payload.username),
        device=payload.device,
    )
