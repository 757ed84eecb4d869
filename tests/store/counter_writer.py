"""Increments a counter key N times, each in its own transaction (for the process tests).

``counter_writer.py KIND PATH ROUNDS [START_AT]``: with START_AT (a unix time) every
writer opens the store at that moment, so that several open a new file together.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from wamd.store import MultiFileKeyStore, SQLiteKeyStore
from wamd.store.types import SignalKeyStore


async def main(kind: str, path: str, rounds: int, start_at: float) -> None:
    if start_at:
        await asyncio.sleep(max(0.0, start_at - time.time()))
    store: SignalKeyStore
    if kind == "multifile":
        store = MultiFileKeyStore(path)
    elif kind == "postgres":  # PATH is a DSN; the account comes from WAMD_TEST_ACCOUNT
        from wamd.store.postgres import PostgresKeyStore

        store = PostgresKeyStore(path, account=os.environ.get("WAMD_TEST_ACCOUNT", "default"))
        await store.open()
    else:
        store = SQLiteKeyStore(path)
        await store.open()
    for _ in range(rounds):
        async with store.transaction():
            got = await store.get("app-state-sync-version", ["counter"])
            n = got["counter"]["n"] if got else 0
            await store.set({"app-state-sync-version": {"counter": {"n": n + 1}}})
    if not isinstance(store, MultiFileKeyStore):
        await store.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    start = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), start))
