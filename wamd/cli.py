"""``wamd``: the command line.

Subcommands live in one table (``SUBCOMMANDS``): each has a name, a help line, a function
that adds its arguments and a function that runs it and returns the exit status. A new
subcommand (``pair``, ``echo``, ``demo``...) is one ``Subcommand(...)`` entry and two
functions; ``main`` needs no change.

``wamd sim`` runs a local WhatsApp server (``wamd.sim``) until interrupted and prints,
one ``name: value`` per line, what a client needs to connect to it::

    url: ws://127.0.0.1:8765/ws/chat
    root_public_key: 5f0e...        (hex; a client pins it instead of WhatsApp's root)
    root_serial: 0                  (the serial the intermediate certificate names)
    control: http://127.0.0.1:8766/ (with --control-port)
    token: Xq3...                   (every control request needs it: Authorization: Bearer)
    console: http://127.0.0.1:8766/console?token=Xq3...   (with --console)
    phone: 15550001111 Alice        (one line per --phone)
    ready
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wamd import __version__, xeddsa
from wamd.commands import demo, echo, fleet, pair

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main"]


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------- wamd sim

CONSOLE_PORT = 8766  # the control port --console uses when none is given


def _phone_spec(text: str) -> tuple[str, str | None]:
    number, _, name = text.partition(":")
    number = number.lstrip("+")
    if not number.isdigit() or len(number) < 7:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a phone is NUMBER or NUMBER:NAME, the number in international form"
        )
    return number, name or None


def _sim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="websocket port (8765; 0 = any)")
    parser.add_argument(
        "--control-port",
        type=int,
        default=None,
        metavar="N",
        help="serve the HTTP/JSON control interface on this port (0 = any free port)",
    )
    parser.add_argument(
        "--control-host",
        default="127.0.0.1",
        help="address of the control interface (loopback only unless --control-allow-remote)",
    )
    parser.add_argument(
        "--control-allow-remote",
        action="store_true",
        help="allow a non-loopback control address: whoever reaches it controls every account",
    )
    parser.add_argument(
        "--console",
        action="store_true",
        help="serve the web console on the control port (8766 unless --control-port is given)",
    )
    parser.add_argument(
        "--console-allow-remote",
        action="store_true",
        help="allow the console on a non-loopback control address (with --control-allow-remote)",
    )
    parser.add_argument(
        "--phone",
        action="append",
        default=[],
        type=_phone_spec,
        metavar="NUMBER[:NAME]",
        help="create a simulated account (repeatable)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")


async def _serve_sim(args: argparse.Namespace) -> int:
    from wamd.sim import SimServer
    from wamd.sim.control import ControlServer

    numbers = [number for number, _ in args.phone]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        print(
            f"wamd sim: --phone {', '.join(repeated)} given more than once (one account each)",
            file=sys.stderr,
        )
        return 2
    control: ControlServer | None = None
    sim = SimServer(args.host, args.port)
    if args.console and args.control_port is None:
        args.control_port = CONSOLE_PORT
    if args.control_port is not None:
        # the constructor refuses a non-loopback address: before anything listens
        try:
            control = ControlServer(
                sim,
                args.control_host,
                args.control_port,
                allow_remote=args.control_allow_remote,
                console=args.console,
                console_allow_remote=args.console_allow_remote,
            )
        except ValueError as exc:
            print(f"wamd sim: {exc}", file=sys.stderr)
            return 2
    try:
        await sim.start()
    except OSError as exc:
        print(f"wamd sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    try:
        if control is not None:
            try:
                await control.start()
            except OSError as exc:
                print(f"wamd sim: cannot serve the control interface: {exc}", file=sys.stderr)
                return 1
        for number, name in args.phone:
            sim.add_phone(number, name)
        print(f"url: {sim.url}")
        print(f"root_public_key: {sim.root_public_key.hex()}")
        print(f"root_serial: {sim.ca.root_serial}")
        if control is not None:
            print(f"control: {control.url}")
            print(f"token: {control.token}")
            if control.console_url is not None:
                print(f"console: {control.console_url}")
        for phone in sim.phones.values():
            print(f"phone: {phone.number} {phone.name}")
        print("ready", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        if control is not None:
            await control.stop()
        await sim.stop()
    return 0


def _run_sim(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return asyncio.run(_serve_sim(args))
    except KeyboardInterrupt:
        return 0


SUBCOMMANDS: list[Subcommand] = [
    Subcommand("pair", pair.HELP, pair.add_arguments, pair.run),
    Subcommand("echo", echo.HELP, echo.add_arguments, echo.run),
    Subcommand(
        "sim", "run a local WhatsApp server with simulated phones", _sim_arguments, _run_sim
    ),
    Subcommand("demo", demo.HELP, demo.add_arguments, demo.run),
    Subcommand("fleet", fleet.HELP, fleet.add_arguments, fleet.run),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wamd", description="WhatsApp multi-device client tools (unofficial)."
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"wamd {__version__} (signatures: {xeddsa.backend.name})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
