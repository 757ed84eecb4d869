"""Crash consistency: SIGKILL a writer at random moments, reopen, check every invariant."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .crash_writer import KEYS, value
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
@pytest.mark.parametrize("kind", ["multifile", "sqlite", "postgres"])
async def test_sigkill_never_corrupts(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    account: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path: Path | str = tmp_path / ("auth" if kind == "multifile" else "auth.sqlite")
    if kind == "postgres":
        path = request.getfixturevalue("postgres_dsn")
        monkeypatch.setenv("WAMD_TEST_ACCOUNT", account)  # for our opens and the writer's
    rng = random.Random(1234)
    committed = 0
    printed = 0
    rounds_seen = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(KILLS):
        proc = subprocess.Popen(  # noqa: ASYNC220 - killed with SIGKILL at a chosen moment
            [sys.executable, str(WRITER), kind, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready", (
            proc.stderr.read() if proc.stderr else b""
        )
        await asyncio.sleep(rng.uniform(0.0, 0.08))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        lines = [line for line in out.decode().splitlines() if line.startswith("committed")]
        if lines:
            committed = printed = int(lines[-1].split()[1])
        stored = await check(kind, path, committed, printed)
        rounds_seen += 1
        committed = stored  # the next writer continues from what is stored
    assert rounds_seen == KILLS
    assert committed > 0, "the writer never committed anything: the test proved nothing"
