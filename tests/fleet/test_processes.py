"""Worker processes (``wamd fleet worker``), one PostgreSQL database, one sim: the issue's check.

Accounts are paired into the database here, then worker processes run them while the
sim's customers write to them the whole time:

1. three workers share the accounts;
2. one is killed with SIGKILL: its accounts are online on the others again within a bound
   (the issue asks for 15 s; the figure is printed);
3. a fourth joins: it takes its share;
4. one is drained (SIGTERM): it exits 0 and its accounts go to the others;

and then every message was delivered to a handler at least once and answered exactly once
(one distinct reply per message, through ``wamd.assign``, see ``app.py``), and no
connection was ever replaced (440) — counted by the sim and by the workers.

The suite runs 3 workers x 8 accounts. ``WAMD_FLEET_ACCOUNTS=300`` runs the issue's scale
(and asserts the 15 s bound, which the small run only prints).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from wamd.fleet.leases import PostgresLeases
from wamd.sim import SimPhone, SimServer

from .app import reply_id
from .helpers import live, provision, until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = int(os.environ.get("WAMD_FLEET_ACCOUNTS", "24"))
FULL = "WAMD_FLEET_ACCOUNTS" in os.environ
TTL = 4.0 if FULL else 2.0  # lease seconds
TAKEOVER_BOUND = 15.0 if FULL else 60.0  # seconds: the bound / a loose one for CI
WAIT = 240.0 if FULL else 60.0
POOL = 10 if FULL else 4  # database connections per worker (10, 16: the CLI defaults)
LOGINS = 16 if FULL else 8  # logins at a time per worker
# seconds between two customer messages: the sim and its customers (real Signal work)
# share this process and the machine with the workers; 25/s is about what they sustain
# here (bench/fleet.py), more would starve the logins the test measures
PACE = 0.04 if FULL else 0.05


class Worker:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, out: Path) -> None:
        self.name, self.proc, self.out = name, proc, out


async def spawn(sim: SimServer, dsn: str, name: str, folder: Path, assign: Path) -> Worker:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "WAMD_FLEET_TEST_LOG": str(folder),
        "WAMD_FLEET_TEST_ASSIGN": str(assign),
    }
    out = folder / f"{name}.out"
    with out.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wamd.cli",
            "fleet",
            "worker",
            "--dsn",
            dsn,
            "--name",
            name,
            "--lease-ttl",
            str(TTL),
            "--pool-size",
            str(POOL),
            "--login-concurrency",
            str(LOGINS),
            "--app",
            "tests.fleet.app:setup",
            "--sim-url",
            sim.url,
            "--sim-root-key",
            sim.root_public_key.hex(),
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    return Worker(name, proc, out)


def replies(customers: list[SimPhone]) -> dict[str, Counter[str]]:
    """Quoted message id -> Counter of the reply ids that answered it."""
    got: dict[str, Counter[str]] = defaultdict(Counter)
    for phone in customers:
        for m in phone.received:
            if m.message.HasField("extendedTextMessage"):
                quoted = m.message.extendedTextMessage.contextInfo.stanzaID
                if quoted:
                    got[quoted][m.id] += 1
    return got


def handled(folder: Path) -> tuple[Counter[str], int]:
    """Message id -> how often a handler got it; and the 440s the workers saw."""
    seen: Counter[str] = Counter()
    replaced = 0
    for file in folder.glob("*.jsonl"):
        for line in file.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by SIGKILL
            if record.get("replaced"):
                replaced += 1
            elif "id" in record:
                seen[record["id"]] += 1
    return seen, replaced


def show_outputs(folder: Path) -> None:
    """The last status lines of every worker, for a failure's report."""
    for file in sorted(folder.glob("*.out")):
        tail = file.read_text(errors="replace").splitlines()[-15:]
        print(f"--- {file.name}\n" + "\n".join(tail), file=sys.__stderr__)


