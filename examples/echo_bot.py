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
printed too, and the status line says how to give it to the sim (its console or control
interface). The options, logging and status lines come from ``wamd.quickstart``.
Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from wamd import (
    MessagesUpsert,
    WamdError,
    WAMessage,
    WASocket,
    run_forever,
    use_multi_file_auth_state,
)
from wamd.quickstart import add_arguments, configure_logging, say, socket_options, status_socket

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
                say(f"could not echo {msg.key.id}: {exc}")
                continue
            answered[(chat, msg.key.id)] = None
            while len(answered) > REMEMBERED:
                del answered[next(iter(answered))]
            if on_echo is not None:
                on_echo(msg, reply)

    return on_messages


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--auth-dir", default="auth_info", help="auth state folder (auth_info)")
    add_arguments(parser)  # --sim-url, --sim-root-key (or WAMD_SIM_* variables), -v/-vv
    args = parser.parse_args()
    options = socket_options(args, parser)  # {} for WhatsApp, the sim's url and key otherwise
    configure_logging(args)  # -v: wamd's protocol log; "reconnecting in N s" as a status line

    # the store makes a new folder and its files readable by their owner only (keys)
    state, save_creds = await use_multi_file_auth_state(args.auth_dir)

    def start_socket() -> WASocket:
        # QR code (and how to scan it), creds saved, a status line for each change
        sock = status_socket(
            state, save_creds, options, logged_out=f"delete {args.auth_dir} and run again"
        )

        def on_echo(original: WAMessage, reply: WAMessage) -> None:
            say(f"echoed {preview(original.text)} to {original.key.remote_jid}")

        sock.ev.on("messages.upsert", echo_handler(sock, on_echo=on_echo))
        return sock

    # reconnects with backoff; returns when logged out (or replaced, banned, outdated)
    last = await run_forever(start_socket)
    if last is not None:
        say(f"stopped: not reconnecting after status {last.status_code}")
        raise SystemExit(1)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
