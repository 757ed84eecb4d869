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
import os
import sys
from typing import Any

from wamd import DisconnectReason, WamdError, make_wa_socket, use_multi_file_auth_state
from wamd.events import ConnectionUpdate


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


# ------------------------------------------------------------------ server options
# WhatsApp by default; a local `wamd sim` with --sim-url and --sim-root-key (what
# `wamd sim` prints as url: and root_public_key:), or WAMD_SIM_URL and WAMD_SIM_ROOT_KEY.


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim-url", default=os.environ.get("WAMD_SIM_URL") or None)
    parser.add_argument("--sim-root-key", default=os.environ.get("WAMD_SIM_ROOT_KEY") or None)


def server_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``make_wa_socket``'s ``url`` and ``server_root_key`` for a sim; ``{}`` for WhatsApp."""
    if not args.sim_url and not args.sim_root_key:
        return {}
    if not args.sim_url or not args.sim_root_key:
        parser.error("--sim-url needs --sim-root-key (and the other way round)")
    try:
        key = bytes.fromhex(args.sim_root_key)
    except ValueError:
        parser.error("--sim-root-key is the hex root_public_key that `wamd sim` prints")
    return {"url": args.sim_url, "server_root_key": key}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phone", help="the account's number in international form, e.g. +1555...")
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    add_server_arguments(parser)
    args = parser.parse_args()
    options = server_options(args, parser)

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
