"""Many accounts in one process (``wamd.fleet.Fleet``), on the Postgres store and on SQLite.

    python bench/fleet.py [--accounts 100] [--messages 1000] [--stores postgres,sqlite]
                          [--dsn postgresql://...]

For each store: ``--accounts`` sim phones are paired (by QR, the real way) into one
database (Postgres: the rows of many accounts in one schema; SQLite: one file, many
accounts). Then a **separate process** runs them all in one ``Fleet`` on a local sim
(127.0.0.1) and answers every text with a reply, while this process plays the sim and
its customers. It prints, per store:

- accounts per process and **RSS per account** (the fleet process's resident memory
  with every account online, less what it used before the first login, divided by the
  accounts; from ``/proc/self/status``);
- **login rate**: accounts online per second, from a cold start of all of them at once
  (``login_concurrency`` 16, the worker's default);
- **end-to-end messages/s**: 4 customers write to every account once (the first message
  of a chat: a new Signal session from a prekey, the device lists; printed as
  ``first_messages_per_s``), then ``--messages`` texts over those warm chats (64 in
  flight); the rate is counted until every reply is back at its customer: decrypt, key
  store transactions, handler, encrypt, send, all through the store under test.

Without ``--dsn`` a throwaway PostgreSQL server is started with ``scripts/postgres.sh``
(the one the tests use). The machine's other load shows in the figures: compare stores
within one run. Compares with the previous run saved in bench/.results/fleet.json.
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
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from wamd.events import MessagesUpsert  # noqa: E402
from wamd.fleet import AccountEvent, Fleet, PostgresAuths, SQLiteAuths  # noqa: E402
from wamd.fleet.auths import AuthBackend  # noqa: E402
from wamd.sim import SimPhone, SimServer  # noqa: E402

SCRIPT = HERE.parent / "scripts" / "postgres.sh"
SELF = Path(__file__).resolve()
LOGIN_CONCURRENCY = 16
IN_FLIGHT = 64
CUSTOMERS = 4


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def backend(store: str, where: str, pool: int) -> AuthBackend:
    if store == "postgres":
        return PostgresAuths(where, pool_size=pool)
    return SQLiteAuths(where)


# ---------------------------------------------------------------------- the fleet process


async def child(args: argparse.Namespace) -> None:
    """Run every account in one Fleet, answer each text, report figures on stdout."""
    names = [f"acct-{i}" for i in range(args.accounts)]
    options = {"url": args.sim_url, "server_root_key": bytes.fromhex(args.sim_root_key)}
    before = rss_bytes()
    async with Fleet(
        backend(args.store, args.where, args.pool),
        socket_options=options,
        login_concurrency=LOGIN_CONCURRENCY,
    ) as fleet:

        async def answer(event: AccountEvent[MessagesUpsert]) -> None:
            for msg in event.payload.messages:
                if msg.key.from_me or not msg.text:
                    continue
                await event.sock.send_message(
                    msg.key.remote_jid, {"text": f"re: {msg.text}"}, quoted=msg
                )

        fleet.on("messages.upsert", answer)
        for name in names:
            await fleet.add(name)
        started = time.perf_counter()
        for name in names:
            await fleet.start(name)
        async with asyncio.timeout(600):
            while fleet.connected < len(names):  # noqa: ASYNC110 (the fleet's own count)
                await asyncio.sleep(0.01)
        login_s = time.perf_counter() - started
        await asyncio.sleep(1)  # the logins' follow-up work (prekey checks...) settles
        after = rss_bytes()
        report = {"login_s": login_s, "rss_before": before, "rss_after": after}
        print(json.dumps(report), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF


# ---------------------------------------------------------------------- this process


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="wamd-bench-postgres-", dir="/tmp")
    try:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", folder],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if started.returncode != 0:
            raise SystemExit(f"no PostgreSQL server: {started.stderr.strip()}")
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], timeout=120, check=False)


async def pair_all(sim: SimServer, auths: AuthBackend, phones: list[SimPhone]) -> None:
    options = {"url": sim.url, "server_root_key": sim.root_public_key}
    async with Fleet(auths, socket_options=options) as fleet:

        async def one(i: int, phone: SimPhone) -> None:
            name = f"acct-{i}"
            await fleet.add(name)
            scans: list[asyncio.Task[Any]] = []

            def on_qr(qr: str) -> None:
                if not scans:
                    scans.append(asyncio.ensure_future(phone.scan_qr(qr)))

            await fleet.pair(name, on_qr=on_qr)

        for start in range(0, len(phones), 8):
            batch = list(enumerate(phones))[start : start + 8]
            await asyncio.gather(*(one(i, p) for i, p in batch))


@contextlib.asynccontextmanager
async def fleet_process(
    args: argparse.Namespace, sim: SimServer, store: str, where: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SELF),
        "--child",
        "--store",
        store,
        "--where",
        where,
        "--accounts",
        str(args.accounts),
        "--pool",
        str(args.pool),
        "--sim-url",
        sim.url,
        "--sim-root-key",
        sim.root_public_key.hex(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE.parent)},
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 900)
        if not line:
            raise SystemExit(f"the fleet process ended ({await proc.wait()})")
        yield proc, json.loads(line)
    finally:
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 60)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def exchange(pairs: list[tuple[SimPhone, SimPhone]], customers: list[SimPhone]) -> float:
    """One text per (customer, account) pair; seconds until every reply is back."""
    waiting: dict[str, asyncio.Future[None]] = {}
    loop = asyncio.get_running_loop()
    seen = {c.number: 0 for c in customers}

    async def watch(customer: SimPhone) -> None:
        while True:
            while seen[customer.number] < len(customer.received):
                msg = customer.received[seen[customer.number]]
                seen[customer.number] += 1
                quoted = msg.message.extendedTextMessage.contextInfo.stanzaID
                future = waiting.get(quoted)
                if future is not None and not future.done():
                    future.set_result(None)
            await asyncio.sleep(0.005)

    watchers = [asyncio.ensure_future(watch(c)) for c in customers]
    window = asyncio.Semaphore(IN_FLIGHT)
    started = time.perf_counter()

    async def one(n: int, customer: SimPhone, phone: SimPhone) -> None:
        async with window:
            future = loop.create_future()
            mid = await customer.send_text(phone.jid, f"message {n}")
            waiting[mid] = future
            await asyncio.wait_for(future, 120)

    try:
        await asyncio.gather(*(one(n, c, p) for n, (c, p) in enumerate(pairs)))
    finally:
        for w in watchers:
            w.cancel()
    return time.perf_counter() - started


async def run_store(args: argparse.Namespace, store: str, where: str) -> dict[str, Any]:
    async with SimServer(history_sync=None) as sim:
        phones = [sim.add_phone(f"1555{i:07d}", f"acct-{i}") for i in range(args.accounts)]
        customers = [sim.add_phone(f"1666{i:07d}", f"Customer {i}") for i in range(CUSTOMERS)]
        t = time.perf_counter()
        await pair_all(sim, backend(store, where, args.pool), phones)
        pair_s = time.perf_counter() - t
        async with fleet_process(args, sim, store, where) as (_proc, report):
            # every chat's first message sets up its sessions (prekeys, device lists):
            # one round over every chat first, then the timed messages on warm chats
            chats = [(c, p) for c in customers for p in phones]
            warmup = await exchange(chats, customers)
            timed = [chats[(n * 7919) % len(chats)] for n in range(args.messages)]
            seconds = await exchange(timed, customers)
        per_account = (report["rss_after"] - report["rss_before"]) / args.accounts
        return {
            "store": store,
            "accounts": args.accounts,
            "pair_s": round(pair_s, 1),
            "login_per_s": round(args.accounts / report["login_s"], 1),
            "rss_mb": round(report["rss_after"] / 2**20, 1),
            "rss_per_account_kb": round(per_account / 1024, 1),
            "messages": args.messages,
            "first_messages_per_s": round(len(chats) / warmup, 1),
            "messages_per_s": round(args.messages / seconds, 1),
        }


async def main(args: argparse.Namespace) -> None:
    results = []
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    with contextlib.ExitStack() as stack:
        for store in stores:
            if store == "postgres":
                dsn = args.dsn or stack.enter_context(postgres_server())
                # a database of its own for this run
                import psycopg

                name = f"wamd_bench_{os.getpid()}"
                with psycopg.connect(dsn, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                    admin.execute(f'CREATE DATABASE "{name}"')
                where = dsn.rsplit("/", 1)[0] + f"/{name}"
            elif store == "sqlite":
                where = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "fleet.db")
            else:
                raise SystemExit(f"no store {store!r} (postgres, sqlite)")
            result = await run_store(args, store, where)
            results.append(result)
            print(json.dumps(result), flush=True)
    print()
    print(
        f"{'store':10} {'accounts':>8} {'RSS MB':>7} {'KB/account':>10} {'logins/s':>9} "
        f"{'first msgs/s':>12} {'msgs/s':>7}"
    )
    keys = ("rss_per_account_kb", "login_per_s", "first_messages_per_s", "messages_per_s")
    figures = {f"{r['store']}_{key}": r[key] for r in results for key in keys}
    moved = compare("fleet", figures)
    for r in results:
        print(
            f"{r['store']:10} {r['accounts']:8} {r['rss_mb']:7} {r['rss_per_account_kb']:10} "
            f"{r['login_per_s']:9} {r['first_messages_per_s']:12} {r['messages_per_s']:7}"
        )
    for key, text in moved.items():
        if text:
            print(f"  {key:36} {figures[key]:>10,}   {text}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument("--dsn", default=None, help="a PostgreSQL server to use")
    parser.add_argument("--pool", type=int, default=10, help="Postgres connections")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--where", help=argparse.SUPPRESS)
    parser.add_argument("--sim-url", help=argparse.SUPPRESS)
    parser.add_argument("--sim-root-key", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    asyncio.run(child(arguments) if arguments.child else main(arguments))
