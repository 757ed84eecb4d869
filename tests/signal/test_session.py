"""Failure paths of 1:1 sessions; a failed decrypt never changes the record."""

from __future__ import annotations

import pytest

from wamd.crypto import KeyPair, SignedKeyPair, generate_keypair
from wamd.errors import DuplicateMessage, InvalidKey, InvalidMessage, NoSession
from wamd.signal import (
    PreKeyBundle,
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    initiate_session,
)
from wamd.signal import session as session_module


class Party:
    def __init__(self) -> None:
        self.identity = generate_keypair()
        self.signed = SignedKeyPair.generate(self.identity, 3)
        self.one_time = generate_keypair()

    def bundle(self, with_prekey: bool = True) -> PreKeyBundle:
        return PreKeyBundle(
            5,
            1,
            self.identity.public,
            3,
            self.signed.key_pair.public,
            self.signed.signature,
            7 if with_prekey else None,
            self.one_time.public if with_prekey else None,
        )


def pair(with_prekey: bool = True) -> tuple[SessionRecord, SessionRecord, Party]:
    alice, bob = SessionRecord(), SessionRecord()
    b = Party()
    initiate_session(alice, generate_keypair(), 9, b.bundle(with_prekey))
    kind, msg = encrypt(alice, b"hi")
    assert kind == "pkmsg"
    one_time: KeyPair | None = b.one_time if with_prekey else None
    assert decrypt_prekey_message(bob, b.identity, 5, msg, b.signed.key_pair, one_time)[0] == b"hi"
    assert decrypt_message(alice, encrypt(bob, b"hello")[1]) == b"hello"
    return alice, bob, b


@pytest.mark.parametrize("with_prekey", [True, False])
def test_sessions_with_and_without_one_time_prekey(with_prekey: bool) -> None:
    alice, bob, _ = pair(with_prekey)
    for n in range(3):
        assert decrypt_message(bob, encrypt(alice, b"%d" % n)[1]) == b"%d" % n


def test_bad_signed_prekey_signature() -> None:
    b = Party()
    bundle = b.bundle()
    bundle.signed_prekey_signature = bytes(64)
    with pytest.raises(InvalidKey, match="signature"):
        initiate_session(SessionRecord(), generate_keypair(), 1, bundle)


def assert_unchanged(record: SessionRecord, action: object) -> None:
    before = record.serialize()
    with pytest.raises((InvalidMessage, DuplicateMessage, NoSession)):
        action()  # type: ignore[operator]
    assert record.serialize() == before


def test_tampered_mac_changes_nothing() -> None:
    alice, bob, _ = pair()
    _, msg = encrypt(alice, b"x")
    bad = msg[:-1] + bytes([msg[-1] ^ 1])
    assert_unchanged(bob, lambda: decrypt_message(bob, bad))
    assert decrypt_message(bob, msg) == b"x"  # the genuine one still decrypts


def test_tampered_mac_on_a_known_chain_changes_nothing() -> None:
    """Without a DH step the message moves a chain the record already holds: a copy is
    moved, so a failure leaves the record's own chain as it was (also its skipped keys)."""
    alice, bob, _ = pair()
    first, second, third = (encrypt(alice, b"%d" % n)[1] for n in range(3))
    assert decrypt_message(bob, first) == b"0"  # the DH step: the chain is bob's now
    for msg in (second, third):  # the next one, and one that skips a key on the way
        bad = msg[:-1] + bytes([msg[-1] ^ 1])
        assert_unchanged(bob, lambda bad=bad: decrypt_message(bob, bad))
    assert decrypt_message(bob, third) == b"2"
    # the second now has a kept (skipped) key: a forgery of it leaves the key in place
    bad = second[:-1] + bytes([second[-1] ^ 1])
    assert_unchanged(bob, lambda: decrypt_message(bob, bad))
    assert decrypt_message(bob, second) == b"1"
    assert_unchanged(bob, lambda: decrypt_message(bob, second))  # its key is used up
    with pytest.raises(DuplicateMessage):
        decrypt_message(bob, second)


def test_a_tampered_ciphertext_on_a_known_chain_changes_nothing() -> None:
    """A forged body (its MAC then fails) on the chain's next message and on a kept key."""
    alice, bob, _ = pair()
    first, second, third, fourth = (encrypt(alice, b"%d" % n)[1] for n in range(4))
    assert decrypt_message(bob, first) == b"0"
    assert decrypt_message(bob, third) == b"2"  # keeps the second's key
    for msg in (second, fourth):
        bad = msg[:-12] + bytes([msg[-12] ^ 0x80]) + msg[-11:]  # inside the ciphertext
        assert_unchanged(bob, lambda bad=bad: decrypt_message(bob, bad))
    assert decrypt_message(bob, fourth) == b"3"
    assert decrypt_message(bob, second) == b"1"


def test_wrong_version_and_truncated() -> None:
    alice, bob, _ = pair()
    _, msg = encrypt(alice, b"x")
    assert_unchanged(bob, lambda: decrypt_message(bob, b"\x23" + msg[1:]))
    assert_unchanged(bob, lambda: decrypt_message(bob, msg[:5]))
    assert_unchanged(bob, lambda: decrypt_message(bob, b""))
    assert_unchanged(bob, lambda: decrypt_message(bob, msg[:1] + b"\xff" * 20))


