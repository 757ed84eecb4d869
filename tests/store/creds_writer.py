"""A writer for the creds durability test: key transactions and creds saves side by side.

    python creds_writer.py multifile|sqlite|postgres PATH  (a DSN for postgres)

One task runs key transactions back to back, each kept open across several awaits (as
the receive path's are); another saves creds with ``account_sync_counter = i`` and
prints ``saved i`` once ``save_creds()`` has returned. The parent kills it with SIGKILL
at a random moment: every printed save must be in the store afterwards.
"""

from __future__ import annotations

import asyncio
import sys

try:
    from .openers import open_auth
except ImportError:  # run as a script
    from openers import open_auth  # type: ignore[no-redef]


async def main(kind: str, path: str) -> None:
    state, save_creds = await open_auth(kind, path)
    start = state.creds.account_sync_counter
    print("ready", flush=True)

    async def keys() -> None:
        n = 0
        while True:
            n += 1
            async with state.keys.transaction():
                for k in range(3):
                    await state.keys.set({"session": {f"1555000000{k}.1": n.to_bytes(4, "big")}})
                    await asyncio.sleep(0.002)

    async def creds() -> None:
        i = start
        while True:
            i += 1
            state.creds.account_sync_counter = i
            await save_creds()
            print(f"saved {i}", flush=True)
            await asyncio.sleep(0)

    await asyncio.gather(keys(), creds())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
