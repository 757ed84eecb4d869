"""Many accounts in one SQLite file, and the migration of files of the first layout."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from wamd.errors import StoreError
from wamd.store import init_auth_creds, use_sqlite_auth_state
from wamd.store.serialize import dumps
from wamd.store.sqlite import SCHEMA_VERSION

# the first layout, as wamd wrote it before accounts (one account per file)
LAYOUT_1 = """
CREATE TABLE IF NOT EXISTS keys (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS creds (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    value TEXT NOT NULL
);
"""


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


async def test_accounts_in_one_file_keep_apart(tmp_path: Path) -> None:
    path = tmp_path / "fleet.sqlite"
    one, save_one = await use_sqlite_auth_state(path, account="bot-1")
    two, save_two = await use_sqlite_auth_state(path, account="bot-2")
    assert one.creds.noise_key != two.creds.noise_key
    await one.keys.set({"session": {"a.1": b"one"}})
    await two.keys.set({"session": {"a.1": b"two"}})
    one.creds.account_sync_counter, two.creds.account_sync_counter = 1, 2
    await save_one()
    await save_two()
    for state in (one, two):
        await state.keys.close()  # type: ignore[attr-defined]
    again_one, _ = await use_sqlite_auth_state(path, account="bot-1")
    again_two, _ = await use_sqlite_auth_state(path, account="bot-2")
    assert again_one.creds == one.creds and again_two.creds == two.creds
    assert await again_one.keys.get("session", ["a.1"]) == {"a.1": b"one"}
    assert await again_two.keys.get("session", ["a.1"]) == {"a.1": b"two"}
    default, _ = await use_sqlite_auth_state(path)  # the default account is another one
    assert await default.keys.get("session", ["a.1"]) == {}
    for state in (again_one, again_two, default):
        await state.keys.close()  # type: ignore[attr-defined]
    assert user_version(path) == SCHEMA_VERSION == 2


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
async def test_accounts_of_one_file_share_one_connection_and_thread(tmp_path: Path) -> None:
    # one connection each was 3 file descriptors and a thread per account: a 10,000
    # account fleet could not open under a 20,000 descriptor limit
    path = tmp_path / "fleet.sqlite"
    first, _ = await use_sqlite_auth_state(path, account="bot-0")
    fds, threads = open_fds(), threading.active_count()
    states = [(await use_sqlite_auth_state(path, account=f"bot-{i}"))[0] for i in range(1, 30)]
    assert open_fds() <= fds + 1 and threading.active_count() <= threads + 1
    for i, state in enumerate(states):
        await state.keys.set({"session": {"a.1": f"bot-{i}".encode()}})
    for i, state in enumerate(states):
        assert await state.keys.get("session", ["a.1"]) == {"a.1": f"bot-{i}".encode()}
        await state.keys.close()  # type: ignore[attr-defined]
    assert await first.keys.get("session", ["a.1"]) == {}
    await first.keys.close()  # type: ignore[attr-defined]
    assert open_fds() < fds  # the last one closed it


async def test_another_accounts_transaction_on_the_shared_connection_is_not_joined(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fleet.sqlite"
    one, _ = await use_sqlite_auth_state(path, account="bot-1")
    two, save_two = await use_sqlite_auth_state(path, account="bot-2")
    await two.keys.set({"session": {"a.1": b"two"}})
    inside, release = asyncio.Event(), asyncio.Event()

    async def failing() -> None:
        async with one.keys.transaction():
            await one.keys.set({"session": {"a.1": b"lost"}})
            inside.set()
            await release.wait()
            raise RuntimeError("rolled back")

    task = asyncio.ensure_future(failing())
    await inside.wait()
    # bot-2 reads its committed rows meanwhile, and its writes wait for bot-1's end
    assert await two.keys.get("session", ["a.1"]) == {"a.1": b"two"}
    two.creds.account_sync_counter = 7
    writes = [
        asyncio.ensure_future(save_two()),
        asyncio.ensure_future(two.keys.set({"session": {"b.1": b"kept"}})),
    ]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in writes)
    release.set()
    with pytest.raises(RuntimeError, match="rolled back"):
        await task
    await asyncio.gather(*writes)
    for state in (one, two):
        await state.keys.close()  # type: ignore[attr-defined]
    again_one, _ = await use_sqlite_auth_state(path, account="bot-1")
    again_two, _ = await use_sqlite_auth_state(path, account="bot-2")
    assert await again_one.keys.get("session", ["a.1"]) == {}
    assert await again_two.keys.get("session", ["a.1", "b.1"]) == {"a.1": b"two", "b.1": b"kept"}
    assert again_two.creds.account_sync_counter == 7  # not rolled back with bot-1's
    for state in (again_one, again_two):
        await state.keys.close()  # type: ignore[attr-defined]


async def test_a_second_store_of_one_account_never_sees_the_firsts_pending_writes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fleet.sqlite"
    first, _ = await use_sqlite_auth_state(path, account="bot-1")
    second, _ = await use_sqlite_auth_state(path, account="bot-1")
    inside, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with first.keys.transaction():
            await first.keys.set({"session": {"a.1": b"pending"}})
            inside.set()
            await release.wait()

    task = asyncio.ensure_future(writer())
    await inside.wait()
    assert await second.keys.get("session", ["a.1"]) == {}  # committed state only
    release.set()
    await task
    assert await second.keys.get("session", ["a.1"]) == {"a.1": b"pending"}
    for state in (first, second):
        await state.keys.close()  # type: ignore[attr-defined]


async def test_a_file_of_the_first_layout_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    creds = init_auth_creds()
    creds.account_sync_counter = 9
    with sqlite3.connect(path) as db:
        db.executescript(LAYOUT_1)
        db.execute("INSERT INTO creds (id, value) VALUES (0, ?)", (dumps(creds.to_json()),))
        db.executemany(
            "INSERT INTO keys (type, id, value) VALUES (?, ?, ?)",
            [("session", "a.1", dumps(b"record")), ("lid-mapping", "1555", dumps("99"))],
        )
    assert user_version(path) == 0
    state, save = await use_sqlite_auth_state(path)
    assert state.creds == creds  # the single account became the default account ""
    assert await state.keys.get("session", ["a.1"]) == {"a.1": b"record"}
    assert await state.keys.get("lid-mapping", ["1555"]) == {"1555": "99"}
    await state.keys.set({"session": {"a.1": b"new"}})
    await save()
    await state.keys.close()  # type: ignore[attr-defined]
    assert user_version(path) == 2
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"keys", "creds"}
        assert db.execute("SELECT count(*) FROM keys").fetchone() == (2,)
    again, _ = await use_sqlite_auth_state(path)  # opening a current file changes nothing
    assert again.creds == creds
    assert await again.keys.get("session", ["a.1"]) == {"a.1": b"new"}
    await again.keys.close()  # type: ignore[attr-defined]


async def test_a_file_from_a_newer_wamd_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    state, _ = await use_sqlite_auth_state(path)
    await state.keys.close()  # type: ignore[attr-defined]
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this wamd"):
        await use_sqlite_auth_state(path)
