"""Idle accounts in one process: resident memory and first-login CPU per account.

    python bench/idle.py [--accounts 1000] [--store memory|multifile|sqlite] [--rounds 1]
                         [--dir DIR] [--profile FILE] [--tracemalloc 25]

Three processes, as a fleet worker meets them:

1. a ``wamd.sim`` server in a child process with ``--accounts`` phones (its own memory
   and CPU stay out of the figures; it holds every uploaded prekey);
2. this process pairs one companion per phone, by QR, the real way, 32 at a time, on the
   chosen store (``memory``: dumped to a JSON file at the end, since nothing else
   survives the process; ``multifile``: one folder per account; ``sqlite``: one file,
   rows keyed by account), and lets each one's first login finish: its 812 one-time
   prekeys generated, stored and uploaded, the phone's app-state key share handled and
   acknowledged (``sim.settle(acked=True)``). Its CPU per account is printed as
   ``pairing_cpu_ms`` (QR, pair-success, the 515 restart, the first login and its
   upload; this process only, not the sim's);
3. a **fresh process** opens every account's store and socket (16 logins at a time, the
   fleet's ``login_concurrency``) and keeps them all connected and idle. It prints:

   - ``rss_per_account_kb``: its resident memory (``/proc/self/status`` VmRSS) once every
     socket is open and idle, less what it had before the first store was opened
     (every module already imported), divided by the accounts;
   - ``login_cpu_ms``: ``time.process_time()`` from the first store opened until every
     socket is open and has handled what its login brought, divided by the accounts.

"First login" is the login of an already-paired account in a process that has not
run it before: what a fleet worker pays for each account when it starts or takes
accounts over (store opened, creds read, Noise handshake, ``<success>``, the prekey
count check, ``passive``, the presence). It is not the pairing login, which happens
once per device in its life and is dominated by generating and uploading its prekeys.
For ``memory`` the accounts' JSON is loaded after the baseline (so its memory counts)
but before the CPU clock starts (the loading is the bench's, not a store's).

``--rounds R`` runs step 3 R times on the same sim and stores. ``--profile FILE``
writes a cProfile of the opens (``FILE.1``, ``FILE.2``: one per round); ``--tracemalloc N`` prints the N
biggest allocation sites still alive once all are idle (it slows the opens: its CPU
figure is not comparable). Compares with the previous run of the same store saved in
bench/.results/idle_<store>.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
HERE = Path(__file__).resolve().parent
from results import compare  # noqa: E402  (standard library only: before the path is cut)

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

SELF = Path(__file__).resolve()
PAIR_CONCURRENCY = 32
LOGIN_CONCURRENCY = 16
SETTLE_SECONDS = 2.0  # after every socket is open and idle: late follow-ups land


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def number(i: int) -> str:
    return f"1555{i:07d}"


def name(i: int) -> str:
    return f"acct-{i}"


# ---------------------------------------------------------------------- the sim process


async def sim_host(args: argparse.Namespace) -> None:
    """The sim with ``--accounts`` phones; JSON requests on stdin, one answer line each."""
    from wamd.sim import SimServer

    async with SimServer("127.0.0.1", 0, history_sync=None) as sim:
        strangers_only(sim)
        phones = {number(i): sim.add_phone(number(i), name(i)) for i in range(args.accounts)}
        print(json.dumps({"url": sim.url, "root": sim.root_public_key.hex()}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        jobs: set[asyncio.Task[None]] = set()

        async def answer(request: dict[str, Any]) -> None:
            reply: dict[str, Any] = {"id": request["id"]}
            try:
                if request["op"] == "scan":
                    await phones[request["number"]].scan_qr(request["qr"])
                elif request["op"] == "settle":
                    await sim.settle(timeout=120, acked=True)
                elif request["op"] == "rss":
                    reply["rss"] = rss_bytes()
            except Exception as exc:  # the asker reports it
                reply["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(reply), flush=True)

        while line := await reader.readline():
            job = asyncio.ensure_future(answer(json.loads(line)))
            jobs.add(job)
            job.add_done_callback(jobs.discard)


def strangers_only(sim: Any) -> None:
    """Device notifications go to the account's own devices only.

    The sim tells every device of every account when a companion links (tests want to
    see it); the real server tells the account's own devices and its contacts, and the
    bench's accounts are strangers. Left as it is, every account would find the links
    of all the accounts paired after it in its offline backlog: N notifications each
    for the fresh process's first login, O(N^2) in all, which is the sim's, not a
    fleet's.
    """
    from wamd.binary import Node
    from wamd.messaging.core import participant_hash

    async def notify_devices(phone: Any, action: str, changed: Any) -> None:
        device = Node("device", {"jid": str(changed.jid), "lid": str(changed.lid)})
        device_hash = participant_hash([d.jid for d in phone.devices()])
        stanza = sim.state.notification(
            str(phone.jid), "devices", [Node(action, {"device_hash": device_hash}, [device])]
        )
        for target in list(phone.devices()):
            if target is not changed:
                await sim.router.deliver(target, stanza)

    sim.router.notify_devices = notify_devices


class SimProcess:
    """The sim child and its request channel."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, root: bytes) -> None:
        self.proc = proc
        self.url = url
        self.root = root
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0
        self._reading = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            reply = json.loads(line)
            future = self._waiting.pop(reply["id"], None)
            if future is not None and not future.done():
                future.set_result(reply)

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self._next += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        self.proc.stdin.write((json.dumps({"id": self._next, "op": op, **fields}) + "\n").encode())
        reply = await asyncio.wait_for(future, 180)
        if "error" in reply:
            raise RuntimeError(f"sim {op}: {reply['error']}")
        return reply

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, accounts: int) -> AsyncIterator[SimProcess]:
        proc = await child_process("--role", "sim", "--accounts", str(accounts))
        assert proc.stdout is not None and proc.stdin is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            if not line:
                raise SystemExit(f"the sim process ended ({await proc.wait()})")
            hello = json.loads(line)
            sim = cls(proc, hello["url"], bytes.fromhex(hello["root"]))
            yield sim
        finally:
            proc.stdin.close()
            await stop_child(proc)