def test_replay_is_a_duplicate_not_a_mac_failure() -> None:
    alice, bob, _ = pair()
    _, msg = encrypt(alice, b"once")
    assert decrypt_message(bob, msg) == b"once"
    with pytest.raises(DuplicateMessage):
        decrypt_message(bob, msg)


def test_skip_bound() -> None:
    alice, bob, _ = pair()
    for _ in range(session_module.MAX_SKIP + 1):
        encrypt(alice, b"lost")
    _, far = encrypt(alice, b"too far")
    assert_unchanged(bob, lambda: decrypt_message(bob, far))
    with pytest.raises(InvalidMessage, match="more than 2000 ahead"):
        decrypt_message(bob, far)


def test_no_session() -> None:
    alice, _, _ = pair()
    _, msg = encrypt(alice, b"x")
    with pytest.raises(NoSession):
        decrypt_message(SessionRecord(), msg)
    with pytest.raises(NoSession):
        encrypt(SessionRecord(), b"x")


@pytest.mark.parametrize("known_chain", [False, True])
def test_messages_in_flight_across_a_session_reset_still_decrypt(known_chain: bool) -> None:
    """The in-flight message needs a DH step on the archived state, or (``known_chain``)
    it is the next one on a receiving chain the archived state already holds."""
    alice, bob, b = pair()
    if known_chain:
        assert decrypt_message(bob, encrypt(alice, b"warm")[1]) == b"warm"
    _, in_flight = encrypt(alice, b"old session")
    # Alice resets: a new X3DH with Bob's (signed-prekey-only) bundle
    initiate_session(alice, generate_keypair(), 9, b.bundle(with_prekey=False))
    _, fresh = encrypt(alice, b"new session")
    assert (
        decrypt_prekey_message(bob, b.identity, 5, fresh, b.signed.key_pair, None)[0]
        == b"new session"
    )
    assert bob.current is not None
    newer = bob.current.alice_base_key
    assert decrypt_message(bob, in_flight) == b"old session"  # via the archived state
    # the state that decrypted it is the current one again, the newer one archived
    assert bob.current.alice_base_key != newer and bob.previous[0].alice_base_key == newer
    kind, again = encrypt(alice, b"newer")  # still a prekey message: bob has not answered
    assert kind == "pkmsg"
    assert (
        decrypt_prekey_message(bob, b.identity, 5, again, b.signed.key_pair, None)[0] == b"newer"
    )  # the newer one from the archive
    assert bob.current.alice_base_key == newer


def test_pkmsg_retransmission_and_unknown_prekeys() -> None:
    alice = SessionRecord()
    b = Party()
    initiate_session(alice, generate_keypair(), 9, b.bundle())
    _, first = encrypt(alice, b"1")
    _, second = encrypt(alice, b"2")
    bob = SessionRecord()
    with pytest.raises(InvalidKey, match="one-time prekey"):
        decrypt_prekey_message(bob, b.identity, 5, first, b.signed.key_pair, None)
    with pytest.raises(InvalidKey, match="signed prekey"):
        decrypt_prekey_message(bob, b.identity, 5, first, None, b.one_time)
    assert bob.serialize() == SessionRecord().serialize()
    decrypt_prekey_message(bob, b.identity, 5, first, b.signed.key_pair, b.one_time)
    # the second pkmsg reuses the base key: decrypts on the existing session, no prekey needed
    assert decrypt_prekey_message(bob, b.identity, 5, second, None, None)[0] == b"2"


def test_corrupted_record() -> None:
    from wamd.errors import CorruptedStore

    with pytest.raises(CorruptedStore):
        SessionRecord.parse(b"\xff\xff\xff")


def test_a_record_keeps_a_bounded_number_of_skipped_keys_newest_sessions_first() -> None:
    alice, bob, b = pair()
    lost = [encrypt(alice, b"lost %d" % n)[1] for n in range(1500)]
    _, arrived = encrypt(alice, b"arrived")
    assert decrypt_message(bob, arrived) == b"arrived"  # 1500 keys kept for the lost ones
    # a new session from Alice, and more lost messages in it: the total stays bounded
    initiate_session(alice, generate_keypair(), 9, b.bundle(with_prekey=False))
    _, fresh = encrypt(alice, b"new session")
    decrypt_prekey_message(bob, b.identity, 5, fresh, b.signed.key_pair, None)
    assert decrypt_message(alice, encrypt(bob, b"ok")[1]) == b"ok"  # Alice is on msg again
    newer = [encrypt(alice, b"newer %d" % n)[1] for n in range(1500)]
    _, last = encrypt(alice, b"last")
    assert decrypt_message(bob, last) == b"last"
    data = bob.serialize()
    kept = sum(len(c.skipped) for st in bob._states() for c in (st.sender, *st.receivers))
    assert kept == session_module.MAX_SKIPPED_PER_RECORD
    assert len(data) < 400_000
    again = SessionRecord.parse(data)
    assert decrypt_message(again, newer[0]) == b"newer 0"  # the current session's are kept
    assert decrypt_message(again, lost[-1]) == b"lost 1499"  # the old one's newest too
    # dropped: the oldest key of the oldest session; like libsignal, a counter behind the
    # chain with no key kept reads as a duplicate
    with pytest.raises(DuplicateMessage):
        decrypt_message(again, lost[0])


def test_reprs_show_no_key_material() -> None:
    alice, _, _ = pair()
    state = alice.current
    assert state is not None
    text = repr(state)
    for secret in (state.root_key, state.sender.chain_key, state.sender.ratchet_private):
        assert secret and secret.hex() not in text and repr(secret) not in text
