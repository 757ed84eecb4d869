"""``CachedKeyStore`` over a store that groups commits (multi-file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wamd.errors import StoreError
from wamd.store import CachedKeyStore
from wamd.store.multifile import MultiFileKeyStore


async def test_a_commit_that_never_becomes_durable_leaves_no_cached_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = MultiFileKeyStore(tmp_path / "auth")
    cached = CachedKeyStore(inner)
    await cached.set({"session": {"a": b"kept"}})
    assert inner.groups_commits

    async def lost() -> None:
        raise StoreError("the disk is gone")

    monkeypatch.setattr(inner, "durable", lost)
    with pytest.raises(StoreError):
        async with cached.transaction():
            await cached.set({"session": {"a": b"lost"}})
    # the cache forgot what it was told: a read goes to the store, not to b"lost"
    assert cached._cache == {}
    reads: list[list[str]] = []
    real_get = inner.get

    async def counted(type: str, ids: list[str]) -> dict[str, object]:
        reads.append(list(ids))
        return await real_get(type, ids)

    monkeypatch.setattr(inner, "get", counted)
    await cached.get("session", ["a"])
    assert reads == [["a"]]
