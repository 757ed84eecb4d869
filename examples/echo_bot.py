"""Echo bot: every text a contact sends comes back to the same chat, quoted.

The flow of Baileys' example, in Python:

- the auth state lives in a folder (``auth_info``, Baileys' multi-file layout) and every
  ``creds.update`` is saved, so the next start logs in without a new QR code;
- the QR code is printed in the terminal: scan it with WhatsApp on the phone
  (Settings > Linked devices > Link a device);
- on a disconnect the bot reconnects (``run_forever``), unless it was logged out;
- the echo rules (not our own messages, not status updates, broadcast lists or channels,
  not stubs, text only, each message once) are ``echo_handler`` below: the rules of
  ``wamd echo``, written with the public API only.

Against WhatsApp::

    python examples/echo_bot.py

Against a local sim (``wamd sim --phone 15550001111:Bot`` prints the url and key)::

    python examples/echo_bot.py --sim-url ws://127.0.0.1:8765/ws/chat --sim-root-key <hex>

(or set ``WAMD_SIM_URL`` and ``WAMD_SIM_ROOT_KEY``). Against a sim the QR code's text is
printed too: ``POST`` it to the sim's control interface (``/phones/N/scan``) to scan.
Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from wamd import (
    DisconnectReason,
    MessagesUpsert,
    WamdError,
    WAMessage,
    WASocket,
    make_wa_socket,
    run_forever,
    use_multi_file_auth_state,
)
from wamd.events import ConnectionUpdate

REMEMBERED = 10_000  # message ids answered, per process (a redelivery is not echoed twice)


def preview(text: str | None, limit: int = 60) -> str:
    flat = " ".join((text or "").split())
    return '"' + (flat if len(flat) <= limit else flat[: limit - 1] + "…") + '"'


def echo_handler(sock: WASocket, on_echo: Any = None) -> Any:
    """A ``messages.upsert`` handler: each text from someone else comes back, quoted."""
    answered: dict[tuple[str, str], None] = {}  # insertion-ordered: oldest first

    async def on_messages(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            chat = msg.key.remote_jid
            if msg.stub_type or msg.key.from_me or not msg.text:
                continue  # a stub (not decrypted yet), our own message, no text
            if chat.endswith(("@broadcast", "@newsletter")):
                continue  # status updates, broadcast lists, channels
            if (chat, msg.key.id) in answered:
                continue
            try:
                reply = await sock.send_message(chat, {"text": msg.text}, quoted=msg)
            except WamdError as exc:
                print(f"could not echo {msg.key.id}: {exc}", flush=True)
                continue
            answered[(chat, msg.key.id)] = None
            while len(answered) > REMEMBERED:
                del answered[next(iter(answered))]
            if on_echo is not None:
                on_echo(msg, reply)

    return on_messages


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show protocol logs")
    add_server_arguments(parser)  # --sim-url, --sim-root-key (or WAMD_SIM_* variables)
    args = parser.parse_args()
    options = server_options(args, parser)  # {} for WhatsApp, the sim's url and key otherwise
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    logging.getLogger("wamd.client.supervisor").setLevel(logging.INFO)  # "reconnecting in N s"

    # the store makes a new folder and its files readable by their owner only (keys)
    state, save_creds = await use_multi_file_auth_state(args.auth_dir)

    def start_socket() -> WASocket:
        sock = make_wa_socket(state, print_qr_in_terminal=True, **options)
        sock.ev.on("creds.update", save_creds)

        def on_connection(update: ConnectionUpdate) -> None:
            if update.qr:
                print("scan the QR code above: WhatsApp > Settings > Linked devices", flush=True)
                if options:
                    print(f"qr text: {update.qr}", flush=True)
            if update.connection == "open":
                me = sock.user
                print(f"online as {me.id if me else '?'}", flush=True)
            if update.connection == "close" and update.last_disconnect is not None:
                code = update.last_disconnect.status_code
                if code == DisconnectReason.LOGGED_OUT:
                    print(f"logged out: delete {args.auth_dir} and run again to pair", flush=True)
                elif code != DisconnectReason.RESTART_REQUIRED:
                    print(f"connection closed ({code})", flush=True)

        sock.ev.on("connection.update", on_connection)

        def on_echo(original: WAMessage, reply: WAMessage) -> None:
            print(f"echoed {preview(original.text)} to {original.key.remote_jid}", flush=True)

        sock.ev.on("messages.upsert", echo_handler(sock, on_echo=on_echo))
        return sock

    # reconnects with backoff; returns when logged out (or replaced, banned, outdated)
    last = await run_forever(start_socket)
    if last is not None:
        print(f"stopped: not reconnecting after status {last.status_code}", flush=True)
        raise SystemExit(1)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
