"""The event emitter behind ``sock.ev``, with Baileys' event names and typed payloads.

Handlers may be plain functions or coroutines. Plain handlers run at ``emit`` time in
registration order; each coroutine handler gets its own queue and task, so a slow handler
sees its events in emit order without holding up the emitter or the other handlers. A
handler that raises is logged with its traceback (logger ``wamd.events``); nothing else is
affected. ``await ev.drain()`` waits until every queued handler call has finished.

Event catalogue: ``EventPayloads`` maps each name to its payload type, and ``on``,
``once``, ``wait_for``, ``emit`` and ``emit_tracked`` are overloaded on the name, so that
type checkers (``mypy --strict``) refuse a misspelt event name, a handler written for
another event's payload, and a field the payload does not have (``docs/events.md``):

=================================  ================================================
``connection.update``              ``ConnectionUpdate``
``creds.update``                   ``dict[str, Any]``: the changed credential fields
``messages.upsert``                ``MessagesUpsert`` (``tuple[WAMessage, ...]``)
``messages.update``                ``list[MessageUpdate]``
``messages.delete``                ``MessagesDelete`` (app state: delete for me, clear chat)
``messages.reaction``              ``MessageReaction``
``message-receipt.update``         ``list[MessageReceipt]``
``presence.update``                ``PresenceUpdate``
``groups.upsert``                  ``list[GroupMetadata]``
``groups.update``                  ``list[GroupUpdate]``
``group-participants.update``      ``GroupParticipantsUpdate``
``chats.upsert``                   ``list[HistoryChat]``
``chats.update``                   ``list[ChatUpdate]`` (app state: archive, mute, pin, read)
``chats.delete``                   ``list[str]``: chat JIDs (app state)
``contacts.upsert``, ``.update``   ``list[Contact]`` (app state: saved names; push names)
``messaging-history.set``          ``HistorySet``
``call``                           ``list[CallEvent]``
``blocklist.set``                  ``BlocklistSet`` (not emitted yet)
``blocklist.update``               ``BlocklistUpdate`` (account_sync notifications)
``messaging-history.status``       ``HistorySyncStatus`` (not emitted yet)
``lid-mapping.update``             ``LidMappingUpdate`` (a mapping new to the store)
``messages.media-update``          ``list[MediaUpdate]`` (mediaretry notifications)
``group.join-request``             ``GroupJoinRequest`` (w:gp2 membership requests)
``group.member-tag.update``        ``GroupMemberTagUpdate`` (not emitted yet)
``labels.edit``                    ``Label`` (app state)
``labels.association``             ``LabelAssociationUpdate`` (app state)
``newsletter.reaction``, ``.view`` ``NewsletterReaction``, ``NewsletterView`` (not emitted)
``newsletter-participants.update`` ``NewsletterParticipantsUpdate`` (not emitted)
``newsletter-settings.update``     ``NewsletterSettingsUpdate`` (not emitted)
``message-capping.update``         ``MessageCappingUpdate`` (not emitted)
``chats.lock``                     ``ChatLock`` (not emitted yet)
``settings.update``                ``SettingsUpdate`` (app state: locale ...)
=================================  ================================================

These are Baileys' 34 event names (``Types/Events.ts``); ``ev.on`` accepts every one.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypedDict, TypeVar, cast, get_args, overload

from wamd.errors import EmitterClosed, PairingError, StoreError
from wamd.messaging.types import (
    BlocklistSet,
    BlocklistUpdate,
    CallEvent,
    ChatLock,
    ChatUpdate,
    Contact,
    GroupJoinRequest,
    GroupMemberTagUpdate,
    GroupMetadata,
    GroupParticipantsUpdate,
    GroupUpdate,
    HistoryChat,
    HistorySet,
    HistorySyncStatus,
    Label,
    LabelAssociationUpdate,
    LidMappingUpdate,
    MediaUpdate,
    MessageCappingUpdate,
    MessageReaction,
    MessageReceipt,
    MessagesDelete,
    MessageUpdate,
    NewsletterParticipantsUpdate,
    NewsletterReaction,
    NewsletterSettingsUpdate,
    NewsletterView,
    PresenceUpdate,
    SettingsUpdate,
    WAMessage,
)

__all__ = [
    "EVENT_NAMES",
    "ConnectionUpdate",
    "EmitterClosed",
    "EventEmitter",
    "EventName",
    "EventPayloads",
    "LastDisconnect",
    "MessagesUpsert",
]

log = logging.getLogger(__name__)

EventName = Literal[
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
    "messaging-history.status",
    "lid-mapping.update",
    "messages.media-update",
    "group.join-request",
    "group.member-tag.update",
    "labels.edit",
    "labels.association",
    "newsletter.reaction",
    "newsletter.view",
    "newsletter-participants.update",
    "newsletter-settings.update",
    "message-capping.update",
    "chats.lock",
    "settings.update",
]
"""The name of an event (Baileys' names). Pass a variable of this type for a dynamic name."""

EVENT_NAMES: frozenset[str] = frozenset(get_args(EventName))

P = TypeVar("P")  # an event's payload type
R = TypeVar("R")  # what a handler returns (ignored; awaited when it is awaitable)
_Handler = Callable[[Any], object]


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
    # the auth state failed while connected: a damaged key set aside (the connection
    # stays; the chat recovers by retry) or StoreFailed (the connection closes with it)
    store_error: StoreError | None = None
    # the phone refused the pairing code typed on it (a mistyped or old code): the
    # connection stays; ask for a new one with request_pairing_code, or type it again
    pairing_code_rejected: PairingError | None = None


@dataclass(frozen=True, slots=True)
class MessagesUpsert:
    messages: tuple[WAMessage, ...]
    type: Literal["notify", "append"]


EventPayloads = TypedDict(
    "EventPayloads",
    {
        "connection.update": ConnectionUpdate,
        "creds.update": dict[str, Any],
        "messages.upsert": MessagesUpsert,
        "messages.update": list[MessageUpdate],
        "messages.delete": MessagesDelete,
        "messages.reaction": MessageReaction,
        "message-receipt.update": list[MessageReceipt],
        "presence.update": PresenceUpdate,
        "groups.upsert": list[GroupMetadata],
        "groups.update": list[GroupUpdate],
        "group-participants.update": GroupParticipantsUpdate,
        "chats.upsert": list[HistoryChat],
        "chats.update": list[ChatUpdate],
        "chats.delete": list[str],
        "contacts.upsert": list[Contact],
        "contacts.update": list[Contact],
        "messaging-history.set": HistorySet,
        "call": list[CallEvent],
        "blocklist.set": BlocklistSet,
        "blocklist.update": BlocklistUpdate,
        "messaging-history.status": HistorySyncStatus,
        "lid-mapping.update": LidMappingUpdate,
        "messages.media-update": list[MediaUpdate],
        "group.join-request": GroupJoinRequest,
        "group.member-tag.update": GroupMemberTagUpdate,
        "labels.edit": Label,
        "labels.association": LabelAssociationUpdate,
        "newsletter.reaction": NewsletterReaction,
        "newsletter.view": NewsletterView,
        "newsletter-participants.update": NewsletterParticipantsUpdate,
        "newsletter-settings.update": NewsletterSettingsUpdate,
        "message-capping.update": MessageCappingUpdate,
        "chats.lock": ChatLock,
        "settings.update": SettingsUpdate,
    },
)
"""Each event's payload type (the overloads of ``EventEmitter``'s methods follow it)."""


class HandlerDecorator(Protocol[P]):
    """What ``ev.on(name)`` returns: registers the decorated handler of ``P`` payloads."""

    def __call__(self, handler: Callable[[P], R], /) -> Callable[[P], R]: ...


class _AsyncHandler:
    """Runs one coroutine handler over its own queue, in order."""

    def __init__(self, name: str, handler: _Handler, logger: logging.Logger) -> None:
        self.log = logger
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
                self.log.exception("handler %r for %r raised", self.handler, self.name)
            finally:
                self.queue.task_done()
                if done is not None and not done.done():
                    done.set_result(None)


class EventEmitter:
    def __init__(
        self, stream_buffer: int = 10_000, *, logger: logging.Logger | None = None
    ) -> None:
        """``logger``: where raising handlers and dropped stream events are reported
        (default ``wamd.events``; a socket passes the user's ``logger=``)."""
        self.log = logger or log
        self._handlers: dict[str, list[tuple[_Handler, _AsyncHandler | None, bool]]] = {}
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

    # The overloads below are generated from ``EventPayloads`` by
    # tests/typing/gen_event_overloads.py (run it after changing an event; a test checks).
    # --- generated overloads: on ---
    @overload
    def on(self, name: Literal["connection.update"]) -> HandlerDecorator[ConnectionUpdate]: ...
    @overload
    def on(
        self, name: Literal["connection.update"], handler: Callable[[ConnectionUpdate], R]
    ) -> Callable[[ConnectionUpdate], R]: ...
    @overload
    def on(self, name: Literal["creds.update"]) -> HandlerDecorator[dict[str, Any]]: ...
    @overload
    def on(
        self, name: Literal["creds.update"], handler: Callable[[dict[str, Any]], R]
    ) -> Callable[[dict[str, Any]], R]: ...
    @overload
    def on(self, name: Literal["messages.upsert"]) -> HandlerDecorator[MessagesUpsert]: ...
    @overload
    def on(
        self, name: Literal["messages.upsert"], handler: Callable[[MessagesUpsert], R]
    ) -> Callable[[MessagesUpsert], R]: ...
    @overload
    def on(self, name: Literal["messages.update"]) -> HandlerDecorator[list[MessageUpdate]]: ...
    @overload
    def on(
        self, name: Literal["messages.update"], handler: Callable[[list[MessageUpdate]], R]
    ) -> Callable[[list[MessageUpdate]], R]: ...
    @overload
    def on(self, name: Literal["messages.delete"]) -> HandlerDecorator[MessagesDelete]: ...
    @overload
    def on(
        self, name: Literal["messages.delete"], handler: Callable[[MessagesDelete], R]
    ) -> Callable[[MessagesDelete], R]: ...
    @overload
    def on(self, name: Literal["messages.reaction"]) -> HandlerDecorator[MessageReaction]: ...
    @overload
    def on(
        self, name: Literal["messages.reaction"], handler: Callable[[MessageReaction], R]
    ) -> Callable[[MessageReaction], R]: ...
    @overload
    def on(
        self, name: Literal["message-receipt.update"]
    ) -> HandlerDecorator[list[MessageReceipt]]: ...
    @overload
    def on(
        self, name: Literal["message-receipt.update"], handler: Callable[[list[MessageReceipt]], R]
    ) -> Callable[[list[MessageReceipt]], R]: ...
    @overload
    def on(self, name: Literal["presence.update"]) -> HandlerDecorator[PresenceUpdate]: ...
    @overload
    def on(
        self, name: Literal["presence.update"], handler: Callable[[PresenceUpdate], R]
    ) -> Callable[[PresenceUpdate], R]: ...
    @overload
    def on(self, name: Literal["groups.upsert"]) -> HandlerDecorator[list[GroupMetadata]]: ...
    @overload
    def on(
        self, name: Literal["groups.upsert"], handler: Callable[[list[GroupMetadata]], R]
    ) -> Callable[[list[GroupMetadata]], R]: ...
    @overload
    def on(self, name: Literal["groups.update"]) -> HandlerDecorator[list[GroupUpdate]]: ...
    @overload
    def on(
        self, name: Literal["groups.update"], handler: Callable[[list[GroupUpdate]], R]
    ) -> Callable[[list[GroupUpdate]], R]: ...
    @overload
    def on(
        self, name: Literal["group-participants.update"]
    ) -> HandlerDecorator[GroupParticipantsUpdate]: ...
    @overload
    def on(
        self,
        name: Literal["group-participants.update"],
        handler: Callable[[GroupParticipantsUpdate], R],
    ) -> Callable[[GroupParticipantsUpdate], R]: ...
    @overload
    def on(self, name: Literal["chats.upsert"]) -> HandlerDecorator[list[HistoryChat]]: ...
    @overload
    def on(
        self, name: Literal["chats.upsert"], handler: Callable[[list[HistoryChat]], R]
    ) -> Callable[[list[HistoryChat]], R]: ...
    @overload
    def on(self, name: Literal["chats.update"]) -> HandlerDecorator[list[ChatUpdate]]: ...
    @overload
    def on(
        self, name: Literal["chats.update"], handler: Callable[[list[ChatUpdate]], R]
    ) -> Callable[[list[ChatUpdate]], R]: ...
    @overload
    def on(self, name: Literal["chats.delete"]) -> HandlerDecorator[list[str]]: ...
    @overload
    def on(
        self, name: Literal["chats.delete"], handler: Callable[[list[str]], R]
    ) -> Callable[[list[str]], R]: ...
    @overload
    def on(self, name: Literal["contacts.upsert"]) -> HandlerDecorator[list[Contact]]: ...
    @overload
    def on(
        self, name: Literal["contacts.upsert"], handler: Callable[[list[Contact]], R]
    ) -> Callable[[list[Contact]], R]: ...
    @overload
    def on(self, name: Literal["contacts.update"]) -> HandlerDecorator[list[Contact]]: ...
    @overload
    def on(
        self, name: Literal["contacts.update"], handler: Callable[[list[Contact]], R]
    ) -> Callable[[list[Contact]], R]: ...
    @overload
    def on(self, name: Literal["messaging-history.set"]) -> HandlerDecorator[HistorySet]: ...
    @overload
    def on(
        self, name: Literal["messaging-history.set"], handler: Callable[[HistorySet], R]
    ) -> Callable[[HistorySet], R]: ...
    @overload
    def on(self, name: Literal["call"]) -> HandlerDecorator[list[CallEvent]]: ...
    @overload
    def on(
        self, name: Literal["call"], handler: Callable[[list[CallEvent]], R]
    ) -> Callable[[list[CallEvent]], R]: ...
    @overload
    def on(self, name: Literal["blocklist.set"]) -> HandlerDecorator[BlocklistSet]: ...
    @overload
    def on(
        self, name: Literal["blocklist.set"], handler: Callable[[BlocklistSet], R]
    ) -> Callable[[BlocklistSet], R]: ...
    @overload
    def on(self, name: Literal["blocklist.update"]) -> HandlerDecorator[BlocklistUpdate]: ...
    @overload
    def on(
        self, name: Literal["blocklist.update"], handler: Callable[[BlocklistUpdate], R]
    ) -> Callable[[BlocklistUpdate], R]: ...
    @overload
    def on(
        self, name: Literal["messaging-history.status"]
    ) -> HandlerDecorator[HistorySyncStatus]: ...
    @overload
    def on(
        self, name: Literal["messaging-history.status"], handler: Callable[[HistorySyncStatus], R]
    ) -> Callable[[HistorySyncStatus], R]: ...
    @overload
    def on(self, name: Literal["lid-mapping.update"]) -> HandlerDecorator[LidMappingUpdate]: ...
    @overload
    def on(
        self, name: Literal["lid-mapping.update"], handler: Callable[[LidMappingUpdate], R]
    ) -> Callable[[LidMappingUpdate], R]: ...
    @overload
    def on(self, name: Literal["messages.media-update"]) -> HandlerDecorator[list[MediaUpdate]]: ...
    @overload
    def on(
        self, name: Literal["messages.media-update"], handler: Callable[[list[MediaUpdate]], R]
    ) -> Callable[[list[MediaUpdate]], R]: ...
    @overload
    def on(self, name: Literal["group.join-request"]) -> HandlerDecorator[GroupJoinRequest]: ...
    @overload
    def on(
        self, name: Literal["group.join-request"], handler: Callable[[GroupJoinRequest], R]
    ) -> Callable[[GroupJoinRequest], R]: ...
    @overload
    def on(
        self, name: Literal["group.member-tag.update"]
    ) -> HandlerDecorator[GroupMemberTagUpdate]: ...
    @overload
    def on(
        self, name: Literal["group.member-tag.update"], handler: Callable[[GroupMemberTagUpdate], R]
    ) -> Callable[[GroupMemberTagUpdate], R]: ...
    @overload
    def on(self, name: Literal["labels.edit"]) -> HandlerDecorator[Label]: ...
    @overload
    def on(
        self, name: Literal["labels.edit"], handler: Callable[[Label], R]
    ) -> Callable[[Label], R]: ...
    @overload
    def on(
        self, name: Literal["labels.association"]
    ) -> HandlerDecorator[LabelAssociationUpdate]: ...
    @overload
    def on(
        self, name: Literal["labels.association"], handler: Callable[[LabelAssociationUpdate], R]
    ) -> Callable[[LabelAssociationUpdate], R]: ...
    @overload
    def on(self, name: Literal["newsletter.reaction"]) -> HandlerDecorator[NewsletterReaction]: ...
    @overload
    def on(
        self, name: Literal["newsletter.reaction"], handler: Callable[[NewsletterReaction], R]
    ) -> Callable[[NewsletterReaction], R]: ...
    @overload
    def on(self, name: Literal["newsletter.view"]) -> HandlerDecorator[NewsletterView]: ...
    @overload
    def on(
        self, name: Literal["newsletter.view"], handler: Callable[[NewsletterView], R]
    ) -> Callable[[NewsletterView], R]: ...
    @overload
    def on(
        self, name: Literal["newsletter-participants.update"]
    ) -> HandlerDecorator[NewsletterParticipantsUpdate]: ...
    @overload
    def on(
        self,
        name: Literal["newsletter-participants.update"],
        handler: Callable[[NewsletterParticipantsUpdate], R],
    ) -> Callable[[NewsletterParticipantsUpdate], R]: ...
    @overload
    def on(
        self, name: Literal["newsletter-settings.update"]
    ) -> HandlerDecorator[NewsletterSettingsUpdate]: ...
    @overload
    def on(
        self,
        name: Literal["newsletter-settings.update"],
        handler: Callable[[NewsletterSettingsUpdate], R],
    ) -> Callable[[NewsletterSettingsUpdate], R]: ...
    @overload
    def on(
        self, name: Literal["message-capping.update"]
    ) -> HandlerDecorator[MessageCappingUpdate]: ...
    @overload
    def on(
        self, name: Literal["message-capping.update"], handler: Callable[[MessageCappingUpdate], R]
    ) -> Callable[[MessageCappingUpdate], R]: ...
    @overload
    def on(self, name: Literal["chats.lock"]) -> HandlerDecorator[ChatLock]: ...
    @overload
    def on(
        self, name: Literal["chats.lock"], handler: Callable[[ChatLock], R]
    ) -> Callable[[ChatLock], R]: ...
    @overload
    def on(self, name: Literal["settings.update"]) -> HandlerDecorator[SettingsUpdate]: ...
    @overload
    def on(
        self, name: Literal["settings.update"], handler: Callable[[SettingsUpdate], R]
    ) -> Callable[[SettingsUpdate], R]: ...
    # --- end: on ---
    def on(self, name: str, handler: _Handler | None = None) -> Any:
        """Register ``handler`` for ``name``; without a handler, works as a decorator."""
        self._check(name)
        if handler is None:

            def decorator(fn: _Handler) -> _Handler:
                self._add(name, fn, once=False)
                return fn

            return decorator
        self._add(name, handler, once=False)
        return handler

    # --- generated overloads: once ---
    @overload
    def once(
        self, name: Literal["connection.update"], handler: Callable[[ConnectionUpdate], R]
    ) -> Callable[[ConnectionUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["creds.update"], handler: Callable[[dict[str, Any]], R]
    ) -> Callable[[dict[str, Any]], R]: ...
    @overload
    def once(
        self, name: Literal["messages.upsert"], handler: Callable[[MessagesUpsert], R]
    ) -> Callable[[MessagesUpsert], R]: ...
    @overload
    def once(
        self, name: Literal["messages.update"], handler: Callable[[list[MessageUpdate]], R]
    ) -> Callable[[list[MessageUpdate]], R]: ...
    @overload
    def once(
        self, name: Literal["messages.delete"], handler: Callable[[MessagesDelete], R]
    ) -> Callable[[MessagesDelete], R]: ...
    @overload
    def once(
        self, name: Literal["messages.reaction"], handler: Callable[[MessageReaction], R]
    ) -> Callable[[MessageReaction], R]: ...
    @overload
    def once(
        self, name: Literal["message-receipt.update"], handler: Callable[[list[MessageReceipt]], R]
    ) -> Callable[[list[MessageReceipt]], R]: ...
    @overload
    def once(
        self, name: Literal["presence.update"], handler: Callable[[PresenceUpdate], R]
    ) -> Callable[[PresenceUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["groups.upsert"], handler: Callable[[list[GroupMetadata]], R]
    ) -> Callable[[list[GroupMetadata]], R]: ...
    @overload
    def once(
        self, name: Literal["groups.update"], handler: Callable[[list[GroupUpdate]], R]
    ) -> Callable[[list[GroupUpdate]], R]: ...
    @overload
    def once(
        self,
        name: Literal["group-participants.update"],
        handler: Callable[[GroupParticipantsUpdate], R],
    ) -> Callable[[GroupParticipantsUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["chats.upsert"], handler: Callable[[list[HistoryChat]], R]
    ) -> Callable[[list[HistoryChat]], R]: ...
    @overload
    def once(
        self, name: Literal["chats.update"], handler: Callable[[list[ChatUpdate]], R]
    ) -> Callable[[list[ChatUpdate]], R]: ...
    @overload
    def once(
        self, name: Literal["chats.delete"], handler: Callable[[list[str]], R]
    ) -> Callable[[list[str]], R]: ...
    @overload
    def once(
        self, name: Literal["contacts.upsert"], handler: Callable[[list[Contact]], R]
    ) -> Callable[[list[Contact]], R]: ...
    @overload
    def once(
        self, name: Literal["contacts.update"], handler: Callable[[list[Contact]], R]
    ) -> Callable[[list[Contact]], R]: ...
    @overload
    def once(
        self, name: Literal["messaging-history.set"], handler: Callable[[HistorySet], R]
    ) -> Callable[[HistorySet], R]: ...
    @overload
    def once(
        self, name: Literal["call"], handler: Callable[[list[CallEvent]], R]
    ) -> Callable[[list[CallEvent]], R]: ...
    @overload
    def once(
        self, name: Literal["blocklist.set"], handler: Callable[[BlocklistSet], R]
    ) -> Callable[[BlocklistSet], R]: ...
    @overload
    def once(
        self, name: Literal["blocklist.update"], handler: Callable[[BlocklistUpdate], R]
    ) -> Callable[[BlocklistUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["messaging-history.status"], handler: Callable[[HistorySyncStatus], R]
    ) -> Callable[[HistorySyncStatus], R]: ...
    @overload
    def once(
        self, name: Literal["lid-mapping.update"], handler: Callable[[LidMappingUpdate], R]
    ) -> Callable[[LidMappingUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["messages.media-update"], handler: Callable[[list[MediaUpdate]], R]
    ) -> Callable[[list[MediaUpdate]], R]: ...
    @overload
    def once(
        self, name: Literal["group.join-request"], handler: Callable[[GroupJoinRequest], R]
    ) -> Callable[[GroupJoinRequest], R]: ...
    @overload
    def once(
        self, name: Literal["group.member-tag.update"], handler: Callable[[GroupMemberTagUpdate], R]
    ) -> Callable[[GroupMemberTagUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["labels.edit"], handler: Callable[[Label], R]
    ) -> Callable[[Label], R]: ...
    @overload
    def once(
        self, name: Literal["labels.association"], handler: Callable[[LabelAssociationUpdate], R]
    ) -> Callable[[LabelAssociationUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["newsletter.reaction"], handler: Callable[[NewsletterReaction], R]
    ) -> Callable[[NewsletterReaction], R]: ...
    @overload
    def once(
        self, name: Literal["newsletter.view"], handler: Callable[[NewsletterView], R]
    ) -> Callable[[NewsletterView], R]: ...
    @overload
    def once(
        self,
        name: Literal["newsletter-participants.update"],
        handler: Callable[[NewsletterParticipantsUpdate], R],
    ) -> Callable[[NewsletterParticipantsUpdate], R]: ...
    @overload
    def once(
        self,
        name: Literal["newsletter-settings.update"],
        handler: Callable[[NewsletterSettingsUpdate], R],
    ) -> Callable[[NewsletterSettingsUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["message-capping.update"], handler: Callable[[MessageCappingUpdate], R]
    ) -> Callable[[MessageCappingUpdate], R]: ...
    @overload
    def once(
        self, name: Literal["chats.lock"], handler: Callable[[ChatLock], R]
    ) -> Callable[[ChatLock], R]: ...
    @overload
    def once(
        self, name: Literal["settings.update"], handler: Callable[[SettingsUpdate], R]
    ) -> Callable[[SettingsUpdate], R]: ...
    # --- end: once ---
    def once(self, name: str, handler: _Handler) -> Any:
        """Register ``handler`` for the next ``name`` event only."""
        self._check(name)
        self._add(name, handler, once=True)
        return handler

    def _add(self, name: str, handler: _Handler, *, once: bool) -> None:
        runner = (
            _AsyncHandler(name, handler, self.log) if inspect.iscoroutinefunction(handler) else None
        )
        self._handlers.setdefault(name, []).append((handler, runner, once))

    def off(self, name: EventName, handler: Callable[..., object]) -> None:
        """Remove ``handler`` from ``name`` (every registration of it)."""
        self._off(name, handler)

    def _off(self, name: str, handler: Callable[..., object]) -> None:
        entries = self._handlers.get(name, [])
        self._handlers[name] = [e for e in entries if e[0] is not handler]

    # ------------------------------------------------------------------ emitting

    # --- generated overloads: emit ---
    @overload
    def emit(self, name: Literal["connection.update"], payload: ConnectionUpdate) -> None: ...
    @overload
    def emit(self, name: Literal["creds.update"], payload: dict[str, Any]) -> None: ...
    @overload
    def emit(self, name: Literal["messages.upsert"], payload: MessagesUpsert) -> None: ...
    @overload
    def emit(self, name: Literal["messages.update"], payload: list[MessageUpdate]) -> None: ...
    @overload
    def emit(self, name: Literal["messages.delete"], payload: MessagesDelete) -> None: ...
    @overload
    def emit(self, name: Literal["messages.reaction"], payload: MessageReaction) -> None: ...
    @overload
    def emit(
        self, name: Literal["message-receipt.update"], payload: list[MessageReceipt]
    ) -> None: ...
    @overload
    def emit(self, name: Literal["presence.update"], payload: PresenceUpdate) -> None: ...
    @overload
    def emit(self, name: Literal["groups.upsert"], payload: list[GroupMetadata]) -> None: ...
    @overload
    def emit(self, name: Literal["groups.update"], payload: list[GroupUpdate]) -> None: ...
    @overload
    def emit(
        self, name: Literal["group-participants.update"], payload: GroupParticipantsUpdate
    ) -> None: ...
    @overload
    def emit(self, name: Literal["chats.upsert"], payload: list[HistoryChat]) -> None: ...
    @overload
    def emit(self, name: Literal["chats.update"], payload: list[ChatUpdate]) -> None: ...
    @overload
    def emit(self, name: Literal["chats.delete"], payload: list[str]) -> None: ...
    @overload
    def emit(self, name: Literal["contacts.upsert"], payload: list[Contact]) -> None: ...
    @overload
    def emit(self, name: Literal["contacts.update"], payload: list[Contact]) -> None: ...
    @overload
    def emit(self, name: Literal["messaging-history.set"], payload: HistorySet) -> None: ...
    @overload
    def emit(self, name: Literal["call"], payload: list[CallEvent]) -> None: ...
    @overload
    def emit(self, name: Literal["blocklist.set"], payload: BlocklistSet) -> None: ...
    @overload
    def emit(self, name: Literal["blocklist.update"], payload: BlocklistUpdate) -> None: ...
    @overload
    def emit(
        self, name: Literal["messaging-history.status"], payload: HistorySyncStatus
    ) -> None: ...
    @overload
    def emit(self, name: Literal["lid-mapping.update"], payload: LidMappingUpdate) -> None: ...
    @overload
    def emit(self, name: Literal["messages.media-update"], payload: list[MediaUpdate]) -> None: ...
    @overload
    def emit(self, name: Literal["group.join-request"], payload: GroupJoinRequest) -> None: ...
    @overload
    def emit(
        self, name: Literal["group.member-tag.update"], payload: GroupMemberTagUpdate
    ) -> None: ...
    @overload
    def emit(self, name: Literal["labels.edit"], payload: Label) -> None: ...
    @overload
    def emit(
        self, name: Literal["labels.association"], payload: LabelAssociationUpdate
    ) -> None: ...
    @overload
    def emit(self, name: Literal["newsletter.reaction"], payload: NewsletterReaction) -> None: ...
    @overload
    def emit(self, name: Literal["newsletter.view"], payload: NewsletterView) -> None: ...
    @overload
    def emit(
        self, name: Literal["newsletter-participants.update"], payload: NewsletterParticipantsUpdate
    ) -> None: ...
    @overload
    def emit(
        self, name: Literal["newsletter-settings.update"], payload: NewsletterSettingsUpdate
    ) -> None: ...
    @overload
    def emit(
        self, name: Literal["message-capping.update"], payload: MessageCappingUpdate
    ) -> None: ...
    @overload
    def emit(self, name: Literal["chats.lock"], payload: ChatLock) -> None: ...
    @overload
    def emit(self, name: Literal["settings.update"], payload: SettingsUpdate) -> None: ...
    # --- end: emit ---
    def emit(self, name: str, payload: Any) -> None:
        """Deliver ``payload`` to every handler of ``name`` (and to streams)."""
        self._emit(name, payload, None)

    # --- generated overloads: emit_tracked ---
    @overload
    def emit_tracked(
        self, name: Literal["connection.update"], payload: ConnectionUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["creds.update"], payload: dict[str, Any]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messages.upsert"], payload: MessagesUpsert
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messages.update"], payload: list[MessageUpdate]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messages.delete"], payload: MessagesDelete
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messages.reaction"], payload: MessageReaction
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["message-receipt.update"], payload: list[MessageReceipt]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["presence.update"], payload: PresenceUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["groups.upsert"], payload: list[GroupMetadata]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["groups.update"], payload: list[GroupUpdate]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["group-participants.update"], payload: GroupParticipantsUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["chats.upsert"], payload: list[HistoryChat]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["chats.update"], payload: list[ChatUpdate]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["chats.delete"], payload: list[str]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["contacts.upsert"], payload: list[Contact]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["contacts.update"], payload: list[Contact]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messaging-history.set"], payload: HistorySet
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["call"], payload: list[CallEvent]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["blocklist.set"], payload: BlocklistSet
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["blocklist.update"], payload: BlocklistUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messaging-history.status"], payload: HistorySyncStatus
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["lid-mapping.update"], payload: LidMappingUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["messages.media-update"], payload: list[MediaUpdate]
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["group.join-request"], payload: GroupJoinRequest
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["group.member-tag.update"], payload: GroupMemberTagUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(self, name: Literal["labels.edit"], payload: Label) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["labels.association"], payload: LabelAssociationUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["newsletter.reaction"], payload: NewsletterReaction
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["newsletter.view"], payload: NewsletterView
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["newsletter-participants.update"], payload: NewsletterParticipantsUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["newsletter-settings.update"], payload: NewsletterSettingsUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["message-capping.update"], payload: MessageCappingUpdate
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["chats.lock"], payload: ChatLock
    ) -> asyncio.Future[Any]: ...
    @overload
    def emit_tracked(
        self, name: Literal["settings.update"], payload: SettingsUpdate
    ) -> asyncio.Future[Any]: ...
    # --- end: emit_tracked ---
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
            if once:  # only this registration: the same handler may also be on() it
                remaining = self._handlers.get(name, [])
                self._handlers[name] = [e for e in remaining if e is not entry]
            if runner is not None:
                done = asyncio.get_running_loop().create_future() if waits is not None else None
                runner.push(payload, done)
                if done is not None and waits is not None:
                    waits.append(done)
                continue
            try:
                result = handler(payload)
                # a plain function returning a coroutine (None, the usual result, is not
                # awaitable: no isawaitable call, whose ABC check is the slow part)
                if result is not None and inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._background.add(task)
                    task.add_done_callback(self._background.discard)
                    if waits is not None:
                        waits.append(task)
            except Exception:
                self.log.exception("handler %r for %r raised", handler, name)
        for names, queue in self._streams:
            if name in names:
                if queue.qsize() >= self._stream_buffer:
                    self.log.warning("event stream full: dropping the oldest %r event", name)
                    queue.get_nowait()
                queue.put_nowait((name, payload))

    async def drain(self) -> None:
        """Wait until every queued coroutine handler call has finished."""
        for entries in list(self._handlers.values()):
            for _, runner, _ in entries:
                if runner is not None:
                    await runner.queue.join()

    # ------------------------------------------------------------------ waiting

    # --- generated overloads: wait_for ---
    @overload
    async def wait_for(
        self,
        name: Literal["connection.update"],
        predicate: Callable[[ConnectionUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> ConnectionUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["creds.update"],
        predicate: Callable[[dict[str, Any]], object] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messages.upsert"],
        predicate: Callable[[MessagesUpsert], object] | None = None,
        timeout: float | None = None,
    ) -> MessagesUpsert: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messages.update"],
        predicate: Callable[[list[MessageUpdate]], object] | None = None,
        timeout: float | None = None,
    ) -> list[MessageUpdate]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messages.delete"],
        predicate: Callable[[MessagesDelete], object] | None = None,
        timeout: float | None = None,
    ) -> MessagesDelete: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messages.reaction"],
        predicate: Callable[[MessageReaction], object] | None = None,
        timeout: float | None = None,
    ) -> MessageReaction: ...
    @overload
    async def wait_for(
        self,
        name: Literal["message-receipt.update"],
        predicate: Callable[[list[MessageReceipt]], object] | None = None,
        timeout: float | None = None,
    ) -> list[MessageReceipt]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["presence.update"],
        predicate: Callable[[PresenceUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> PresenceUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["groups.upsert"],
        predicate: Callable[[list[GroupMetadata]], object] | None = None,
        timeout: float | None = None,
    ) -> list[GroupMetadata]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["groups.update"],
        predicate: Callable[[list[GroupUpdate]], object] | None = None,
        timeout: float | None = None,
    ) -> list[GroupUpdate]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["group-participants.update"],
        predicate: Callable[[GroupParticipantsUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> GroupParticipantsUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["chats.upsert"],
        predicate: Callable[[list[HistoryChat]], object] | None = None,
        timeout: float | None = None,
    ) -> list[HistoryChat]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["chats.update"],
        predicate: Callable[[list[ChatUpdate]], object] | None = None,
        timeout: float | None = None,
    ) -> list[ChatUpdate]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["chats.delete"],
        predicate: Callable[[list[str]], object] | None = None,
        timeout: float | None = None,
    ) -> list[str]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["contacts.upsert"],
        predicate: Callable[[list[Contact]], object] | None = None,
        timeout: float | None = None,
    ) -> list[Contact]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["contacts.update"],
        predicate: Callable[[list[Contact]], object] | None = None,
        timeout: float | None = None,
    ) -> list[Contact]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messaging-history.set"],
        predicate: Callable[[HistorySet], object] | None = None,
        timeout: float | None = None,
    ) -> HistorySet: ...
    @overload
    async def wait_for(
        self,
        name: Literal["call"],
        predicate: Callable[[list[CallEvent]], object] | None = None,
        timeout: float | None = None,
    ) -> list[CallEvent]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["blocklist.set"],
        predicate: Callable[[BlocklistSet], object] | None = None,
        timeout: float | None = None,
    ) -> BlocklistSet: ...
    @overload
    async def wait_for(
        self,
        name: Literal["blocklist.update"],
        predicate: Callable[[BlocklistUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> BlocklistUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messaging-history.status"],
        predicate: Callable[[HistorySyncStatus], object] | None = None,
        timeout: float | None = None,
    ) -> HistorySyncStatus: ...
    @overload
    async def wait_for(
        self,
        name: Literal["lid-mapping.update"],
        predicate: Callable[[LidMappingUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> LidMappingUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["messages.media-update"],
        predicate: Callable[[list[MediaUpdate]], object] | None = None,
        timeout: float | None = None,
    ) -> list[MediaUpdate]: ...
    @overload
    async def wait_for(
        self,
        name: Literal["group.join-request"],
        predicate: Callable[[GroupJoinRequest], object] | None = None,
        timeout: float | None = None,
    ) -> GroupJoinRequest: ...
    @overload
    async def wait_for(
        self,
        name: Literal["group.member-tag.update"],
        predicate: Callable[[GroupMemberTagUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> GroupMemberTagUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["labels.edit"],
        predicate: Callable[[Label], object] | None = None,
        timeout: float | None = None,
    ) -> Label: ...
    @overload
    async def wait_for(
        self,
        name: Literal["labels.association"],
        predicate: Callable[[LabelAssociationUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> LabelAssociationUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["newsletter.reaction"],
        predicate: Callable[[NewsletterReaction], object] | None = None,
        timeout: float | None = None,
    ) -> NewsletterReaction: ...
    @overload
    async def wait_for(
        self,
        name: Literal["newsletter.view"],
        predicate: Callable[[NewsletterView], object] | None = None,
        timeout: float | None = None,
    ) -> NewsletterView: ...
    @overload
    async def wait_for(
        self,
        name: Literal["newsletter-participants.update"],
        predicate: Callable[[NewsletterParticipantsUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> NewsletterParticipantsUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["newsletter-settings.update"],
        predicate: Callable[[NewsletterSettingsUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> NewsletterSettingsUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["message-capping.update"],
        predicate: Callable[[MessageCappingUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> MessageCappingUpdate: ...
    @overload
    async def wait_for(
        self,
        name: Literal["chats.lock"],
        predicate: Callable[[ChatLock], object] | None = None,
        timeout: float | None = None,
    ) -> ChatLock: ...
    @overload
    async def wait_for(
        self,
        name: Literal["settings.update"],
        predicate: Callable[[SettingsUpdate], object] | None = None,
        timeout: float | None = None,
    ) -> SettingsUpdate: ...
    # --- end: wait_for ---
    async def wait_for(
        self,
        name: str,
        predicate: Callable[[Any], object] | None = None,
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
            self._off(name, listener)
            self._waiters.discard(future)

    async def stream(self, *names: EventName) -> AsyncIterator[tuple[EventName, Any]]:
        """``async for name, payload in ev.stream("messages.upsert", ...)``.

        Buffers up to ``stream_buffer`` events; past that the oldest are dropped with a
        warning. Ends when the emitter closes.
        """
        for name in names:
            self._check(name)
        queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue()
        entry = (frozenset[str](names), queue)
        self._streams.append(entry)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                yield cast("tuple[EventName, Any]", item)  # names were checked above
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
