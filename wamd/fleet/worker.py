"""``FleetWorker``: one process's share of a fleet, by leases in PostgreSQL.

Any number of workers, on any machines, point at one database. Each runs a ``Fleet`` and
a loop that every ``lease_ttl / 4`` seconds

1. **heartbeats** (its row in ``wamd_fleet_workers``, expiring like a lease);
2. **renews** its leases in one statement; an account whose lease did not come back
   (expired, taken, removed) is **stopped at once**: its socket is closed;
3. computes its **fair share**, ``ceil(paired accounts / live workers that are not
   draining)``, then **takes** free or expired leases up to it, or **hands back** what it
   holds beyond it (socket closed first, then the lease released), so a worker that joins
   gets its share from the others within a few ticks.

The rule that keeps two workers from pushing each other off (WhatsApp's 440, "replaced"):
a worker closes an account's socket **before its lease's local deadline minus a safety
margin** (``lease_ttl / 4``) unless a renewal moved the deadline, and its gate refuses to
open a connection without that much time left. The local deadline is never later than
the database's expiry (see ``wamd.fleet.leases``), and nobody else can take the lease
before that expiry, so the old socket is closed before the new one opens. A watchdog
checks the deadlines ten times per safety margin, independently of the database: a worker
cut off from the database still lets go in time.

A worker that dies keeps its leases until they expire (at most ``lease_ttl`` after its
last renewal); the others then take them on their next tick. Messages it had not
acknowledged are delivered again by the server to the next holder (at least once).

``drain()`` (SIGTERM in ``wamd fleet worker``; ``wamd fleet drain NAME`` from anywhere)
marks the worker draining, so the others' share grows, and hands its accounts back in
batches, each batch's sockets closed before its leases are released, waiting (bounded)
for the others to pick each batch up. Nothing acknowledged is lost: what was in flight
is delivered again to the next holder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from wamd.errors import FleetError
from wamd.events import LastDisconnect
from wamd.fleet.auths import AuthBackend, PostgresAuths
from wamd.fleet.fleet import AccountStatus, Fleet, FleetAccount, describe
from wamd.fleet.leases import Lease, PostgresLeases, fair_share
from wamd.fleet.metrics import FleetMetrics

__all__ = ["FleetWorker"]

log = logging.getLogger(__name__)

StatusLine = Callable[[str, str], None]  # (account or "", text)


class FleetWorker:
    """A fleet process: leases from ``dsn``, accounts in ``auths`` (default: the same DSN).

    ``name`` identifies the worker in the database (default ``host:pid:random``).
    ``fleet_options`` go to ``Fleet`` (``socket_options``, ``login_concurrency``...).
    Register handlers on ``worker.fleet`` before ``start()``.
    """

    def __init__(
        self,
        dsn: str,
        *,
        name: str | None = None,
        lease_ttl: float = 10.0,
        auths: AuthBackend | None = None,
        pool_size: int = 10,
        drain_batch: int = 16,
        status: StatusLine | None = None,
        metrics: FleetMetrics | None = None,
        **fleet_options: Any,
    ) -> None:
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.name = name or f"{self.host}:{self.pid}:{uuid.uuid4().hex[:6]}"
        if not self.name or len(self.name) > 200 or not self.name.isprintable():
            raise FleetError(f"a worker name is 1-200 printable characters, got {self.name!r}")
        self.lease_ttl = float(lease_ttl)
        if not 0.4 <= self.lease_ttl <= 3600:
            raise FleetError(f"lease_ttl is between 0.4 and 3600 s, got {lease_ttl!r}")
        self.tick = self.lease_ttl / 4
        self.safety = self.lease_ttl / 4
        self.drain_batch = max(1, int(drain_batch))
        self.leases = PostgresLeases(dsn)
        self.metrics = metrics if metrics is not None else FleetMetrics({"worker": self.name})
        self.fleet = Fleet(
            auths if auths is not None else PostgresAuths(dsn, pool_size=pool_size),
            metrics=self.metrics,
            status=status,
            **fleet_options,
        )
        self.fleet.on_final.append(self._on_final)
        self.metrics.collectors.append(
            lambda: self.metrics.set("wamd_fleet_leases", len(self.held))
        )
        self._status = status
        self.held: dict[str, Lease] = {}
        self._letting_go: set[str] = set()
        self._starting: set[str] = set()  # accounts whose state is being opened
        self._loop_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[Any]] = set()
        self.draining = False
        self._stopped = asyncio.Event()
        self.lost = 0  # leases that ended without this worker letting go on purpose

    def __repr__(self) -> str:
        return f"FleetWorker({self.name!r}, held={len(self.held)})"

    def say(self, account: str, text: str) -> None:
        if self._status is not None:
            try:
                self._status(account, text)
            except Exception:  # a status line must never break the worker
                log.exception("status line failed")
        log.info("%s%s", f"{account}: " if account else "", text)

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Join the fleet: heartbeat, then take a share in the background."""
        await self.leases.open()
        await self.leases.heartbeat(self.name, self.lease_ttl, host=self.host, pid=self.pid)
        self.say("", f"worker {self.name} joined")
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._run(), name=f"wamd-fleet-worker-{self.name}")
        self._watchdog = loop.create_task(self._watch(), name="wamd-fleet-watchdog")

    async def wait(self) -> None:
        await self._stopped.wait()

    async def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                await self.step()
            except FleetError as exc:
                self.say("", f"fleet database unreachable: {exc}")
            except Exception:
                log.exception("worker step failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.tick):
                    await self._stopped.wait()

    async def step(self) -> None:
        """One tick: heartbeat, renew, then take or hand back towards the fair share."""
        asked = await self.leases.heartbeat(
            self.name, self.lease_ttl, host=self.host, pid=self.pid, draining=self.draining
        )
        if asked and not self.draining:
            self.say("", "asked to drain")
            self._spawn(self.drain())
        await self._renew()
        if self.draining:
            return
        self._revive()
        accounts, workers = await self.leases.census()
        share = fair_share(accounts, workers)
        held = len(self.held)  # those being let go included: they are not free yet
        if held < share:
            for lease in await self.leases.acquire(self.name, share - held, self.lease_ttl):
                self._took(lease)
        elif held > share:
            going = sum(1 for a in self.held if a in self._letting_go)
            need = min(held - share - going, self.drain_batch)
            if need > 0:
                staying = sorted(a for a in self.held if a not in self._letting_go)
                for account in staying[:need]:
                    self._spawn(self._hand_back(account, "rebalancing"))

    def _revive(self) -> None:
        """Start again an account whose lease is held but whose supervisor ended without a
        final reason (its gate said no while a renewal was late, or it stopped by itself)."""
        for name, lease in list(self.held.items()):
            if name in self._letting_go or name in self._starting:
                continue
            if name not in self.fleet:
                self._spawn(self._run_account(lease))
                continue
            acct = self.fleet.account(name)
            if not acct.running and acct.status is not AccountStatus.FINAL and acct.paired:
                self._spawn(self.fleet.start(name, gate=self._gate(name)))

    async def _renew(self) -> None:
        mine = [lease for name, lease in self.held.items() if name not in self._letting_go]
        if not mine:
            self.metrics.set("wamd_fleet_leases", len(self.held))
            return
        statuses = {lease.account: self._status_of(lease.account) for lease in mine}
        renewed = {
            lease.account: lease
            for lease in await self.leases.renew(self.name, mine, self.lease_ttl, statuses)
        }
        for lease in mine:
            fresh = renewed.get(lease.account)
            if fresh is not None:
                if self.held.get(lease.account) is lease:
                    self.held[lease.account] = fresh
            elif self.held.get(lease.account) is lease:
                self._spawn(self._lose(lease.account, "lease lost (expired or taken)"))
        self.metrics.inc("wamd_fleet_lease_changes_total", len(renewed), change="renewed")
        self.metrics.set("wamd_fleet_leases", len(self.held))

    def _status_of(self, account: str) -> str:
        return self.fleet.account(account).status.value if account in self.fleet else "starting"

    def _took(self, lease: Lease) -> None:
        self.held[lease.account] = lease
        self._starting.add(lease.account)  # until _run_account has it in the fleet
        self.metrics.inc("wamd_fleet_lease_changes_total", change="taken")
        self.say(lease.account, f"lease taken (token {lease.token})")
        self._spawn(self._run_account(lease))

    def _holds(self, lease: Lease) -> bool:
        """Is ``lease`` (this tenure: its token) still held? Renewals replace the object."""
        now = self.held.get(lease.account)
        return now is not None and now.token == lease.token

    def _gate(self, account: str) -> Callable[[], bool]:
        def gate() -> bool:
            lease = self.held.get(account)
            return (
                lease is not None
                and account not in self._letting_go
                and not self.draining
                and lease.deadline - time.monotonic() > self.safety
            )

        return gate

    async def _run_account(self, lease: Lease) -> None:
        name = lease.account
        self._starting.add(name)
        try:
            # always the state as the store has it now: another worker may have held the
            # account since (new keys, a new prekey counter); a copy kept from an earlier
            # lease would write stale credentials back
            if name in self.fleet:
                await self.fleet.remove(name)
            acct = await self.fleet.add(name)
            if not self._holds(lease):
                await self.fleet.remove(name)  # lost or handed back while it was opening
                return
            if not acct.paired:
                # registered as paired, no credentials in the store: nothing to run
                self.say(name, "has no credentials in the store: not started")
                await self._hand_back(name, "no credentials")
                return
            await self.fleet.start(name, gate=self._gate(name))
        except Exception as exc:
            self.say(name, f"could not start: {exc}")
            await self._hand_back(name, "could not start")
        finally:
            self._starting.discard(name)

    async def _watch(self) -> None:
        """Close what this worker may no longer hold, by its own clock (see the docstring)."""
        period = max(0.01, self.safety / 10)
        while not self._stopped.is_set():
            now = time.monotonic()
            for name, lease in list(self.held.items()):
                if name not in self._letting_go and lease.deadline - now <= self.safety:
                    self._spawn(self._lose(name, "lease not renewed in time"))
            await asyncio.sleep(period)

    async def _lose(self, account: str, why: str) -> None:
        """The lease is (or may be) gone: close the socket, forget the lease."""
        if account in self._letting_go:
            return
        self._letting_go.add(account)
        try:
            self.lost += 1
            self.metrics.inc("wamd_fleet_lease_changes_total", change="lost")
            self.say(account, f"{why}: closing its connection")
            if account in self.fleet:
                await self.fleet.remove(account)  # socket closed, state released
            self.held.pop(account, None)
        finally:
            self._letting_go.discard(account)

    async def _hand_back(self, account: str, why: str) -> None:
        """Let go on purpose: close the socket first, then release the lease."""
        if account in self._letting_go:
            return
        self._letting_go.add(account)
        try:
            if account in self.fleet:
                await self.fleet.remove(account)  # socket closed, state released
            lease = self.held.pop(account, None)
            if lease is not None:
                with contextlib.suppress(FleetError):  # unreleased, it simply expires
                    await self.leases.release(lease)
                self.metrics.inc("wamd_fleet_lease_changes_total", change="released")
                self.say(account, f"lease released ({why})")
        finally:
            self._letting_go.discard(account)

    async def _on_final(self, acct: FleetAccount, last: LastDisconnect) -> None:
        """A final close (401, 403, 440, 405): no worker should run the account again."""
        lease = self.held.get(acct.name)
        detail = describe(last)
        if lease is None:
            return
        marked = False
        with contextlib.suppress(FleetError):
            marked = await self.leases.mark_final(acct.name, self.name, lease.token, detail)
        self.held.pop(acct.name, None)
        self._spawn(self.fleet.remove(acct.name))  # after this callback: its task must end
        self.say(acct.name, f"stopped for good: {detail}" + ("" if marked else " (lease was gone)"))

    def _spawn(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    # ------------------------------------------------------------------ leaving

    async def drain(self, timeout: float = 60.0) -> None:
        """Hand every account to the other workers (see the module docstring)."""
        if self.draining:
            return
        self.draining = True
        self.say("", f"draining {len(self.held)} accounts")
        with contextlib.suppress(FleetError):
            await self.leases.heartbeat(
                self.name, self.lease_ttl, host=self.host, pid=self.pid, draining=True
            )
        deadline = time.monotonic() + timeout
        while self.held:
            batch = sorted(self.held)[: self.drain_batch]
            await asyncio.gather(*(self._hand_back(a, "draining") for a in batch))
            # wait (bounded) for someone to take the batch before closing the next one
            while time.monotonic() < deadline:
                try:
                    _, workers = await self.leases.census()
                    if workers == 0:
                        break  # nobody to hand to: the accounts stay offline until one joins
                    holders = [await self.leases.holder(a) for a in batch]
                except FleetError:
                    break
                if all(h is not None for h in holders):
                    break
                await asyncio.sleep(self.tick / 4)
        self.say("", "drained")

    async def stop(self, *, drain: bool = True) -> None:
        """Leave the fleet: drain (or just close every socket and release), then exit."""
        if drain:
            await self.drain()
        else:
            self.draining = True
            await asyncio.gather(*(self._hand_back(a, "stopping") for a in list(self.held)))
        self._stopped.set()
        for task in (self._loop_task, self._watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for task in list(self._work):
            task.cancel()
        await self.fleet.close()
        with contextlib.suppress(FleetError):
            await self.leases.leave(self.name)
        await self.leases.close()
        self.say("", f"worker {self.name} left")

    def summary(self) -> Mapping[str, Any]:
        return {
            "worker": self.name,
            "held": sorted(self.held),
            "connected": self.fleet.connected,
            "lost": self.lost,
            "statuses": {a.name: a.status.value for a in self.fleet},
        }
