"""``run_forever``: keep a socket connected, the way the Baileys README loop does, done once.

After each close it looks at ``last_disconnect.status_code``:

- 515 (restart required): reconnect at once;
- 401 logged out, 403 forbidden/banned, 440 replaced by another connection of this device,
  405 client outdated, and a server certificate chain that does not verify against the
  pinned root key (``CertificateError``), an auth state that failed (``StoreFailed``,
  ``wamd.client.storefail``): stop — reconnecting cannot help and would only
  loop (or, for 440, fight the other connection). The final ``LastDisconnect`` is
  returned and logged with what to do;
- anything else (lost, closed, timed out, 5xx): reconnect after a capped exponential
  backoff with jitter; the delay starts over after a connection that reached "open".

The same auth state is reused on every attempt: nothing is re-paired unless logged out.
A ``make_socket`` that returns ``None`` ends the loop before anything connects (a fleet
whose lease on the account ended says so: ``wamd.fleet``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Awaitable, Callable

from wamd.client.socket import WASocket
from wamd.errors import CertificateError, DisconnectReason, StoreFailed
from wamd.events import LastDisconnect

__all__ = ["FINAL_REASONS", "is_final", "run_forever"]

log = logging.getLogger(__name__)

FINAL_REASONS = frozenset(
    {
        DisconnectReason.LOGGED_OUT,
        DisconnectReason.FORBIDDEN,
        DisconnectReason.CONNECTION_REPLACED,
        DisconnectReason.CLIENT_OUTDATED,
    }
)

_ADVICE = {
    DisconnectReason.LOGGED_OUT: "the device was unlinked: pair again (wamd pair --reset)",
    DisconnectReason.FORBIDDEN: "WhatsApp refused this account (banned or locked)",
    DisconnectReason.CONNECTION_REPLACED: "another connection uses this auth state",
    DisconnectReason.CLIENT_OUTDATED: "update wamd, or pass a current version",
}


def is_final(last: LastDisconnect) -> bool:
    """Whether reconnecting after ``last`` cannot help (a permanent failure)."""
    return last.status_code in FINAL_REASONS or isinstance(
        last.error, (CertificateError, StoreFailed)
    )


def final_reason(last: LastDisconnect) -> str:
    """A status line for a permanent failure: what happened and what to do."""
    if isinstance(last.error, CertificateError):
        return (
            f"{last.error}: the pinned server root key does not match this server "
            "(for a sim: pass its root_public_key)"
        )
    if isinstance(last.error, StoreFailed):
        return str(last.error)
    code = last.status_code
    try:
        name = DisconnectReason(code).name.lower().replace("_", " ")
    except ValueError:
        name = "closed"
    advice = _ADVICE.get(code)  # type: ignore[call-overload]
    return f"{name} ({code})" + (f": {advice}" if advice else "")


async def run_forever(
    make_socket: Callable[[], WASocket | Awaitable[WASocket | None] | None],
    *,
    initial_delay: float = 1.0,
    max_delay: float = 60.0,
    jitter: float = 0.3,
    stop: asyncio.Event | None = None,
    on_socket: Callable[[WASocket], None] | None = None,
    on_reconnect: Callable[[LastDisconnect, float], None] | None = None,
) -> LastDisconnect | None:
    """Run sockets from ``make_socket`` until a final reason or ``stop`` is set.

    ``on_socket(sock)`` sees each new socket before it connects (register handlers
    there); ``on_reconnect(last_disconnect, delay)`` is told of each reconnect before
    its wait (for status lines such as "reconnecting in 2.0 s"). ``make_socket`` may
    return ``None``: nothing more to run, the last ``LastDisconnect`` is returned.
    """
    attempt = 0
    last: LastDisconnect | None = None
    while stop is None or not stop.is_set():
        made = make_socket()
        sock = await made if inspect.isawaitable(made) else made
        if sock is None:
            return last
        if on_socket is not None:
            on_socket(sock)
        opened = asyncio.Event()

        def mark_open(update: object, opened: asyncio.Event = opened) -> None:
            if getattr(update, "connection", None) == "open":
                opened.set()

        sock.ev.on("connection.update", mark_open)
        await sock.connect()
        if stop is not None:
            stopper = asyncio.ensure_future(stop.wait())
            closer = asyncio.ensure_future(sock.wait_closed())
            await asyncio.wait({stopper, closer}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                await sock.end()
                closer.cancel()
                return sock.last_disconnect
            stopper.cancel()
        last = await sock.wait_closed()
        if last is None:
            return None
        code = last.status_code
        if is_final(last):
            sock.core.logger_for(__name__).warning("not reconnecting: %s", final_reason(last))
            return last
        if opened.is_set():
            attempt = 0
        if code == DisconnectReason.RESTART_REQUIRED:
            delay = 0.0
        else:
            delay = min(max_delay, initial_delay * (2**attempt)) * (1 + random.uniform(0, jitter))
            attempt += 1
        sock.core.logger_for(__name__).info(
            "connection closed (%d); reconnecting in %.1f s", code, delay
        )
        if on_reconnect is not None:
            try:
                on_reconnect(last, delay)
            except Exception:  # a status callback must not stop the reconnecting
                sock.core.logger_for(__name__).exception("on_reconnect callback raised")
        await asyncio.sleep(delay)
    return None
