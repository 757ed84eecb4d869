"""``wamd pair``: link this computer to a WhatsApp account and store the auth state.

Shows QR codes in the terminal (or, with ``--phone``, a pairing code to type on the
phone), waits until the phone links the device and the new device has logged in, saves
the credentials (SQLite ``wamd.sqlite`` by default, ``--auth-dir`` for a folder) and
exits 0. An auth state that is already paired is only checked: it logs in and exits.
One that WhatsApp logged out (401, marked so in the state) is refused with the way out:
``--reset`` moves it aside (``NAME.old-DATE``, never deleted) and pairs anew, and on a
terminal ``wamd pair`` offers to do that.
It exits 1 with the reason when the QR codes run out unscanned, the code is refused,
the stored device was logged out, or the server cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys

from wamd.commands.options import (
    add_auth_arguments,
    add_connection_arguments,
    phone_number,
)
from wamd.commands.session import new_socket, start_command
from wamd.commands.status import add_verbose_argument
from wamd.errors import DisconnectReason

__all__ = ["HELP", "add_arguments", "run"]

HELP = "link to a WhatsApp account (QR code, or --phone for a pairing code) and store the auth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_auth_arguments(parser)
    parser.add_argument(
        "--phone",
        metavar="NUMBER",
        type=phone_number,
        help="the account's phone number in international form: pair with a code, not a QR",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="start over: move the stored auth state aside (renamed, not deleted) and pair anew",
    )
    add_connection_arguments(parser)
    add_verbose_argument(parser)


def _next_command(args: argparse.Namespace) -> str:
    words = ["wamd", "echo"]
    if args.auth_dir:
        words += ["--auth-dir", args.auth_dir]
    elif args.auth:
        words += ["--auth", args.auth]
    if args.sim_url:
        words += ["--sim-url", args.sim_url, "--sim-root-key", "..."]
    return shlex.join(words)


async def _pair(args: argparse.Namespace) -> int:
    start = await start_command("pair", args)
    if isinstance(start, int):
        return start
    status, options, opened = start.status, start.options, start.opened
    try:
        me = opened.state.creds.me
        if me is not None:
            status.line(f"{opened.where} is already paired as {me.id}: checking its login")
        sock, lines = new_socket(
            opened.state,
            opened.save_creds,
            status,
            options,
            phone=None if me is not None else args.phone,
        )
        online = asyncio.Event()
        sock.ev.on("connection.update", lambda u: online.set() if u.connection == "open" else None)
        await sock.connect()
        opened_wait = asyncio.ensure_future(online.wait())
        closed_wait = asyncio.ensure_future(sock.wait_closed())
        try:
            await asyncio.wait({opened_wait, closed_wait}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            opened_wait.cancel()
        if online.is_set():
            await sock.end()
            closed_wait.cancel()
            await sock.ev.drain()
            await opened.save_creds()
            user = opened.state.creds.me
            if me is None:
                status.line(f"done: paired as {user.id if user else '?'}; saved in {opened.where}")
            else:
                status.line(f"done: the stored login works ({opened.where})")
            status.line(f"next: {_next_command(args)}")
            return 0
        last = await closed_wait
        await sock.ev.drain()
        await opened.save_creds()
        if lines.fatal is None and last is not None:
            if me is not None:
                status.line("the stored login did not work: see the reason above")
            elif last.status_code == DisconnectReason.TIMED_OUT:
                status.line("not paired in time: run `wamd pair` again")
            else:
                status.line("not paired: see the reason above")
        return 1
    finally:
        await opened.close()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_pair(args))
    except KeyboardInterrupt:
        print("wamd pair: interrupted", file=sys.stderr)
        return 130
