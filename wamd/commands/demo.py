"""``wamd demo``: the echo bot against a local WhatsApp sim, start to finish, offline.

One process, one event loop, nothing but 127.0.0.1:

1. a ``wamd.sim`` server starts on a free loopback port with four accounts: the bot's
   (``Echo Bot``) and three contacts (Alice, Bob, Carol);
2. the echo bot (``wamd.commands.echo.run_echo_bot``, the code behind ``wamd echo`` with
   the rules of ``examples/echo_bot.py``) starts with a fresh SQLite auth state in a
   temporary folder, connects and prints its QR code; the bot account's simulated phone
   scans it; the bot is paired, restarts (515) and logs in;
3. Alice and Bob write to the bot and get their texts back, quoted; Alice creates a group
   with the bot, Bob and Carol, Carol writes in it and the echo lands in the group;
4. the account's own phone writes to Alice and Alice reacts to an echo: neither is echoed
   (own message; no text);
5. the sim drops the bot's connection; Bob writes while the bot is away; the bot
   reconnects after the supervisor's backoff and echoes the message it missed.

Every step is checked (the text, the chat, the quoted message id, what must *not* be
echoed) and printed as a transcript line with the time since start. Exit status 0 when
every check passed; 1 with the failed step and its reason otherwise, also when the whole
run exceeds ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from wamd.binary import JID
from wamd.client import WASocket
from wamd.commands.echo import EchoResult, preview, run_echo_bot
from wamd.commands.status import Status, add_verbose_argument, configure_logging
from wamd.events import ConnectionUpdate
from wamd.messaging.types import WAMessage

__all__ = ["HELP", "DemoFailed", "add_arguments", "run", "run_demo"]

log = logging.getLogger(__name__)

HELP = "offline demo: a local sim, a phone scans the QR, contacts chat with the echo bot"
LOOPBACK = "127.0.0.1"
BOT = ("15550001111", "Echo Bot")
CONTACTS = (("15550002222", "Alice"), ("15550003333", "Bob"), ("15550004444", "Carol"))
STEP_TIMEOUT = 15.0  # seconds one step may take (the whole run has --timeout)
WAIT_FOREVER = 3600.0  # a wait inside a step: the step's own timeout bounds it

T = TypeVar("T")


class DemoFailed(Exception):
    """A check of the demo failed; the message says which and why."""


class _Demo:
    def __init__(self, status: Status, step_timeout: float, progress: list[str]) -> None:
        self.status = status
        self.step_timeout = step_timeout
        self.progress = progress
        self.step = "starting the sim"
        progress.append(self.step)
        self.checks = 0
        self.bot_task: asyncio.Task[EchoResult] | None = None
        self.sockets: list[WASocket] = []
        self.online = asyncio.Event()
        self.offline = asyncio.Event()
        self.skip_seen = asyncio.Event()
        self.skipped: list[tuple[str, str]] = []  # (message id, reason) the bot did not echo
        self.broken: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def fail(self, reason: str) -> None:
        """A failure seen outside a step (in a callback): the current step fails with it."""
        if not self.broken.done():
            self.broken.set_result(reason)

    def say(self, actor: str, text: str) -> None:
        self.status.line(text, actor)

    def passed(self, text: str) -> None:
        self.checks += 1
        self.say("check", f"ok: {text}")

    async def expect(self, awaitable: Awaitable[T], what: str) -> T:
        """``awaitable``'s result; ``DemoFailed`` when it takes too long or the bot stops."""
        self.step = what
        self.progress.append(what)
        task = asyncio.ensure_future(awaitable)
        waiting: set[asyncio.Future[object]] = {task, self.broken}  # type: ignore[arg-type]
        if self.bot_task is not None:
            waiting.add(self.bot_task)  # type: ignore[arg-type]
        done, _ = await asyncio.wait(
            waiting, timeout=self.step_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if self.broken in done:
            raise DemoFailed(f"{what}: {self.broken.result()}")
        if self.bot_task is not None and self.bot_task in done:
            raise DemoFailed(f"{what}: the echo bot stopped ({_bot_end(self.bot_task)})")
        raise DemoFailed(f"{what}: nothing happened within {self.step_timeout:g} s")

    @property
    def sock(self) -> WASocket:
        return self.sockets[-1]


def _bot_end(task: asyncio.Task[EchoResult]) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    if exc is not None:
        return f"{type(exc).__name__}: {exc}"
    result = task.result()
    if result.fatal is not None:
        return str(result.fatal)
    if result.last is not None:
        return f"disconnected for good, status {result.last.status_code}"
    return "stopped"


async def run_demo(
    status: Status, *, step_timeout: float = STEP_TIMEOUT, progress: list[str] | None = None
) -> int:
    """Run the scenario; raises ``DemoFailed`` on a failed check, returns the check count.

    ``progress`` (when given) gets the name of each step as it starts: after a timeout
    from outside, its last entry says where the demo was.
    """
    from wamd.sim import SimPhone, SimServer
    from wamd.sim.phone import SimMessage
    from wamd.store import use_sqlite_auth_state
    from wamd.testing import settle, wait_received

    demo = _Demo(status, step_timeout, progress if progress is not None else [])
    sim = SimServer(LOOPBACK, 0)
    try:
        await sim.start()
    except OSError as exc:
        raise DemoFailed(f"the sim cannot listen on {LOOPBACK}: {exc}") from exc
    stop = asyncio.Event()
    folder = tempfile.mkdtemp(prefix="wamd-demo-")
    closers: list[object] = []
    try:
        host = urlsplit(sim.url).hostname
        if host != LOOPBACK:  # the demo never talks to anything but this machine
            raise DemoFailed(f"the sim listens on {host}, not {LOOPBACK}")
        demo.say("sim", f"listening on {sim.url} (loopback only)")
        bot_phone = sim.add_phone(*BOT)
        alice, bob, carol = (sim.add_phone(number, name) for number, name in CONTACTS)
        accounts = ", ".join(f"{p.name} +{p.number}" for p in (bot_phone, alice, bob, carol))
        demo.say("sim", f"accounts: {accounts}")

        path = Path(folder) / "wamd.sqlite"
        state, save_creds = await use_sqlite_auth_state(path)
        closers.append(state.keys)
        demo.say("bot", f"auth state: {path} (SQLite, removed at the end)")
        scans: list[asyncio.Task[None]] = []

        async def scan(qr: str) -> None:
            demo.say("phone", f"{bot_phone.name}'s phone scans the QR code")
            try:
                await bot_phone.scan_qr(qr)
            except Exception as exc:
                demo.fail(f"the phone could not scan the QR code: {exc}")

        def on_update(update: ConnectionUpdate) -> None:
            if update.qr is not None and not scans:
                scans.append(asyncio.ensure_future(scan(update.qr)))
            if update.connection == "open":
                demo.online.set()
                demo.offline.clear()
            elif update.connection == "close":
                demo.online.clear()
                demo.offline.set()

        def on_socket(sock: WASocket) -> None:
            demo.sockets.append(sock)
            sock.ev.on("connection.update", on_update)

        def on_message(msg: WAMessage, reason: str | None) -> None:
            who = msg.push_name or msg.key.remote_jid
            if reason is None:
                where = " in the group" if msg.key.remote_jid.endswith("@g.us") else ""
                demo.say("bot", f"gets {who}'s {preview(msg.text)}{where}: echoing it")
                return
            demo.skipped.append((msg.key.id, reason))
            demo.skip_seen.set()
            sender = "its own account" if msg.key.from_me else who
            demo.say("bot", f"gets a message from {sender}: not echoed ({reason})")

        def on_echo(original: WAMessage, reply: WAMessage) -> None:
            pass  # the contacts' lines show the echoes arriving

        demo.bot_task = asyncio.ensure_future(
            run_echo_bot(
                state,
                save_creds,
                status,
                {"url": sim.url, "server_root_key": sim.root_public_key},
                actor="bot",
                stop=stop,
                initial_delay=0.5,
                max_delay=2.0,
                on_socket=on_socket,
                on_echo=on_echo,
                on_message=on_message,
                qr_text=False,
            )
        )
        await demo.expect(demo.online.wait(), "the bot pairs and comes online")
        if state.creds.me is None or not state.creds.me.id.startswith(BOT[0] + ":"):
            raise DemoFailed("the bot came online without being paired to its account")
        demo.passed(f"paired and online as {state.creds.me.id}")

        async def exchange(sender: SimPhone, chat: JID, text: str, label: str) -> SimMessage:
            started = time.monotonic()
            sent_id = await sender.send_text(chat, text)
            demo.say(sender.name, f"to {label}: {preview(text)}")

            def is_echo(message: SimMessage) -> bool:
                ext = message.message.extendedTextMessage
                return (
                    message.sender.user == BOT[0]
                    and ext.contextInfo.stanzaID == sent_id
                    and not message.from_me
                )

            got = await demo.expect(
                wait_received(sender, is_echo, timeout=WAIT_FOREVER),
                f"{sender.name} gets the echo of {text!r}",
            )
            took = (time.monotonic() - started) * 1000
            if got.text != text:
                raise DemoFailed(f"{sender.name} got {got.text!r} back, not {text!r}")
            if got.chat.to_non_ad() != chat.to_non_ad():
                raise DemoFailed(f"the echo went to {got.chat}, not to {chat}")
            demo.say(sender.name, f"from Echo Bot: {preview(got.text)} (quoting, {took:.0f} ms)")
            demo.passed(f"the echo of {preview(text)} is in the same chat, quoting it")
            return got

        # 1:1 chats
        first = await exchange(alice, bot_phone.jid, "Hi! Is this the echo bot?", "Echo Bot")
        await exchange(bob, bot_phone.jid, "¿Hablas español? 👋", "Echo Bot")

        # a group
        group = await alice.create_group("Book club", [bot_phone.jid, bob.jid, carol.jid])
        demo.say("Alice", "creates the group 'Book club' with Echo Bot, Bob and Carol")
        echo = await exchange(carol, group.jid, "Hello everyone, what are we reading?", "Book club")
        await demo.expect(
            wait_received(bob, lambda m: m.id == echo.id, timeout=WAIT_FOREVER),
            "Bob sees the bot's echo in the group",
        )
        demo.passed("the other members see the echo in the group too")

        # what is not echoed: our own message, a reaction
        async def not_echoed(send: Callable[[], Awaitable[str]], what: str, reason: str) -> None:
            before = len(demo.skipped)
            message_id = await send()

            async def skipped() -> None:
                while not any(mid == message_id for mid, _ in demo.skipped[before:]):
                    demo.skip_seen.clear()
                    await demo.skip_seen.wait()

            await demo.expect(skipped(), f"the bot sees {what}")
            got = next(r for mid, r in demo.skipped[before:] if mid == message_id)
            if got != reason:
                raise DemoFailed(f"{what} was skipped as {got!r}, expected {reason!r}")
            await settle(sim, demo.sock)  # nothing in flight: an answer would be here
            for phone in (alice, bot_phone):
                for message in phone.received:
                    quoted = message.message.extendedTextMessage.contextInfo.stanzaID
                    if quoted == message_id:
                        raise DemoFailed(f"the bot answered {what}")
            demo.passed(f"{what} was not echoed ({reason})")

        async def owner_writes() -> str:
            demo.say("phone", "the bot account's owner writes to Alice from the phone")
            return await bot_phone.send_text(alice.jid, "Hi Alice, a human here.")

        async def alice_reacts() -> str:
            demo.say("Alice", "reacts with a thumbs-up to the bot's first echo")
            return await alice.react(first, "👍")

        await not_echoed(owner_writes, "the owner's own message", "our own message")
        await not_echoed(alice_reacts, "a reaction", "no text")

        # a reconnect, with a message waiting
        device = bot_phone.companions.get(1)
        if device is None or device.connection is None:
            raise DemoFailed("the sim has no connection of the bot to drop")
        demo.say("sim", "drops the bot's connection (a network failure)")
        await device.connection.close()
        await demo.expect(demo.offline.wait(), "the bot notices the dropped connection")
        await exchange(bob, bot_phone.jid, "Are you still there?", "Echo Bot, while it is away")
        if not demo.online.is_set() or len(demo.sockets) < 2:
            raise DemoFailed("the echo came back without a reconnect")
        demo.passed("the bot reconnected and echoed what arrived while it was away")
        stop.set()
        await demo.expect(asyncio.shield(demo.bot_task), "the bot stops")
        return demo.checks
    except DemoFailed:
        raise
    except Exception as exc:
        raise DemoFailed(f"{demo.step}: {type(exc).__name__}: {exc}") from exc
    finally:
        stop.set()
        if demo.bot_task is not None and not demo.bot_task.done():
            try:
                await asyncio.wait_for(demo.bot_task, 5)
            except (TimeoutError, Exception):
                demo.bot_task.cancel()
        await sim.stop()
        for store in closers:
            close = getattr(store, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        shutil.rmtree(folder, ignore_errors=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="give up after this many seconds (60)",
    )
    add_verbose_argument(parser)


async def _main(args: argparse.Namespace) -> int:
    status = Status(relative=True)
    configure_logging(args.verbose, status, actor="bot")
    status.block(
        "wamd demo: the echo bot against a local WhatsApp simulator "
        f"(only {LOOPBACK}, nothing leaves this machine)\n"
    )
    started = time.monotonic()
    progress: list[str] = []
    try:
        async with asyncio.timeout(args.timeout):
            checks = await run_demo(
                status, step_timeout=min(STEP_TIMEOUT, args.timeout), progress=progress
            )
    except TimeoutError:
        at = progress[-1] if progress else "starting"
        status.block(f"\ndemo FAILED: not finished within {args.timeout:g} s (at: {at})")
        return 1
    except DemoFailed as exc:
        status.block(f"\ndemo FAILED: {exc}")
        if args.verbose and exc.__cause__ is not None:
            log.error("cause", exc_info=exc.__cause__)
        return 1
    except Exception as exc:  # a bug: say so plainly, the traceback with --verbose
        at = progress[-1] if progress else "starting"
        status.block(f"\ndemo FAILED (at: {at}): {type(exc).__name__}: {exc}")
        if args.verbose:
            log.error("unexpected error", exc_info=exc)
        return 1
    took = time.monotonic() - started
    status.block(
        f"\ndemo passed: {checks} checks in {took:.2f} s "
        "(pairing by QR, 1:1 chats, a group, own message and reaction not echoed, "
        "a reconnect with a message that waited)"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        print("wamd demo: interrupted", file=sys.stderr)
        return 130
