"""Crash consistency: SIGKILL a writer at random moments, reopen, check every invariant."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from .crash_writer import KEYS, value
from .kill import run_until_killed
from .openers import close_keys, open_auth

WRITER = Path(__file__).with_name("crash_writer.py")
KILLS = 50


async def check(kind: str, path: Path | str, committed: int, printed: int) -> int:
    state, _ = await open_auth(kind, path)  # must load: no CorruptedStore after a crash
    sessions = await state.keys.get("session", KEYS)
    if committed == 0 and not sessions:
        return 0
    values = set(sessions.values())
    assert len(sessions) == len(KEYS) and len(values) == 1, "a transaction was half-applied"
    stored = int.from_bytes(next(iter(values))[:4], "big")
    assert sessions[KEYS[0]] == value(stored)
    # the last round printed as committed is there, or the one after it (committed, not printed)
    assert committed <= stored <= committed + 1
    prekeys = await state.keys.get("pre-key", [str(stored), str(stored - 1)])
    assert set(prekeys) == {str(stored)}, "the prekey rotation was half-applied"
    # creds are saved after the keys: never ahead of them, never behind a printed round
    assert printed <= state.creds.account_sync_counter <= stored
    await close_keys(state.keys)
    return stored


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_sigkill_never_corrupts(durable_store: tuple[str, Path | str]) -> None:
    kind, path = durable_store
    rng = random.Random(1234)
    committed = 0
    printed = 0
    rounds_seen = 0
    for _ in range(KILLS):
        out = await run_until_killed(WRITER, kind, path, rng.uniform(0.0, 0.08))
        lines = [line for line in out if line.startswith("committed")]
        if lines:
            committed = printed = int(lines[-1].split()[1])
        stored = await check(kind, path, committed, printed)
        rounds_seen += 1
        committed = stored  # the next writer continues from what is stored
    assert rounds_seen == KILLS
    assert committed > 0, "the writer never committed anything: the test proved nothing"
