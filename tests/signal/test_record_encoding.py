"""Session records: the hand-written stored form equals protobuf's, and the parts kept
between serialisations (earlier states) never go stale, whatever changed the record."""

from __future__ import annotations

import random

import pytest

from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.errors import CorruptedStore, InvalidMessage
from wamd.proto import signal_store_pb2
from wamd.signal import (
    PreKeyBundle,
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    initiate_session,
)
from wamd.signal import session as session_module


class Device:
    def __init__(self) -> None:
        self.identity = generate_keypair()
        self.signed = SignedKeyPair.generate(self.identity, 3)
        self.prekeys = {n: generate_keypair() for n in range(1, 40)}

    def bundle(self, prekey_id: int | None) -> PreKeyBundle:
        key = self.prekeys[prekey_id].public if prekey_id is not None else None
        return PreKeyBundle(
            77, 1, self.identity.public, 3, self.signed.key_pair.public, self.signed.signature,
            prekey_id, key,
        )  # fmt: skip


def check(record: SessionRecord) -> SessionRecord:
    """serialize() equals the protobuf reference; parsing it gives the same states."""
    data = record.serialize()
    assert data == record.serialize_with_protobuf()
    again = SessionRecord.parse(data)
    assert again.current == record.current and again.previous == record.previous
    return again


@pytest.mark.parametrize("seed", range(6))
def test_random_conversations_serialise_as_protobuf_does(seed: int) -> None:
    rnd = random.Random(seed)
    bob_dev = Device()
    alice_id = generate_keypair()
    alice, bob = SessionRecord(), SessionRecord()
    in_flight: list[tuple[str, bytes, str]] = []  # (to, data, kind)
    prekey_ids = iter(range(1, 40))

    def reset() -> None:  # Alice starts a new session: the old one becomes an earlier state
        initiate_session(alice, alice_id, 9, bob_dev.bundle(rnd.choice([None, next(prekey_ids)])))

    reset()
    for _ in range(160):
        op = rnd.random()
        if op < 0.35:
            kind, data = encrypt(alice, b"a")
            in_flight.append(("bob", data, kind))
        elif op < 0.6 and bob.current is not None:
            kind, data = encrypt(bob, b"b")
            in_flight.append(("alice", data, kind))
        elif op < 0.9 and in_flight:
            # deliver one, usually the oldest, sometimes out of order
            index = 0 if rnd.random() < 0.7 else rnd.randrange(len(in_flight))
            to, data, kind = in_flight.pop(index)
            try:
                if to == "bob" and kind == "pkmsg":
                    parsed = session_module.parse_prekey_message(data)
                    one_time = (
                        bob_dev.prekeys[parsed.prekey_id] if parsed.prekey_id is not None else None
                    )
                    decrypt_prekey_message(
                        bob, bob_dev.identity, 77, data, bob_dev.signed.key_pair, one_time
                    )
                else:
                    decrypt_message(bob if to == "bob" else alice, data)
            except InvalidMessage:
                pass  # a message of a state since dropped, or a duplicate: fine here
        elif op < 0.95:
            reset()
        # as the repository does: sometimes keep the object, sometimes reload the bytes
        if rnd.random() < 0.5:
            alice = check(alice) if rnd.random() < 0.3 else (check(alice), alice)[1]
        if rnd.random() < 0.5:
            bob = check(bob) if rnd.random() < 0.3 else (check(bob), bob)[1]
    check(alice)
    check(bob)
    assert alice.previous  # the walk did archive states


