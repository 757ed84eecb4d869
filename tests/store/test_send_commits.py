"""A message's encryptions for all its devices are one transaction, on every store: one
commit (one fsync where the store makes one), and all of them or none."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.signal.test_repository import bundle_of
from wamd.binary.jid import JID
from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.errors import NoSession
from wamd.messaging.core import unpad
from wamd.messaging.crypt import encrypt_for_devices
from wamd.signal import PreKeyBundle, SignalRepository
from wamd.store import CachedKeyStore, MemoryKeyStore
from wamd.store.base import TransactionalKeyStore
from wamd.store.types import SignalKeyStore

PEERS = [JID.parse(f"1555000{n:04d}:{n % 3}@s.whatsapp.net") for n in range(1, 4)]
LOST = JID.parse("15550009999:1@s.whatsapp.net")  # the server has no bundle for it


def device(store: SignalKeyStore) -> SignalRepository:
    identity = generate_keypair()
    return SignalRepository(store, identity, 7, SignedKeyPair.generate(identity, 1))


def backend(store: SignalKeyStore) -> TransactionalKeyStore:
    inner = store.inner if isinstance(store, CachedKeyStore) else store
    assert isinstance(inner, TransactionalKeyStore)
    return inner


def count_commits(store: SignalKeyStore, fail: bool = False) -> list[str]:
    """The backend's commits from now on (its steps replaced on the instance, which the
    stores then await); with ``fail``, each commit raises instead."""
    target = backend(store)
    seen: list[str] = []
    for name in ("_commit", "_commit_grouped"):
        original = getattr(target, name)

        def step(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            seen.append(_name)
            if fail:
                raise OSError("disk full")
            return _original(*args, **kw)

        setattr(target, name, step)
    return seen


def restore(store: SignalKeyStore) -> None:
    target = backend(store)
    for name in ("_commit", "_commit_grouped"):
        if name in target.__dict__:
            delattr(target, name)  # (a memory store then uses its own steps again)


async def no_bundles(devices: Sequence[JID]) -> Mapping[JID, PreKeyBundle | Exception]:
    return {d: NoSession("no prekeys") for d in devices}


async def test_one_commit_for_every_device_and_the_failed_one_left_out(
    store: SignalKeyStore,
) -> None:
    me = device(store)
    peers = {jid: device(MemoryKeyStore()) for jid in PEERS}
    for jid, peer in peers.items():
        await me.inject_bundle(jid, await bundle_of(peer))
    commits = count_commits(store)
    out = await encrypt_for_devices(me, [*PEERS, LOST], b"hello", fetch_bundles=no_bundles)
    restore(store)
    # not one per device (a store that groups commits may run its own _commit inside)
    outer = "_commit_grouped" if backend(store).groups_commits else "_commit"
    assert commits.count(outer) == 1, commits
    assert out.devices == PEERS and set(out.failed) == {LOST}
    # every device's step was kept: the next message of each follows the first
    again = await encrypt_for_devices(me, PEERS, b"again", fetch_bundles=no_bundles)
    for first, second in zip(out.nodes, again.nodes, strict=True):
        jid = JID.parse(first.attrs["jid"])
        for node, text in ((first, b"hello"), (second, b"again")):
            enc = node.get_child("enc")
            assert enc is not None
            result = await peers[jid].decrypt(
                "15550001111@s.whatsapp.net", enc.attrs["type"], enc.content_bytes() or b""
            )
            assert unpad(result.plaintext) == text


async def test_a_failed_commit_leaves_every_session_as_it_was(store: SignalKeyStore) -> None:
    me = device(store)
    peers = {jid: device(MemoryKeyStore()) for jid in PEERS}
    for jid, peer in peers.items():
        await me.inject_bundle(jid, await bundle_of(peer))
    before = await store.get("session", [f"{j.user}.{j.device}" for j in PEERS])
    assert len(before) == len(PEERS)
    count_commits(store, fail=True)
    with pytest.raises(OSError, match="disk full"):
        await encrypt_for_devices(me, PEERS, b"lost", fetch_bundles=no_bundles)
    restore(store)
    after = await store.get("session", list(before))
    assert after == before
