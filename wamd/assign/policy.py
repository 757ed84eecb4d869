"""Policies that pick an available handler for an unassigned chat (``assign``).

A policy is any object with ``async choose(chat, candidates, backend) -> name | None``.
It only proposes: ``AssignmentBackend.assign`` claims the chat for the proposal
atomically, so two processes proposing different handlers still end with one holder.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from wamd.assign.errors import AssignmentError

if TYPE_CHECKING:
    from wamd.assign.base import AssignmentBackend

__all__ = ["LeastLoaded", "Policy", "RoundRobin"]


class Policy(Protocol):
    async def choose(
        self, chat: str, candidates: Sequence[str], backend: AssignmentBackend
    ) -> str | None: ...


def _capacity(capacity: int | Mapping[str, int] | None) -> Callable[[str], int | None]:
    if capacity is None:
        return lambda _name: None
    if isinstance(capacity, Mapping):
        limits = dict(capacity)
        for name, limit in limits.items():
            _check_limit(limit, name)
        return limits.get
    _check_limit(capacity, "every handler")
    return lambda _name: capacity


def _check_limit(limit: object, name: str) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise AssignmentError(f"capacity of {name} must be a non-negative int, got {limit!r}")


class RoundRobin:
    """Candidates in turn, skipping any at capacity (``None`` when all are).

    The turn is kept in this object, so it is per process; the load it checks is the
    backend's, shared by all.
    """

    def __init__(self, *, capacity: int | Mapping[str, int] | None = None) -> None:
        self._limit = _capacity(capacity)
        self._turn = itertools.count()

    async def choose(
        self, chat: str, candidates: Sequence[str], backend: AssignmentBackend
    ) -> str | None:
        if not candidates:
            return None
        start = next(self._turn) % len(candidates)
        order = [*candidates[start:], *candidates[:start]]
        limited = [c for c in order if self._limit(c) is not None]
        load = await backend.load(limited) if limited else {}
        for name in order:
            limit = self._limit(name)
            if limit is None or load[name] < limit:
                return name
        return None


class LeastLoaded:
    """The candidate holding the fewest chats now (the first listed wins a tie)."""

    def __init__(self, *, capacity: int | Mapping[str, int] | None = None) -> None:
        self._limit = _capacity(capacity)

    async def choose(
        self, chat: str, candidates: Sequence[str], backend: AssignmentBackend
    ) -> str | None:
        if not candidates:
            return None
        load = await backend.load(candidates)
        best: str | None = None
        for name in candidates:
            limit = self._limit(name)
            if limit is not None and load[name] >= limit:
                continue
            if best is None or load[name] < load[best]:
                best = name
        return best
