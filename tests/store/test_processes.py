"""Several processes writing the same keys: no update is lost; corrupted files are named."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from wamd.errors import CorruptedStore
from wamd.store import MultiFileKeyStore, SQLiteKeyStore

from .openers import close_keys, open_auth

WRITER = Path(__file__).with_name("counter_writer.py")


@pytest.mark.skipif(sys.platform == "win32", reason="cross-process locking is flock/SQLite")
@pytest.mark.parametrize("kind", ["multifile", "sqlite", "postgres"])
async def test_two_processes_lose_no_update(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, account: str
) -> None:
    path: Path | str = tmp_path / ("auth" if kind == "multifile" else "auth.sqlite")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "WAMD_TEST_ACCOUNT": account}
    if kind == "postgres":
        path = request.getfixturevalue("postgres_dsn")
    rounds = 60
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, str(WRITER), kind, str(path), str(rounds), env=env
        )
        for _ in range(2)
    ]
    assert [await p.wait() for p in procs] == [0, 0]
    state, _ = await open_auth(kind, path, account)
    got = await state.keys.get("app-state-sync-version", ["counter"])
    assert got["counter"]["n"] == 2 * rounds
    await close_keys(state.keys)


@pytest.mark.skipif(sys.platform == "win32", reason="cross-process locking is flock/SQLite")
async def test_processes_opening_a_new_sqlite_file_together_all_succeed(tmp_path: Path) -> None:
    # switching a new file to WAL answers "database is locked" at once to the losers
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for attempt in range(4):
        path = tmp_path / f"fresh{attempt}.sqlite"
        start_at = str(time.time() + 1.0)  # all four open the new file at the same moment
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable, str(WRITER), "sqlite", str(path), "3", start_at, env=env
            )
            for _ in range(4)
        ]
        assert [await p.wait() for p in procs] == [0, 0, 0, 0]
        store = SQLiteKeyStore(path)
        await store.open()
        got = await store.get("app-state-sync-version", ["counter"])
        assert got["counter"]["n"] == 12
        await store.close()


async def test_corrupted_key_file_is_named(tmp_path: Path) -> None:
    store = MultiFileKeyStore(tmp_path / "auth")
    await store.set({"session": {"15551234567.1": b"record"}})
    path = store.path_for("session", "15551234567.1")
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(CorruptedStore) as err:
        await store.get("session", ["15551234567.1"])
    assert str(path) in str(err.value) and b"record" not in str(err.value).encode()


async def test_leftover_journal_is_replayed_on_open(tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    store = MultiFileKeyStore(folder)
    await store.set({"session": {"a": b"old", "b": b"old"}})
    # simulate a crash after the commit point: the journal is written, files not yet updated
    from wamd.store.serialize import dumps

    (folder / ".journal.json").write_text(dumps({"session": {"a": b"new", "b": None}}))
    reopened = MultiFileKeyStore(folder)
    assert await reopened.get("session", ["a", "b"]) == {"a": b"new"}
    assert not (folder / ".journal.json").exists()


async def test_corrupted_journal_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "auth"
    MultiFileKeyStore(folder)
    (folder / ".journal.json").write_text('{"session": {"a": ')
    with pytest.raises(CorruptedStore, match="journal"):
        MultiFileKeyStore(folder)
