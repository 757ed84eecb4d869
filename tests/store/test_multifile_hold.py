"""The multi-file store's hold on its folder: readers and writers of one process while
the exclusive flock is taken and given back.

A reader outside a transaction that finds the flock held reads under ``_applying`` (no
commit's files half-written meanwhile); a transaction that takes the flock holds
``_gate`` then ``_applying``. When the hold ended while such a reader waited, the reader
went on to a shared read, which takes ``_gate``, still holding ``_applying``: the two
orders met, and every later transaction and read of the process waited forever (the
soak's chats all stopped at once). And the values whose key files the flusher is writing
stay in the overlay until written: trimmed meanwhile, they were read from the files that
still held the old ones (a session's older ratchet state, or none at all).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from wamd.store import multifile
from wamd.store.multifile import MultiFileKeyStore


async def test_a_reader_waiting_while_the_hold_ends_lets_the_next_transaction_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MultiFileKeyStore(tmp_path / "auth")
    await store.set({"session": {"a": b"1", "b": b"2"}})
    reading, go = threading.Event(), threading.Event()
    read_files = store._read_files

    def slow_read(type: str, ids: Any) -> dict[str, Any]:
        if "a" in ids and not go.is_set():
            reading.set()
            go.wait(10)
        return read_files(type, ids)

    monkeypatch.setattr(store, "_read_files", slow_read)
    opened, close = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with store.transaction():  # takes the flock; writes nothing
            opened.set()
            await close.wait()

    holder = asyncio.ensure_future(hold())
    await opened.wait()
    first = asyncio.ensure_future(store.get("session", ["a"]))  # reads while held
    assert await asyncio.to_thread(reading.wait, 10)
    second = asyncio.ensure_future(store.get("session", ["b"]))  # waits for that read
    await asyncio.sleep(0.05)
    close.set()
    await holder  # nothing written: the flock is given back at once
    writer = asyncio.ensure_future(store.set({"session": {"c": b"3"}}))  # takes it again
    await asyncio.sleep(0.05)
    go.set()
    got = await asyncio.wait_for(asyncio.gather(first, second, writer), 10)
    assert got[:2] == [{"a": b"1"}, {"b": b"2"}]
    assert await store.get("session", ["a", "b", "c"]) == {"a": b"1", "b": b"2", "c": b"3"}


async def test_values_being_written_to_their_files_stay_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a long burst: the flusher writes the key files of grouped commits while the next
    # transaction runs; a read there that fills the overlay past its bound trims it, and
    # what is being written must stay in it (the files still hold the old values)
    store = MultiFileKeyStore(tmp_path / "auth")
    await store.set({"session": {"s": b"old"}})
    monkeypatch.setattr(multifile, "OVERLAY_KEYS", 2)
    writing, go = threading.Event(), threading.Event()
    apply_logged = store._apply_logged

    def slow_apply(dirty: Any) -> None:
        writing.set()
        go.wait(10)
        apply_logged(dirty)

    monkeypatch.setattr(store, "_apply_logged", slow_apply)
    for key_id in ("s", "t", "u"):  # past the bound: the flusher writes the files
        async with store.grouped_transaction():
            await store.set({"session": {key_id: b"new"}})
    try:
        assert await asyncio.to_thread(writing.wait, 10)
        async with store.transaction():
            assert await store.get("session", ["v"]) == {}  # read from the files: a trim
            got = await store.get("session", ["s", "t", "u"])
    finally:
        go.set()
    assert got == {"s": b"new", "t": b"new", "u": b"new"}
    await store.durable()
    await store.write_through()
    assert await MultiFileKeyStore(tmp_path / "auth").get("session", ["s"]) == {"s": b"new"}
