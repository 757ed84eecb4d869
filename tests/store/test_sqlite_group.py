"""SQLite: statements on the loop's thread, BEGIN waiting in the loop, one fsync for many
commits, and what a failed fsync does."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from wamd.errors import StoreError
from wamd.store import sqlite as sqlite_store
from wamd.store.creds import init_auth_creds
from wamd.store.sqlite import SQLiteKeyStore


class Fsyncs:
    """``os.fsync`` counted, and held while ``gate`` is clear."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.fail: OSError | None = None
        real = os.fsync

        def fsync(fd: int) -> None:
            self.started.set()
            self.gate.wait(10)
            if self.fail is not None:
                raise self.fail
            self.calls += 1
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)


async def opened(path: Path, **kwargs: Any) -> SQLiteKeyStore:
    store = SQLiteKeyStore(path, **kwargs)
    await store.open()
    return store


async def test_statements_run_on_the_loop_thread_and_only_the_fsync_goes_to_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await opened(tmp_path / "keys.sqlite")
    await store.set({"session": {"a": b"1"}})
    conn = store._connection()
    trips: list[str] = []
    real_run = conn.run

    async def run(fn: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await real_run(fn)

    monkeypatch.setattr(conn, "run", run)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    async with store.transaction():
        pass
    assert (trips, statements) == ([], [])  # nothing sent: no BEGIN, no ROLLBACK, no fsync
    async with store.transaction():
        assert await store.get("session", ["a"]) == {"a": b"1"}
        assert statements[0] == "BEGIN IMMEDIATE" and store.db.in_transaction
        await store.set({"session": {"a": b"2"}})
    assert statements[-1] == "COMMIT"
    assert trips == ["_sync"]  # the reads and the commit ran here; the fsync did not
    assert await store.get("session", ["a"]) == {"a": b"2"}
    assert trips == ["_sync"]
    await store.close()


async def test_a_transaction_returns_only_after_the_fsync_and_many_commits_share_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await opened(tmp_path / "keys.sqlite")
    fsyncs = Fsyncs(monkeypatch)
    fsyncs.gate.clear()
    plain = asyncio.create_task(store.set({"session": {"first": b"1"}}))
    await asyncio.to_thread(fsyncs.started.wait, 5)  # its fsync is under way, held

    async def grouped(n: int) -> None:
        async with store.grouped_transaction():
            await store.set({"session": {f"s{n}": bytes([n])}})

    await asyncio.gather(*(grouped(n) for n in range(20)))  # committed, not durable
    durable = asyncio.ensure_future(store.durable())
    await asyncio.sleep(0.05)
    assert not plain.done() and not durable.done()
    assert await store.get("session", ["s7"]) == {"s7": b"\x07"}  # visible meanwhile
    fsyncs.gate.set()
    await asyncio.wait_for(asyncio.gather(plain, durable), 5)
    assert fsyncs.calls == 2  # the first commit's, then one for the twenty made during it
    await store.close()


async def test_a_creds_save_and_a_set_aside_wait_for_their_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await opened(tmp_path / "keys.sqlite")
    await store.set({"session": {"a": b"1"}})
    fsyncs = Fsyncs(monkeypatch)
    fsyncs.gate.clear()
    save = asyncio.create_task(store.write_creds(init_auth_creds()))
    aside = asyncio.create_task(store.set_aside("session", "a"))
    await asyncio.sleep(0.05)
    assert not save.done() and not aside.done()
    fsyncs.gate.set()
    await asyncio.wait_for(asyncio.gather(save, aside), 5)
    assert fsyncs.calls >= 1
    assert await store.read_creds() is not None
    assert await store.get("session", ["a"]) == {}
    await store.close()


async def test_a_failed_fsync_fails_its_commits_and_every_later_one_until_reopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.sqlite"
    store = await opened(path)
    await store.set({"session": {"kept": b"1"}})
    fsyncs = Fsyncs(monkeypatch)
    fsyncs.fail = OSError(5, "Input/output error")
    async with store.grouped_transaction():
        await store.set({"session": {"lost": b"2"}})
    with pytest.raises(StoreError, match="making commits durable failed"):
        await store.durable()
    fsyncs.fail = None  # the disk answers again: what was committed since is not trusted
    with pytest.raises(StoreError, match="making commits durable failed"):
        await store.set({"session": {"later": b"3"}})
    with pytest.raises(StoreError, match="making commits durable failed"):
        await store.write_creds(init_auth_creds())
    await store.close()
    again = await opened(path)  # a new connection: it starts from the file
    assert await again.get("session", ["kept"]) == {"kept": b"1"}
    await again.set({"session": {"after": b"4"}})
    assert await again.get("session", ["after"]) == {"after": b"4"}
    await again.close()


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's connection holding the file's write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_begin_waits_in_the_loop_while_another_process_holds_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.sqlite"
    store = await opened(path)
    await store.set({"session": {"a": b"1"}})
    other = hold_write_lock(path)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    write = asyncio.create_task(store.set({"session": {"a": b"2"}}))
    await asyncio.sleep(0.2)
    assert not write.done()
    assert ticks >= 10  # the loop ran on while the transaction waited
    other.execute("ROLLBACK")
    await asyncio.wait_for(write, 5)
    ticking.cancel()
    assert await store.get("session", ["a"]) == {"a": b"2"}
    other.close()
    await store.close()


async def test_begin_gives_up_after_the_busy_timeout_and_a_cancelled_wait_gives_back_locks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.sqlite"
    store = await opened(path, busy_timeout=0.2)
    other = hold_write_lock(path)
    with pytest.raises(StoreError, match="database is locked"):
        await store.set({"session": {"a": b"1"}})
    waiting = asyncio.create_task(store.set({"session": {"a": b"1"}}))
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    other.execute("ROLLBACK")
    other.close()
    await asyncio.wait_for(store.set({"session": {"a": b"2"}}), 5)  # nothing left held
    assert await store.get("session", ["a"]) == {"a": b"2"}
    await store.close()


async def test_the_worker_checkpoints_the_wal_into_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_COMMITS", 5)
    path = tmp_path / "keys.sqlite"
    store = await opened(path)
    conn = store._connection()
    checkpoints = 0
    real = conn._checkpoint

    def counted() -> None:
        nonlocal checkpoints
        checkpoints += 1
        real()

    monkeypatch.setattr(conn, "_checkpoint", counted)
    before = path.stat().st_size
    for n in range(12):
        await store.set({"session": {f"k{n}": os.urandom(3000)}})
    assert checkpoints == 2
    assert path.stat().st_size > before + 5 * 3000  # the pages reached the file itself
    assert len(await store.get("session", [f"k{n}" for n in range(12)])) == 12
    await store.close()
