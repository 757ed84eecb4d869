"""A writer for the crash-consistency test: updates keys and creds until killed.

    python crash_writer.py multifile|sqlite|postgres PATH  (a DSN for postgres)

Each round i runs one transaction that sets five session keys to round i's value and
rotates a prekey, then saves creds with ``account_sync_counter = i``; after both, it
prints ``committed i``. The parent kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import asyncio
import sys

from wamd.crypto import generate_keypair

try:
    from .openers import open_auth
except ImportError:  # run as a script
    from openers import open_auth  # type: ignore[no-redef]

KEYS = [f"1555000000{n}.1" for n in range(5)]


def value(i: int) -> bytes:
    return i.to_bytes(4, "big") * 300  # about a session record's size


async def main(kind: str, path: str) -> None:
    state, save_creds = await open_auth(kind, path)
    current = await state.keys.get("session", KEYS[:1])
    i = int.from_bytes(current[KEYS[0]][:4], "big") if current else 0
    print("ready", flush=True)
    while True:
        i += 1
        async with state.keys.transaction():
            await state.keys.set(
                {
                    "session": {k: value(i) for k in KEYS},
                    "pre-key": {str(i): generate_keypair(), str(i - 1): None},
                }
            )
        state.creds.account_sync_counter = i
        await save_creds()
        print(f"committed {i}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
