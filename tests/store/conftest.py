"""Store fixtures: every backend for the contract tests.

The PostgreSQL server (``postgres_dsn``, ``postgres_db``) is the session's, from
``tests/conftest.py``; tests keep apart by account name (``account``) or by a database
of their own (``postgres_db``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wamd.crypto import generate_keypair
from wamd.store import CachedKeyStore, MemoryKeyStore, MultiFileKeyStore, SQLiteKeyStore
from wamd.store.types import SignalKeyStore

BACKENDS = [
    "memory",
    "multifile",
    "sqlite",
    "sqlite-shared",
    "postgres",
    "cached-memory",
    "cached-sqlite",
    "cached-multifile",  # a cache over a store that groups commits
]


@pytest.fixture
def account() -> str:
    """An account name no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


# what the neighbouring account holds, under the ids the contract tests use
NEIGHBOUR: dict[str, dict[str, Any]] = {
    "session": {k: b"neighbour" for k in ("a", "b", "c", "a.1", "15551234567.1", "parent")},
    "pre-key": {k: generate_keypair() for k in ("1", "5", "6", "7", "25", "31")},
    "app-state-sync-version": {"counter": {"n": 1000}},
    "lid-mapping": {"15551234567": "1", "1555": "2"},
    "sender-key-memory": {"g": {"x.1": True}, "g@g.us": {"x.1": True}},
}


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignalKeyStore]:
    kind: str = request.param
    if kind == "memory":
        yield MemoryKeyStore()
    elif kind == "multifile":
        yield MultiFileKeyStore(tmp_path / "auth")
    elif kind == "cached-memory":
        yield CachedKeyStore(MemoryKeyStore())
    elif kind == "cached-multifile":
        yield CachedKeyStore(MultiFileKeyStore(tmp_path / "auth"))
    elif kind == "sqlite-shared":  # one account of a file another account also writes
        path = tmp_path / "fleet.sqlite"
        neighbour = SQLiteKeyStore(path, account="neighbour")
        await neighbour.open()
        await neighbour.set(NEIGHBOUR)
        mine = SQLiteKeyStore(path, account="mine")
        await mine.open()
        yield mine
        await mine.close()
        assert await neighbour.get("session", list(NEIGHBOUR["session"])) == NEIGHBOUR["session"]
        await neighbour.close()
    elif kind == "postgres":
        from wamd.store.postgres import PostgresKeyStore

        dsn: str = request.getfixturevalue("postgres_dsn")
        pg = PostgresKeyStore(dsn, account=request.getfixturevalue("account"))
        await pg.open()
        yield pg
        await pg.close()
    else:
        sqlite = SQLiteKeyStore(tmp_path / "auth.sqlite")
        await sqlite.open()
        yield sqlite if kind == "sqlite" else CachedKeyStore(sqlite)
        await sqlite.close()


DURABLE = ["multifile", "sqlite", "postgres"]


@pytest.fixture(params=DURABLE)
def durable_store(
    request: pytest.FixtureRequest, tmp_path: Path, account: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path | str]:
    """``(kind, where)`` of a durable store for a writer process to open: a folder, a
    file, or the session's Postgres with an account of this test's (the writer gets it
    from ``WAMD_TEST_ACCOUNT``)."""
    kind: str = request.param
    if kind == "postgres":
        monkeypatch.setenv("WAMD_TEST_ACCOUNT", account)  # for our opens and the writer's
        return kind, str(request.getfixturevalue("postgres_dsn"))
    return kind, tmp_path / ("auth" if kind == "multifile" else "auth.sqlite")
