"""The committed protobuf modules match the sources, and the schemas match the wire."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.message import DecodeError

from wamd.proto import adv_pb2, cert_pb2, signal_pb2, wa6_pb2

ROOT = Path(__file__).resolve().parents[2]


def test_committed_modules_match_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Known-answer encodings written by hand from the field numbers:
# tag byte = field_number << 3 | wire_type (0 varint, 2 length-delimited).


def test_client_hello_bytes() -> None:
    eph = bytes(range(32))
    msg = wa6_pb2.HandshakeMessage(clientHello=wa6_pb2.HandshakeMessage.ClientHello(ephemeral=eph))
    # field 2 (clientHello) len 34 -> field 1 (ephemeral) len 32
    assert msg.SerializeToString() == b"\x12\x22" + b"\x0a\x20" + eph


def test_server_hello_fields() -> None:
    raw = b"\x1a\x0c" + b"\x0a\x02AA" + b"\x12\x02BB" + b"\x1a\x02CC"
    hello = wa6_pb2.HandshakeMessage.FromString(raw).serverHello
    assert (hello.ephemeral, hello.static, hello.payload) == (b"AA", b"BB", b"CC")


def test_client_payload_login_fields() -> None:
    payload = wa6_pb2.ClientPayload(username=15551234567, device=3, passive=True, pull=True)
    # username: field 1 varint; passive: field 3; device: field 18 (tag 0x90 0x01); pull: field 33 (0x88 0x02)
    assert payload.SerializeToString() == (
        b"\x08" + _varint(15551234567) + b"\x18\x01" + b"\x90\x01\x03" + b"\x88\x02\x01"
    )


def test_registration_data_field_numbers() -> None:
    reg = wa6_pb2.ClientPayload.DevicePairingRegistrationData(
        eRegid=b"\x00\x00\x30\x39", eKeytype=b"\x05"
    )
    assert reg.SerializeToString() == b"\x0a\x04\x00\x00\x30\x39" + b"\x12\x01\x05"


def test_cert_chain_details() -> None:
    details = cert_pb2.CertChain.NoiseCertificate.Details(serial=1, issuerSerial=0, key=b"K" * 32)
    assert details.SerializeToString() == b"\x08\x01\x10\x00\x1a\x20" + b"K" * 32


def test_adv_identity_hmac_container() -> None:
    raw = b"\x0a\x03abc\x12\x02hm\x18\x01"
    container = adv_pb2.ADVSignedDeviceIdentityHMAC.FromString(raw)
    assert (container.details, container.HMAC, container.accountType) == (
        b"abc",
        b"hm",
        adv_pb2.HOSTED,
    )
    ident = adv_pb2.ADVDeviceIdentity(rawID=7, timestamp=1, keyIndex=2)
    assert ident.SerializeToString() == b"\x08\x07\x10\x01\x18\x02"


def test_key_index_list_is_packed() -> None:
    lst = adv_pb2.ADVKeyIndexList(rawID=1, validIndexes=[1, 2, 3])
    assert lst.SerializeToString() == b"\x08\x01" + b"\x22\x03\x01\x02\x03"


def test_signal_wire_messages() -> None:
    msg = signal_pb2.SignalMessage(ratchetKey=b"R", counter=5, previousCounter=4, ciphertext=b"C")
    assert msg.SerializeToString() == b"\x0a\x01R\x10\x05\x18\x04\x22\x01C"
    pkmsg = signal_pb2.PreKeySignalMessage(
        registrationId=9, preKeyId=1, signedPreKeyId=2, baseKey=b"B", identityKey=b"I", message=b"M"
    )
    # protobuf serialises in field-number order: 1 preKeyId, 2 baseKey, 3 identityKey, 4 message,
    # 5 registrationId, 6 signedPreKeyId
    assert pkmsg.SerializeToString() == b"\x08\x01\x12\x01B\x1a\x01I\x22\x01M\x28\x09\x30\x02"
    skdm = signal_pb2.SenderKeyDistributionMessage(
        id=1, iteration=0, chainKey=b"c", signingKey=b"s"
    )
    assert skdm.SerializeToString() == b"\x08\x01\x10\x00\x1a\x01c\x22\x01s"


def test_garbage_raises_protobuf_decode_error() -> None:
    with pytest.raises(DecodeError):
        wa6_pb2.HandshakeMessage.FromString(b"\x12\xff\xff\xff\xff\x0f")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def test_e2e_message_field_numbers() -> None:
    from wamd.proto import common_pb2, e2e_pb2

    assert e2e_pb2.Message(conversation="hi").SerializeToString() == b"\x0a\x02hi"
    # deviceSentMessage is field 31: tag (31 << 3) | 2 = 250 = varint fa 01
    dsm = e2e_pb2.Message(deviceSentMessage=e2e_pb2.DeviceSentMessage(destinationJID="a"))
    assert dsm.SerializeToString() == b"\xfa\x01\x03\x0a\x01a"
    # protocolMessage (12) REVOKE with key (1): remoteJID 1, fromMe 2, ID 3
    revoke = e2e_pb2.Message(
        protocolMessage=e2e_pb2.ProtocolMessage(
            key=common_pb2.MessageKey(remoteJID="r", fromMe=True, ID="i"),
            type=e2e_pb2.ProtocolMessage.REVOKE,
        )
    )
    assert (
        revoke.SerializeToString()
        == b"\x62\x0c" + b"\x0a\x08\x0a\x01r\x10\x01\x1a\x01i" + b"\x10\x00"
    )
    # reactionMessage is field 46: tag (46 << 3) | 2 = 370 = f2 02
    reaction = e2e_pb2.Message(reactionMessage=e2e_pb2.ReactionMessage(text="x"))
    assert reaction.SerializeToString() == b"\xf2\x02\x03\x12\x01x"


def test_unknown_fields_survive_a_round_trip() -> None:
    from wamd.proto import e2e_pb2

    # field 999 (a kind of message this schema does not list) must not be dropped
    raw = b"\x0a\x02hi" + b"\xba\x3e\x03abc"
    assert e2e_pb2.Message.FromString(raw).SerializeToString() == raw


def test_sender_key_distribution_in_message() -> None:
    from wamd.proto import e2e_pb2

    msg = e2e_pb2.Message(
        senderKeyDistributionMessage=e2e_pb2.SenderKeyDistributionMessage(
            groupID="g", axolotlSenderKeyDistributionMessage=b"\x33"
        )
    )
    assert msg.SerializeToString() == b"\x12\x06\x0a\x01g\x12\x01\x33"


def test_history_sync_and_syncd() -> None:
    from wamd.proto import history_sync_pb2, server_sync_pb2, sync_action_pb2

    hs = history_sync_pb2.HistorySync(syncType=history_sync_pb2.HistorySync.RECENT)
    hs.pushnames.add(ID="1@s.whatsapp.net", pushname="A")
    assert hs.SerializeToString() == b"\x08\x03" + b"\x3a\x15\x0a\x101@s.whatsapp.net\x12\x01A"
    patch = server_sync_pb2.SyncdPatch(version=server_sync_pb2.SyncdVersion(version=7))
    assert patch.SerializeToString() == b"\x0a\x02\x08\x07"
    value = sync_action_pb2.SyncActionValue(
        timestamp=1, muteAction=sync_action_pb2.MuteAction(muted=True)
    )
    assert value.SerializeToString() == b"\x08\x01\x22\x02\x08\x01"
