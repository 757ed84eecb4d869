"""One socket as the command-line tools run it: credentials saved, status lines, pairing.

``new_socket`` makes a ``WASocket`` whose ``creds.update`` events are saved and whose
``connection.update`` events become status lines a person can follow::

    12:00:01  connecting to WhatsApp
    12:00:02  waiting for scan: scan the QR code above with WhatsApp on your phone ...
    12:00:09  paired as 15551234567:3@s.whatsapp.net
    12:00:09  restart required after pairing (515): logging in as the new device
    12:00:10  online as 15551234567:3@s.whatsapp.net

With ``phone=`` (an unpaired device) it asks for a pairing code instead of showing QR
codes, prints it, and pairing completes when the code is typed on the phone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wamd.client import WASocket, make_wa_socket
from wamd.commands.options import (
    OpenedAuth,
    UsageError,
    move_auth_aside,
    open_auth,
    server_name,
    socket_options,
)
from wamd.commands.status import Status, configure_logging, describe_reason, hint_for
from wamd.errors import DisconnectReason, PairingError, StoreError, StoreFailed, WamdError
from wamd.events import ConnectionUpdate
from wamd.store.auth import AuthState

__all__ = [
    "CommandStart",
    "SessionLines",
    "code_help",
    "new_socket",
    "scan_help",
    "start_command",
]

log = logging.getLogger(__name__)

SCAN_HELP = (
    "scan the QR code above with WhatsApp on your phone "
    "(Settings > Linked devices > Link a device); a new code comes every 20 s"
)
CODE_HELP = (
    "on your phone: WhatsApp > Settings > Linked devices > Link a device > "
    "Link with phone number instead, then type the code"
)
MAX_CODE_REJECTIONS = 3  # new codes offered after the phone refused one; then give up
SIM_CONTROL = (
    "$CONTROL and $TOKEN are the `control:` and `token:` lines that `wamd sim --control-port N` "
    "printed; or script it with SimPhone.scan_qr / link_with_code"
)
SIM_CURL = 'curl -s -H "Authorization: Bearer $TOKEN" -XPOST $CONTROL'  # the interface wants it


def scan_help(sim: bool, qr: str | None = None) -> str:
    """How to scan the QR code: on a phone (WhatsApp), or through the sim's control interface
    (``qr``: the QR text, printed on the line before, that the interface takes)."""
    if not sim:
        return SCAN_HELP
    if qr is None:
        return "a phone of the sim scans the QR code (SimPhone.scan_qr or the control interface)"
    body = json.dumps({"qr": qr})
    return (
        "this is a sim: paste the qr text into its console (`wamd sim --console`, Accounts > "
        "link a companion) or have a phone scan it through the control interface, "
        f"{SIM_CURL}/phones/NUMBER/scan -d '{body}' ({SIM_CONTROL}); "
        "a new code comes every 20 s"
    )


def code_help(sim: bool, phone: str, code: str) -> str:
    """Where to type a pairing code: on the phone, or through the sim's control interface."""
    if not sim:
        return CODE_HELP
    body = json.dumps({"code": f"{code[:4]}-{code[4:]}"})
    return (
        "this is a sim: type it in its console (`wamd sim --console`, Accounts > link a "
        "companion) or through the control interface, "
        f"{SIM_CURL}/phones/{phone}/code -d '{body}' ({SIM_CONTROL})"
    )


@dataclass(frozen=True)
class CommandStart:
    """What ``wamd pair`` and ``wamd echo`` start from: status lines, options, auth state."""

    status: Status
    options: dict[str, Any]
    opened: OpenedAuth


async def start_command(name: str, args: argparse.Namespace) -> CommandStart | int:
    """Logging, socket options and the auth state, or the exit code when one is wrong."""
    status = Status()
    configure_logging(args.verbose, status)
    try:
        options = socket_options(args)
    except UsageError as exc:
        print(f"wamd {name}: error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "reset", False):
        try:
            moved = move_auth_aside(args)
        except OSError as exc:
            status.line(f"cannot move the old auth state aside: {exc}")
            return 1
        if moved is not None:
            status.line(f"moved the old auth state aside to {moved}: pairing anew")
    try:
        opened = await open_auth(args)
    except (StoreError, OSError) as exc:
        status.line(f"cannot open the auth state: {exc}")
        return 1
    out_at = opened.state.creds.logged_out_at
    if out_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(out_at))
        status.line(
            f"{opened.where} was logged out by WhatsApp (401) at {when}: it cannot log in again"
        )
        if name == "pair" and _ask(f"start over: move {opened.where} aside and pair anew? [y/N] "):
            await opened.close()
            args.reset = True
            return await start_command(name, args)
        status.line(
            "start over with `wamd pair --reset` (the old state is moved aside, not deleted)"
        )
        await opened.close()
        return 1
    return CommandStart(status, options, opened)


