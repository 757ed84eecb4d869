"""The SignalKeyStore contract, for every backend."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from wamd.crypto import KeyPair, generate_keypair
from wamd.store import use_multi_file_auth_state, use_sqlite_auth_state
from wamd.store.types import SignalKeyStore


async def test_get_set_delete_round_trip(store: SignalKeyStore) -> None:
    pair = generate_keypair()
    await store.set(
        {
            "pre-key": {"1": pair},
            "session": {"15551234567.1": b"\x00\x01record", "AbC/+=:1": b"x"},
            "sender-key-memory": {"g@g.us": {"a.1": True}},
            "lid-mapping": {"15551234567": "123456789"},
        }
    )
    got = await store.get("pre-key", ["1", "2"])
    assert got == {"1": pair} and isinstance(got["1"], KeyPair)
    assert await store.get("session", ["15551234567.1", "AbC/+=:1", "none"]) == {
        "15551234567.1": b"\x00\x01record",
        "AbC/+=:1": b"x",
    }
    assert await store.get("sender-key-memory", ["g@g.us"]) == {"g@g.us": {"a.1": True}}
    assert await store.get("lid-mapping", ["15551234567"]) == {"15551234567": "123456789"}
    await store.set({"session": {"15551234567.1": None}})
    assert await store.get("session", ["15551234567.1"]) == {}


async def test_ids_differing_only_in_case_stay_distinct(store: SignalKeyStore) -> None:
    await store.set({"app-state-sync-key": {"AAAB": {"k": 1}, "aaab": {"k": 2}}})
    assert await store.get("app-state-sync-key", ["AAAB", "aaab"]) == {
        "AAAB": {"k": 1},
        "aaab": {"k": 2},
    }


async def test_transaction_reads_its_own_writes_and_commits(store: SignalKeyStore) -> None:
    await store.set({"session": {"a": b"old"}})
    async with store.transaction():
        await store.set({"session": {"a": b"new", "b": b"B"}})
        assert await store.get("session", ["a", "b"]) == {"a": b"new", "b": b"B"}
        await store.set({"session": {"b": None}})
        assert await store.get("session", ["b"]) == {}
        async with store.transaction():  # nested joins the outer one
            await store.set({"pre-key": {"5": generate_keypair()}})
    assert await store.get("session", ["a", "b"]) == {"a": b"new"}
    assert set(await store.get("pre-key", ["5"])) == {"5"}


async def test_failed_transaction_changes_nothing(store: SignalKeyStore) -> None:
    await store.set({"session": {"a": b"old"}})
    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.set({"session": {"a": b"new", "c": b"C"}, "pre-key": {"1": None}})
            raise RuntimeError("decrypt failed")
    assert await store.get("session", ["a", "c"]) == {"a": b"old"}


async def test_values_are_copies(store: SignalKeyStore) -> None:
    value = {"a.1": True}
    await store.set({"sender-key-memory": {"g": value}})
    value["b.1"] = True
    got = await store.get("sender-key-memory", ["g"])
    got["g"]["c.1"] = True
    assert await store.get("sender-key-memory", ["g"]) == {"g": {"a.1": True}}


async def test_unknown_type_rejected(store: SignalKeyStore) -> None:
    with pytest.raises(ValueError, match="unknown key type"):
        await store.set({"sessions": {"a": b"x"}})


async def test_concurrent_tasks_do_not_lose_updates(store: SignalKeyStore) -> None:
    await store.set({"app-state-sync-version": {"counter": {"n": 0}}})

    async def bump() -> None:
        for _ in range(10):
            async with store.transaction():
                current = (await store.get("app-state-sync-version", ["counter"]))["counter"]["n"]
                await asyncio.sleep(0)  # let the other task run in between
                await store.set({"app-state-sync-version": {"counter": {"n": current + 1}}})

    await asyncio.gather(bump(), bump())
    assert (await store.get("app-state-sync-version", ["counter"]))["counter"]["n"] == 20


async def test_stores_create_owner_only_files(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical umask would otherwise leave keys world-readable
    try:
        state, save = await use_multi_file_auth_state(tmp_path / "auth")
        await state.keys.set({"session": {"a.0": b"secret"}})
        await save()
        folder = tmp_path / "auth"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        files = [p for p in folder.iterdir() if p.is_file()]
        assert len(files) >= 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        sql_state, sql_save = await use_sqlite_auth_state(tmp_path / "db" / "wamd.sqlite")
        await sql_state.keys.set({"session": {"a.0": b"secret"}})
        await sql_save()
        db_files = list((tmp_path / "db").iterdir())
        assert db_files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in db_files)
        assert stat.S_IMODE((tmp_path / "db").stat().st_mode) == 0o700
    finally:
        os.umask(old)
