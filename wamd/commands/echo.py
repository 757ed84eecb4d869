"""The echo bot: its rules (one implementation) and ``wamd echo``.

The rules, used by ``wamd echo``, ``wamd demo`` and ``examples/echo_bot.py`` alike:
every incoming message with text (a plain or extended text, or a media caption) is
sent back to the chat it came from — the 1:1 chat or the group — quoting the original.
Not echoed (``skip_reason`` says why):

- our own messages (``key.from_me``): those this bot sent and those the account's phone
  or other linked devices sent; answering them would make the bot talk to itself;
- status updates (``status@broadcast``), broadcast lists and channels: a reply there
  cannot go back where the message came from;
- stubs (``stub_type`` set, e.g. a message that could not be decrypted yet) and messages
  without text (reactions, receipts, edits, revokes, stickers, media without caption);
- a message already echoed by this process (a redelivery after a reconnect).

Messages that arrived while the bot was offline (``messages.upsert`` of type
``"append"``) are echoed too: they are incoming messages nobody answered yet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from wamd.binary.jid import GROUP_SERVER
from wamd.client import WASocket, run_forever
from wamd.commands.options import (
    add_auth_arguments,
    add_connection_arguments,
    phone_number,
)
from wamd.commands.session import new_socket, start_command
from wamd.commands.status import Status, add_verbose_argument
from wamd.errors import WamdError
from wamd.events import LastDisconnect, MessagesUpsert
from wamd.messaging.types import WAMessage
from wamd.store.auth import AuthState

__all__ = [
    "HELP",
    "EchoResult",
    "add_arguments",
    "describe_chat",
    "echo_handler",
    "preview",
    "run",
    "run_echo_bot",
    "skip_reason",
]

log = logging.getLogger(__name__)

HELP = "run the echo bot: every incoming text goes back to its chat"
STATUS_BROADCAST = "status@broadcast"  # the chat of status updates
REMEMBERED = 4096  # message ids remembered against redeliveries

EchoCallback = Callable[[WAMessage, WAMessage], None]


def skip_reason(msg: WAMessage) -> str | None:
    """Why ``msg`` is not echoed, or ``None`` when it is."""
    if msg.stub_type:
        return f"a stub ({msg.stub_type})"
    if msg.key.from_me:
        return "our own message"
    chat = msg.key.remote_jid
    if chat == STATUS_BROADCAST:
        return "a status update"
    if chat.endswith("@broadcast"):
        return "a broadcast list"
    if chat.endswith("@newsletter"):
        return "a channel"
    if not msg.text:
        return "no text"
    return None


def echo_handler(
    sock: WASocket,
    *,
    on_echo: EchoCallback | None = None,
    on_message: Callable[[WAMessage, str | None], None] | None = None,
) -> Callable[[MessagesUpsert], Awaitable[None]]:
    """A ``messages.upsert`` handler that echoes by the rules above.

    ``sock.ev.on("messages.upsert", echo_handler(sock))``. ``on_message(msg, reason)`` is
    called for every message first (``reason`` is ``None`` for one about to be echoed);
    ``on_echo(original, reply)`` after each reply went out. A reply that fails is logged
    and not retried.
    """
    done: OrderedDict[tuple[str, str], None] = OrderedDict()

    async def on_messages(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            reason = skip_reason(msg)
            ident = (msg.key.remote_jid, msg.key.id)
            if reason is None and ident in done:
                reason = "already echoed"
            if on_message is not None:
                on_message(msg, reason)
            if reason is not None:
                log.debug("not echoing %s: %s", msg.key.id, reason)
                continue
            try:
                reply = await sock.send_message(
                    msg.key.remote_jid, {"text": msg.text or ""}, quoted=msg
                )
            except WamdError as exc:
                log.warning("could not echo %s to %s: %s", msg.key.id, msg.key.remote_jid, exc)
                continue
            done[ident] = None
            while len(done) > REMEMBERED:
                done.popitem(last=False)
            if on_echo is not None:
                on_echo(msg, reply)

    return on_messages


def preview(text: str | None, limit: int = 60) -> str:
    """A one-line, quoted, shortened form of a message text for status lines."""
    flat = " ".join((text or "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f'"{flat}"'


def describe_chat(msg: WAMessage) -> str:
    """``Alice (1555...@s.whatsapp.net)`` or ``group 1203...@g.us (from Alice)``."""
    chat = msg.key.remote_jid
    who = msg.push_name or msg.key.participant or chat
    if chat.endswith("@" + GROUP_SERVER):
        return f"group {chat} (from {who})"
    return f"{who} ({chat})" if msg.push_name else chat


@dataclass
class EchoResult:
    last: LastDisconnect | None  # the final disconnect; None when stopped
    fatal: BaseException | None  # a failure that ended the bot (e.g. no pairing code)


async def run_echo_bot(
    auth: AuthState,
    save_creds: Callable[..., Awaitable[None]],
    status: Status,
    options: dict[str, Any],
    *,
    actor: str = "",
    phone: str | None = None,
    stop: asyncio.Event | None = None,
    initial_delay: float = 1.0,
    max_delay: float = 60.0,
    on_socket: Callable[[WASocket], None] | None = None,
    on_echo: EchoCallback | None = None,
    on_message: Callable[[WAMessage, str | None], None] | None = None,
    qr_text: bool | None = None,
) -> EchoResult:
    """Run the echo bot until logged out (or another final reason) or ``stop`` is set.

    Pairs first when ``auth`` has no device yet (QR, or a pairing code for ``phone``);
    reconnects with ``run_forever``'s backoff otherwise. Each echo is a status line
    (or ``on_echo``'s business when given).
    """
    stop = stop or asyncio.Event()
    fatal: list[BaseException] = []

    def failed(exc: BaseException) -> None:
        fatal.append(exc)
        stop.set()

    def said(original: WAMessage, reply: WAMessage) -> None:
        status.line(f"echoed {preview(original.text)} to {describe_chat(original)}", actor)

    def make() -> WASocket:
        sock, _lines = new_socket(
            auth,
            save_creds,
            status,
            options,
            actor=actor,
            phone=phone,
            qr_text=qr_text,
            on_fatal=failed,
        )
        handler = echo_handler(sock, on_echo=on_echo or said, on_message=on_message)
        sock.ev.on("messages.upsert", handler)
        if on_socket is not None:
            on_socket(sock)
        return sock

    last = await run_forever(make, initial_delay=initial_delay, max_delay=max_delay, stop=stop)
    await save_creds()
    return EchoResult(None if stop.is_set() and not fatal else last, fatal[0] if fatal else None)


# ---------------------------------------------------------------------- wamd echo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_auth_arguments(parser)
    parser.add_argument(
        "--phone",
        type=phone_number,
        metavar="NUMBER",
        help="pair with a code for this phone number instead of a QR code (if not paired yet)",
    )
    add_connection_arguments(parser)
    add_verbose_argument(parser)


async def _echo(args: argparse.Namespace) -> int:
    start = await start_command("echo", args)
    if isinstance(start, int):
        return start
    status, options, opened = start.status, start.options, start.opened
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    me = opened.state.creds.me
    status.line(
        f"auth state: {opened.where}"
        + (f" (paired as {me.id})" if me is not None else " (not paired yet)")
    )
    try:
        result = await run_echo_bot(
            opened.state, opened.save_creds, status, options, phone=args.phone, stop=stop
        )
    finally:
        await opened.close()
    if result.fatal is not None:
        return 1
    if result.last is not None:
        status.line("stopped: not reconnecting")
        return 1
    status.line("stopped")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_echo(args))
    except KeyboardInterrupt:
        return 130
