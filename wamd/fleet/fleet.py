"""``Fleet``: many WhatsApp accounts in one event loop.

One object holds every account of the process. Each account has its own auth state
(opened by name from one ``AuthBackend``: one Postgres pool or one SQLite file for all),
its own socket and its own supervisor, ``run_forever`` from ``wamd.client.supervisor``,
so every account keeps the reconnect rules a single bot has (515 at once; 401, 403, 440,
405 final; backoff with jitter for the rest). What the fleet adds:

- **accounts at run time**: ``add``, ``pair`` (QR or code), ``start``, ``stop``,
  ``remove`` while the others run;
- **events that say whose they are**: ``fleet.on("messages.upsert", handler)`` registers
  ``handler`` on every account's socket, now and after each reconnect; it is called with
  an ``AccountEvent`` (``account``, ``payload``, ``sock``). It is registered on the socket
  itself, so the socket's guarantees hold unchanged: an ``async def`` handler sees one
  account's events in order, and a message is acknowledged to the server only after every
  handler has run on it (at least once, across crashes and takeovers);
- **bounded logins**: at most ``login_concurrency`` accounts are between "connect" and
  "open" (or a close) at a time. A thousand accounts cut off together queue for a slot
  instead of opening a thousand handshakes that all time out; the supervisors' jitter
  spreads them further;
- **a gate per account**: ``start(name, gate=...)`` is asked before every connection the
  supervisor would open; when it says no, the supervisor ends without connecting. A fleet
  worker's gate is "this process holds the account's lease, with time to spare"
  (``wamd.fleet.worker``);
- **metrics**: ``fleet.metrics`` (``wamd.fleet.metrics``).

``stop(name)`` returns only once the account's socket is closed and nothing of it runs:
that is what lets a worker hand an account to another without two live connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from wamd.client import WASocket, make_wa_socket
from wamd.client.lifecycle import Phase
from wamd.client.supervisor import FINAL_REASONS, run_forever
from wamd.errors import ConnectionClosed, DisconnectReason, FleetError, PairingError
from wamd.events import EVENT_NAMES, ConnectionUpdate, LastDisconnect, MessagesUpsert
from wamd.fleet.auths import AuthBackend
from wamd.fleet.metrics import FleetMetrics
from wamd.messaging.types import MessageUpdate
from wamd.store.auth import AuthState, AuthStateAndSave

__all__ = [
    "AccountEvent",
    "AccountStatus",
    "Fleet",
    "FleetAccount",
    "check_account",
]

log = logging.getLogger(__name__)

P = TypeVar("P")
Gate = Callable[[], bool]
Handler = Callable[["AccountEvent[Any]"], object]

MAX_NAME = 200  # characters in an account name
MAX_CODE_REJECTIONS = 3  # new pairing codes after the phone refused one; then pairing fails
_OPTIONS = frozenset(inspect.signature(make_wa_socket).parameters) - {"auth"}


def check_account(name: object) -> str:
    """An account name: a non-empty string of at most 200 printable characters, no spaces."""
    if not isinstance(name, str):
        raise FleetError(f"an account name is a string, got {type(name).__name__}")
    if not name:
        raise FleetError("an account name must not be empty")
    if len(name) > MAX_NAME:
        raise FleetError(f"an account name is at most {MAX_NAME} characters, got {len(name)}")
    if not name.isprintable() or any(c.isspace() for c in name):
        raise FleetError(f"an account name has no spaces or control characters: {name!r}")
    return name


class AccountStatus(StrEnum):
    STOPPED = "stopped"  # not running in this process
    WAITING = "waiting"  # its supervisor waits for a login slot (or its backoff)
    CONNECTING = "connecting"
    PAIRING = "pairing"  # showing QR codes / waiting for a code
    OPEN = "open"
    RECONNECTING = "reconnecting"  # closed; the supervisor connects again after its delay
    FINAL = "final"  # stopped for good: logged out, banned, replaced, outdated


@dataclass(frozen=True, slots=True)
class AccountEvent(Generic[P]):
    """One event of one account: ``payload`` is what the socket emitted."""

    account: str
    payload: P
    sock: WASocket


class FleetAccount:
    """One account of a fleet: its auth state, its current socket and supervisor."""

    def __init__(self, name: str, opened: AuthStateAndSave) -> None:
        self.name = name
        self.state: AuthState = opened.state
        self._save_creds = opened.save_creds
        self._saving = asyncio.Lock()  # a save and a forget never interleave
        self._forgotten = False
        self.sock: WASocket | None = None
        self.status = AccountStatus.STOPPED
        self.last_disconnect: LastDisconnect | None = None
        self.final: LastDisconnect | None = None  # the final reason, when FINAL
        self.logins = 0
        self.reconnects = 0
        self.gate: Gate | None = None
        self.since = time.time()  # when the status last changed (wall clock, for lines)
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def save_creds(self, *_update: object) -> None:
        """Write the creds, unless the account's data was deleted (``remove(forget=True)``):
        a socket's last ``creds.update`` handlers can still run after it closed, and would
        otherwise bring a forgotten account back."""
        async with self._saving:
            if not self._forgotten:
                await self._save_creds()

    async def forget(self, auths: AuthBackend) -> None:
        """Delete the account's data, after any save under way and before any later one."""
        async with self._saving:
            self._forgotten = True
            await auths.forget(self.name, self.state)

    def __repr__(self) -> str:  # never the auth state: it holds the keys
        return f"FleetAccount({self.name!r}, {self.status.value}, jid={self.jid!r})"

    @property
    def jid(self) -> str | None:
        me = self.state.creds.me
        return me.id if me is not None else None

    @property
    def paired(self) -> bool:
        return self.state.creds.me is not None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def set_status(self, status: AccountStatus) -> None:
        if status is not self.status:
            self.status = status
            self.since = time.time()


