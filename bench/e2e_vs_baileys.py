"""End-to-end receive through wamd.sim: wamd (each store) and Baileys, in the same run.

    python bench/e2e_vs_baileys.py [--messages 400] [--pairs 3]
                                   [--stores memory,sqlite,multifile]

One sim in a child process; a contact sends a burst of N text messages to one bot at a
time: Baileys 6 (from npm, the way tests/interop installs it; ``useMultiFileAuthState``
with the key cache of its README, in a node process) and a wamd socket per store (in
this process). The bursts are interleaved (Baileys, then each wamd store, ``--pairs``
times) and each figure is the median: messages per wall second until the N-th
``messages.upsert`` (wamd: until its receipts are out too), and messages per CPU second of
the receiving process (``process.cpuUsage`` for node, ``time.process_time`` here). The
ratio is wamd ÷ Baileys. Baileys' multi-file store never fsyncs (a crash can lose or
tear its files); wamd's multi-file and SQLite stores are durable before each receipt.

Without node, npm or the npm registry it says why and measures wamd alone. Results go
to bench/.results/e2e_vs_baileys.json and are compared with the previous run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py shadows the standard library's ``signal``: take bench/ off the path,
# put the repository on it (tests/interop installs Baileys)
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

RESULTS = HERE / ".results" / "e2e_vs_baileys.json"
CONTACT = "15550009999"
BAILEYS_BOT = HERE / "baileys_recv.js"


def phone_of(index: int) -> str:
    return f"155500011{index:02d}"


# ---------------------------------------------------------------------- the sim process


async def sim_child(bots: int) -> None:
    from wamd.sim import SimServer

    async with SimServer(stanza_limit=(1e9, 1e9)) as sim:
        phones = [sim.add_phone(phone_of(n), f"Bot{n}") for n in range(bots)]
        alice = sim.add_phone(CONTACT, "Alice")
        print("READY", sim.url, sim.root_public_key.hex(), flush=True)
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not line or line[0] == "QUIT":
                return
            if line[0] == "SCAN":
                await phones[int(line[1])].scan_qr(line[2])
            elif line[0] == "SEND":
                target = phones[int(line[1])].jid
                for n in range(int(line[2])):
                    await alice.send_text(target, f"m{n}")
            print("OK", flush=True)


class Lines:
    """A child process spoken to line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, timeout: float = 300) -> list[str]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise RuntimeError(f"{self.proc.pid} ended")
        return raw.decode().rstrip("\n").split(" ")

    async def expect(self, kind: str, timeout: float = 300) -> list[str]:
        while True:
            line = await self.line(timeout)
            if os.environ.get("BENCH_DEBUG"):
                print("<", " ".join(line)[:100], file=sys.stderr)
            if line[0] == kind:
                return line
            if line[0] == "ERROR":
                raise RuntimeError(" ".join(line))

    def write(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")

    async def ask(self, text: str) -> None:
        self.write(text)
        await self.expect("OK")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib_suppress():
                self.write("QUIT")
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def contextlib_suppress() -> Any:
    import contextlib

    return contextlib.suppress(Exception)


def baileys_modules() -> tuple[Path | None, str]:
    """Baileys' node_modules (installed like tests/interop does), or why not."""
    try:
        from tests.interop.conftest import baileys_modules as install

        return install(), ""
    except BaseException as exc:  # pytest.skip raises an exception of its own
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, str(exc) or type(exc).__name__


# ---------------------------------------------------------------------- one burst


class WamdBot:
    def __init__(self, kind: str, index: int) -> None:
        self.kind, self.index = kind, index
        self.sock: Any = None
        self.received = 0
        self.want = 0
        self.target = asyncio.Event()

    async def start(self, sim: Lines, url: str, root: bytes, folder: Path) -> None:
        from wamd.client import make_wa_socket
        from wamd.events import MessagesUpsert
        from wamd.store import (
            AuthState,
            MemoryKeyStore,
            init_auth_creds,
            use_multi_file_auth_state,
            use_sqlite_auth_state,
        )

        if self.kind == "sqlite":
            state, _ = await use_sqlite_auth_state(folder / "auth.sqlite")
        elif self.kind == "multifile":
            state, _ = await use_multi_file_auth_state(folder / "auth")
        else:
            state = AuthState(init_auth_creds(), MemoryKeyStore())
        self.sock = make_wa_socket(state, url=url, server_root_key=root)

        def on_upsert(update: MessagesUpsert) -> None:
            self.received += len(update.messages)
            if self.want and self.received >= self.want:
                self.target.set()

        self.sock.ev.on("messages.upsert", on_upsert)
        await self.sock.connect()
        qr = await self.sock.ev.wait_for(
            "connection.update", lambda u: u.qr is not None, timeout=30
        )
        await sim.ask(f"SCAN {self.index} {qr.qr}")
        await self.sock.ev.wait_for(
            "connection.update", lambda u: u.connection == "open", timeout=60
        )

    async def burst(self, sim: Lines, count: int) -> tuple[float, float]:
        self.received, self.want = 0, count
        self.target.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        send = asyncio.ensure_future(sim.ask(f"SEND {self.index} {count}"))
        await asyncio.wait_for(self.target.wait(), 600)
        await self.sock.idle()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        await send
        self.want = 0
        return wall, cpu


class BaileysBot:
    def __init__(self, index: int) -> None:
        self.index = index
        self.node: Lines | None = None

    async def start(self, sim: Lines, url: str, modules: Path, folder: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(BAILEYS_BOT),
            url,
            str(folder / "baileys-auth"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=dict(os.environ, NODE_PATH=str(modules)),
        )
        self.node = Lines(proc)
        qr = await self.node.expect("QR", 60)
        await sim.ask(f"SCAN {self.index} {' '.join(qr[1:])}")
        await self.node.expect("OPEN", 60)

    async def burst(self, sim: Lines, count: int) -> tuple[float, float]:
        assert self.node is not None
        self.node.write(f"EXPECT {count}")
        await self.node.expect("EXPECTING")
        send = asyncio.ensure_future(sim.ask(f"SEND {self.index} {count}"))
        done = await self.node.expect("DONE", 600)
        await send
        return float(done[1]), float(done[2])


# ---------------------------------------------------------------------- the run


async def run(messages: int, pairs: int, stores: list[str]) -> dict[str, dict[str, float]]:
    modules, why = baileys_modules()
    if modules is None:
        print(f"Baileys is not measured: {why}")
    bots = len(stores) + 1
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--sim-child",
        str(bots),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    sim = Lines(proc)
    runners: dict[str, Any] = {}
    try:
        ready = await sim.expect("READY", 60)
        url, root = ready[1], bytes.fromhex(ready[2])
        with tempfile.TemporaryDirectory() as tmp:
            if modules is not None:
                baileys = BaileysBot(len(stores))
                await baileys.start(sim, url, modules, Path(tmp))
                runners["baileys"] = baileys
            for n, kind in enumerate(stores):
                bot = WamdBot(kind, n)
                folder = Path(tmp) / kind
                folder.mkdir()
                await bot.start(sim, url, root, folder)
                runners[kind] = bot
            for runner in runners.values():  # warm up: sessions, caches
                await runner.burst(sim, 5)
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
            for pair in range(pairs):
                for name, runner in runners.items():
                    wall, cpu = await runner.burst(sim, messages)
                    samples[name].append((wall, cpu))
                    print(
                        f"  pair {pair + 1}: {name:9} {messages / wall:8.1f} msgs/s "
                        f"{messages / cpu:8.1f} msgs/CPU-s",
                        flush=True,
                    )
            for runner in runners.values():
                if isinstance(runner, WamdBot):
                    await runner.sock.end()
                    close = getattr(runner.sock.auth.keys, "close", None)
                    if close is not None:
                        await close()
        out: dict[str, dict[str, float]] = {}
        for name, values in samples.items():
            out[name] = {
                "msgs_per_s": statistics.median(messages / w for w, _ in values),
                "msgs_per_cpu_s": statistics.median(messages / c for _, c in values),
            }
        return out
    finally:
        runner = runners.get("baileys")
        if runner is not None and runner.node is not None:
            await runner.node.stop()
        await sim.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--stores", default="memory,sqlite,multifile")
    parser.add_argument("--sim-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_child:
        asyncio.run(sim_child(args.sim_child))
        return
    stores = [s for s in args.stores.split(",") if s]
    results = asyncio.run(run(args.messages, args.pairs, stores))
    previous: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    base = results.get("baileys")
    print(f"e2e receive through wamd.sim, {args.messages} messages, median of {args.pairs}")
    print(f"{'':10} {'msgs/s':>9} {'msgs/CPU-s':>11} {'wall xB':>8} {'CPU xB':>7}")
    for name, figures in results.items():
        line = f"{name:10} {figures['msgs_per_s']:9.1f} {figures['msgs_per_cpu_s']:11.1f}"
        if base is not None and name != "baileys":
            figures["wall_ratio"] = figures["msgs_per_s"] / base["msgs_per_s"]
            figures["cpu_ratio"] = figures["msgs_per_cpu_s"] / base["msgs_per_cpu_s"]
            line += f" {figures['wall_ratio']:7.2f}x {figures['cpu_ratio']:6.2f}x"
        old = previous.get(name, {})
        if old.get("cpu_ratio") and figures.get("cpu_ratio"):
            line += f"   (previous {old['wall_ratio']:.2f}x / {old['cpu_ratio']:.2f}x)"
        elif old.get("msgs_per_cpu_s"):
            line += f"   (previous {old['msgs_per_s']:.1f} / {old['msgs_per_cpu_s']:.1f})"
        print(line)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
