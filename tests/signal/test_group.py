from __future__ import annotations

import pytest

from wamd.errors import DuplicateMessage, InvalidMessage, NoSession
from wamd.signal import (
    SenderKeyRecord,
    create_distribution,
    group_decrypt,
    group_encrypt,
    process_distribution,
)
from wamd.signal import group as group_module


def setup() -> tuple[SenderKeyRecord, SenderKeyRecord]:
    sender, receiver = SenderKeyRecord(), SenderKeyRecord()
    process_distribution(receiver, create_distribution(sender))
    return sender, receiver


def test_round_trip_out_of_order_and_duplicates() -> None:
    sender, receiver = setup()
    messages = [group_encrypt(sender, b"%d" % n) for n in range(5)]
    assert group_decrypt(receiver, messages[3]) == b"3"
    assert group_decrypt(receiver, messages[1]) == b"1"
    with pytest.raises(DuplicateMessage):
        group_decrypt(receiver, messages[1])
    with pytest.raises(DuplicateMessage):
        group_decrypt(receiver, messages[3])


def test_bad_signature_changes_nothing() -> None:
    sender, receiver = setup()
    data = group_encrypt(sender, b"x")
    before = receiver.serialize()
    with pytest.raises(InvalidMessage, match="signature"):
        group_decrypt(receiver, data[:-1] + bytes([data[-1] ^ 1]))
    assert receiver.serialize() == before
    assert group_decrypt(receiver, data) == b"x"


def test_unknown_sender_key_and_bad_input() -> None:
    sender, _ = setup()
    data = group_encrypt(sender, b"x")
    with pytest.raises(NoSession):
        group_decrypt(SenderKeyRecord(), data)
    with pytest.raises(InvalidMessage):
        group_decrypt(SenderKeyRecord(), b"\x33")
    with pytest.raises(InvalidMessage):
        process_distribution(
            SenderKeyRecord(), b"\x23" + create_distribution(SenderKeyRecord())[1:]
        )
    with pytest.raises(NoSession):
        group_encrypt(SenderKeyRecord(), b"x")


def test_skip_bound() -> None:
    sender, receiver = setup()
    for _ in range(group_module.MAX_SKIP + 1):
        group_encrypt(sender, b"lost")
    with pytest.raises(InvalidMessage, match="ahead"):
        group_decrypt(receiver, group_encrypt(sender, b"far"))


def test_record_round_trip() -> None:
    sender, receiver = setup()
    receiver = SenderKeyRecord.parse(receiver.serialize())
    sender = SenderKeyRecord.parse(sender.serialize())
    assert group_decrypt(receiver, group_encrypt(sender, b"stored")) == b"stored"
