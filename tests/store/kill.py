"""Run a writer script of this folder on a store until a SIGKILL, for the crash tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def writer_env(**extra: str) -> dict[str, str]:
    """The environment of a writer process: ours, with our import path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


async def run_until_killed(
    writer: Path,
    kind: str,
    where: Path | str,
    delay: float,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Start ``writer`` on the store ``kind`` at ``where``, wait for its ``ready`` line,
    let it run ``delay`` seconds, SIGKILL it, and return the lines it printed after
    ``ready``."""
    proc = subprocess.Popen(  # noqa: ASYNC220 - killed with SIGKILL at a chosen moment
        [sys.executable, str(writer), kind, str(where)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else writer_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready", proc.stderr.read() if proc.stderr else b""
    await asyncio.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    return out.decode().splitlines()
