"""The store-backed repository: transactional decrypt, prekey use, identity changes, locks."""

from __future__ import annotations

import asyncio

import pytest

from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.errors import DuplicateMessage, InvalidMessage, UntrustedIdentity
from wamd.proto import signal_pb2
from wamd.signal import PreKeyBundle, SignalRepository, generate_prekeys, signal_address
from wamd.signal.repository import MAX_PREKEY_ID
from wamd.store import MemoryKeyStore


def device(trust: bool = True) -> SignalRepository:
    identity = generate_keypair()
    return SignalRepository(
        MemoryKeyStore(),
        identity,
        1234,
        SignedKeyPair.generate(identity, 1),
        trust_identity_changes=trust,
    )


async def bundle_of(repo: SignalRepository) -> PreKeyBundle:
    [(key_id, key)] = await repo.new_prekeys(100, 1)
    return PreKeyBundle(
        repo.registration_id,
        0,
        repo.identity.public,
        repo.signed_prekey.key_id,
        repo.signed_prekey.key_pair.public,
        repo.signed_prekey.signature,
        key_id,
        key.public,
    )


ALICE = "15550000001:0@s.whatsapp.net"
BOB = "15550000002:3@s.whatsapp.net"


async def test_conversation_and_prekey_consumption() -> None:
    alice, bob = device(), device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    kind, data = await alice.encrypt(BOB, b"hello")
    result = await bob.decrypt(ALICE, kind, data)
    assert (
        result.plaintext == b"hello"
        and result.used_prekey_id == 100
        and not result.identity_changed
    )
    assert await bob.store.get("pre-key", ["100"]) == {}
    kind, data = await bob.encrypt(ALICE, b"hi")
    assert kind == "msg" and (await alice.decrypt(BOB, kind, data)).plaintext == b"hi"


async def test_failed_decrypt_leaves_the_store_as_it_was() -> None:
    alice, bob = device(), device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    kind, data = await alice.encrypt(BOB, b"one")
    await bob.decrypt(ALICE, kind, data)
    await alice.decrypt(BOB, *(await bob.encrypt(ALICE, b"ack")))
    kind2, second = await alice.encrypt(BOB, b"two")
    assert kind2 == "msg"
    store: MemoryKeyStore = bob.store  # type: ignore[assignment]
    before = {t: dict(v) for t, v in store.data.items()}
    with pytest.raises(InvalidMessage):
        await bob.decrypt(ALICE, kind2, second[:-1] + bytes([second[-1] ^ 1]))
    assert store.data == before
    assert (await bob.decrypt(ALICE, kind2, second)).plaintext == b"two"
    with pytest.raises(DuplicateMessage):
        await bob.decrypt(ALICE, kind2, second)
    assert store.data != before


async def test_failed_pkmsg_keeps_identity_prekey_and_session() -> None:
    alice, bob = device(), device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    kind, data = await alice.encrypt(BOB, b"first")
    assert kind == "pkmsg"
    store: MemoryKeyStore = bob.store  # type: ignore[assignment]
    before = {t: dict(v) for t, v in store.data.items()}
    outer = signal_pb2.PreKeySignalMessage.FromString(data[1:])
    outer.message = outer.message[:-1] + bytes([outer.message[-1] ^ 1])  # inner MAC broken
    with pytest.raises(InvalidMessage):
        await bob.decrypt(ALICE, kind, data[:1] + outer.SerializeToString())
    assert store.data == before  # no identity saved, prekey not consumed, no session
    with pytest.raises(InvalidMessage, match="unknown Signal message type"):
        await bob.decrypt(ALICE, "skmsg", data)
    result = await bob.decrypt(ALICE, kind, data)
    assert result.plaintext == b"first" and result.used_prekey_id == 100
    assert not result.identity_changed


async def test_identity_change_reported_or_refused() -> None:
    bob = device()
    alice = device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    await bob.decrypt(ALICE, *(await alice.encrypt(BOB, b"1")))
    reinstalled = device()  # Alice reinstalled: new identity, same JID
    await reinstalled.inject_bundle(BOB, await bundle_of(bob))
    result = await bob.decrypt(ALICE, *(await reinstalled.encrypt(BOB, b"2")))
    assert result.identity_changed and result.plaintext == b"2"

    strict = device(trust=False)
    await alice.inject_bundle("1@s.whatsapp.net", await bundle_of(strict))
    await strict.decrypt(ALICE, *(await alice.encrypt("1@s.whatsapp.net", b"a")))
    other = device()
    await other.inject_bundle("1@s.whatsapp.net", await bundle_of(strict))
    with pytest.raises(UntrustedIdentity):
        await strict.decrypt(ALICE, *(await other.encrypt("1@s.whatsapp.net", b"b")))


