"""The event emitter behind ``sock.ev``, with Baileys' event names and typed payloads.

Handlers may be plain functions or coroutines. Plain handlers run at ``emit`` time in
registration order; each coroutine handler gets its own queue and task, so a slow handler
sees its events in emit order without holding up the emitter or the other handlers. A
handler that raises is logged with its traceback (logger ``wamd.events``); nothing else is
affected. ``await ev.drain()`` waits until every queued handler call has finished.

Event catalogue (payload types below):

=============================  ====================================================
``connection.update``          ``ConnectionUpdate``
``creds.update``               ``dict[str, Any]``: the changed credential fields
``messages.upsert``            ``MessagesUpsert``
``messages.update``            ``list`` of message updates
``messages.delete``            keys of deleted messages
``messages.reaction``          reactions
``message-receipt.update``     receipts
``presence.update``            presence of a chat
``groups.upsert`` / ``groups.update`` / ``group-participants.update``
``chats.upsert`` / ``chats.update`` / ``chats.delete``
``contacts.upsert`` / ``contacts.update``
``messaging-history.set``      history sync batches
``call``                       call offers and ends
``blocklist.set`` / ``blocklist.update``
=============================  ====================================================
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, overload

from wamd.errors import EmitterClosed

__all__ = [
    "EVENT_NAMES",
    "ConnectionUpdate",
    "EmitterClosed",
    "EventEmitter",
    "LastDisconnect",
    "MessagesUpsert",
]

log = logging.getLogger("wamd.events")

EVENT_NAMES = frozenset(
    {
        "connection.update",
        "creds.update",
        "messages.upsert",
        "messages.update",
        "messages.delete",
        "messages.reaction",
        "message-receipt.update",
        "presence.update",
        "groups.upsert",
        "groups.update",
        "group-participants.update",
        "chats.upsert",
        "chats.update",
        "chats.delete",
        "contacts.upsert",
        "contacts.update",
        "messaging-history.set",
        "call",
        "blocklist.set",
        "blocklist.update",
    }
)

Handler = Callable[[Any], Awaitable[None] | None]
H = TypeVar("H", bound=Callable[..., Any])  # a handler, kept as its own type by ``on``


@dataclass(frozen=True, slots=True)
class LastDisconnect:
    """Why the connection ended: compare ``status_code`` with ``DisconnectReason``."""

    error: BaseException | None
    status_code: int
    date: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ConnectionUpdate:
    connection: Literal["connecting", "open", "close"] | None = None
    qr: str | None = None
    is_new_login: bool | None = None
    received_pending_notifications: bool | None = None
    is_online: bool | None = None
    last_disconnect: LastDisconnect | None = None


@dataclass(frozen=True, slots=True)
class MessagesUpsert:
    messages: tuple[Any, ...]
    type: Literal["notify", "append"]


class _AsyncHandler:
    """Runs one coroutine handler over its own queue, in order."""

    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.handler = handler
        self.queue: asyncio.Queue[tuple[Any, asyncio.Future[None] | None]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def push(self, payload: Any, done: asyncio.Future[None] | None = None) -> None:
        self.queue.put_nowait((payload, done))
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while not self.queue.empty():
            payload, done = self.queue.get_nowait()
            try:
                result = self.handler(payload)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("handler %r for %r raised", self.handler, self.name)
            finally:
                self.queue.task_done()
                if done is not None and not done.done():
                    done.set_result(None)


class EventEmitter:
    def __init__(self, stream_buffer: int = 10_000) -> None:
        self._handlers: dict[str, list[tuple[Handler, _AsyncHandler | None, bool]]] = {}
        self._streams: list[tuple[frozenset[str], asyncio.Queue[tuple[str, Any] | None]]] = []
        self._stream_buffer = stream_buffer
        self._closed = False
        self._background: set[asyncio.Future[Any]] = set()
        self._waiters: set[asyncio.Future[Any]] = set()

    # ------------------------------------------------------------------ registration

    @staticmethod
    def _check(name: str) -> None:
        if name not in EVENT_NAMES:
            close = difflib.get_close_matches(name, EVENT_NAMES, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"unknown event {name!r}{hint}")

    @overload
    def on(self, name: str) -> Callable[[H], H]: ...

    @overload
    def on(self, name: str, handler: H) -> H: ...

    def on(self, name: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Register ``handler`` for ``name``; without a handler, works as a decorator."""
        self._check(name)
        if handler is None:

            def decorator(fn: H) -> H:
                self.on(name, fn)
                return fn

            return decorator
        self._add(name, handler, once=False)
        return handler

    def once(self, name: str, handler: Handler) -> Handler:
        self._check(name)
        self._add(name, handler, once=True)
        return handler

    def _add(self, name: str, handler: Handler, *, once: bool) -> None:
        runner = _AsyncHandler(name, handler) if inspect.iscoroutinefunction(handler) else None
        self._handlers.setdefault(name, []).append((handler, runner, once))

    def off(self, name: str, handler: Handler) -> None:
        entries = self._handlers.get(name, [])
        self._handlers[name] = [e for e in entries if e[0] is not handler]

    # ------------------------------------------------------------------ emitting

    def emit(self, name: str, payload: Any) -> None:
        """Deliver ``payload`` to every handler of ``name`` (and to streams)."""
        self._emit(name, payload, None)

    def emit_tracked(self, name: str, payload: Any) -> asyncio.Future[Any]:
        """``emit``, returning a future done once every handler has run on ``payload``.

        Plain handlers have run when this returns; the future also waits for the
        coroutine handlers' calls with this payload (a handler that raised counts as
        run). Streams are not waited for: their readers take events at their own pace.
        """
        waits: list[asyncio.Future[Any]] = []
        self._emit(name, payload, waits)
        if not waits:
            done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return asyncio.gather(*waits, return_exceptions=True)

    def _emit(self, name: str, payload: Any, waits: list[asyncio.Future[Any]] | None) -> None:
        self._check(name)
        if self._closed:
            return
        for entry in list(self._handlers.get(name, [])):
            handler, runner, once = entry
            if once:
                self.off(name, handler)
            if runner is not None:
                done = asyncio.get_running_loop().create_future() if waits is not None else None
                runner.push(payload, done)
                if done is not None and waits is not None:
                    waits.append(done)
                continue
            try:
                result = handler(payload)
                if inspect.isawaitable(result):  # a plain function returning a coroutine
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                    if waits is not None:
                        waits.append(task)
            except Exception:
                log.exception("handler %r for %r raised", handler, name)
        for names, queue in self._streams:
            if name in names:
                if queue.qsize() >= self._stream_buffer:
                    log.warning("event stream full: dropping the oldest %r event", name)
                    queue.get_nowait()
                queue.put_nowait((name, payload))

    async def drain(self) -> None:
        """Wait until every queued coroutine handler call has finished."""
        for entries in list(self._handlers.values()):
            for _, runner, _ in entries:
                if runner is not None:
                    await runner.queue.join()

    # ------------------------------------------------------------------ waiting

    async def wait_for(
        self,
        name: str,
        predicate: Callable[[Any], bool] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """The next payload of ``name`` for which ``predicate`` holds."""
        self._check(name)
        if self._closed:
            raise EmitterClosed("the event emitter is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def listener(payload: Any) -> None:
            if future.done():
                return
            try:
                if predicate is None or predicate(payload):
                    future.set_result(payload)
            except Exception as exc:  # a predicate that raises fails the wait
                future.set_exception(exc)

        self._add(name, listener, once=False)
        self._waiters.add(future)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.off(name, listener)
            self._waiters.discard(future)

    async def stream(self, *names: str) -> AsyncIterator[tuple[str, Any]]:
        """``async for name, payload in ev.stream("messages.upsert", ...)``.

        Buffers up to ``stream_buffer`` events; past that the oldest are dropped with a
        warning. Ends when the emitter closes.
        """
        for name in names:
            self._check(name)
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        entry = (frozenset(names), queue)
        self._streams.append(entry)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield item
        finally:
            self._streams.remove(entry)

    def close(self) -> None:
        """End streams and fail pending waits; later emits are ignored."""
        self._closed = True
        for _, queue in self._streams:
            queue.put_nowait(None)
        for future in list(self._waiters):
            if not future.done():
                future.set_exception(EmitterClosed("the event emitter is closed"))