async def test_kill_join_drain_nothing_lost_nothing_replaced(
    sim: SimServer, postgres_db: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    phones = await provision(sim, postgres_db, ACCOUNTS)
    provisioned = time.monotonic() - started
    customers = [sim.add_phone(f"1666{i:07d}", f"Customer {i}") for i in range(5)]
    assign = tmp_path / "assign.sqlite"
    rng = random.Random(20)
    workers: list[Worker] = []
    sent: dict[str, tuple[str, str]] = {}  # message id -> (account, customer)
    stop_talking = asyncio.Event()
    figures: dict[str, Any] = {"accounts": ACCOUNTS, "provision_s": round(provisioned, 1)}

    def everyone_online() -> bool:
        return all(live(p) == 1 for p in phones.values())

    async def talk() -> None:
        # every account in turn (a shuffled round), so that each one receives messages
        names = list(phones)
        while not stop_talking.is_set():
            rng.shuffle(names)
            for name in names:
                if stop_talking.is_set():
                    break
                customer = rng.choice(customers)
                mid = await customer.send_text(phones[name].jid, f"hello {name} {len(sent)}")
                sent[mid] = (name, customer.number)
                await asyncio.sleep(PACE)

    talking: asyncio.Task[None] | None = None
    try:
        for i in range(3):
            workers.append(await spawn(sim, postgres_db, f"w{i}", tmp_path, assign))
        t = time.monotonic()
        await until(everyone_online, "every account online on three workers", WAIT)
        figures["first_login_s"] = round(time.monotonic() - t, 1)
        talking = asyncio.ensure_future(talk())
        async with PostgresLeases(postgres_db) as admin:

            async def shares() -> dict[str, int]:
                return {w.worker: w.leases for w in await admin.workers() if w.left > 0}

            async def spread(n: int) -> bool:
                got = await shares()
                return len(got) == n and max(got.values()) - min(got.values()) <= 1 + ACCOUNTS // 50

            await until(lambda: spread(3), "an even split over three workers", WAIT)
            figures["per_worker_3"] = await shares()
            await asyncio.sleep(1)

            # 1. SIGKILL one: its accounts come back on the others
            victim = workers[0]
            victims = [w.account for w in await admin.leases() if w.owner == victim.name]
            victim.proc.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            assert await victim.proc.wait() == -signal.SIGKILL
            await until(
                lambda: all(live(phones[a]) == 0 for a in victims) or everyone_online(),
                "the victim's connections dropped",
            )
            progress: list[tuple[float, int]] = []  # (seconds since the kill, accounts offline)

            def back_online() -> bool:
                offline = sum(1 for p in phones.values() if live(p) != 1)
                at = round(time.monotonic() - killed, 1)
                if not progress or (progress[-1][1] != offline and at - progress[-1][0] >= 0.5):
                    progress.append((at, offline))
                return offline == 0

            figures["takeover_progress"] = progress
            await until(back_online, "the victim's accounts online again", TAKEOVER_BOUND)
            figures["takeover_s"] = round(time.monotonic() - killed, 2)
            figures["victim_accounts"] = len(victims)
            workers.remove(victim)
            await until(lambda: spread(2), "an even split over two workers", WAIT)

            # 2. a fourth worker (with the two survivors: three) joins and takes its share
            workers.append(await spawn(sim, postgres_db, "w3", tmp_path, assign))
            await until(lambda: spread(3), "the new worker took its share", WAIT)
            await until(everyone_online, "every account online after the rebalance", WAIT)
            figures["per_worker_after_join"] = await shares()

            # 3. drain one (SIGTERM): it exits 0, the others run its accounts
            drained = workers[0]
            drained.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(drained.proc.wait(), WAIT) == 0
            workers.remove(drained)
            await until(everyone_online, "every account online after the drain", WAIT)
            await until(lambda: spread(2), "an even split after the drain", WAIT)
            figures["per_worker_after_drain"] = await shares()
            assert drained.name not in await shares()

        await asyncio.sleep(1)
        stop_talking.set()
        await talking
        talking = None

        def all_answered() -> bool:
            got = replies(customers)
            return all(got.get(mid) for mid in sent)

        await until(all_answered, f"every one of {len(sent)} messages answered", WAIT)
        seen, worker_440 = handled(tmp_path)
        got = replies(customers)
        missing = [mid for mid in sent if not seen[mid]]
        twice = [mid for mid in sent if len(got[mid]) > 1]
        wrong = [
            mid
            for mid, (account, customer) in sent.items()
            if set(got[mid]) != {reply_id(account, f"{customer}@s.whatsapp.net", mid)}
        ]
        per_account = Counter(account for account, _ in sent.values())
        figures.update(
            messages=len(sent),
            accounts_messaged=len(per_account),
            least_messages_per_account=min(per_account[a] for a in phones),
            handler_deliveries=sum(seen[mid] for mid in sent),
            delivered_more_than_once=sum(1 for mid in sent if seen[mid] > 1),
            distinct_replies=sum(len(got[mid]) for mid in sent),
            reply_stanzas=sum(sum(got[mid].values()) for mid in sent),
            replaced_sim=sim.logins.replaced,
            replaced_workers=worker_440,
        )
        print("\nfleet figures:", json.dumps(figures), file=sys.__stderr__)
        assert missing == [], f"{len(missing)} messages never reached a handler"
        assert twice == [], f"{len(twice)} messages got two different replies"
        assert wrong == [], f"{len(wrong)} replies were not the expected ones"
        assert sim.logins.replaced == 0 and worker_440 == 0, "a connection was replaced (440)"
        for worker in workers:
            worker.proc.send_signal(signal.SIGTERM)
        for worker in workers:
            assert await asyncio.wait_for(worker.proc.wait(), WAIT) == 0
    except BaseException:
        print("\nfleet figures so far:", json.dumps(figures), file=sys.__stderr__)
        if os.environ.get("WAMD_FLEET_DEBUG"):
            import psycopg

            with psycopg.connect(postgres_db, autocommit=True) as conn:
                for row in conn.execute(
                    "SELECT pid, state, wait_event_type, wait_event, left(query, 120), "
                    "now() - query_start FROM pg_stat_activity WHERE datname = current_database()"
                ):
                    print(row, file=sys.__stderr__)
                for row in conn.execute(
                    "SELECT a.account, a.state, l.owner, l.token, l.status, "
                    "l.expires_at - clock_timestamp() FROM wamd_fleet_accounts a "
                    "LEFT JOIN wamd_fleet_leases l USING (account) ORDER BY 1"
                ):
                    print("lease", row, file=sys.__stderr__)
            print("offline:", [n for n, p in phones.items() if live(p) != 1], file=sys.__stderr__)
            for worker in workers:
                if worker.proc.returncode is None:
                    worker.proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(1)
        show_outputs(tmp_path)
        raise
    finally:
        stop_talking.set()
        if talking is not None:
            talking.cancel()
        for worker in workers:
            if worker.proc.returncode is None:
                worker.proc.kill()
                await worker.proc.wait()