class Fleet:
    """Many accounts in one event loop (see the module docstring).

    ``socket_options`` are ``make_wa_socket``'s keyword arguments (``url``,
    ``server_root_key`` for a sim...), the same for every account. The fleet owns
    ``auths``: ``close()`` closes it.
    """

    def __init__(
        self,
        auths: AuthBackend,
        *,
        login_concurrency: int = 16,
        login_timeout: float = 60.0,
        socket_options: Mapping[str, Any] | None = None,
        initial_delay: float = 1.0,
        max_delay: float = 60.0,
        jitter: float = 0.3,
        metrics: FleetMetrics | None = None,
        logger: logging.Logger | None = None,
        status: Callable[[str, str], None] | None = None,
    ) -> None:
        if (
            not isinstance(login_concurrency, int)
            or isinstance(login_concurrency, bool)
            or login_concurrency < 1
        ):
            raise FleetError(f"login_concurrency must be an int >= 1, got {login_concurrency!r}")
        options = dict(socket_options or {})
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise FleetError(f"unknown socket options: {', '.join(unknown)}")
        self.auths = auths
        self.login_concurrency = login_concurrency
        self.login_timeout = login_timeout
        self.options = options
        self.initial_delay, self.max_delay, self.jitter = initial_delay, max_delay, jitter
        self.metrics = metrics if metrics is not None else FleetMetrics()
        self.metrics.collectors.append(self._collect)
        self.log = logger or log
        self.status = status  # status(account, text): lines a person can follow
        self._accounts: dict[str, FleetAccount] = {}
        self._handlers: list[tuple[str, Handler]] = []
        self._wrappers: dict[tuple[str, str, int], Callable[[Any], object]] = {}
        self._logins = asyncio.Semaphore(login_concurrency)
        self._connected: set[str] = set()
        self.on_final: list[Callable[[FleetAccount, LastDisconnect], object]] = []

    def say(self, account: str, text: str) -> None:
        """A status line about ``account`` (to ``status``, and the log at INFO)."""
        self.log.info("%s: %s", account, text)
        if self.status is not None:
            try:
                self.status(account, text)
            except Exception:  # a status line must never break an account
                self.log.exception("status line failed")

    # ------------------------------------------------------------------ accounts

    def __contains__(self, name: object) -> bool:
        return name in self._accounts

    def __iter__(self) -> Iterator[FleetAccount]:
        return iter(list(self._accounts.values()))

    def __len__(self) -> int:
        return len(self._accounts)

    def account(self, name: str) -> FleetAccount:
        """The account called ``name``; ``FleetError`` when the fleet has none."""
        acct = self._accounts.get(check_account(name))
        if acct is None:
            raise FleetError(f"no account {name!r} in this fleet")
        return acct

    def statuses(self) -> dict[str, AccountStatus]:
        return {name: acct.status for name, acct in self._accounts.items()}

    @property
    def connected(self) -> int:
        """How many accounts have an open socket."""
        return len(self._connected)

    async def add(self, name: str) -> FleetAccount:
        """Open ``name``'s auth state (fresh credentials when it has none); not started."""
        check_account(name)
        if name in self._accounts:
            raise FleetError(f"account {name!r} is already in this fleet")
        opened = await self.auths.open(name)
        if name in self._accounts:  # added meanwhile by another task
            await self.auths.release(opened.state)
            raise FleetError(f"account {name!r} is already in this fleet")
        acct = self._accounts[name] = FleetAccount(name, opened)
        return acct

    async def start(self, name: str, *, gate: Gate | None = None) -> FleetAccount:
        """Run ``name`` under its supervisor (in the background) until ``stop``.

        ``gate()`` is asked before each connection; ``False`` ends the supervisor without
        connecting. ``FleetError`` for an account that is not paired (``pair`` it first).
        """
        acct = self.account(name)
        if acct.running:
            acct.gate = gate
            return acct
        if not acct.paired:
            raise FleetError(f"account {name!r} is not paired: pair it first")
        acct.gate = gate
        acct.final = None
        acct._stop = asyncio.Event()
        acct.set_status(AccountStatus.WAITING)
        acct._task = asyncio.get_running_loop().create_task(
            self._supervise(acct), name=f"wamd-fleet-{name}"
        )
        return acct

    async def stop(self, name: str) -> None:
        """Stop ``name``: returns once its socket is closed and nothing of it runs."""
        acct = self.account(name)
        task = acct._task
        if task is not None and not task.done():
            acct._stop.set()
            sock = acct.sock
            if sock is None or sock.phase in (Phase.IDLE, Phase.CLOSED):
                task.cancel()  # between sockets: waiting for a slot or sleeping a backoff
            await asyncio.wait({task})
        sock = acct.sock
        if sock is not None:
            await sock.end()  # a no-op when the supervisor ended it (it always should)
        acct.sock = None
        self._connected.discard(name)
        if acct.status is not AccountStatus.FINAL:
            acct.set_status(AccountStatus.STOPPED)

    async def remove(self, name: str, *, forget: bool = False) -> None:
        """Stop ``name`` and drop it from the fleet; ``forget`` also deletes its data."""
        acct = self.account(name)
        await self.stop(name)
        self._accounts.pop(name, None)
        try:
            if forget:
                await acct.forget(self.auths)
        finally:
            await self.auths.release(acct.state)

    async def pair(
        self,
        name: str,
        *,
        phone: str | None = None,
        on_qr: Callable[[str], object] | None = None,
        on_code: Callable[[str], object] | None = None,
        on_code_rejected: Callable[[PairingError], object] | None = None,
        timeout: float = 180.0,
    ) -> str:
        """Link ``name`` as a new companion device; returns its JID once logged in.

        QR codes go to ``on_qr`` (the text to show or scan), or with ``phone`` (the
        account's number) a pairing code goes to ``on_code``. A code the phone refused
        (mistyped) goes to ``on_code_rejected`` and a new code to ``on_code``, up to
        ``MAX_CODE_REJECTIONS`` times. An account that is paired already is only
        reported. The account must not be running.
        """
        acct = self.account(name)
        if acct.running:
            raise FleetError(f"account {name!r} is running: stop it before pairing")
        if acct.jid is not None:
            return acct.jid
        sock = make_wa_socket(acct.state, **self.options)
        sock.ev.on("creds.update", acct.save_creds)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        asked: list[asyncio.Task[None]] = []

        async def ask_code(number: str) -> None:
            try:
                code = await sock.request_pairing_code(number)
            except (ConnectionClosed, ValueError) as exc:
                if not done.done():
                    done.set_exception(FleetError(f"no pairing code for {name!r}: {exc}"))
                return
            except Exception as exc:  # a refused request: say why, end the attempt
                if not done.done():
                    done.set_exception(FleetError(f"no pairing code for {name!r}: {exc}"))
                return
            if on_code is not None:
                on_code(code)

        def on_update(update: ConnectionUpdate) -> None:
            rejected = update.pairing_code_rejected
            if rejected is not None and phone and sock.user is None and not done.done():
                if on_code_rejected is not None:
                    on_code_rejected(rejected)
                if len(asked) > MAX_CODE_REJECTIONS:
                    done.set_exception(
                        FleetError(f"pairing {name!r} failed: the phone refused {len(asked)} codes")
                    )
                else:
                    asked.append(loop.create_task(ask_code(phone)))
            if update.connection == "connecting":
                acct.set_status(AccountStatus.PAIRING)
                if phone and sock.user is None and not asked:
                    asked.append(loop.create_task(ask_code(phone)))
            if update.qr is not None and not phone and on_qr is not None:
                on_qr(update.qr)
            if done.done():
                return
            if update.connection == "open":
                done.set_result(None)
            elif update.connection == "close" and update.last_disconnect is not None:
                code = update.last_disconnect.status_code
                if code != DisconnectReason.RESTART_REQUIRED:
                    done.set_exception(
                        FleetError(f"pairing {name!r} failed: the connection closed ({code})")
                    )

        sock.ev.on("connection.update", on_update)
        try:
            await sock.connect()
            try:
                async with asyncio.timeout(timeout):
                    await done
            except TimeoutError:
                raise FleetError(f"{name!r} was not paired within {timeout:g} s") from None
        finally:
            for task in asked:
                task.cancel()
            await sock.end()
            await sock.ev.drain()
            await acct.save_creds()
            acct.set_status(AccountStatus.STOPPED)
        jid = acct.jid
        if jid is None:  # pragma: no cover - open implies paired
            raise FleetError(f"{name!r} opened without credentials")
        return jid

    async def close(self) -> None:
        """Stop every account (together), release their states and the auth backend."""
        names = list(self._accounts)
        await asyncio.gather(*(self.stop(n) for n in names), return_exceptions=True)
        for name in names:
            acct = self._accounts.pop(name, None)
            if acct is not None:
                with contextlib.suppress(Exception):
                    await self.auths.release(acct.state)
        await self.auths.close()

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def idle(self) -> None:
        """Wait until every running socket has handled what it received so far."""
        for acct in list(self._accounts.values()):
            if acct.sock is not None:
                await acct.sock.idle()

    # ------------------------------------------------------------------ events

    def on(self, name: str, handler: Handler | None = None) -> Any:
        """Call ``handler(AccountEvent)`` for event ``name`` of every account.

        Works as a decorator without ``handler``. Registered on the sockets that run now
        and on every socket made later.
        """
        if name not in EVENT_NAMES:
            raise FleetError(f"unknown event {name!r}")
        if handler is None:

            def decorator(fn: Handler) -> Handler:
                self.on(name, fn)
                return fn

            return decorator
        self._handlers.append((name, handler))
        for acct in self._accounts.values():
            if acct.sock is not None:
                self._attach(acct, acct.sock, name, handler)
        return handler

    def off(self, name: str, handler: Handler) -> None:
        """Stop calling ``handler`` for ``name``."""
        self._handlers = [(n, h) for n, h in self._handlers if not (n == name and h is handler)]
        for acct in self._accounts.values():
            wrapper = self._wrappers.pop((acct.name, name, id(handler)), None)
            if wrapper is not None and acct.sock is not None:
                acct.sock.ev.off(name, wrapper)  # type: ignore[arg-type]

    def _attach(self, acct: FleetAccount, sock: WASocket, name: str, handler: Handler) -> None:
        account = acct.name
        wrapper: Callable[[Any], object]
        if inspect.iscoroutinefunction(handler):

            async def wrapper(payload: Any) -> None:
                await handler(AccountEvent(account, payload, sock))

        else:

            def wrapper(payload: Any) -> object:
                return handler(AccountEvent(account, payload, sock))

        self._wrappers[(account, name, id(handler))] = wrapper
        sock.ev.on(name, wrapper)  # type: ignore[call-overload]

    # ------------------------------------------------------------------ running

    def _may_connect(self, acct: FleetAccount) -> bool:
        if acct._stop.is_set():
            return False
        if acct.gate is not None and not acct.gate():
            return False
        return True

    async def _supervise(self, acct: FleetAccount) -> None:
        last: LastDisconnect | None = None
        try:
            last = await run_forever(
                lambda: self._next_socket(acct),
                initial_delay=self.initial_delay,
                max_delay=self.max_delay,
                jitter=self.jitter,
                stop=acct._stop,
                on_reconnect=lambda _last, delay: self._reconnecting(acct, delay),
            )
        except Exception:
            self.log.exception("account %r: the supervisor failed", acct.name)
        finally:
            self._connected.discard(acct.name)
        if last is not None and last.status_code in FINAL_REASONS and not acct._stop.is_set():
            acct.final = last
            acct.set_status(AccountStatus.FINAL)
            self.say(acct.name, f"not reconnecting: {describe(last)}")
            for callback in list(self.on_final):
                try:
                    result = callback(acct, last)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    self.log.exception("account %r: an on_final callback raised", acct.name)
        else:
            acct.set_status(AccountStatus.STOPPED)

    def _reconnecting(self, acct: FleetAccount, delay: float) -> None:
        self.say(acct.name, f"reconnecting in {delay:.1f} s")
        acct.reconnects += 1
        acct.set_status(AccountStatus.WAITING)
        self.metrics.inc("wamd_fleet_reconnects_total")

    async def _next_socket(self, acct: FleetAccount) -> WASocket | None:
        """The supervisor's ``make_socket``: a login slot, the gate, then a new socket."""
        if not self._may_connect(acct):
            return None
        acct.set_status(AccountStatus.WAITING)
        await self._logins.acquire()
        loop = asyncio.get_running_loop()
        released = False
        timer: asyncio.TimerHandle | None = None

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._logins.release()
                if timer is not None:
                    timer.cancel()

        if not self._may_connect(acct):  # the gate closed while we waited for the slot
            release()
            return None
        try:
            # the same creds object (the socket changes it in place, save_creds writes it),
            # keys behind a timer
            keys = _TimedKeys(acct.state.keys, self.metrics)
            timed = AuthState(acct.state.creds, keys)
            sock = make_wa_socket(timed, logger=self.log, **self.options)
        except BaseException:
            release()
            raise
        timer = loop.call_later(self.login_timeout, release)  # a login that never ends
        self._wire(acct, sock, release)
        acct.sock = sock
        acct.set_status(AccountStatus.CONNECTING)
        return sock

    def _wire(self, acct: FleetAccount, sock: WASocket, release: Callable[[], None]) -> None:
        metrics = self.metrics

        async def save_creds(_update: object) -> None:
            started = time.perf_counter()
            try:
                await acct.save_creds()
            finally:
                metrics.observe(
                    "wamd_fleet_store_seconds", time.perf_counter() - started, op="creds"
                )

        def on_connection(update: ConnectionUpdate) -> None:
            if update.qr is not None:
                acct.set_status(AccountStatus.PAIRING)
            if update.connection == "open":
                release()
                acct.logins += 1
                metrics.inc("wamd_fleet_logins_total")
                self._connected.add(acct.name)
                acct.set_status(AccountStatus.OPEN)
                self.say(acct.name, f"online as {acct.jid}")
            elif update.connection == "close" and update.last_disconnect is not None:
                last = update.last_disconnect
                acct.last_disconnect = last
                metrics.inc("wamd_fleet_disconnects_total", code=str(last.status_code))
                self._connected.discard(acct.name)
                if last.status_code != DisconnectReason.RESTART_REQUIRED:
                    release()  # after 515 the socket logs in again by itself, in its slot
                acct.set_status(AccountStatus.RECONNECTING)
                self.say(acct.name, f"disconnected: {describe(last)}")
            elif update.connection == "connecting":
                acct.set_status(AccountStatus.CONNECTING)
                self.say(acct.name, "connecting")

        def on_upsert(upsert: MessagesUpsert) -> None:
            incoming = sum(1 for m in upsert.messages if not m.key.from_me)
            if incoming:
                metrics.inc("wamd_fleet_messages_in_total", incoming)

        def on_update(updates: list[MessageUpdate]) -> None:
            acked = sum(1 for u in updates if u.status == "server_ack")
            if acked:
                metrics.inc("wamd_fleet_messages_out_total", acked)

        sock.ev.on("creds.update", save_creds)
        sock.ev.on("connection.update", on_connection)
        sock.ev.on("messages.upsert", on_upsert)
        sock.ev.on("messages.update", on_update)
        for name, handler in self._handlers:
            self._attach(acct, sock, name, handler)

    def _collect(self) -> None:
        metrics = self.metrics
        metrics.clear("wamd_fleet_accounts")
        counts: dict[str, int] = {}
        for acct in self._accounts.values():
            counts[acct.status.value] = counts.get(acct.status.value, 0) + 1
        for status, n in counts.items():
            metrics.set("wamd_fleet_accounts", n, status=status)
        metrics.set("wamd_fleet_connected_accounts", len(self._connected))


def describe(last: LastDisconnect) -> str:
    """``"connection lost (408)"``: a close as a status line says it (no key material)."""
    code = last.status_code
    try:
        name = DisconnectReason(code).name.lower().replace("_", " ")
    except ValueError:
        name = "closed"
    return f"{name} ({code})"


class _TimedKeys:
    """A key store that times its transactions (``wamd_fleet_store_seconds{op="keys"}``)."""

    def __init__(self, inner: Any, metrics: FleetMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"_TimedKeys({self._inner!r})"

    async def get(self, type: str, ids: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._inner.get(type, ids)
        return result

    async def set(self, data: Any) -> None:
        await self._inner.set(data)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self._timed()

    @asynccontextmanager
    async def _timed(self) -> AsyncIterator[None]:
        if getattr(self._inner, "in_transaction", False):
            async with self._inner.transaction():  # nested: joins the open one
                yield
            return
        started = time.perf_counter()
        try:
            async with self._inner.transaction():
                yield
        finally:
            self._metrics.observe(
                "wamd_fleet_store_seconds", time.perf_counter() - started, op="keys"
            )
