"""A sent message's saved copy (for peers' retry receipts) is kept in a grouped
transaction; it must be durable once the send's encryption commit returns, before the
message goes out. SIGKILL a writer at random moments, reopen, check."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from wamd.store.views import SentMessages

from .openers import close_keys, open_auth
from .sent_writer import CHAT, SESSION

WRITER = Path(__file__).with_name("sent_writer.py")
KILLS = 12


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
@pytest.mark.parametrize("kind", ["multifile", "sqlite", "postgres"])
async def test_a_sent_copy_survives_a_kill_after_the_send_committed(
    kind: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    account: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path: Path | str = tmp_path / ("auth" if kind == "multifile" else "auth.sqlite")
    if kind == "postgres":
        path = request.getfixturevalue("postgres_dsn")
        monkeypatch.setenv("WAMD_TEST_ACCOUNT", account)
    rng = random.Random(99)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    checked = 0
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
        lines = [line for line in out.decode().splitlines() if line.startswith("sent")]
        state, _ = await open_auth(kind, path)
        if lines:
            printed = int(lines[-1].split()[1])
            stored = (await state.keys.get("session", [SESSION]))[SESSION]
            assert int.from_bytes(stored[:4], "big") >= printed
            copy = await SentMessages(state.keys).get(f"m{printed}")
            assert copy is not None, f"m{printed} was sent but its copy is gone"
            assert copy.chat == CHAT and copy.message == b"message %d" % printed
            checked += 1
        await close_keys(state.keys)
    assert checked > KILLS // 2, "the writer rarely got a send out: the test proved little"
