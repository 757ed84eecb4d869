"""App-state persistence on every store: round trip, bad shapes, and SIGKILL mid-apply."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

from wamd.appstate import CollectionState, lthash
from wamd.store.types import SignalKeyStore
from wamd.store.views import AppStateKey, AppStateKeys, AppStateVersions

from .appstate_writer import LENGTH, NAME, chain
from .kill import run_until_killed
from .openers import close_keys, open_auth

WRITER = Path(__file__).with_name("appstate_writer.py")
KILLS = int(os.environ.get("WAMD_APPSTATE_KILLS", "10"))  # per backend; more for a long run


async def test_collection_state_round_trips_and_bad_shapes_read_as_unsynced(
    store: SignalKeyStore,
) -> None:
    versions = AppStateVersions(store)
    assert await versions.get("regular") == CollectionState()
    macs = {bytes([i]) * 32: bytes([i + 1]) * 32 for i in range(50)}
    state = CollectionState(7, lthash.subtract_then_add(lthash.EMPTY, [], macs.values()), macs)
    await versions.put("regular", state)
    got = await versions.get("regular")
    assert (got.version, got.hash, dict(got.macs)) == (7, state.hash, macs)
    for bad in (
        {"version": "7", "hash": state.hash, "index_value_map": {}},
        {"version": 7, "hash": b"short", "index_value_map": {}},
        {"version": 7, "hash": state.hash, "index_value_map": {"!!": b"x"}},
        [1, 2],
    ):
        await store.set({"app-state-sync-version": {"regular": bad}})
        assert await versions.get("regular") == CollectionState()
    await versions.reset("regular")
    assert await versions.get("regular") == CollectionState()

    keys = AppStateKeys(store)
    await keys.add([AppStateKey(b"\x01\x02", b"k" * 32, 5)], {b"\x01\x02": {"rawId": 1}})
    held = await keys.get_many([b"\x01\x02", b"\x09"])
    assert list(held) == [b"\x01\x02"] and held[b"\x01\x02"].key_data == b"k" * 32
    assert "kkkk" not in repr(held[b"\x01\x02"])


async def check(kind: str, path: Path | str, printed: int, expected: list[CollectionState]) -> int:
    state, _ = await open_auth(kind, path)
    stored = await AppStateVersions(state.keys).get(NAME)
    await close_keys(state.keys)
    # the printed version, or the one after it (stored, not yet printed): never skipped
    assert printed <= stored.version <= printed + 1, (printed, stored.version)
    want = expected[stored.version]
    # version, hash and MAC map belong together: none applied twice or half
    assert stored.hash == want.hash and dict(stored.macs) == dict(want.macs)
    return stored.version


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_sigkill_during_apply_leaves_a_whole_version(
    durable_store: tuple[str, Path | str],
) -> None:
    kind, path = durable_store
    _, expected = chain()
    rng = random.Random(99)
    printed = 0
    for _ in range(KILLS):
        out = await run_until_killed(WRITER, kind, path, rng.uniform(0.0, 0.05))
        lines = [line for line in out if line.startswith("applied")]
        if lines:
            printed = int(lines[-1].split()[1])
        printed = await check(kind, path, printed, expected)
        if printed >= LENGTH:
            break
    assert printed > 0, "the writer never applied anything: the test proved nothing"
