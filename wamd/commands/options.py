"""Command-line options shared by the ``wamd`` subcommands and the examples.

Server: WhatsApp by default; a local ``wamd sim`` with ``--sim-url`` and ``--sim-root-key``
(what ``wamd sim`` prints as ``url:`` and ``root_public_key:``), or the environment
variables ``WAMD_SIM_URL``, ``WAMD_SIM_ROOT_KEY`` and ``WAMD_SIM_ROOT_SERIAL``. A sim has
its own certificate authority: the client pins the sim's root key instead of WhatsApp's,
so a client pointed at a sim cannot talk to WhatsApp by mistake, nor the other way round.

Auth state: one SQLite file (``--auth``, default ``wamd.sqlite``) or a folder in Baileys'
multi-file layout (``--auth-dir``). The tools create a new file with mode 0600 and a new
folder with mode 0700: whoever can read them can act as the linked device.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from wamd.store.auth import AuthState

__all__ = [
    "DEFAULT_AUTH_FILE",
    "ENV_AUTH",
    "ENV_SIM_ROOT_KEY",
    "ENV_SIM_ROOT_SERIAL",
    "ENV_SIM_URL",
    "OpenedAuth",
    "UsageError",
    "add_auth_arguments",
    "add_connection_arguments",
    "auth_location",
    "move_auth_aside",
    "open_auth",
    "phone_number",
    "server_name",
    "socket_options",
]

ENV_SIM_URL = "WAMD_SIM_URL"
ENV_SIM_ROOT_KEY = "WAMD_SIM_ROOT_KEY"
ENV_SIM_ROOT_SERIAL = "WAMD_SIM_ROOT_SERIAL"
ENV_AUTH = "WAMD_AUTH"
DEFAULT_AUTH_FILE = "wamd.sqlite"


class UsageError(ValueError):
    """Options that do not fit together (reported like an argparse error, exit status 2)."""


PHONE_MIN_DIGITS = 7  # whatsmeow PairPhone: "phone number too short" at 6 digits or fewer
PHONE_MAX_DIGITS = 15  # E.164: country code and number together


def phone_number(text: str) -> str:
    """``--phone``: an account's number in international form, checked before connecting.

    ``+``, spaces, dashes, dots and parentheses are allowed and dropped; what is left must be
    7 to 15 digits (E.164) with the country code first, so no leading 0.
    """
    digits = "".join(ch for ch in text if ch not in "+ -.()")
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(
            f"{text!r}: a phone number is digits only, in international form "
            "(country code first, e.g. +1 555 123 4567)"
        )
    if digits.startswith("0"):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give the number in international form, country code first "
            "(no leading 0 or 00)"
        )
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {len(digits)} digits; an international number has "
            f"{PHONE_MIN_DIGITS} to {PHONE_MAX_DIGITS} (country code included)"
        )
    return digits


def _url(text: str) -> str:
    if not text.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"{text!r}: a sim URL starts with ws:// or wss://")
    return text


def _root_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("the sim root key is 64 hexadecimal digits") from None
    if len(key) != 32:
        raise argparse.ArgumentTypeError(
            f"the sim root key is 32 bytes (64 hex digits), not {len(key)}"
        )
    return key


def _serial(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the root serial is a number") from None


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--sim-url``, ``--sim-root-key``, ``--sim-root-serial`` (defaults from the environment)."""
    group = parser.add_argument_group(
        "server", "WhatsApp by default; a local `wamd sim` with --sim-url and --sim-root-key"
    )
    group.add_argument(
        "--sim-url",
        type=_url,
        default=os.environ.get(ENV_SIM_URL) or None,
        metavar="URL",
        help=f"websocket URL of a wamd sim, e.g. ws://127.0.0.1:8765/ws/chat (env {ENV_SIM_URL})",
    )
    group.add_argument(
        "--sim-root-key",
        type=_root_key,
        default=os.environ.get(ENV_SIM_ROOT_KEY) or None,
        metavar="HEX",
        help=f"the sim's root public key, as `wamd sim` prints it (env {ENV_SIM_ROOT_KEY})",
    )
    group.add_argument(
        "--sim-root-serial",
        type=_serial,
        default=os.environ.get(ENV_SIM_ROOT_SERIAL) or "0",
        metavar="N",
        help=f"the serial of the sim's root certificate (0; env {ENV_SIM_ROOT_SERIAL})",
    )