def test_trimming_skipped_keys_of_an_earlier_state_is_seen() -> None:
    bob_dev = Device()
    alice_id = generate_keypair()
    alice, bob = SessionRecord(), SessionRecord()
    initiate_session(alice, alice_id, 9, bob_dev.bundle(1))
    decrypt_prekey_message(
        bob, bob_dev.identity, 77, encrypt(alice, b"x")[1], bob_dev.signed.key_pair,
        bob_dev.prekeys[1],
    )  # fmt: skip
    skipped = [encrypt(bob, b"y")[1] for _ in range(1500)]
    decrypt_message(alice, skipped[-1])  # 1499 keys kept for the rest
    initiate_session(alice, alice_id, 9, bob_dev.bundle(2))  # that state is earlier now
    first = check(alice)
    assert first.previous and first.previous[0].receivers[0].skipped
    kept = alice.previous[0].wire
    assert kept is not None  # the earlier state's part is kept...
    # ...until the record's bound on skipped keys trims that state (oldest first)
    assert alice.current is not None
    chain = alice.current.sender
    chain.skipped.update({10_000 + n: (b"k" * 32, b"m" * 32, b"i" * 16) for n in range(900)})
    data = alice.serialize()
    assert alice.previous[0].wire != kept  # trimmed, so encoded anew
    assert data == alice.serialize_with_protobuf()
    total = sum(
        len(c.skipped)
        for s in [alice.current, *alice.previous]
        if s is not None
        for c in (s.sender, *s.receivers)
    )
    assert total == session_module.MAX_SKIPPED_PER_RECORD


def test_an_earlier_state_made_current_again_is_encoded_anew() -> None:
    bob_dev = Device()
    alice_id = generate_keypair()
    alice = SessionRecord()
    initiate_session(alice, alice_id, 9, bob_dev.bundle(1))
    old = alice.current
    initiate_session(alice, alice_id, 9, bob_dev.bundle(2))
    check(alice)
    assert old is not None and alice.previous[0] is old and old.wire is not None
    alice.promote(old)  # current again, then changed in place...
    encrypt(alice, b"x")
    initiate_session(alice, alice_id, 9, bob_dev.bundle(3))  # ...and earlier once more
    assert alice.previous[0] is old
    check(alice)


def test_edge_values_encode_as_protobuf_does() -> None:
    record = SessionRecord()
    chain = session_module._Chain(b"p" * 32, b"", 0)
    big = session_module._Chain(b"q" * 32, b"c" * 32, 2**32 - 1, generate_keypair())
    big.skipped = {0: (b"", b"m" * 32, b"i" * 16), 300: (b"k" * 32, b"", b"")}
    state = session_module.SessionState(
        b"l" * 32, b"r" * 32, b"", big, [chain, big], previous_counter=128,
        pending=session_module._Pending(0, 0, b""), remote_registration_id=2**31,
        local_registration_id=1, alice_base_key=b"a" * 32,
    )  # fmt: skip
    record.current = state
    empty = session_module.SessionState(b"", b"", b"", session_module._Chain(b"", b""))
    empty.pending = session_module._Pending(None, 5, b"b" * 32)
    record.previous = [empty]
    assert record.serialize() == record.serialize_with_protobuf()
    assert SessionRecord().serialize() == SessionRecord().serialize_with_protobuf()
    big.index = 2**32
    with pytest.raises(ValueError):
        record.serialize()


def test_a_malformed_ratchet_key_in_a_stored_record_is_corrupted_store() -> None:
    proto = signal_store_pb2.SessionRecord(version=1)
    proto.current.senderChain.ratchetPublic = b"p" * 32
    proto.current.senderChain.ratchetPrivate = b"short"
    with pytest.raises(CorruptedStore):
        SessionRecord.parse(proto.SerializeToString())


def test_a_state_changed_in_place_is_encoded_anew() -> None:
    """The kept encodings follow every field, even ones changed in place."""
    chain = session_module._Chain(b"p" * 32, b"c" * 32, 3)
    state = session_module.SessionState(
        b"l" * 32, b"r" * 32, b"k" * 32, chain, [], pending=session_module._Pending(7, 2, b"b")
    )
    record = SessionRecord()
    record.current = state
    assert record.serialize() == record.serialize_with_protobuf()
    assert state.pending is not None
    state.pending.prekey_id = 8  # the same object, another value
    assert record.serialize() == record.serialize_with_protobuf()
    chain.skipped[1] = (b"x" * 32, b"y" * 32, b"z" * 16)
    assert record.serialize() == record.serialize_with_protobuf()
    state.local_registration_id, state.previous_counter = 5, 9
    assert record.serialize() == record.serialize_with_protobuf()
