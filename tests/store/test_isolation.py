"""Issue 22's store defects: creds saves independent of key transactions, reads that
never see half a commit, transactions bound to their task, prekey ids never reused."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import pytest

from wamd.crypto import generate_keypair
from wamd.errors import StoreError
from wamd.store.auth import AuthStateAndSave
from wamd.store.types import SignalKeyStore
from wamd.store.views import PreKeyIdInUse, PreKeys

from .kill import run_until_killed, writer_env
from .openers import close_keys, open_auth

CREDS_WRITER = Path(__file__).with_name("creds_writer.py")
FILE_KINDS = ["multifile", "sqlite"]


@pytest.fixture(params=[*FILE_KINDS, "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def where(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where the store of ``kind`` lives: a folder, a file or a DSN."""
    if kind == "postgres":
        return str(request.getfixturevalue("postgres_dsn"))
    return tmp_path / ("auth" if kind == "multifile" else "auth.sqlite")


async def close_state(pair: AuthStateAndSave) -> None:
    state, _ = pair
    await close_keys(state.keys)


# ---------------------------------------------------------------------- creds saves


async def test_creds_save_survives_another_tasks_failed_transaction(
    kind: str, where: Path | str, account: str
) -> None:
    pair = await open_auth(kind, where, account)
    state, save_creds = pair
    saver: asyncio.Task[None] | None = None
    with pytest.raises(RuntimeError):
        async with state.keys.transaction():
            await state.keys.set({"session": {"a.1": b"x"}})
            state.creds.account_sync_counter = 7
            saver = asyncio.create_task(save_creds())  # another task saves meanwhile
            # give the save every chance to run (it must not complete inside our tx)
            await asyncio.wait({saver}, timeout=0.3)
            raise RuntimeError("the redelivered message fails to decrypt")
    assert saver is not None
    await saver
    await close_state(pair)
    again = await open_auth(kind, where, account)
    reopened, _ = again
    assert reopened.creds.account_sync_counter == 7  # the save was not rolled back
    assert await reopened.keys.get("session", ["a.1"]) == {}
    await close_state(again)


@pytest.mark.parametrize("kind", FILE_KINDS)
async def test_creds_save_inside_own_transaction_is_refused(
    kind: str, where: Path | str, account: str
) -> None:
    pair = await open_auth(kind, where, account)
    state, save_creds = pair
    async with state.keys.transaction():
        with pytest.raises(StoreError, match="inside a key transaction"):
            await save_creds()
    await save_creds()  # after the block it works
    await close_state(pair)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_sigkill_never_loses_a_returned_creds_save(
    kind: str, where: Path | str, account: str
) -> None:
    path = where
    rng = random.Random(22)
    env = writer_env(WAMD_TEST_ACCOUNT=account)
    printed_total = 0
    for _ in range(12):
        out = await run_until_killed(CREDS_WRITER, kind, path, rng.uniform(0.05, 0.25), env)
        saved = [int(x.split()[1]) for x in out if x.startswith("saved")]
        pair = await open_auth(kind, path, account)
        if saved:
            printed_total += 1
            stored = pair[0].creds.account_sync_counter
            assert stored >= saved[-1], f"save {saved[-1]} returned, the store has {stored}"
        await close_state(pair)
    assert printed_total > 0, "the writer never saved: the test proved nothing"


# ---------------------------------------------------------------------- torn reads

KEYS = [f"1555000000{n}.1" for n in range(6)]


async def test_reads_outside_a_transaction_see_a_committed_state(store: SignalKeyStore) -> None:
    await store.set({"session": dict.fromkeys(KEYS, (0).to_bytes(4, "big"))})
    done = False
    torn: list[set[bytes]] = []
    reads = 0

    async def writer() -> None:
        nonlocal done
        for i in range(1, 41):
            async with store.transaction():
                await asyncio.sleep(0)
                await store.set({"session": dict.fromkeys(KEYS, i.to_bytes(4, "big"))})
            await asyncio.sleep(0)
        done = True

    async def reader() -> None:
        nonlocal reads
        while not done:
            got = await store.get("session", KEYS)
            reads += 1
            if len(got) != len(KEYS) or len(set(got.values())) != 1:
                torn.append(set(got.values()))
            await asyncio.sleep(0)

    await asyncio.gather(writer(), reader(), reader(), reader())
    assert reads > 0
    assert not torn, f"{len(torn)} of {reads} reads saw half a commit"


# ---------------------------------------------------------------------- task binding


