"""An inbox: what a socket emits, kept in order, with waits that fail with a clear message.

``Inbox(sock)`` collects every message of ``messages.upsert``; ``Inbox(sock, "messages.upsert",
"messages.reaction")`` collects those events too. A payload that is a batch (a
``MessagesUpsert``'s messages, the list of ``messages.update`` or ``messages.reaction``) is
kept as one arrival per item, so ``await inbox.next("messages.reaction")`` is one reaction.

- ``await inbox.next()`` takes the oldest message not taken yet (waiting for one);
- ``await inbox.wait_for(predicate)`` is the first message, taken or not, so far or from
  now on, for which ``predicate`` holds;
- ``inbox.empty()`` says whether every arrival has been taken; with ``settle()`` (see
  ``wamd.testing``) it checks that nothing more arrives, without sleeping.

A wait that runs out raises ``NothingArrived`` (an ``AssertionError`` and a
``TimeoutError``), naming the event and what did arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from wamd.events import EventName, MessagesUpsert
from wamd.messaging.types import WAMessage

if TYPE_CHECKING:
    from wamd.client import WASocket

__all__ = ["WAIT", "Arrival", "Inbox", "NothingArrived", "UnexpectedArrival"]

WAIT = 10.0  # seconds a wait allows by default: an upper bound, never a speed check
MESSAGES: EventName = "messages.upsert"


class NothingArrived(AssertionError, TimeoutError):
    """A wait of the test kit ran out: what was waited for did not arrive in time.

    A test failure (``AssertionError``) that ``except TimeoutError`` also catches.
    """


class UnexpectedArrival(AssertionError):
    """Something arrived where the test expected nothing more."""


@dataclass
class Arrival:
    """One item an inbox collected: the event's name, the item, and whether it was taken."""

    event: EventName
    item: Any
    kind: str | None = None  # a message's upsert type: "notify" or "append"
    taken: bool = False


def describe(item: Any) -> str:
    """A short, key-free description of an arrival for failure messages."""
    if isinstance(item, WAMessage):
        text = item.text
        shown = repr(text[:40]) if text is not None else (item.stub_type or "no text")
        return f"message {item.key.id} in {item.key.remote_jid}: {shown}"
    return type(item).__name__


class Inbox:
    """Every item of ``events`` (``messages.upsert`` by default) a socket emits, in order."""

    def __init__(self, sock: WASocket, *events: EventName) -> None:
        self.sock = sock
        self.events = events or (MESSAGES,)
        self.arrivals: list[Arrival] = []
        self._arrived = asyncio.Event()
        self._handlers: list[tuple[EventName, Callable[[Any], None]]] = []
        for name in self.events:
            handler = self._collector(name)
            sock.ev.on(name, handler)
            self._handlers.append((name, handler))

    def _collector(self, name: EventName) -> Callable[[Any], None]:
        def collect(payload: Any) -> None:
            if isinstance(payload, MessagesUpsert):
                for message in payload.messages:
                    self.arrivals.append(Arrival(name, message, payload.type))
            elif isinstance(payload, list | tuple):
                self.arrivals.extend(Arrival(name, item) for item in payload)
            else:
                self.arrivals.append(Arrival(name, payload))
            self._arrived.set()

        return collect

    def close(self) -> None:
        """Stop collecting (what was collected stays)."""
        for name, handler in self._handlers:
            self.sock.ev.off(name, handler)
        self._handlers.clear()

    # ------------------------------------------------------------------ what is there

    @property
    def messages(self) -> list[WAMessage]:
        """Every message collected so far (taken or not), in order."""
        return [a.item for a in self.arrivals if a.event == MESSAGES]

    @property
    def kinds(self) -> list[str]:
        """The upsert type ("notify", "append") of each of ``messages``."""
        return [a.kind or "" for a in self.arrivals if a.event == MESSAGES]

    def items(self, event: EventName = MESSAGES) -> list[Any]:
        """Every item of ``event`` collected so far (taken or not), in order."""
        return [a.item for a in self.arrivals if a.event == event]

    def untaken(self) -> list[Arrival]:
        """The arrivals that no ``next()`` or ``wait_for()`` has taken."""
        return [a for a in self.arrivals if not a.taken]

    def empty(self) -> bool:
        """Whether every arrival has been taken (nothing new since the last wait)."""
        return not self.untaken()

    def assert_empty(self) -> None:
        """Raise ``UnexpectedArrival``, naming them, when there are untaken arrivals."""
        extra = self.untaken()
        if extra:
            shown = "; ".join(f"{a.event}: {describe(a.item)}" for a in extra[:5])
            more = f" (and {len(extra) - 5} more)" if len(extra) > 5 else ""
            raise UnexpectedArrival(f"{len(extra)} unexpected arrival(s): {shown}{more}")

    # ------------------------------------------------------------------ waiting

    @overload
    async def next(
        self,
        event: Literal["messages.upsert"] = ...,
        where: Callable[[WAMessage], bool] | None = None,
        *,
        timeout: float = WAIT,
    ) -> WAMessage: ...

    @overload
    async def next(
        self,
        event: EventName,
        where: Callable[[Any], bool] | None = None,
        *,
        timeout: float = WAIT,
    ) -> Any: ...

    async def next(
        self,
        event: EventName = MESSAGES,
        where: Callable[[Any], bool] | None = None,
        *,
        timeout: float = WAIT,
    ) -> Any:
        """Take the oldest untaken item of ``event`` (matching ``where``), waiting for one.

        A message (``WAMessage``) for ``messages.upsert``, the default.
        """
        return await self._take(event, where, timeout, untaken_only=True)

    @overload
    async def wait_for(
        self,
        predicate: Callable[[WAMessage], bool] = ...,
        event: Literal["messages.upsert"] = ...,
        *,
        timeout: float = WAIT,
    ) -> WAMessage: ...

    @overload
    async def wait_for(
        self,
        predicate: Callable[[Any], bool],
        event: EventName,
        *,
        timeout: float = WAIT,
    ) -> Any: ...

    async def wait_for(
        self,
        predicate: Callable[[Any], bool] = lambda item: True,
        event: EventName = MESSAGES,
        *,
        timeout: float = WAIT,
    ) -> Any:
        """The first item of ``event``, taken or not, so far or later, matching ``predicate``.

        It is marked taken.
        """
        return await self._take(event, predicate, timeout, untaken_only=False)

    async def _take(
        self,
        event: EventName,
        where: Callable[[Any], bool] | None,
        timeout: float,
        *,
        untaken_only: bool,
    ) -> Any:
        if event not in self.events:
            raise ValueError(f"this inbox does not collect {event!r} (it has {self.events})")
        seen = 0
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for arrival in self.arrivals[seen:]:
                        if arrival.event != event or (untaken_only and arrival.taken):
                            continue
                        if where is None or where(arrival.item):
                            arrival.taken = True
                            return arrival.item
                    seen = len(self.arrivals)  # those did not match: only newer ones can
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            got = [describe(a.item) for a in self.arrivals if a.event == event]
            shown = "; ".join(got[-5:]) if got else "nothing"
            what = "a matching item" if where is not None else "an item"
            raise NothingArrived(
                f"{what} of {event!r} did not arrive within {timeout:g} s "
                f"({len(got)} arrived: {shown})"
            ) from None
