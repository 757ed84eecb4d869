"""Key store throughput per backend, for session-sized values (~1.5 KB).

    python bench/store.py [--count 2000]

Prints writes/s, reads/s and "message transactions"/s (read a session, write it back,
delete a prekey: what handling one incoming pkmsg does) for memory, multi-file, SQLite and
cached SQLite; compares with bench/.results/store.json from the previous run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from wamd.crypto import generate_keypair  # noqa: E402
from wamd.store import CachedKeyStore, MemoryKeyStore, MultiFileKeyStore, SQLiteKeyStore  # noqa: E402
from wamd.store.types import SignalKeyStore  # noqa: E402

RESULTS = Path(__file__).resolve().parent / ".results" / "store.json"
VALUE = os.urandom(1500)


async def measure(store: SignalKeyStore, count: int) -> dict[str, float]:
    ids = [f"1555{n:07d}.1" for n in range(count)]
    start = time.perf_counter()
    for key_id in ids:
        await store.set({"session": {key_id: VALUE}})
    writes = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for key_id in ids:
        await store.get("session", [key_id])
    reads = count / (time.perf_counter() - start)
    await store.set({"pre-key": {str(n): generate_keypair() for n in range(count)}})
    start = time.perf_counter()
    for n, key_id in enumerate(ids):
        async with store.transaction():
            await store.get("session", [key_id])
            await store.set({"session": {key_id: VALUE}, "pre-key": {str(n): None}})
    txs = count / (time.perf_counter() - start)
    return {
        "writes_per_s": round(writes),
        "reads_per_s": round(reads),
        "message_tx_per_s": round(txs),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteKeyStore(Path(tmp) / "a.sqlite")
        await sqlite.open()
        cached_db = SQLiteKeyStore(Path(tmp) / "b.sqlite")
        await cached_db.open()
        backends: dict[str, SignalKeyStore] = {
            "memory": MemoryKeyStore(),
            "multifile": MultiFileKeyStore(Path(tmp) / "files"),
            "sqlite": sqlite,
            "cached-sqlite": CachedKeyStore(cached_db),
        }
        for name, store in backends.items():
            count = args.count if name != "multifile" else max(100, args.count // 10)
            results[name] = await measure(store, count)
            line = "  ".join(f"{k} {v:>9,}" for k, v in results[name].items())
            old = previous.get(name, {}).get("message_tx_per_s")
            suffix = f"   (previous tx/s {old:,})" if old else ""
            print(f"{name:14} {line}{suffix}")
        await sqlite.close()
        await cached_db.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
