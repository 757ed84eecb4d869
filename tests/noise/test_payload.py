from __future__ import annotations

import hashlib

import pytest

from wamd.errors import HandshakeError
from wamd.noise.payload import login_payload, parse_client_payload, registration_payload
from wamd.proto import companion_reg_pb2, wa6_pb2


def test_registration_payload_fields() -> None:
    raw = registration_payload(
        0x1234,
        b"I" * 32,
        7,
        b"S" * 32,
        b"G" * 64,
        version=(2, 3000, 5),
        browser=("Ubuntu", "Firefox", "1"),
    )
    payload = wa6_pb2.ClientPayload.FromString(raw)
    reg = payload.devicePairingData
    assert reg.eRegid == b"\x00\x00\x12\x34" and reg.eKeytype == b"\x05"
    assert reg.eSkeyID == b"\x00\x00\x07" and reg.eSkeySig == b"G" * 64
    assert reg.buildHash == hashlib.md5(b"2.3000.5").digest()
    props = companion_reg_pb2.DeviceProps.FromString(reg.deviceProps)
    assert props.os == "Ubuntu" and props.platformType == companion_reg_pb2.DeviceProps.FIREFOX
    assert payload.passive is False and payload.pull is False
    assert payload.userAgent.platform == wa6_pb2.ClientPayload.UserAgent.WEB
    parsed = parse_client_payload(raw)
    assert parsed.is_registration and parsed.registration_id == 0x1234
    assert parsed.signed_prekey_id == 7 and parsed.version == (2, 3000, 5)


def test_login_payload_fields() -> None:
    raw = login_payload("15551234567", 3, version=(2, 3000, 9))
    payload = wa6_pb2.ClientPayload.FromString(raw)
    assert payload.username == 15551234567 and payload.device == 3
    assert payload.passive and payload.pull and payload.lidDbMigrated
    parsed = parse_client_payload(raw)
    assert not parsed.is_registration and parsed.username == "15551234567" and parsed.device == 3
    with pytest.raises(ValueError):
        login_payload("+1555", 1)


def test_invalid_payloads() -> None:
    with pytest.raises(HandshakeError, match="does not parse"):
        parse_client_payload(b"\xff\xff")
    with pytest.raises(HandshakeError, match="user agent"):
        parse_client_payload(b"")
    raw = wa6_pb2.ClientPayload.FromString(
        registration_payload(1, b"I" * 32, 1, b"S" * 32, b"G" * 64)
    )
    raw.devicePairingData.eIdent = b"short"
    with pytest.raises(HandshakeError, match="32 bytes"):
        parse_client_payload(raw.SerializeToString())
