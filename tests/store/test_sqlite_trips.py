"""SQLite transactions: BEGIN rides with the first statement; an empty one makes no trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wamd.store.sqlite import SQLiteKeyStore


async def test_begin_goes_with_the_first_statement_and_an_empty_transaction_makes_no_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteKeyStore(tmp_path / "keys.sqlite")
    await store.open()
    await store.set({"session": {"a": b"1"}})
    conn = store._connection()
    trips: list[bool] = []  # for each trip: was a transaction open when it ended?
    real_run = conn.run

    async def run(fn: Any) -> Any:
        out = await real_run(fn)
        trips.append(store.db.in_transaction)
        return out

    monkeypatch.setattr(conn, "run", run)
    async with store.transaction():
        pass
    assert trips == []  # nothing was sent: no BEGIN, no ROLLBACK
    async with store.transaction():
        assert await store.get("session", ["a"]) == {"a": b"1"}
        assert trips == [True]  # the read opened the transaction (the file's lock is held)
        await store.set({"session": {"a": b"2"}})
    assert trips == [True, False]  # one more trip: the writes and COMMIT
    trips.clear()
    async with store.transaction():
        await store.set({"session": {"b": b"3"}})
    assert trips == [False]  # BEGIN, the writes and COMMIT in one trip
    assert await store.get("session", ["a", "b"]) == {"a": b"2", "b": b"3"}
    monkeypatch.undo()
    await store.close()
