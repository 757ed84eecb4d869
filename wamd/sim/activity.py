"""What the sim has in flight, so that a test can wait for it to be idle (``settle``).

Everything the sim does runs in one of three kinds of work, and each is counted here
while it runs:

- the handler of a stanza a client sent (one at a time per connection, in order);
- setting up a connection: the handshake wait, ``success`` and the offline backlog, or
  ``pair-device`` until the client answers it;
- the sim's own tasks: a phone working through its queue of stanzas, and the tasks the
  server spawns (the welcome after a first login, prekey warnings, fault delays).

``settle()`` returns once the count is zero and stays zero across a few turns of the
event loop. Those turns let bytes that a client on the same event loop has already
written to a loopback socket reach the sim's reader: a frame in the kernel's buffer
becomes a running handler within two or three turns, which re-arms the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["QUIET_TURNS", "Activity"]

QUIET_TURNS = 16  # loop turns with nothing running before the sim counts as settled


class Activity:
    """A counter of running work, with an awaitable "everything finished"."""

    def __init__(self) -> None:
        self._running: Counter[str] = Counter()
        self._changed: asyncio.Event | None = None

    @property
    def idle(self) -> bool:
        return not self._running

    def describe(self) -> str:
        """What is still running, e.g. ``"phone 15550001111 x1, stanza from ... x1"``."""
        return ", ".join(f"{what} x{n}" for what, n in sorted(self._running.items())) or "nothing"

    def enter(self, what: str) -> None:
        self._running[what] += 1

    def leave(self, what: str) -> None:
        self._running[what] -= 1
        if self._running[what] <= 0:
            del self._running[what]
        if self._changed is not None:
            self._changed.set()

    @contextlib.contextmanager
    def busy(self, what: str) -> Iterator[None]:
        """``with activity.busy("..."):`` counts the block as work in flight."""
        self.enter(what)
        try:
            yield
        finally:
            self.leave(what)

    def track(self, task: asyncio.Task[Any], what: str) -> None:
        """Count ``task`` as work in flight until it is done."""
        self.enter(what)
        task.add_done_callback(lambda _: self.leave(what))

    async def settle(
        self, timeout: float | None = 30.0, *, also: Callable[[], str] | None = None
    ) -> None:
        """Wait until nothing runs for ``QUIET_TURNS`` loop turns (``TimeoutError`` after
        ``timeout`` seconds, naming what is still running).

        ``also`` is an optional callable: while it returns a non-empty string (what is
        still pending), the wait goes on; a change in this activity re-checks it.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._settle(also)
        except TimeoutError:
            pending = also() if also is not None else ""
            raise TimeoutError(
                f"the sim did not settle within {timeout} s: still running "
                f"{self.describe()}{'; ' + pending if pending else ''}"
            ) from None

    async def _settle(self, also: Callable[[], str] | None) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            # what ``also`` watches (a client's acks) changes only in a handler, whose
            # end sets the event
            while not self.idle or (also is not None and also()):
                self._changed.clear()
                await self._changed.wait()
            for _ in range(QUIET_TURNS):
                await asyncio.sleep(0)
                if not self.idle:
                    break
            else:
                if also is None or not also():
                    return
