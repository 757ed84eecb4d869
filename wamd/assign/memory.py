"""``MemoryAssignments``: the registry in a dict, for a single process.

Every primitive runs without awaiting, so on one event loop it is atomic; a lock also
makes it safe from threads. The clock defaults to ``time.monotonic`` (immune to wall-clock
jumps) and is made non-decreasing here anyway, so an injected test clock that steps back
never revives an expired claim.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from wamd.assign import rules
from wamd.assign.base import AssignmentBackend
from wamd.assign.rules import Decision, Row
from wamd.assign.types import Grant

__all__ = ["MemoryAssignments"]

SWEEP_EVERY = 60_000  # ms between sweeps of expired rows and marks


class MemoryAssignments(AssignmentBackend):
    def __init__(self, *, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.monotonic
        self._last = 0
        self._rows: dict[str, Row] = {}
        self._marks: dict[str, tuple[str, int]] = {}
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        self._next_sweep = 0

    def _now(self) -> int:
        now = max(self._last, int(self._clock() * 1000))
        self._last = now
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_EVERY
            self._rows = {k: r for k, r in self._rows.items() if r.expires_at > now}
            self._marks = {k: m for k, m in self._marks.items() if m[1] > now}
        return now

    def _new_token(self) -> int:
        return next(self._tokens)

    def _apply(self, chat: str, now: int, decision: Decision) -> Grant | None:
        if decision.write:
            if decision.row is None:
                self._rows.pop(chat, None)
            else:
                self._rows[chat] = decision.row
        if not decision.ok or decision.row is None:
            return None
        row = decision.row
        return Grant(chat, row.handler, row.token, row.expires_at - now, decision.fresh)

    async def _claim(self, chat: str, handler: str, ttl: int, force: bool) -> Grant | None:
        with self._lock:
            now = self._now()
            decision = rules.claim(self._rows.get(chat), now, handler, ttl, force, self._new_token)
            return self._apply(chat, now, decision)

    async def _renew(self, chat: str, handler: str, ttl: int, token: int | None) -> Grant | None:
        with self._lock:
            now = self._now()
            decision = rules.renew(self._rows.get(chat), now, handler, token, ttl)
            return self._apply(chat, now, decision)

    async def _release(self, chat: str, handler: str, token: int | None) -> bool:
        with self._lock:
            now = self._now()
            decision = rules.release(self._rows.get(chat), now, handler, token)
            self._apply(chat, now, decision)
            return decision.ok

    async def _transfer(
        self, chat: str, to: str, ttl: int, current: str | None, token: int | None
    ) -> Grant | None:
        with self._lock:
            now = self._now()
            decision = rules.transfer(
                self._rows.get(chat), now, to, ttl, current, token, self._new_token
            )
            return self._apply(chat, now, decision)

    async def _holder(self, chat: str) -> Grant | None:
        with self._lock:
            now = self._now()
            return self._apply(chat, now, Decision(True, rules.live(self._rows.get(chat), now)))

    async def _chats_of(self, handler: str) -> list[Grant]:
        with self._lock:
            now = self._now()
            return [
                Grant(chat, row.handler, row.token, row.expires_at - now)
                for chat, row in self._rows.items()
                if row.handler == handler and row.expires_at > now
            ]

    async def _load(self, handlers: list[str]) -> dict[str, int]:
        with self._lock:
            now = self._now()
            counts = dict.fromkeys(handlers, 0)
            for row in self._rows.values():
                if row.handler in counts and row.expires_at > now:
                    counts[row.handler] += 1
            return counts

    async def _mark(self, key: str, value: str, ttl: int) -> bool:
        with self._lock:
            now = self._now()
            held = self._marks.get(key)
            if held is not None and held[1] > now:
                return False
            self._marks[key] = (value, now + ttl)
            return True

    async def _get_mark(self, key: str) -> str | None:
        with self._lock:
            now = self._now()
            held = self._marks.get(key)
            return held[0] if held is not None and held[1] > now else None

    async def _unmark(self, key: str) -> bool:
        with self._lock:
            now = self._now()
            held = self._marks.pop(key, None)
            return held is not None and held[1] > now