def socket_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``make_wa_socket`` from the server options.

    Empty for WhatsApp. Options that do not fit together raise ``UsageError``, or go
    through ``parser.error`` (exit status 2) when a parser is given.
    """
    url: str | None = getattr(args, "sim_url", None)
    key: bytes | None = getattr(args, "sim_root_key", None)
    problem = None
    if url and key is None:
        problem = (
            f"--sim-url needs --sim-root-key (or {ENV_SIM_ROOT_KEY}): the root_public_key "
            "line that `wamd sim` prints"
        )
    elif key is not None and not url:
        problem = f"--sim-root-key needs --sim-url (or {ENV_SIM_URL})"
    if problem is not None:
        if parser is not None:
            _error(parser, problem)
        raise UsageError(problem)
    if not url or key is None:
        return {}
    return {
        "url": url,
        "server_root_key": key,
        "server_root_serial": int(getattr(args, "sim_root_serial", 0) or 0),
    }


def _error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    parser.error(message)


def server_name(options: dict[str, Any]) -> str:
    """How status lines name the server: ``WhatsApp`` or ``the sim at ws://...``."""
    url = options.get("url")
    return f"the sim at {url}" if url else "WhatsApp"


def add_auth_arguments(parser: argparse.ArgumentParser) -> None:
    """``--auth FILE`` (SQLite, the default) or ``--auth-dir DIR`` (multi-file)."""
    group = parser.add_argument_group("auth state").add_mutually_exclusive_group()
    group.add_argument(
        "--auth",
        metavar="FILE",
        default=None,
        help=f"SQLite auth state file ({DEFAULT_AUTH_FILE}; env {ENV_AUTH})",
    )
    group.add_argument(
        "--auth-dir",
        metavar="DIR",
        default=None,
        help="a folder in Baileys' multi-file layout instead of a SQLite file",
    )


@dataclass
class OpenedAuth:
    state: AuthState
    save_creds: Callable[..., Awaitable[None]]
    where: str  # the file or folder, for status lines
    close: Callable[[], Awaitable[None]]


def auth_location(args: argparse.Namespace) -> tuple[Path, bool]:
    """The auth state's file or folder, and whether it is a (multi-file) folder."""
    folder: str | None = getattr(args, "auth_dir", None)
    if folder:
        return Path(folder), True
    file = getattr(args, "auth", None) or os.environ.get(ENV_AUTH) or DEFAULT_AUTH_FILE
    return Path(file), False


def move_auth_aside(args: argparse.Namespace, *, now: float | None = None) -> Path | None:
    """Rename the auth state to ``NAME.old-YYYYMMDD-HHMMSS`` (never deleted), or ``None``
    when there is none. A SQLite file's ``-wal`` and ``-shm`` companions move with it."""
    where, _ = auth_location(args)
    if not where.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = where.with_name(f"{where.name}.old-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = where.with_name(f"{where.name}.old-{stamp}-{counter}")
    for suffix in ("-wal", "-shm"):
        companion = where.with_name(where.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    where.rename(target)
    return target


async def open_auth(args: argparse.Namespace) -> OpenedAuth:
    """Open the auth state the options name (SQLite unless ``--auth-dir``)."""
    from wamd.store import use_multi_file_auth_state, use_sqlite_auth_state

    where, is_folder = auth_location(args)
    if is_folder:
        state, save_creds = await use_multi_file_auth_state(where)
    else:
        state, save_creds = await use_sqlite_auth_state(where)

    async def close() -> None:
        closer = getattr(state.keys, "close", None)
        if closer is not None:
            await closer()

    return OpenedAuth(state, save_creds, str(where), close)
