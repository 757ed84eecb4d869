"""A sim on 127.0.0.1 and sockets linked to its phones, paired, logged in and open.

``link(sim, phone)`` is what a user's bot goes through on a first start: the socket
connects unpaired, shows a QR code (``connection.update`` with ``qr``), the phone scans
it, the server restarts the stream (515), the socket logs in and is ``open``. With an
auth state that is already paired it just logs in.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

from wamd.client import WASocket, make_wa_socket
from wamd.errors import ConnectionClosed, DisconnectReason
from wamd.events import ConnectionUpdate
from wamd.sim import SimPhone, SimServer
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.testing.inbox import NothingArrived

__all__ = ["LINK_WAIT", "LOOPBACK", "link", "linked", "new_auth_state", "sim_server", "socket_for"]

LOOPBACK = "127.0.0.1"
LINK_WAIT = 30.0  # seconds a link may take at most (QR, scan, restart, login): a bound
END_WAIT = 5.0  # seconds a failed link's socket is given to end


@contextlib.asynccontextmanager
async def sim_server(seed: int | None = None, **options: Any) -> AsyncIterator[SimServer]:
    """``async with sim_server() as sim:`` a started ``SimServer`` on 127.0.0.1, any port.

    ``options`` go to ``SimServer`` (``history_sync=None``, ``min_version=...``); the host
    and port are the kit's: it never listens beyond this machine. Every random choice
    of the sim comes from ``seed`` (drawn afresh when ``None``); an exception that leaves
    the block carries a note with it, so ``sim_server(seed=N)`` replays the failing run.
    """
    if seed is not None:
        options["rng"] = random.Random(seed)
    async with SimServer(LOOPBACK, 0, **options) as sim:
        used = seed if seed is not None else sim.seed
        try:
            yield sim
        except Exception as exc:
            if used is not None:
                exc.add_note(f"wamd.sim seed {used}: replay with sim_server(seed={used})")
            raise


def new_auth_state() -> AuthState:
    """Fresh, unpaired credentials in memory (nothing written to disk)."""
    return AuthState(init_auth_creds(), MemoryKeyStore())


def socket_for(sim: SimServer, state: AuthState | None = None, **options: Any) -> WASocket:
    """A socket (not connected yet) for ``sim``: its URL and its root key pinned, and
    its media host's CA trusted (``media_ssl``), or plain http to it (``media_scheme``)
    when the sim runs it without TLS.

    ``options`` are ``make_wa_socket``'s (``logger=``, ``keepalive_interval=``...).
    """
    options.setdefault("media_ssl", sim.media_ssl_context())
    options.setdefault("media_scheme", sim.media.scheme)  # http when media_tls=False
    return make_wa_socket(
        state or new_auth_state(),
        url=sim.url,
        server_root_key=sim.root_public_key,
        **options,
    )


async def link(
    sim: SimServer,
    phone: SimPhone,
    state: AuthState | None = None,
    *,
    timeout: float = LINK_WAIT,
    **options: Any,
) -> WASocket:
    """A socket for ``phone``'s account, paired (by QR, unless ``state`` already is),
    logged in and open. End it with ``await sock.end()`` (or use ``linked``).

    Raises ``ConnectionClosed`` when the socket closes for good on the way (with the
    server's status code), ``NothingArrived`` when it is not open within ``timeout``.
    """
    sock = socket_for(sim, state, **options)
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    scans: list[asyncio.Task[object]] = []

    def on_update(update: ConnectionUpdate) -> None:
        if update.qr is not None and not scans:
            scans.append(asyncio.ensure_future(phone.scan_qr(update.qr)))
        if opened.done():
            return
        if update.connection == "open":
            opened.set_result(None)
        elif update.connection == "close" and update.last_disconnect is not None:
            code = update.last_disconnect.status_code
            if code != DisconnectReason.RESTART_REQUIRED:  # 515: it logs in again by itself
                opened.set_exception(
                    ConnectionClosed(code, f"the socket closed ({code}) before it was open")
                )

    sock.ev.on("connection.update", on_update)
    try:
        await sock.connect()
        try:
            async with asyncio.timeout(timeout):
                await opened
                if scans:
                    await scans[0]  # the phone's side of the pairing, done too
        except TimeoutError:
            if scans:
                detail = f"{phone.number}'s phone scanned its QR code"
            elif sock.auth.creds.me is None:
                detail = "it showed no QR code"
            else:
                detail = "it was paired already"
            raise NothingArrived(
                f"the socket was not open within {timeout:g} s ({detail})"
            ) from None
    except BaseException:
        for scan in scans:
            scan.cancel()
        # bounded: the error that brought us here is the one to report (issue 14: end()
        # on a socket that is still connecting could hang)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(END_WAIT):
                await sock.end()
        raise
    finally:
        sock.ev.off("connection.update", on_update)
    return sock


@contextlib.asynccontextmanager
async def linked(
    sim: SimServer, phone: SimPhone, state: AuthState | None = None, **options: Any
) -> AsyncIterator[WASocket]:
    """``async with linked(sim, phone) as sock:`` ``link``, and ``end()`` on the way out."""
    sock = await link(sim, phone, state, **options)
    try:
        yield sock
    finally:
        await sock.end()
