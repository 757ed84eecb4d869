from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wamd.store import CachedKeyStore, MemoryKeyStore, MultiFileKeyStore, SQLiteKeyStore
from wamd.store.types import SignalKeyStore

BACKENDS = ["memory", "multifile", "sqlite", "cached-memory", "cached-sqlite"]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SignalKeyStore]:
    kind: str = request.param
    if kind == "memory":
        yield MemoryKeyStore()
    elif kind == "multifile":
        yield MultiFileKeyStore(tmp_path / "auth")
    elif kind == "cached-memory":
        yield CachedKeyStore(MemoryKeyStore())
    else:
        sqlite = SQLiteKeyStore(tmp_path / "auth.sqlite")
        await sqlite.open()
        yield sqlite if kind == "sqlite" else CachedKeyStore(sqlite)
        await sqlite.close()
