"""Many accounts in one SQLite file, and the migration of files of the first layout."""

from __future__ import annotations

import sqlite3
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
