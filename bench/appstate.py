"""CPU cost of applying an app-state snapshot: 10,000 contacts and 5,000 chats.

    python bench/appstate.py [--contacts 10000] [--chats 5000] [--store sqlite]

Builds the snapshots a phone would upload (``critical_unblock_low`` with the contacts,
``regular_low`` with one archive record per chat; made before timing), then times with
``time.process_time`` (CPU seconds of this process, the store's worker threads
included) what a socket does with them: every MAC and the LTHash checked and each record
decrypted (``decode_snapshot``), the events built (``events_of``) and emitted to one
handler, and each collection's version, hash and MAC map written to the store. The
issue's bound is 2 s of CPU. Compares with bench/.results/appstate.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from wamd.appstate import (  # noqa: E402
    actions,
    decode_snapshot,
    encode_snapshot,
    encrypt_record,
    expand_keys,
)
from wamd.events import EventEmitter  # noqa: E402
from wamd.proto import server_sync_pb2  # noqa: E402
from wamd.store import MemoryKeyStore, MultiFileKeyStore, SQLiteKeyStore  # noqa: E402
from wamd.store.types import SignalKeyStore  # noqa: E402
from wamd.store.views import AppStateVersions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / ".results" / "appstate.json"
KEY_ID = b"\x00\x00\x00\x01\x00\x07"
KEYS = expand_keys(bytes(range(32)))


def snapshots(contacts: int, chats: int) -> dict[str, server_sync_pb2.SyncdSnapshot]:
    rng = random.Random(16)
    out = {}
    for name, requests in (
        (
            "critical_unblock_low",
            [
                actions.save_contact(f"1{n:011d}@s.whatsapp.net", f"Contact {n}")
                for n in range(contacts)
            ],
        ),
        (
            "regular_low",
            [
                actions.archive(f"2{n:011d}@s.whatsapp.net", n % 2 == 0, 1_700_000_000)
                for n in range(chats)
            ],
        ),
    ):
        records = [
            encrypt_record(r.mutations[0], KEY_ID, KEYS, rng.randbytes(16)) for r in requests
        ]
        snapshot = encode_snapshot(name, 1, records, KEY_ID, KEYS)
        out[name] = server_sync_pb2.SyncdSnapshot.FromString(snapshot.SerializeToString())
    return out


async def apply_all(
    store: SignalKeyStore, snaps: dict[str, server_sync_pb2.SyncdSnapshot]
) -> tuple[float, int]:
    versions = AppStateVersions(store)
    ev = EventEmitter()
    seen = [0]
    ev.on("contacts.upsert", lambda items: seen.__setitem__(0, seen[0] + len(items)))
    ev.on("chats.update", lambda items: seen.__setitem__(0, seen[0] + len(items)))
    emit: object = ev
    start = time.process_time()
    for name, snapshot in snaps.items():
        applied = decode_snapshot(name, snapshot, {KEY_ID: KEYS})
        await versions.put(name, applied.state)
        for mutation in applied.mutations:
            for change in actions.events_of(mutation, full_sync=True):
                emit.emit(change.name, change.payload)  # type: ignore[attr-defined]
    cpu = time.process_time() - start
    return cpu, seen[0]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=5_000)
    parser.add_argument("--store", choices=["memory", "multifile", "sqlite"], default="sqlite")
    args = parser.parse_args()
    snaps = snapshots(args.contacts, args.chats)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        store: SignalKeyStore
        if args.store == "memory":
            store = MemoryKeyStore()
        elif args.store == "multifile":
            store = MultiFileKeyStore(Path(tmp) / "files")
        else:
            sqlite = SQLiteKeyStore(Path(tmp) / "a.sqlite")
            await sqlite.open()
            store = sqlite
        cpu, events = await apply_all(store, snaps)
        if isinstance(store, SQLiteKeyStore):
            await store.close()
    records = args.contacts + args.chats
    result = {"store": args.store, "records": records, "events": events, "cpu_s": round(cpu, 3)}
    old = previous.get(args.store, {}).get("cpu_s")
    print(
        f"{args.contacts} contacts + {args.chats} chats on {args.store}: {cpu:.3f} s CPU "
        f"({records / cpu:,.0f} records/s, {events} events)"
        + (f"   (previous {old} s)" if old else "")
    )
    results = dict(previous)
    results[args.store] = result
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
