"""Baileys, an independent WhatsApp client, installed from npm and run unmodified.

The first run installs ``baileys`` into the user cache (``~/.cache/wamd/baileys-VERSION``)
with npm. Two of its dependencies are named by GitHub URL, which cannot be fetched here:
``libsignal`` is taken from npm instead (the same library, published there), and an
ESLint configuration it lists by mistake is replaced by an empty local package. Nothing of
Baileys is committed. Without node, npm or the registry the tests are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wamd.client import WASocket
from wamd.sim import SimPhone, SimServer

BAILEYS_VERSION = "6.17.16"  # the newest on npm at the time of writing
LIBSIGNAL_VERSION = "6.0.0"
BOT = Path(__file__).with_name("baileys_bot.js")
WAIT = 30.0
WAIT_START = 90.0  # node loading Baileys and its first handshake, on a loaded machine
PING_TIMEOUT = 15.0  # seconds for npm ping before the interop tests are skipped


def _npm_registry_problem(npm: str) -> str | None:
    """Why the npm registry cannot be reached (``None`` when it answers), in seconds.

    Offline, ``npm install`` retries with back-off for many minutes; one ``npm ping``
    without retries and with a short fetch timeout answers at once.
    """
    try:
        result = subprocess.run(
            [npm, "ping", "--fetch-timeout=5000", "--fetch-retries=0"],
            capture_output=True,
            text=True,
            timeout=PING_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"npm ping had no answer in {PING_TIMEOUT:.0f} s"
    if result.returncode != 0:
        for line in result.stderr.splitlines():
            if "reason:" in line:  # npm error FetchError: request to ... failed, reason: ...
                return line.split("reason:", 1)[1].strip()[:200]
        codes = [line.split()[-1] for line in result.stderr.splitlines() if " code " in line]
        return codes[0] if codes else f"npm ping exited {result.returncode}"
    return None


def baileys_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run Baileys")
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "wamd"
        / f"baileys-{BAILEYS_VERSION}"
    )
    marker = cache / ".installed"
    if not marker.exists():
        unreachable = _npm_registry_problem(npm)
        if unreachable is not None:
            pytest.skip(f"cannot install Baileys: the npm registry is unreachable ({unreachable})")
        shutil.rmtree(cache, ignore_errors=True)
        empty = cache / "empty-eslint-config"
        empty.mkdir(parents=True)
        (empty / "package.json").write_text(
            json.dumps({"name": "@whiskeysockets/eslint-config", "version": "0.0.0"})
        )
        (cache / "package.json").write_text(
            json.dumps(
                {
                    "name": "wamd-interop",
                    "private": True,
                    "dependencies": {"baileys": BAILEYS_VERSION},
                    "overrides": {
                        "libsignal": LIBSIGNAL_VERSION,
                        "@whiskeysockets/eslint-config": "file:./empty-eslint-config",
                    },
                }
            )
        )
        try:
            result = subprocess.run(
                [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=cache,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("cannot install Baileys from npm: npm install took over 600 s")
        if result.returncode != 0:
            pytest.skip(f"cannot install Baileys from npm: {result.stderr[-300:]}")
        marker.write_text("ok")
    return cache / "node_modules"


class BaileysBot:
    """``tests/interop/baileys_bot.js`` in a node process, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: asyncio.Queue[list[str]] = asyncio.Queue()
        self.jid = ""
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(
        cls, modules: Path, sim: SimServer, auth: Path, *, pair_phone: str | None = None
    ) -> BaileysBot:
        env = dict(os.environ, NODE_PATH=str(modules))
        if sim.media.tls is not None:  # Baileys fetches media over https: trust the sim's CA
            env["NODE_EXTRA_CA_CERTS"] = str(sim.media.tls.ca_path)
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(BOT),
            sim.url,
            str(auth),
            *([pair_phone] if pair_phone else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            self.lines.put_nowait(raw.decode().rstrip("\n").split(" ", 3))

    async def expect(self, kind: str, timeout: float = WAIT) -> list[str]:
        """The next line of that kind (others before it are skipped)."""
        while True:
            try:
                line = await asyncio.wait_for(self.lines.get(), timeout)
            except TimeoutError:
                raise AssertionError(f"Baileys said no {kind!r}: {await self.stderr()}") from None
            if line[0] == kind:
                return line
            if line[0] == "ERROR":
                raise AssertionError(f"Baileys failed: {line}")

    async def pair(self, phone: SimPhone) -> str:
        qr = await self.expect("QR", WAIT_START)
        await phone.scan_qr(" ".join(qr[1:]))
        self.jid = (await self.expect("OPEN"))[1]
        return self.jid

    async def pair_by_code(self, phone: SimPhone) -> str:
        code = (await self.expect("CODE", WAIT_START))[1]
        await phone.link_with_code(code)
        self.jid = (await self.expect("OPEN"))[1]
        return self.jid

    async def send(self, jid: str, text: str) -> str:
        return await self.command("SEND", jid, text)

    async def command(self, *words: str, answer: str = "SENT") -> str:
        """Run one stdin command of the bot; what its ``answer`` line says (an id...)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((" ".join(words) + "\n").encode())
        await self.proc.stdin.drain()
        return " ".join((await self.expect(answer))[1:])

    async def stderr(self) -> str:
        if self.proc.returncode is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()[-2000:]

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


@dataclass
class Pair:
    """A Baileys bot linked to one sim account and a wamd socket linked to another."""

    bot: BaileysBot
    baileys_phone: SimPhone
    sock: WASocket
    wamd_phone: SimPhone


@contextlib.asynccontextmanager
async def baileys_and_wamd(modules: Path, sim: SimServer, auth: Path) -> AsyncIterator[Pair]:
    from tests.client.conftest import link

    baileys_phone = sim.add_phone("15550001111", "Baileys")
    wamd_phone = sim.add_phone("15550003333", "Wamd")
    bot = await BaileysBot.start(modules, sim, auth)
    sock: WASocket | None = None
    try:
        await bot.pair(baileys_phone)
        sock = await link(sim, wamd_phone)
        yield Pair(bot, baileys_phone, sock, wamd_phone)
    finally:
        if sock is not None:
            await sock.end()
        await bot.stop()


@pytest.fixture(scope="session")
def baileys() -> Path:
    return baileys_modules()


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server