def _ask(question: str) -> bool:
    """A yes/no question on the terminal; no (without asking) when stdin is not one."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


class SessionLines:
    """Status lines for one socket, and the pairing-code request when asked for one."""

    def __init__(
        self,
        sock: WASocket,
        status: Status,
        *,
        actor: str = "",
        server: str = "WhatsApp",
        phone: str | None = None,
        qr_text: bool = False,
        on_fatal: Callable[[BaseException], None] | None = None,
        sim: bool = False,
        hints: Mapping[int, str] | None = None,
    ) -> None:
        self.sock = sock
        self.status = status
        self.actor = actor
        self.server = server
        self.phone = phone
        self.qr_text = qr_text
        self.on_fatal = on_fatal
        self.sim = sim
        self.hints = dict(hints or {})  # close codes -> what to do, instead of hint_for's
        self.qr_count = 0
        self.rejected = 0  # pairing codes the phone refused
        self.code: str | None = None
        self.fatal: BaseException | None = None
        self._restarting = False
        self._code_task: asyncio.Task[None] | None = None

    def say(self, text: str) -> None:
        self.status.line(text, self.actor)

    def on_connection(self, update: ConnectionUpdate) -> None:
        if update.connection == "connecting":
            if self._restarting:
                self.say("logging in as the new device")
            else:
                self.say(f"connecting to {self.server}")
            self._restarting = False
            if self.phone and self.sock.user is None and self._code_task is None:
                self._code_task = asyncio.ensure_future(self._request_code(self.phone))
        if update.qr is not None and not self.phone:
            self.qr_count += 1
            if self.qr_text:
                self.say(f"qr text: {update.qr}")
            if self.qr_count == 1:
                shown = update.qr if self.qr_text else None
                self.say(f"waiting for scan: {scan_help(self.sim, shown)}")
            else:
                self.say("waiting for scan: new QR code above (the previous one expired)")
        if update.connection == "open":
            me = self.sock.user
            who = me.id if me is not None else "?"
            name = f" ({me.name})" if me is not None and me.name else ""
            self.say(f"online as {who}{name}")
        if update.received_pending_notifications:
            self.say("up to date: what arrived while offline is handled")
        if update.pairing_code_rejected is not None and self.phone and self.sock.user is None:
            self._code_rejected(update.pairing_code_rejected)
        if update.store_error is not None and not isinstance(update.store_error, StoreFailed):
            self.say(f"auth state problem: {update.store_error}")
        if update.connection == "close" and update.last_disconnect is not None:
            last = update.last_disconnect
            if last.status_code == DisconnectReason.RESTART_REQUIRED:
                self._restarting = True
                self.say("restart required (515): reconnecting at once")
                return
            if last.status_code == DisconnectReason.TIMED_OUT and self.sock.user is None:
                if self.code is not None:
                    self.say("disconnected: the pairing code was not entered in time (408)")
                    return
                if self.qr_count:
                    self.say("disconnected: the QR codes ran out without a scan (408)")
                    return
            if isinstance(last.error, StoreFailed):
                self.say(f"disconnected: {last.error}")
                return
            self.say(f"disconnected: {describe_reason(last.status_code, last.error)}")
            hint = self.hints.get(last.status_code) or hint_for(last.status_code)
            if hint is not None:
                self.say(hint)

    def on_creds(self, changes: dict[str, Any]) -> None:
        me = changes.get("me")
        if me is not None and changes.get("registered"):
            self.say(f"paired as {me.id}")

    def _code_rejected(self, error: BaseException) -> None:
        self.rejected += 1
        shown = f" {self.code[:4]}-{self.code[4:]}" if self.code else ""
        self.say(f"the phone rejected the pairing code{shown} (mistyped?): {error}")
        if self.rejected > MAX_CODE_REJECTIONS:
            self.say(f"rejected {self.rejected} times: giving up; run the command again")
            exc = PairingError(f"the phone rejected {self.rejected} pairing codes")
            self.fatal = exc
            if self.on_fatal is not None:
                self.on_fatal(exc)
            self._code_task = asyncio.ensure_future(self.sock.end(exc))
            return
        self.code = None
        self._code_task = asyncio.ensure_future(self._request_code(self.phone or ""))

    async def _request_code(self, phone: str) -> None:
        try:
            code = await self.sock.request_pairing_code(phone)
        except (WamdError, ValueError, TimeoutError) as exc:
            detail = str(exc) or type(exc).__name__
            self.say(f"could not get a pairing code for {phone}: {detail}")
            self.fatal = exc
            if self.on_fatal is not None:
                self.on_fatal(exc)
            await self.sock.end(exc)
            return
        self.code = code
        fresh = "a new pairing code" if self.rejected else "pairing code"
        self.say(f"{fresh}: {code[:4]}-{code[4:]}")
        self.say(f"waiting for the code: {code_help(self.sim, phone, code)}")


def new_socket(
    auth: AuthState,
    save_creds: Callable[..., Awaitable[None]],
    status: Status,
    options: dict[str, Any],
    *,
    actor: str = "",
    phone: str | None = None,
    qr_text: bool | None = None,
    on_fatal: Callable[[BaseException], None] | None = None,
    hints: Mapping[int, str] | None = None,
) -> tuple[WASocket, SessionLines]:
    """A socket that saves its credentials and reports itself on ``status``.

    QR codes are printed (through ``status``) unless ``phone`` asks for a pairing code;
    ``qr_text`` also prints what the QR code encodes (default: when talking to a sim,
    whose control interface takes it for a scan).
    """
    sock = make_wa_socket(
        auth,
        print_qr_in_terminal=phone is None,
        qr_output=status.block,
        **options,
    )
    lines = SessionLines(
        sock,
        status,
        actor=actor,
        server=server_name(options),
        phone=phone,
        qr_text=bool(options.get("url")) if qr_text is None else qr_text,
        on_fatal=on_fatal,
        sim=bool(options.get("url")),
        hints=hints,
    )
    sock.ev.on("creds.update", save_creds)
    sock.ev.on("creds.update", lines.on_creds)
    sock.ev.on("connection.update", lines.on_connection)
    return sock, lines
