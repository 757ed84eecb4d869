"""A command run as a subprocess, with its output read line by line while a test drives it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def wamd_command() -> list[str]:
    """The ``wamd`` console script of this environment (``python -m wamd.cli`` without one)."""
    script = Path(sys.executable).with_name("wamd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wamd.cli"]


class Proc:
    """``async with Proc(*argv) as p: line = await p.expect("online as")``."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Proc:
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            cwd=ROOT,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def _readline(self) -> str | None:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await self.proc.stdout.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\n")
        self.lines.append(line)
        return line

    async def expect(self, text: str, timeout: float = 15.0) -> str:
        """The next output line containing ``text`` (``AssertionError`` with the output if none)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await self._readline()
                    if line is None:
                        break
                    if text in line:
                        return line
        except TimeoutError:
            pass
        raise AssertionError(f"no line with {text!r}; output so far:\n" + self.output)

    async def interrupt(self, timeout: float = 10.0) -> int:
        """Ctrl-C, then the exit status (the rest of the output is read)."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        async with asyncio.timeout(timeout):
            while await self._readline() is not None:
                pass
            return await self.proc.wait()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)