async def test_a_task_created_in_a_transaction_has_its_own(store: SignalKeyStore) -> None:
    read_in_child: dict[str, bytes] = {}
    child_read = asyncio.Event()

    async def child() -> None:
        read_in_child.update(await store.get("session", ["parent"]))
        child_read.set()
        await store.set({"session": {"child": b"c"}})  # its own transaction

    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.set({"session": {"parent": b"p"}})
            task = asyncio.create_task(child())
            await child_read.wait()
            raise RuntimeError("the parent's transaction fails")
    await task
    assert read_in_child == {}, "the child saw the parent's uncommitted write"
    assert await store.get("session", ["parent", "child"]) == {"child": b"c"}


async def test_a_child_writing_after_its_parents_commit_is_not_lost(
    store: SignalKeyStore,
) -> None:
    go = asyncio.Event()

    async def child() -> None:
        await go.wait()
        async with store.transaction():
            await store.set({"session": {"late": b"l"}})

    async with store.transaction():
        await store.set({"session": {"parent": b"p"}})
        task = asyncio.create_task(child())
    go.set()  # the parent's transaction has committed; the child writes now
    await task
    assert await store.get("session", ["parent", "late"]) == {"parent": b"p", "late": b"l"}


# ---------------------------------------------------------------------- prekey ids


async def test_prekey_ids_in_use_are_refused_and_skipped(store: SignalKeyStore) -> None:
    prekeys = PreKeys(store)
    first = [(i, generate_keypair()) for i in range(1, 31)]
    await prekeys.add(first)
    # creds still say 1 (the save was lost): the next refill must not overwrite 1..30
    assert await prekeys.next_free_id(1, 30) == 31
    await prekeys.remove([1, 2, 3])  # consumed by peers; the rest are still out there
    assert await prekeys.next_free_id(1, 30) == 31
    overlapping = [(i, generate_keypair()) for i in range(25, 35)]
    with pytest.raises(PreKeyIdInUse) as err:
        await prekeys.add(overlapping)
    assert err.value.ids == tuple(str(i) for i in range(25, 31))
    assert await prekeys.get(25) == first[24][1]  # untouched
    assert await prekeys.get(31) is None  # all or nothing: nothing of the batch stored
    assert "private" not in str(err.value)
    await prekeys.add([(i, generate_keypair()) for i in range(31, 41)])
    assert await prekeys.next_free_id(1, 5) == 41
    assert await prekeys.next_free_id(50, 5) == 50


async def test_the_store_refuses_a_different_key_under_a_stored_prekey_id(
    store: SignalKeyStore,
) -> None:
    first, second = generate_keypair(), generate_keypair()
    await store.set({"pre-key": {"5": first, "6": first}})
    with pytest.raises(PreKeyIdInUse) as err:
        async with store.transaction():
            await store.set({"session": {"a.1": b"x"}})
            await store.set({"pre-key": {"5": second, "7": second}})
    assert err.value.ids == ("5",)
    assert second.private.hex() not in str(err.value)
    # refused as a whole: nothing of that transaction was written
    assert await store.get("pre-key", ["5", "7"]) == {"5": first}
    assert await store.get("session", ["a.1"]) == {}
    with pytest.raises(PreKeyIdInUse):
        await store.set({"pre-key": {"6": second}})  # a write of its own, refused too
    await store.set({"pre-key": {"5": first}})  # the same key again is no reuse
    await store.set({"pre-key": {"5": None}})  # used up: deleted
    await store.set({"pre-key": {"5": second}})  # an id that holds nothing takes a key
    assert await store.get("pre-key", ["5", "6"]) == {"5": second, "6": first}


# ---------------------------------------------------------------------- cancellation


async def test_transactions_cancelled_at_any_point_leave_the_store_usable(
    store: SignalKeyStore,
) -> None:
    """A socket's work is cancelled when its connection ends, wherever it is: taking the
    backend's lock, inside the block, committing. The lock must always come back (a
    cancelled file-lock acquisition used to keep it, and every later transaction hung)."""
    rng = random.Random(22)
    committed: list[int] = []

    async def write(n: int) -> None:
        async with store.transaction():
            await store.set({"session": {f"k{n}": n.to_bytes(2, "big")}})
            await asyncio.sleep(0)
        committed.append(n)

    for round_no in range(30):
        tasks = [asyncio.ensure_future(write(round_no * 10 + i)) for i in range(4)]
        for _ in range(rng.randrange(0, 6)):
            await asyncio.sleep(0)
        for task in tasks:
            if rng.random() < 0.6:
                task.cancel()
        await asyncio.wait(tasks)
    async with asyncio.timeout(10):  # a leaked lock makes this wait forever
        await store.set({"session": {"last": b"\x01"}})
        got = await store.get("session", [f"k{n}" for n in committed] + ["last"])
    assert set(got) == {f"k{n}" for n in committed} | {"last"}
