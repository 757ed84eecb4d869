"""A writer for the app-state crash test: applies a fixed chain of patches until killed.

    python appstate_writer.py multifile|sqlite|postgres PATH  (a DSN for postgres)

The chain (``chain()``) is the same in every process: seeded patches over 40 indexes,
with overwrites and removes. Each round reads the stored collection, verifies and
applies the patch after its version (``wamd.appstate.decode_patch``, as the client
does), stores the new state with one ``AppStateVersions.put`` and prints
``applied VERSION``. The parent kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import asyncio
import random
import sys

from wamd.appstate import CollectionState, MutationSpec, decode_patch, encode_patch, expand_keys
from wamd.proto import server_sync_pb2, sync_action_pb2
from wamd.store.views import AppStateVersions

try:
    from .openers import open_auth
except ImportError:  # run as a script
    from openers import open_auth  # type: ignore[no-redef]

NAME = "regular_high"
KEY_ID = b"\x00\x00\x00\x01\x02\x03"
KEYS = {KEY_ID: expand_keys(bytes(32))}
LENGTH = 300


def chain() -> tuple[list[server_sync_pb2.SyncdPatch], list[CollectionState]]:
    """The patches (``patches[v]`` takes version v to v + 1) and the state after each."""
    rng = random.Random(16)
    state = CollectionState()
    patches, states = [], [state]
    for v in range(LENGTH):
        specs = []
        for _ in range(3):
            jid = f"1555{rng.randrange(40):07d}@s.whatsapp.net"
            value = sync_action_pb2.SyncActionValue(
                muteAction=sync_action_pb2.MuteAction(muted=True, muteEndTimestamp=v)
            )
            op = "remove" if rng.random() < 0.2 and states[-1].macs else "set"
            specs.append(MutationSpec(("mute", jid), value, 2, op))  # type: ignore[arg-type]
        patch, state = encode_patch(NAME, state, KEY_ID, KEYS[KEY_ID], specs, v, rng.randbytes)
        patch.version.version = state.version
        patches.append(patch)
        states.append(state)
    return patches, states


async def main(kind: str, path: str) -> None:
    state, _ = await open_auth(kind, path)
    versions = AppStateVersions(state.keys)
    patches, _ = chain()
    print("ready", flush=True)
    while True:
        current = await versions.get(NAME)
        if current.version >= LENGTH:
            await asyncio.sleep(1)
            continue
        applied = decode_patch(NAME, patches[current.version], current, KEYS)
        await versions.put(NAME, applied.state)
        print(f"applied {applied.state.version}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
