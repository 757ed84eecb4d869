"""A sent message's saved copy (for peers' retry receipts) is kept in a grouped
transaction; it must be durable once the send's encryption commit returns, before the
message goes out. SIGKILL a writer at random moments, reopen, check."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from wamd.store.views import SentMessages

from .kill import run_until_killed
from .openers import close_keys, open_auth
from .sent_writer import CHAT, SESSION

WRITER = Path(__file__).with_name("sent_writer.py")
KILLS = 12


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
async def test_a_sent_copy_survives_a_kill_after_the_send_committed(
    durable_store: tuple[str, Path | str],
) -> None:
    kind, path = durable_store
    rng = random.Random(99)
    checked = 0
    for _ in range(KILLS):
        out = await run_until_killed(WRITER, kind, path, rng.uniform(0.0, 0.08))
        lines = [line for line in out if line.startswith("sent")]
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
