"""Pair by phone number: WhatsApp shows no QR code, you type an 8-character code instead.

Useful where no camera can see the screen (a server over SSH). The code is requested for
the account's phone number; on the phone: WhatsApp > Settings > Linked devices > Link a
device > "Link with phone number instead", then type it. The auth state is saved in
``auth_info`` (Baileys' folder layout), so ``examples/echo_bot.py`` can use it next.

    python examples/pair_with_code.py +15551234567
    python examples/pair_with_code.py 15550001111 --sim-url ws://127.0.0.1:8765/ws/chat --sim-root-key <hex>
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from wamd import DisconnectReason, WamdError, make_wa_socket, use_multi_file_auth_state
from wamd.events import ConnectionUpdate
from wamd.quickstart import add_arguments, configure_logging, socket_options


def finished(update: ConnectionUpdate) -> bool:
    """Online, or closed for a reason other than the restart that follows pairing."""
    if update.connection == "open":
        return True
    last = update.last_disconnect
    return (
        update.connection == "close"
        and last is not None
        and last.status_code != DisconnectReason.RESTART_REQUIRED
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phone", help="the account's number in international form, e.g. +1555...")
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    add_arguments(parser)  # --sim-url, --sim-root-key (or WAMD_SIM_* variables), -v/-vv
    args = parser.parse_args()
    options = socket_options(args, parser)  # {} for WhatsApp, the sim's url and key otherwise
    configure_logging(args)

    state, save_creds = await use_multi_file_auth_state(args.auth_dir)
    if state.creds.me is not None:
        print(f"{args.auth_dir} is already paired as {state.creds.me.id}")
        return 0

    sock = make_wa_socket(state, **options)  # no QR codes in the terminal
    sock.ev.on("creds.update", save_creds)
    await sock.connect()
    try:
        code = await sock.request_pairing_code(args.phone)
    except (ValueError, TimeoutError, WamdError) as exc:  # a bad number; the server refused
        print(f"could not get a pairing code: {exc}")
        await sock.end()
        return 1
    print(f"pairing code: {code[:4]}-{code[4:]}", flush=True)
    print("on the phone: Settings > Linked devices > Link a device > Link with phone number")
    fresh: list[asyncio.Task[None]] = []

    async def new_code() -> None:
        code = await sock.request_pairing_code(args.phone)
        print(f"a new pairing code: {code[:4]}-{code[4:]}", flush=True)

    def rejected(update: ConnectionUpdate) -> None:
        if update.pairing_code_rejected is not None:  # mistyped on the phone
            print(f"the phone rejected the code: {update.pairing_code_rejected}", flush=True)
            fresh.append(asyncio.ensure_future(new_code()))

    sock.ev.on("connection.update", rejected)

    # the code is valid while the server offers this registration (a few minutes)
    update = await sock.ev.wait_for("connection.update", finished)
    if update.connection != "open":
        status = update.last_disconnect.status_code if update.last_disconnect else "?"
        print(f"not paired (status {status})")
        return 1
    me = sock.user
    print(f"paired as {me.id if me else '?'}; auth state saved in {args.auth_dir}", flush=True)
    await sock.end()
    await sock.ev.drain()  # the creds.update handlers have run: everything is saved
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
