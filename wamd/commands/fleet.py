"""``wamd fleet``: many accounts over worker processes, coordinated through PostgreSQL.

::

    wamd fleet add NAME...            register accounts (state "new")
    wamd fleet pair NAME [--phone N]  link one (QR code, or a pairing code): state "paired"
    wamd fleet list                   accounts, who runs each and how it is; the workers
    wamd fleet remove NAME [--forget] take an account out (and delete its keys)
    wamd fleet drain WORKER           ask a worker to hand its accounts over and leave
    wamd fleet worker                 run a share of the paired accounts until SIGTERM

Every command needs the database: ``--dsn`` or ``WAMD_FLEET_DSN``. A worker runs the
accounts; what it does with their messages is the application's: ``--app
package.module:setup`` names a function called with the ``FleetWorker`` before it starts
(register handlers on ``worker.fleet``), ``--echo`` runs the echo rules of ``wamd echo``.
SIGTERM or SIGINT drains the worker (its accounts go to the others, nothing acknowledged
is lost) and exits 0; a second signal leaves at once. ``--metrics-port`` serves the
Prometheus text format at ``/metrics``.

Status lines, one per event, prefixed by the account::

    12:00:01  worker host:4242:1a2b3c joined
    12:00:01  shop-1: lease taken (token 17)
    12:00:01  shop-1: connecting
    12:00:02  shop-1: online as 15551234567:3@s.whatsapp.net
    12:03:10  shop-1: disconnected: connection lost (408)
    12:03:10  shop-1: reconnecting in 1.1 s
    12:30:00  shop-1: lease released (rebalancing)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import os
import signal
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

from wamd.commands.options import (
    UsageError,
    add_connection_arguments,
    phone_number,
    socket_options,
)
from wamd.commands.session import code_help, scan_help
from wamd.commands.status import Status, add_verbose_argument, configure_logging
from wamd.errors import FleetError, StoreError, WamdError

__all__ = ["ENV_DSN", "HELP", "add_arguments", "run"]

HELP = "run many accounts over worker processes (leases in PostgreSQL)"
ENV_DSN = "WAMD_FLEET_DSN"
PAIR_LEASE = 600.0  # seconds `wamd fleet pair` holds an account's lease while it pairs


def _dsn_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        default=os.environ.get(ENV_DSN) or None,
        metavar="DSN",
        help=f"the fleet's PostgreSQL database, postgresql://... (env {ENV_DSN})",
    )
    add_verbose_argument(parser)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="fleet_command", metavar="ACTION")

    add = commands.add_parser("add", help="register accounts", description="register accounts")
    add.add_argument("names", nargs="+", metavar="NAME")
    _dsn_argument(add)

    pair = commands.add_parser("pair", help="link an account", description="link an account")
    pair.add_argument("name", metavar="NAME")
    pair.add_argument(
        "--phone",
        metavar="NUMBER",
        type=phone_number,
        help="the account's number in international form: pair with a code, not a QR code",
    )
    pair.add_argument("--timeout", type=_positive, default=180.0, help="give up after S s (180)")
    add_connection_arguments(pair)
    _dsn_argument(pair)

    listing = commands.add_parser("list", help="accounts and workers", description="list")
    _dsn_argument(listing)

    remove = commands.add_parser("remove", help="take accounts out", description="remove")
    remove.add_argument("names", nargs="+", metavar="NAME")
    remove.add_argument("--forget", action="store_true", help="also delete keys and creds")
    _dsn_argument(remove)

    drain = commands.add_parser("drain", help="ask a worker to leave", description="drain")
    drain.add_argument("worker", metavar="WORKER")
    _dsn_argument(drain)

    worker = commands.add_parser("worker", help="run a share", description="run a worker")
    worker.add_argument("--name", help="this worker's name (default host:pid:random)")
    worker.add_argument("--lease-ttl", type=_positive, default=10.0, help="lease seconds (10)")
    worker.add_argument("--login-concurrency", type=_count, default=16, help="logins at once")
    worker.add_argument("--pool-size", type=_count, default=10, help="Postgres connections")
    worker.add_argument("--metrics-port", type=int, default=None, metavar="N")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.add_argument("--app", metavar="MODULE:FUNCTION", help="setup(worker) for handlers")
    worker.add_argument("--echo", action="store_true", help="echo texts (wamd echo's rules)")
    add_connection_arguments(worker)
    _dsn_argument(worker)


def run(args: argparse.Namespace) -> int:
    action: str | None = getattr(args, "fleet_command", None)
    if action is None:
        print("wamd fleet: say what to do: add, pair, list, remove, drain, worker", file=sys.stderr)
        return 2
    if not args.dsn:
        print(f"wamd fleet {action}: error: --dsn (or {ENV_DSN}) is required", file=sys.stderr)
        return 2
    status = Status()
    configure_logging(args.verbose)
    jobs: dict[str, Callable[[argparse.Namespace, Status], Any]] = {
        "add": _add,
        "pair": _pair,
        "list": _list,
        "remove": _remove,
        "drain": _drain,
        "worker": _worker,
    }
    try:
        code: int = asyncio.run(jobs[action](args, status))
        return code
    except UsageError as exc:
        print(f"wamd fleet {action}: error: {exc}", file=sys.stderr)
        return 2
    except (WamdError, OSError) as exc:
        status.line(f"{type(exc).__name__}: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


# ---------------------------------------------------------------------- admin commands


def _names(names: list[str]) -> list[str]:
    from wamd.fleet import check_account

    try:
        return [check_account(n) for n in names]
    except FleetError as exc:
        raise UsageError(str(exc)) from None


async def _add(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet.leases import PostgresLeases

    _names(args.names)
    async with PostgresLeases(args.dsn) as leases:
        for name in args.names:
            new = await leases.add_account(name)
            status.line("added: pair it with `wamd fleet pair`" if new else "already there", name)
    return 0


async def _pair(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet import Fleet, PostgresAuths
    from wamd.fleet.leases import PostgresLeases

    (name,) = _names([args.name])
    options = socket_options(args)
    sim = bool(options)
    owner = f"pair:{os.uname().nodename}:{os.getpid()}"
    async with PostgresLeases(args.dsn) as leases:
        row = await leases.account(name)
        if row is None:
            status.line("no such account: add it with `wamd fleet add`", name)
            return 1
        if row.state == "paired":
            status.line(f"already paired as {row.jid}", name)
            return 0
        lease = await leases.take(name, owner, PAIR_LEASE)
        if lease is None:
            holder = await leases.holder(name)
            who = holder.owner if holder is not None else "someone"
            status.line(f"held by {who}: try again later", name)
            return 1
        try:
            async with Fleet(PostgresAuths(args.dsn, pool_size=2), socket_options=options) as fleet:
                acct = await fleet.add(name)
                if acct.paired:  # credentials from an earlier pairing that was not recorded
                    jid = acct.jid
                else:
                    jid = await fleet.pair(
                        name,
                        phone=args.phone,
                        on_qr=lambda qr: _show_qr(status, name, qr, sim),
                        on_code=lambda code: _show_code(status, name, args.phone, code, sim),
                        on_code_rejected=lambda error: status.line(
                            f"the phone rejected the pairing code (mistyped?): {error}; "
                            "a new one follows",
                            name,
                        ),
                        timeout=args.timeout,
                    )
            await leases.set_account(name, "paired", jid=jid)
            status.line(f"paired as {jid}: a worker will run it", name)
        finally:
            with contextlib.suppress(FleetError):
                await leases.release(lease)
    return 0


def _show_qr(status: Status, name: str, qr: str, sim: bool) -> None:
    if sim:
        status.line(f"qr text: {qr}", name)
    else:
        import qrcode

        code = qrcode.QRCode(border=1)
        code.add_data(qr)
        lines: list[str] = []

        class Sink:
            def write(self, text: str) -> None:
                lines.append(text)

            def flush(self) -> None:
                return None

            def isatty(self) -> bool:
                return False

        code.print_ascii(out=Sink())
        status.block("".join(lines))
    status.line(f"waiting for scan: {scan_help(sim, qr if sim else None)}", name)


def _show_code(status: Status, name: str, phone: str, code: str, sim: bool) -> None:
    status.line(f"pairing code: {code[:4]}-{code[4:]}", name)
    status.line(f"waiting for the code: {code_help(sim, phone, code)}", name)


async def _list(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet.leases import PostgresLeases

    async with PostgresLeases(args.dsn) as leases:
        accounts = await leases.accounts()
        held = {row.account: row for row in await leases.leases()}
        workers = await leases.workers()
    out = status.stream
    out.write(f"{'ACCOUNT':<24} {'STATE':<9} {'WORKER':<28} {'STATUS':<13} JID / DETAIL\n")
    for row in accounts:
        lease = held.get(row.account)
        live = lease is not None and lease.left > 0
        owner = lease.owner if live and lease is not None else "-"
        shown = (lease.status or "starting") if live and lease is not None else "-"
        detail = row.detail or row.jid or ""
        out.write(f"{row.account:<24} {row.state:<9} {owner:<28} {shown:<13} {detail}\n")
    out.write(f"\n{'WORKER':<28} {'LEASES':>6}  STATE\n")
    for w in workers:
        state = "draining" if w.draining else ("alive" if w.left > 0 else "gone")
        out.write(f"{w.worker:<28} {w.leases:>6}  {state}\n")
    out.flush()
    return 0


async def _remove(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet import PostgresAuths
    from wamd.fleet.leases import PostgresLeases

    names = _names(args.names)
    async with PostgresLeases(args.dsn) as leases:
        code = 0
        for name in names:
            if await leases.account(name) is None:
                status.line("no such account", name)
                code = 1
                continue
            left = await leases.revoke(name)
            if left > 0:  # its worker closes it at its next renewal; at the latest by then
                status.line(f"waiting up to {left:.1f} s for its worker to let go", name)
                await asyncio.sleep(left)
            if args.forget:
                auths = PostgresAuths(args.dsn, pool_size=2)
                try:
                    opened = await auths.open(name)
                    await auths.forget(name, opened.state)
                    await auths.release(opened.state)
                finally:
                    await auths.close()
            await leases.delete_account(name)
            status.line("removed" + (" and its keys deleted" if args.forget else ""), name)
    return code


async def _drain(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet.leases import PostgresLeases

    async with PostgresLeases(args.dsn) as leases:
        if not await leases.ask_drain(args.worker):
            status.line(f"no worker {args.worker!r}")
            return 1
    status.line(f"asked {args.worker} to drain: it hands its accounts over, then leaves")
    return 0


# ---------------------------------------------------------------------- the worker


def _load_app(spec: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"--app {spec!r}: give it as package.module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--app {spec!r}: cannot import {module_name}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise UsageError(f"--app {spec!r}: {module_name} has no function {attr}")
    return fn  # type: ignore[no-any-return]


async def _worker(args: argparse.Namespace, status: Status) -> int:
    from wamd.fleet.metrics import MetricsServer
    from wamd.fleet.worker import FleetWorker

    options = socket_options(args)
    setup = _load_app(args.app) if args.app else None
    worker = FleetWorker(
        args.dsn,
        name=args.name,
        lease_ttl=args.lease_ttl,
        pool_size=args.pool_size,
        login_concurrency=args.login_concurrency,
        socket_options=options,
        status=lambda account, text: status.line(text, account),
    )
    if args.echo:
        _echo(worker)
    if setup is not None:
        result = setup(worker)
        if inspect.isawaitable(result):
            await result
    server: MetricsServer | None = None
    if args.metrics_port is not None:
        server = MetricsServer(worker.metrics, args.metrics_host, args.metrics_port)
        await server.start()
        status.line(f"metrics: {server.url}")
    loop = asyncio.get_running_loop()
    leaving = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            status.line("draining (a second signal leaves at once)")
            leaving.set()
        else:
            status.line("leaving at once")
            os._exit(1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal)
    try:
        await worker.start()
    except (FleetError, StoreError) as exc:
        status.line(f"cannot join the fleet: {exc}")
        return 1
    try:
        stopped = asyncio.ensure_future(worker.wait())
        left = asyncio.ensure_future(leaving.wait())
        await asyncio.wait({stopped, left}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        left.cancel()
    finally:
        started = time.monotonic()
        await worker.stop(drain=True)
        status.line(f"left in {time.monotonic() - started:.1f} s")
        if server is not None:
            await server.stop()
    return 0


def _echo(worker: Any) -> None:
    from wamd.commands.echo import echo_handler
    from wamd.fleet import AccountEvent

    # one echo handler (with its memory of what it answered) per socket
    handlers: weakref.WeakKeyDictionary[Any, Callable[[Any], Any]] = weakref.WeakKeyDictionary()

    async def echo(event: AccountEvent[Any]) -> None:
        handler = handlers.get(event.sock)
        if handler is None:
            handler = handlers[event.sock] = echo_handler(event.sock)
        await handler(event.payload)

    worker.fleet.on("messages.upsert", echo)
