"""Increments a counter key N times, each in its own transaction (for the two-process test)."""

from __future__ import annotations

import asyncio
import sys

from wamd.store import MultiFileKeyStore, SQLiteKeyStore


async def main(kind: str, path: str, rounds: int) -> None:
    if kind == "multifile":
        store: MultiFileKeyStore | SQLiteKeyStore = MultiFileKeyStore(path)
    else:
        store = SQLiteKeyStore(path)
        await store.open()
    for _ in range(rounds):
        async with store.transaction():
            got = await store.get("app-state-sync-version", ["counter"])
            n = got["counter"]["n"] if got else 0
            await store.set({"app-state-sync-version": {"counter": {"n": n + 1}}})
    if isinstance(store, SQLiteKeyStore):
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
