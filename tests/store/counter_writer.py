"""Increments a counter key N times, each in its own transaction (for the process tests).

``counter_writer.py KIND PATH ROUNDS [START_AT]``: with START_AT (a unix time) every
writer opens the store at that moment, so that several open a new file together.
"""

from __future__ import annotations

import asyncio
import sys
import time

from wamd.store import MultiFileKeyStore, SQLiteKeyStore


async def main(kind: str, path: str, rounds: int, start_at: float) -> None:
    if start_at:
        await asyncio.sleep(max(0.0, start_at - time.time()))
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
    start = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), start))