async def child_process(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(SELF),
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )


async def stop_child(proc: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()


# ---------------------------------------------------------------------- stores


Opened = tuple[Any, Callable[..., Awaitable[None]], Callable[[], Awaitable[None]]]


async def open_store(store: str, where: Path, i: int) -> Opened:
    """``(state, save_creds, close)`` of account ``i`` on ``store`` under ``where``."""
    if store == "multifile":
        from wamd.store.multifile import use_multi_file_auth_state

        state, save = await use_multi_file_auth_state(where / name(i))
    elif store == "sqlite":
        from wamd.store.sqlite import use_sqlite_auth_state

        state, save = await use_sqlite_auth_state(where / "fleet.sqlite", account=name(i))
    else:
        from wamd.store import AuthState, MemoryKeyStore, init_auth_creds

        state = AuthState(init_auth_creds(), MemoryKeyStore())

        async def save(*_update: object) -> None:
            return None

    async def close() -> None:
        closer = getattr(state.keys, "close", None)
        if closer is not None:
            await closer()

    return state, save, close


def dump_memory(states: list[Any], path: Path) -> None:
    from wamd.store.serialize import encode_value

    with path.open("w") as out:  # a line per account: loaded one at a time
        for s in states:
            out.write(json.dumps({"creds": s.creds.to_json(), "keys": encode_value(s.keys.data)}))
            out.write("\n")


def load_memory(path: Path) -> list[Any]:
    from wamd.store import AuthState, MemoryKeyStore
    from wamd.store.creds import AuthenticationCreds
    from wamd.store.serialize import decode_value

    states = []
    with path.open() as lines:
        for line in lines:
            account = json.loads(line)
            keys = MemoryKeyStore()
            keys.data = decode_value(account["keys"])
            states.append(AuthState(AuthenticationCreds.from_json(account["creds"]), keys))
    return states


def socket_options(url: str, root: bytes) -> dict[str, Any]:
    return {"url": url, "server_root_key": root}


async def wait_open(sock: Any) -> None:
    """Until ``sock`` is open (a close other than 515 on the way is an error)."""
    from wamd.errors import DisconnectReason

    opened = asyncio.get_running_loop().create_future()

    def on_update(update: Any) -> None:
        if opened.done():
            return
        if update.connection == "open":
            opened.set_result(None)
        elif update.connection == "close" and update.last_disconnect is not None:
            code = update.last_disconnect.status_code
            if code != DisconnectReason.RESTART_REQUIRED:
                opened.set_exception(RuntimeError(f"closed ({code}) before it was open"))

    sock.ev.on("connection.update", on_update)
    try:
        await sock.connect()
        await asyncio.wait_for(opened, 120)
    finally:
        sock.ev.off("connection.update", on_update)


# ---------------------------------------------------------------------- pairing (this process)


async def pair_all(args: argparse.Namespace, sim: SimProcess, where: Path) -> float:
    """Pair every account; CPU seconds this process spent on it."""
    from wamd.client import make_wa_socket

    kept: list[Any] = []
    started = time.process_time()
    for first in range(0, args.accounts, PAIR_CONCURRENCY):
        batch = range(first, min(first + PAIR_CONCURRENCY, args.accounts))

        async def one(i: int) -> tuple[Any, Any, Callable[[], Awaitable[None]]]:
            state, save, close = await open_store(args.store, where, i)
            sock = make_wa_socket(state, **socket_options(sim.url, sim.root))
            sock.ev.on("creds.update", save)
            scans: list[asyncio.Task[Any]] = []

            def on_qr(update: Any) -> None:
                if update.qr is not None and not scans:
                    scans.append(
                        asyncio.ensure_future(sim.call("scan", number=number(i), qr=update.qr))
                    )

            sock.ev.on("connection.update", on_qr)
            await wait_open(sock)
            await scans[0]
            return state, sock, close

        opened = await asyncio.gather(*(one(i) for i in batch))
        await sim.call("settle")  # the phones' key shares handled and acknowledged
        for state, sock, close in opened:
            await sock.idle()
            await sock.end()
            await sock.ev.drain()
            await close()
            kept.append(state)
        if first // PAIR_CONCURRENCY % 25 == 0:
            print(f"  paired {first + len(batch)}/{args.accounts}", file=sys.stderr, flush=True)
    spent = time.process_time() - started
    if args.store == "memory":
        dump_memory(kept, where / "memory.json")
    return spent


# ---------------------------------------------------------------------- the idle process


async def idle_host(args: argparse.Namespace) -> None:
    """Open every account, keep them connected and idle, report on stdout."""
    import cProfile
    import tracemalloc

    from wamd.client import make_wa_socket
    from wamd.store import multifile, sqlite  # noqa: F401  (imported before the baseline)

    where = Path(args.where)
    root = bytes.fromhex(args.sim_root_key)
    gc.collect()
    before = rss_bytes()
    preloaded = load_memory(where / "memory.json") if args.store == "memory" else None
    if args.tracemalloc:
        tracemalloc.start(8)
    profile = cProfile.Profile() if args.profile else None
    window = asyncio.Semaphore(LOGIN_CONCURRENCY)
    socks: list[Any] = []

    async def one(i: int) -> None:
        async with window:
            if preloaded is not None:
                state = preloaded[i]

                async def save(*_update: object) -> None:
                    return None

            else:
                state, save, _close = await open_store(args.store, where, i)
            sock = make_wa_socket(state, **socket_options(args.sim_url, root))
            sock.ev.on("creds.update", save)
            await wait_open(sock)
            socks.append(sock)

    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    await asyncio.gather(*(one(i) for i in range(args.accounts)))
    for sock in socks:
        await sock.idle()
    if profile is not None:
        profile.disable()
        profile.dump_stats(args.profile)
    login_cpu, login_wall = time.process_time() - cpu, time.perf_counter() - wall
    await asyncio.sleep(SETTLE_SECONDS)
    gc.collect()
    after = rss_bytes()
    if args.tracemalloc:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        top = snapshot.statistics("lineno")
        total = sum(s.size for s in top)
        print(f"tracemalloc: {total / 2**20:.1f} MiB alive", file=sys.stderr)
        for stat in top[: args.tracemalloc]:
            frame = stat.traceback[0]
            print(
                f"  {stat.size / args.accounts:9.0f} B/account {stat.count / args.accounts:7.1f}"
                f" blocks/account  {frame.filename}:{frame.lineno}",
                file=sys.stderr,
            )
    connected = sum(1 for s in socks if s.conn is not None and not s.conn.closed)
    print(
        json.dumps(
            {
                "rss_before": before,
                "rss_after": after,
                "login_cpu": login_cpu,
                "login_wall": login_wall,
                "connected": connected,
            }
        ),
        flush=True,
    )
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF
    os._exit(0)  # no orderly close of thousands of sockets: the process ends


async def idle_round(
    args: argparse.Namespace, sim: SimProcess, where: Path, number: int
) -> dict[str, Any]:
    argv = ["--role", "idle", "--store", args.store, "--where", str(where)]
    argv += ["--accounts", str(args.accounts), "--sim-url", sim.url]
    argv += ["--sim-root-key", sim.root.hex(), "--tracemalloc", str(args.tracemalloc)]
    if args.profile:
        argv += ["--profile", f"{args.profile}.{number + 1}"]
    proc = await child_process(*argv)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 3600)
        if not line:
            raise SystemExit(f"the idle process ended ({await proc.wait()})")
        report: dict[str, Any] = json.loads(line)
        report["sim_rss"] = (await sim.call("rss"))["rss"]
        return report
    finally:
        proc.stdin.close()
        await stop_child(proc)


