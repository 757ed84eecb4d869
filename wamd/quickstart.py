"""What a small bot script needs around ``make_wa_socket``: the examples use it.

The ``wamd`` commands' own options and status lines, as a public API, so that a script
(``examples/echo_bot.py``...) is its bot logic and a few lines::

    import argparse, asyncio
    from wamd import run_forever, use_multi_file_auth_state
    from wamd.quickstart import add_arguments, configure_logging, socket_options, status_socket

    async def main() -> None:
        parser = argparse.ArgumentParser()
        add_arguments(parser)  # --sim-url, --sim-root-key, --sim-root-serial, -v/-vv
        args = parser.parse_args()
        options = socket_options(args, parser)  # {} for WhatsApp, a sim's url and key
        configure_logging(args)
        state, save_creds = await use_multi_file_auth_state("auth_info")

        def start():
            sock = status_socket(state, save_creds, options)  # QR, creds, status lines
            ...  # sock.ev.on("messages.upsert", ...)
            return sock

        await run_forever(start)

- **server options**: WhatsApp by default; a local ``wamd sim`` with ``--sim-url`` and
  ``--sim-root-key`` (what ``wamd sim`` prints as ``url:`` and ``root_public_key:``), or
  the environment variables ``WAMD_SIM_URL``, ``WAMD_SIM_ROOT_KEY`` and
  ``WAMD_SIM_ROOT_SERIAL``. Options that do not fit together end the script through
  ``parser.error`` (exit status 2);
- **logging**: warnings by default, ``-v`` wamd's protocol log, ``-vv`` every library's
  (the websocket frame dumps too); the reconnect supervisor's lines ("reconnecting in
  1.2 s ...") become status lines;
- **status lines** (``say``, and every socket from ``status_socket``): one timestamped
  line per event on stdout, flushed at once: connecting, the QR code and how to scan it
  (against a sim: the QR text and how to give it to the sim), a pairing code with
  ``phone=``, paired, online, each close with its reason and what to do about it.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from wamd.client import WASocket
from wamd.commands import options as _options
from wamd.commands import session as _session
from wamd.commands import status as _status
from wamd.errors import DisconnectReason
from wamd.store.auth import AuthState

__all__ = [
    "add_arguments",
    "configure_logging",
    "say",
    "socket_options",
    "status_socket",
]

_STATUS = _status.Status()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--sim-url``, ``--sim-root-key``, ``--sim-root-serial`` and ``-v``/``-vv``."""
    _options.add_connection_arguments(parser)
    _status.add_verbose_argument(parser)


def socket_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser | None = None
) -> dict[str, Any]:
    """``make_wa_socket`` keyword arguments for the server the options name (``{}``: WhatsApp).

    A bad combination goes through ``parser.error`` when a parser is given, else raises
    ``ValueError`` with the reason.
    """
    return _options.socket_options(args, parser)


def configure_logging(args: argparse.Namespace | int) -> None:
    """Logging as ``-v`` asks (``args.verbose``, or a count); supervisor lines as status lines."""
    verbose = args if isinstance(args, int) else int(getattr(args, "verbose", 0) or 0)
    _status.configure_logging(verbose, _STATUS)


def say(text: str) -> None:
    """One status line: ``12:00:01  text`` on stdout, flushed."""
    _STATUS.line(text)


def status_socket(
    state: AuthState,
    save_creds: Callable[..., Awaitable[None]],
    options: dict[str, Any],
    *,
    phone: str | None = None,
    logged_out: str = "delete the auth state and run again to pair anew",
) -> WASocket:
    """``make_wa_socket(state, **options)`` that saves its creds and says what it does.

    QR codes are printed in the terminal (and, against a sim, their text) unless
    ``phone`` (the account's number, international form) asks for a pairing code.
    ``logged_out`` is the line said after a 401 (the device was unlinked).
    """
    sock, _lines = _session.new_socket(
        state,
        save_creds,
        _STATUS,
        options,
        phone=phone,
        hints={DisconnectReason.LOGGED_OUT: f"this device was logged out: {logged_out}"},
    )
    return sock