async def test_concurrent_encrypts_to_one_device_stay_consistent() -> None:
    alice, bob = device(), device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    await bob.decrypt(ALICE, *(await alice.encrypt(BOB, b"start")))
    messages = await asyncio.gather(*(alice.encrypt(BOB, b"%d" % n) for n in range(20)))
    plain = {(await bob.decrypt(ALICE, kind, data)).plaintext for kind, data in messages}
    assert plain == {b"%d" % n for n in range(20)}


async def test_group_through_the_repository() -> None:
    alice, bob = device(), device()
    group = "120363000000000001@g.us"
    skdm = await alice.group_distribution(group, ALICE)
    await bob.process_distribution(group, ALICE, skdm)
    data = await alice.group_encrypt(group, ALICE, b"hi all")
    assert await bob.group_decrypt(group, ALICE, data) == b"hi all"
    await alice.reset_group_key(group, ALICE)
    assert await alice.store.get("sender-key", [f"{group}::{signal_address(ALICE)}"]) == {}


def test_prekey_ids_wrap() -> None:
    keys = generate_prekeys(MAX_PREKEY_ID - 1, 4)
    assert [k for k, _ in keys] == [MAX_PREKEY_ID - 1, MAX_PREKEY_ID, 1, 2]


async def test_new_prekeys_never_overwrite_a_stored_key() -> None:
    """A lost counter (creds saved before the refill) must not hand out held ids again:
    their public halves may be on the server, and a new private half breaks them."""
    repo = device()
    first = await repo.new_prekeys(10, 5)
    assert [k for k, _ in first] == [10, 11, 12, 13, 14]
    again = await repo.new_prekeys(12, 5)  # the counter went back to 12
    assert [k for k, _ in again] == [15, 16, 17, 18, 19]
    stored = await repo.store.get("pre-key", [str(k) for k, _ in first])
    assert {int(k): v.private for k, v in stored.items()} == {k: p.private for k, p in first}
    wrapped = await repo.new_prekeys(MAX_PREKEY_ID, 3)
    assert [k for k, _ in wrapped] == [MAX_PREKEY_ID, 1, 2]
    with pytest.raises(ValueError):
        await repo.new_prekeys(1, 0)


def test_addresses() -> None:
    assert signal_address("15551234567@s.whatsapp.net") == "15551234567.0"
    assert signal_address("15551234567:7@s.whatsapp.net") == "15551234567.7"
    assert signal_address("123456789012345:2@lid") == "123456789012345_1.2"
    assert signal_address("99@hosted") == "99_128.0"


async def test_the_parsed_record_cache_never_outlives_a_rollback_or_a_failure() -> None:
    alice, bob = device(), device()
    await alice.inject_bundle(BOB, await bundle_of(bob))
    kind, data = await alice.encrypt(BOB, b"first")
    assert (await bob.decrypt(ALICE, kind, data)).plaintext == b"first"
    kind, data = await bob.encrypt(ALICE, b"reply")
    await alice.decrypt(BOB, kind, data)
    second = await alice.encrypt(BOB, b"second")

    # decrypted inside a transaction that then fails: the store keeps the old state, and
    # so must the repository (a reused parsed record would call this a duplicate)
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with bob.store.transaction():
            assert (await bob.decrypt(ALICE, *second)).plaintext == b"second"
            raise Abort
    assert (await bob.decrypt(ALICE, *second)).plaintext == b"second"
    with pytest.raises(DuplicateMessage):
        await bob.decrypt(ALICE, *second)

    # a tampered message fails and leaves nothing behind: the next one decrypts
    third = await alice.encrypt(BOB, b"third")
    tampered = third[1][:-1] + bytes([third[1][-1] ^ 1])
    with pytest.raises(InvalidMessage):
        await bob.decrypt(ALICE, third[0], tampered)
    assert (await bob.decrypt(ALICE, *third)).plaintext == b"third"

    # a write by someone else (another process on a shared store) is seen, not the cache
    address = signal_address(ALICE)
    before = (await bob.store.get("session", [address]))[address]
    fourth = await alice.encrypt(BOB, b"fourth")
    assert (await bob.decrypt(ALICE, *fourth)).plaintext == b"fourth"
    await bob.store.set({"session": {address: before}})  # put back the state before it
    assert (await bob.decrypt(ALICE, *fourth)).plaintext == b"fourth"