async def main(args: argparse.Namespace) -> None:
    if args.store not in ("memory", "multifile", "sqlite"):
        raise SystemExit(f"no store {args.store!r} (memory, multifile, sqlite)")
    with contextlib.ExitStack() as stack:
        if args.dir:
            where = Path(args.dir)
            os.makedirs(where, exist_ok=True)
        else:
            where = Path(tempfile.mkdtemp(prefix="wamd-bench-idle-", dir="/tmp"))
            stack.callback(shutil.rmtree, where, True)
        async with SimProcess.start(args.accounts) as sim:
            wall = time.perf_counter()
            pair_cpu = await pair_all(args, sim, where)
            pair_wall = time.perf_counter() - wall
            print(
                f"paired {args.accounts} on {args.store} in {pair_wall:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            reports = [await idle_round(args, sim, where, r) for r in range(args.rounds)]
    n = args.accounts
    for r in reports:
        if r["connected"] != n:
            raise SystemExit(f"only {r['connected']} of {n} sockets stayed connected")
    best = min(reports, key=lambda r: r["login_cpu"])
    figures = {
        "rss_per_account_kb": round(
            min((r["rss_after"] - r["rss_before"]) / n for r in reports) / 1024, 1
        ),
        "login_cpu_ms": round(1000 * best["login_cpu"] / n, 2),
        "pairing_cpu_ms": round(1000 * pair_cpu / n, 1),
    }
    for i, r in enumerate(reports):
        print(
            json.dumps(
                {
                    "round": i + 1,
                    "rss_mb": round(r["rss_after"] / 2**20, 1),
                    "rss_before_mb": round(r["rss_before"] / 2**20, 1),
                    "rss_per_account_kb": round((r["rss_after"] - r["rss_before"]) / n / 1024, 1),
                    "login_cpu_ms": round(1000 * r["login_cpu"] / n, 2),
                    "logins_per_s": round(n / r["login_wall"], 1),
                    "sim_rss_mb": round(r["sim_rss"] / 2**20, 1),
                }
            )
        )
    print(f"{args.store}, {n} accounts (best of {len(reports)} round(s)):")
    for key, moved in compare(f"idle_{args.store}", figures).items():
        print(f"  {key:20} {figures[key]:>10,}   {moved}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--store", default="multifile", help="memory, multifile or sqlite")
    parser.add_argument("--rounds", type=int, default=1, help="fresh processes to measure")
    parser.add_argument("--dir", default=None, help="where the stores go (kept)")
    parser.add_argument("--profile", default=None, help="cProfile of the opens to this file")
    parser.add_argument("--tracemalloc", type=int, default=0, help="top N allocation sites")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    parser.add_argument("--sim-url", help=argparse.SUPPRESS)
    parser.add_argument("--sim-root-key", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    role = {"main": main, "sim": sim_host, "idle": idle_host}[arguments.role]
    asyncio.run(role(arguments))
