"""Sessions and sender keys against python-axolotl, both directions."""

from __future__ import annotations

from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.signal import (
    PreKeyBundle,
    SenderKeyRecord,
    SessionRecord,
    create_distribution,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    group_decrypt,
    group_encrypt,
    initiate_session,
    parse_prekey_message,
    process_distribution,
)

from .conftest import AxolotlPeer


def their_bundle(peer: AxolotlPeer) -> PreKeyBundle:
    b = peer.call("bundle")
    return PreKeyBundle(
        registration_id=b["registration_id"],
        device_id=1,
        identity_key=bytes.fromhex(b["identity"]),
        signed_prekey_id=b["signed_prekey_id"],
        signed_prekey=bytes.fromhex(b["signed_prekey"]),
        signed_prekey_signature=bytes.fromhex(b["signature"]),
        prekey_id=b["prekey_id"],
        prekey=bytes.fromhex(b["prekey"]),
    )


def send(record: SessionRecord, peer: AxolotlPeer, text: bytes) -> None:
    kind, data = encrypt(record, text)
    assert bytes.fromhex(peer.call("decrypt", type=kind, data=data.hex())["text"]) == text


def receive(record: SessionRecord, peer: AxolotlPeer, text: bytes) -> None:
    reply = peer.call("encrypt", text=text.hex())
    assert reply["type"] == "msg"
    assert decrypt_message(record, bytes.fromhex(reply["data"])) == text


def test_their_bundle_our_pkmsg_then_long_conversation(peer: AxolotlPeer) -> None:
    identity = generate_keypair()
    record = SessionRecord()
    initiate_session(record, identity, 4242, their_bundle(peer))
    kind, first = encrypt(record, b"hello from wamd")
    assert kind == "pkmsg"
    assert (
        bytes.fromhex(peer.call("decrypt", type="pkmsg", data=first.hex())["text"])
        == b"hello from wamd"
    )
    receive(record, peer, b"hello from axolotl")
    for n in range(15):  # alternating: every message carries a DH ratchet step
        send(record, peer, b"ours %d" % n)
        receive(record, peer, b"theirs %d" % n)
    for n in range(5):  # bursts in one direction, then the other
        send(record, peer, b"burst %d" % n)
    for n in range(5):
        receive(record, peer, b"burst back %d" % n)
    # the stored record keeps working after a round trip through storage
    record = SessionRecord.parse(record.serialize())
    send(record, peer, b"after reload")
    receive(record, peer, b"reload ok")


def test_our_bundle_their_pkmsg(peer: AxolotlPeer) -> None:
    identity = generate_keypair()
    signed = SignedKeyPair.generate(identity, 5)
    one_time = generate_keypair()
    peer.call(
        "init",
        bundle={
            "registration_id": 777,
            "identity": identity.public_prefixed.hex(),
            "signed_prekey_id": 5,
            "signed_prekey": signed.key_pair.public_prefixed.hex(),
            "signature": signed.signature.hex(),
            "prekey_id": 9,
            "prekey": one_time.public_prefixed.hex(),
        },
    )
    message = peer.call("encrypt", text=b"first".hex())
    assert message["type"] == "pkmsg"
    data = bytes.fromhex(message["data"])
    assert parse_prekey_message(data).prekey_id == 9
    record = SessionRecord()
    text, _ = decrypt_prekey_message(record, identity, 777, data, signed.key_pair, one_time)
    assert text == b"first"
    send(record, peer, b"reply")
    for n in range(10):
        receive(record, peer, b"t%d" % n)
        send(record, peer, b"o%d" % n)


def test_out_of_order_and_dropped_messages(peer: AxolotlPeer) -> None:
    record = SessionRecord()
    initiate_session(record, generate_keypair(), 1, their_bundle(peer))
    send(record, peer, b"start")
    batch = [peer.call("encrypt", text=(b"m%d" % n).hex()) for n in range(6)]
    for n in (4, 2, 0, 5):  # 1 and 3 are never delivered
        assert decrypt_message(record, bytes.fromhex(batch[n]["data"])) == b"m%d" % n
    send(record, peer, b"still fine")
    receive(record, peer, b"and back")


def test_group_sender_keys_both_ways(peer: AxolotlPeer) -> None:
    ours = SenderKeyRecord()
    peer.call("group_process", skdm=create_distribution(ours).hex())
    for n in range(5):
        data = group_encrypt(ours, b"to group %d" % n)
        assert (
            bytes.fromhex(peer.call("group_decrypt", data=data.hex())["text"]) == b"to group %d" % n
        )
    theirs = SenderKeyRecord()
    process_distribution(theirs, bytes.fromhex(peer.call("group_create")["skdm"]))
    messages = [peer.call("group_encrypt", text=(b"g%d" % n).hex())["data"] for n in range(5)]
    for n in (0, 3, 1, 4):  # out of order, 2 dropped
        assert group_decrypt(theirs, bytes.fromhex(messages[n])) == b"g%d" % n
