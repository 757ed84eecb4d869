"""``CachedKeyStore``: a read-through, write-through cache over any key store.

Reads are served from memory once seen; writes go to the inner store and reach the cache
only when the (outermost) transaction commits, so a failed transaction never leaves
uncommitted values in the cache. Like the stores, a transaction belongs to the task that
opened it: a task created inside one does not see (or add to) its pending writes. The
cache is per process: use it where one process owns the store (the usual bot), not where
several processes write the same keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from wamd.store.base import bound_to_task, copy_value
from wamd.store.types import SignalKeyStore

__all__ = ["CachedKeyStore"]

_ABSENT = object()


class _Pending:
    __slots__ = ("task", "writes")

    def __init__(self) -> None:
        self.task = asyncio.current_task()
        self.writes: dict[str, dict[str, Any]] = {}


class CachedKeyStore:
    def __init__(self, inner: SignalKeyStore) -> None:
        self.inner = inner
        self._cache: dict[str, dict[str, Any]] = {}
        self._pending: ContextVar[_Pending | None] = ContextVar(
            f"wamd-cache-{id(self)}", default=None
        )

    def _open(self) -> dict[str, dict[str, Any]] | None:
        """The pending writes of the running task's transaction, if it has one open."""
        pending = bound_to_task(self._pending.get(), asyncio.current_task())
        return pending.writes if pending is not None else None

    async def get(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        pending = (self._open() or {}).get(type, {})
        cache = self._cache.setdefault(type, {})
        out: dict[str, Any] = {}
        missing: list[str] = []
        for key_id in ids:
            value = (
                pending.get(key_id, _ABSENT) if key_id in pending else cache.get(key_id, _ABSENT)
            )
            if value is _ABSENT:
                missing.append(key_id)
            elif value is not None:
                out[key_id] = copy_value(value)
        if missing:
            fetched = await self.inner.get(type, missing)
            for key_id in missing:
                value = fetched.get(key_id)
                if key_id not in pending:
                    cache[key_id] = copy_value(value)  # None remembers "absent"
                if value is not None:
                    out[key_id] = value
        return out

    async def set(self, data: Mapping[str, Mapping[str, Any | None]]) -> None:
        pending = self._open()
        await self.inner.set(data)
        if pending is not None:
            for type, values in data.items():
                pending.setdefault(type, {}).update(copy_value(dict(values)))
        else:
            self._apply(data)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._open() is not None:
            yield
            return
        pending = _Pending()
        token = self._pending.set(pending)
        # over a store that groups commits, the writes reach the cache once committed in
        # that store (the next transaction, which may start then, must read them), and the
        # block still returns only once they are durable
        inner: Any = self.inner
        grouped = inner.grouped_transaction if getattr(inner, "groups_commits", False) else None
        try:
            async with grouped() if grouped is not None else self.inner.transaction():
                yield
        finally:
            self._pending.reset(token)
        self._apply(pending.writes)  # only reached when the inner transaction committed
        if grouped is not None:
            try:
                await inner.durable()
            except Exception:
                self._cache.clear()  # lost, as in a crash: read the store again
                raise

    def _apply(self, data: Mapping[str, Mapping[str, Any | None]]) -> None:
        for type, values in data.items():
            self._cache.setdefault(type, {}).update(copy_value(dict(values)))

    async def set_aside(self, type: str, key_id: str) -> str | None:
        """The inner store's ``set_aside`` (``None`` when it has none); the cached copy goes."""
        mover = getattr(self.inner, "set_aside", None)
        self._cache.get(type, {}).pop(key_id, None)
        if mover is None:
            return None
        where: str = await mover(type, key_id)
        return where

    def clear(self) -> None:
        self._cache.clear()
